"""The demo storefront, the chat widget's script and its look (bot/web/storefront.py), and the
look's admin form, over HTTP (aiohttp's test server, a copy of the demo shop and shop.yml)."""
import json
import re
import time

import pytest
import yaml

from bot.shop import db
from bot.shop.demo import DEMO_IDENTITY_SECRET
from bot.shop.identity import verified_customer_id
from bot.web.app import create_app

from tests.integration.test_admin import log_in


@pytest.fixture
async def client(aiohttp_client, seller_files):
    return await aiohttp_client(create_app(seller_files))


def page_identity(page: str):
    """The identity the storefront rendered into the page for the widget, or None."""
    found = re.search(r"window\.shopChat = \{identity: (.*)\};</script>", page)
    return json.loads(found.group(1)) if found else None


async def test_the_storefront_embeds_the_widget_with_one_script_tag(client):
    response = await client.get("/")
    assert response.status == 200 and response.content_type == "text/html"
    page = await response.text()
    assert page.count("<script") == 1 and '<script src="/widget.js" async></script>' in page
    assert "Demo Shop" in page and "Add to basket" in page
    assert page_identity(page) is None and "demo-identity-secret" not in page  # nobody signed in


async def test_the_widget_script_is_served_as_javascript_with_caching(client):
    response = await client.get("/widget.js")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert "max-age=" in response.headers["Cache-Control"] and response.headers["X-Content-Type-Options"] == "nosniff"
    script = await response.text()
    assert "attachShadow" in script and "/api/chat/history" in script
    assert ".innerHTML" not in script.replace("launcher.innerHTML = CHAT_ICON", "")  # texts only as textContent
    again = await client.get("/widget.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304


async def test_the_widget_look_reflects_shop_yml(client, seller_files):
    body = await (await client.get("/api/chat/widget")).json()
    assert (body["title"], body["colour"], body["position"]) == ("Demo Shop help", "#2c5cc5", "right")
    assert body["welcome_faqs"] and all(set(faq) == {"id", "title"} for faq in body["welcome_faqs"])
    path = seller_files.shop_settings_file
    document = yaml.safe_load(path.read_text())
    document["widget"] = {"title": "Ask us", "colour": "#AA3300", "position": "left"}
    path.write_text(yaml.safe_dump(document))
    body = await (await client.get("/api/chat/widget")).json()
    assert (body["title"], body["colour"], body["position"]) == ("Ask us", "#aa3300", "left")
    del document["widget"]
    path.write_text(yaml.safe_dump(document))
    body = await (await client.get("/api/chat/widget")).json()
    assert (body["title"], body["colour"], body["position"]) == ("Chat with us", "#2c5cc5", "right")


async def test_a_demo_customer_gets_a_signed_identity_and_no_secret(client):
    before = int(time.time())
    page = await (await client.get("/", params={"customer": "cust-emma"})).text()
    identity = page_identity(page)
    assert set(identity) == {"customer_id", "expires", "signature"}
    assert verified_customer_id(DEMO_IDENTITY_SECRET, identity, time.time()) == "cust-emma"
    assert before + 3600 <= identity["expires"] <= int(time.time()) + 3600  # an hour
    assert DEMO_IDENTITY_SECRET not in page and "Signed in as <strong>Emma Hartley</strong>" in page
    assert '<option value="cust-emma" selected>' in page and "Liam Fletcher" in page


async def test_an_unknown_customer_is_not_signed_in(client):
    page = await (await client.get("/", params={"customer": "cust-nobody"})).text()
    assert page_identity(page) is None and "There is no demo customer" in page


async def test_a_shop_with_its_own_secret_offers_no_demo_sign_in(client, seller_files):
    engine = db.make_engine(seller_files.database_url)
    with db.transaction(db.make_session_factory(engine)) as session:
        session.query(db.Shop).update({"identity_secret": "a-real-shops-secret"})
    engine.dispose()
    page = await (await client.get("/", params={"customer": "cust-emma"})).text()
    assert page_identity(page) is None and "a-real-shops-secret" not in page
    assert "demo sign-in is off" in page and "cust-emma</option>" not in page and 'name="customer"' not in page


async def test_the_storefront_opens_without_the_database(aiohttp_client, seller_files):
    from dataclasses import replace

    client = await aiohttp_client(create_app(replace(seller_files, database_url="sqlite:////nonexistent/dir/shop.db")))
    response = await client.get("/", params={"customer": "cust-emma"})
    page = await response.text()
    assert response.status == 200 and '<script src="/widget.js" async></script>' in page and page_identity(page) is None


async def test_the_look_form_needs_a_seller(client):
    response = await client.get("/admin/widget", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/login")
    await log_in(client, "agent", "demo-agent")
    assert (await client.get("/admin/widget")).status == 403


async def test_the_seller_sets_the_look(client, seller_files):
    csrf = await log_in(client)
    page = await (await client.get("/admin/widget")).text()
    assert 'href="/admin/widget"' in page and 'value="Demo Shop help"' in page
    tag = re.search(r'<pre class="tag" id="script-tag">(.*?)</pre>', page).group(1)
    assert tag == f"&lt;script src=&#34;http://127.0.0.1:{client.port}/widget.js&#34; async&gt;&lt;/script&gt;"
    response = await client.post(
        "/admin/widget", data={"csrf_token": csrf, "title": "  Questions?  Ask  ", "colour": "#0A7D3B", "position": "left"},
    )
    assert response.status == 200 and "Chat widget saved" in await response.text()
    body = await (await client.get("/api/chat/widget")).json()
    assert (body["title"], body["colour"], body["position"]) == ("Questions? Ask", "#0a7d3b", "left")
    text = seller_files.shop_settings_file.read_text()
    assert "# The storefront chat widget's look" in text and "# When a person answers the shop chat." in text  # comments kept
    assert "Demo Shop help" not in text


@pytest.mark.parametrize("field, value, message", [
    ("colour", "red", "`widget.colour` must be a colour written as #rrggbb"),
    ("colour", "#12345", "`widget.colour` must be a colour written as #rrggbb"),
    ("title", "   ", "`widget.title` must not be empty"),
    ("title", "x" * 61, "`widget.title` is longer than 60 characters"),
    ("position", "top", "`widget.position` must be one of right, left"),
])
async def test_a_bad_look_is_refused_with_the_sellers_input_kept(client, seller_files, field, value, message):
    csrf = await log_in(client)
    before = seller_files.shop_settings_file.read_text()
    form = {"csrf_token": csrf, "title": "Help", "colour": "#123456", "position": "right", field: value}
    response = await client.post("/admin/widget", data=form)
    page = await response.text()
    assert response.status == 400 and "Not saved:" in page and message in page
    if field != "position":
        assert f'value="{value.strip() if field == "title" else value}"' in page  # the seller's input is still there
    assert seller_files.shop_settings_file.read_text() == before


async def test_the_look_form_needs_the_csrf_token(client, seller_files):
    await log_in(client)
    before = seller_files.shop_settings_file.read_text()
    response = await client.post("/admin/widget", data={"title": "Help", "colour": "#123456", "position": "right"})
    assert response.status == 403 and seller_files.shop_settings_file.read_text() == before
