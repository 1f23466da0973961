"""The open-source rasa-webchat widget (npm `rasa-webchat` 1.0.1, installed by `make test` into
build/webchat) against the running product's socket.io: the widget is embedded in a store's
page served from another origin, as a seller embeds it, and a shopper holds a conversation
with the product in Debian's chromium: the welcome, a FAQ button, an order look-up, a handoff
and an agent's reply shown without a reload."""
import functools
import http.server
import json
import shutil
import threading
import time

import pytest
from playwright.sync_api import expect

from bot.config import PROJECT_DIR
from bot.shop.demo import DEMO_IDENTITY_SECRET
from bot.shop.identity import signed_identity
from tests.e2e.conftest import PHONE, screenshot
from tests.e2e.shop_web import free_ports, wait_for

BUNDLE = PROJECT_DIR / "build" / "webchat" / "node_modules" / "rasa-webchat" / "lib" / "index.js"
DESKTOP = {"width": 1280, "height": 800}
PAYMENT_FAQ = "Which payment methods do you accept?"  # one of the demo shop's welcome FAQs

STORE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo Shop</title>
<style>body {{ font-family: sans-serif; margin: 2rem; }} .product {{ border: 1px solid #ccc; padding: 1rem; max-width: 20rem; }}</style>
</head><body>
<h1>Demo Shop</h1>
<div class="product"><h2>Ceramic mug</h2><p>€12.90</p><button>Add to cart</button></div>
<script src="/webchat.js"></script>
<script>
  // What a seller pastes into the store's page: rasa-webchat, pointed at the shop assistant.
  WebChat.default({{
    socketUrl: {socket_url},
    socketPath: "/socket.io/",
    initPayload: "/session_start",
    customData: {custom_data},
    title: "Demo Shop help",
    inputTextFieldHint: "Type a message...",
    customMessageDelay: () => 100,
  }}, null);
</script>
</body></html>
"""


@pytest.fixture(scope="module")
def store(web, tmp_path_factory):
    """A store's site on another origin (localhost, not 127.0.0.1, and its own port): /
    embeds rasa-webchat for an anonymous shopper, /signed-in.html for Liam, signed in."""
    if not BUNDLE.exists():
        pytest.fail(f"{BUNDLE} is missing: `make test` installs it (npm install rasa-webchat@1.0.1)")
    site = tmp_path_factory.mktemp("store")
    shutil.copy(BUNDLE, site / "webchat.js")
    socket_url = json.dumps(web.url)
    (site / "index.html").write_text(STORE_PAGE.format(socket_url=socket_url, custom_data=json.dumps({"language": "en"})))
    identity = signed_identity(DEMO_IDENTITY_SECRET, "cust-liam", int(time.time()) + 3600)
    (site / "signed-in.html").write_text(STORE_PAGE.format(socket_url=socket_url, custom_data=json.dumps(identity)))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_ports()), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def open_chat(page, url):
    page.goto(url)
    page.click("button.rw-launcher", timeout=20_000)  # shown once the socket's session is confirmed
    expect(page.locator(".rw-conversation-container")).to_be_visible()


def send(page, text):
    page.fill("textarea.rw-new-message", text)
    page.press("textarea.rw-new-message", "Enter")


def bot_says(page, fragment, timeout=60_000):
    expect(page.locator(".rw-response", has_text=fragment).last).to_be_visible(timeout=timeout)


def snapshot(page, name):
    """A screenshot with the conversation scrolled to its latest message."""
    page.evaluate("() => { const m = document.querySelector('.rw-messages-container'); if (m) m.scrollTop = m.scrollHeight; }")
    page.wait_for_timeout(300)
    screenshot(page, name)


def session_id(page):
    return json.loads(page.evaluate("() => localStorage.getItem('chat_session')"))["session_id"]


def test_a_shopper_talks_to_the_product_through_rasa_webchat(page, web, store):
    page.set_viewport_size(DESKTOP)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_chat(page, store)

    # The welcome (initPayload /session_start) with its FAQ buttons as quick replies.
    bot_says(page, "Welcome to Demo Shop")
    buttons = page.locator(".rw-replies .rw-reply")
    expect(buttons.first).to_be_visible()
    titles = buttons.all_inner_texts()
    assert PAYMENT_FAQ in titles, titles
    snapshot(page, "webchat-welcome-desktop")
    conversation = session_id(page)
    assert conversation.startswith("web-")

    # A FAQ button: its title is the shopper's message, the FAQ's answer comes back.
    buttons.filter(has_text=PAYMENT_FAQ).click()
    expect(page.locator(".rw-client", has_text=PAYMENT_FAQ)).to_be_visible()
    bot_says(page, "PayPal")
    expect(page.locator(".rw-replies .rw-reply", has_text=PAYMENT_FAQ)).to_have_count(0)  # quick replies go once used

    # An order look-up: the order number, then the e-mail on it.
    send(page, "where is my parcel for order 100004?")
    bot_says(page, "e-mail address or phone number")
    send(page, "emma@example.com")
    bot_says(page, "SPXGB0123456789")
    snapshot(page, "webchat-desktop")

    # A handoff, then an agent's reply, shown without a reload.
    send(page, "I want to talk to a person")
    bot_says(page, "passing you to a person")
    agent = web.staff("agent", "demo-agent")
    ticket = wait_for(lambda: next((t for t in agent.get(f"{web.url}/api/agent/tickets").json()["tickets"] if t["sender"] == conversation), None))
    assert agent.post(f"{web.url}/api/agent/tickets/{ticket['id']}/claim").status_code == 200
    reply = "Hi, this is Alex from Demo Shop. Your parcel is with SPX Express."
    assert agent.post(f"{web.url}/api/agent/tickets/{ticket['id']}/reply", json={"text": reply}).status_code == 200
    bot_says(page, f"Alex: {reply}", timeout=15_000)
    snapshot(page, "webchat-agent-reply-desktop")

    # A reload: the same conversation (the widget keeps it), and the next agent reply arrives once.
    page.reload()
    expect(page.locator("button.rw-launcher")).to_be_visible(timeout=20_000)  # connected again
    if not page.locator(".rw-conversation-container").is_visible():  # the widget reopens as it was left
        page.click("button.rw-launcher")
    bot_says(page, f"Alex: {reply}")
    assert session_id(page) == conversation
    send(page, "thank you!")
    expect(page.locator(".rw-client", has_text="thank you!")).to_be_visible()
    assert agent.post(f"{web.url}/api/agent/tickets/{ticket['id']}/reply", json={"text": "You're welcome, have a nice day."}).status_code == 200
    bot_says(page, "Alex: You're welcome, have a nice day.", timeout=15_000)
    transcript = [m["text"] for m in agent.get(f"{web.url}/api/agent/tickets/{ticket['id']}").json()["transcript"] if m["from"] == "shopper"]
    assert transcript[-1] == "thank you!"  # the shopper's message reached the agent

    # Resolved: the bot is back, and says so.
    assert agent.post(f"{web.url}/api/agent/tickets/{ticket['id']}/resolve").status_code == 200
    bot_says(page, "closed this chat. I'm back", timeout=15_000)
    assert page.locator(".rw-response", has_text="You're welcome, have a nice day.").count() == 1  # nothing twice
    page.set_viewport_size(PHONE)
    snapshot(page, "webchat-phone")
    assert errors == []


def test_a_signed_in_shopper_sees_their_orders_without_proving_them(page, web, store):
    page.set_viewport_size(PHONE)
    open_chat(page, f"{store}/signed-in.html")  # customData carries the storefront's signed identity
    bot_says(page, "Welcome to Demo Shop")
    send(page, "why was order 100007 cancelled?")
    bot_says(page, "out of stock")
    assert page.locator(".rw-response", has_text="e-mail address or phone number").count() == 0
    snapshot(page, "webchat-signed-in-phone")
