"""The admin page in a real browser: Debian's chromium driven by Playwright, against the
running product (the `product` fixture). The agent console's: test_agent_console.py."""
from playwright.sync_api import expect

from tests.e2e.shop_web import RUN_ID


def log_in(page, web, username, password, start):
    page.goto(f"{web.url}{start}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Log in')")


def test_seller_edits_an_answer_and_tries_a_question(page, web):
    log_in(page, web, "seller", "demo-seller", "/admin")
    expect(page.locator("h1")).to_have_text("FAQs and Chat Welcome")
    page.fill("input[name=q]", "gift wrapping")
    page.click("button:has-text('Search')")
    page.click("#faqs a:has-text('gift')")
    page.fill("textarea[name=answer]", f"Gift wrapping is free this week ({RUN_ID}).")
    page.click("button:has-text('Save')")
    expect(page.locator(".notice")).to_contain_text("saved")
    assert f"({RUN_ID})" in " ".join(r["text"] for r in web.chat("browser-faq", '/faq{"faq_id": "gift_wrapping"}')["replies"])

    page.fill("input[name=q] >> nth=0", "can i pay with paypal")
    page.click("button:has-text('Ask')")
    expect(page.locator("#try-matches tr")).to_have_count(4)  # a header and the top 3


# The agent console in the browser: tests/e2e/test_agent_console.py.
