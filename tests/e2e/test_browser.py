"""The admin page and the agent console in a real browser: Debian's chromium driven by
Playwright, against the running product (the `product` fixture)."""
from playwright.sync_api import expect

from tests.e2e.shop_web import RUN_ID, queue_ticket, wait_for

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


def test_agent_sees_a_new_ticket_live_claims_replies_and_resolves(page, web):
    log_in(page, web, "agent", "demo-agent", "/agent")
    expect(page.locator("#live")).to_have_text("live", timeout=15_000)

    web.chat("browser-human", "/session_start")
    body = web.chat("browser-human", "can I talk to a real person please")
    cursor = body["cursor"]
    ticket = wait_for(lambda: queue_ticket(web.staff("agent", "demo-agent"), web, "browser-human"))
    row = page.locator(f".ticket-row[data-ticket='{ticket['id']}']")
    expect(row).to_be_visible(timeout=15_000)  # no reload: the server-sent event brought it

    row.click()
    page.click("button:has-text('Claim')")
    expect(page.locator("#ticket h2").first).to_contain_text("claimed (Alex)")
    page.fill("#reply", "Hello, this is Alex from the shop.")
    page.click("button:has-text('Send reply')")
    expect(page.locator("#transcript")).to_contain_text("Hello, this is Alex from the shop.")
    replies = wait_for(lambda: web.updates("browser-human", cursor)["replies"])
    assert replies[0]["from"] == "agent" and replies[0]["text"] == "Hello, this is Alex from the shop."

    page.click("button:has-text('Resolve')")
    expect(row).to_have_count(0, timeout=15_000)
