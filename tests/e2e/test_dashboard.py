"""The seller's performance dashboard in a real browser (Debian's chromium driven by Playwright),
on the running product (the `product` fixture): the four sections and their charts, a period
switch, a CSV download, and a group of unanswered questions turned into a prefilled FAQ."""
import csv
import io
from urllib.parse import parse_qs, urlsplit

import requests
from playwright.sync_api import expect

from bot.shop.report import ORDER_INTENTS
from tests.e2e.conftest import screenshot
from tests.e2e.shop_web import PRODUCT_TOKEN
from tests.e2e.test_browser import log_in
from tests.e2e.test_product import VAGUE


def unsure_question(product) -> str:
    """A vague message the model is not sure about and does not take for an order question."""
    rasa = f"http://127.0.0.1:{product[1]['RASA_PORT']}/model/parse"
    for text in VAGUE:
        parse = requests.post(rasa, params={"token": PRODUCT_TOKEN}, json={"text": text}).json()
        ranking = [intent["name"] for intent in parse.get("intent_ranking") or [] if intent["name"] != "nlu_fallback"]
        if parse["intent"]["name"] == "nlu_fallback" and ranking[:1] != [] and ranking[0] not in ORDER_INTENTS:
            return text
    raise AssertionError("the model is sure about every vague message")


def test_seller_opens_the_dashboard_switches_the_period_and_downloads_a_csv(page, web, product):
    # A message the bot is not sure about, so that the dashboard has an unanswered question to show.
    question = unsure_question(product)
    web.chat("dashboard", "/session_start")
    assert "not sure" in web.chat("dashboard", question)["replies"][-1]["text"]

    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, web, "seller", "demo-seller", "/admin")
    page.click("header a:has-text('Performance')")
    expect(page.locator("h1")).to_have_text("Performance: the marketplace's numbers")
    for heading in ("Late Delivery Rate", "Cancellations", "After-Sales Handling Time", "Chat"):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(page.locator("#late-delivery svg.chart")).to_be_visible()
    expect(page.get_by_role("img", name="Conversations by day")).to_be_visible()
    # The demo shop's showcase orders at risk are listed first, with their deadline.
    expect(page.locator("#orders-at-risk")).to_contain_text("100003")
    expect(page.locator("#orders-at-risk")).to_contain_text("100002")
    expect(page.locator("#late-delivery .warning")).to_contain_text("Order Volume Limit")
    expect(page.locator("#unanswered-groups")).to_contain_text(question)
    screenshot(page, "dashboard-desktop")

    page.click("nav[aria-label=Period] a:has-text('7 days')")
    expect(page.locator("nav[aria-label=Period] a[aria-current=page]")).to_have_text("7 days")
    expect(page.locator("main")).to_contain_text("The last 7 days")
    assert page.url.endswith("/admin/report?days=7")

    with page.expect_download() as download_info:
        page.click("caption:has-text('Cancellations by type') a:has-text('Download CSV')")
    download = download_info.value
    assert download.suggested_filename.startswith("cancellations-7d-")
    rows = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert rows[0] == ["type", "cancelled", "orders placed", "rate", "what to do"]
    assert [row[0] for row in rows[1:]] == [
        "by the seller", "automatic (by the marketplace)", "logistics obstacle (parcel lost or damaged)", "by the buyer",
    ]

    # One click opens the FAQ editor prefilled with the group's questions.
    page.goto(f"{web.url}/admin/report?days=30")
    link = page.locator("#unanswered-groups tr", has_text=question).locator("a:has-text('New FAQ from these')")
    prefill = parse_qs(urlsplit(link.get_attribute("href")).query)["question"]
    assert question in prefill
    link.click()
    expect(page.locator("h1")).to_have_text("New FAQ")
    expect(page.locator("input[name=question]")).to_have_value(prefill[0])
    expect(page.locator("textarea[name=similar]")).to_have_value("\n".join(prefill[1:]))
