"""Abuse (issue 10): the verification lockout per client and per order, slash commands, rate
limits and broken text. The pieces first (on a real SQLite database, the web service without
Rasa), then real conversations over the web service of the whole product (`product` fixture).

The product's tests all come from 127.0.0.1; these use their own loopback addresses (Linux
routes all of 127.0.0.0/8 to the loopback), so that the limits they hit stay theirs.
"""
import http.client
import json
import logging
import time
from datetime import timedelta

import pytest
import requests
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.orders import ValidateOrderLookupForm
from bot.shop import db
from bot.rasa.client import clean_text
from bot.config import Config
from bot.shop.demo import DEMO_IDENTITY_SECRET
from bot.rasa.gateway import as_plain_text, is_offered_payload
from bot.shop.identity import CLIENT_ADDRESS, client_of, sign_identity
from bot.shop.orders import OrderDesk
from bot.shop.settings import load_settings
from bot.web.app import create_app
from tests.conftest import PRODUCT_TOKEN, RUN_ID

LOCKED = "stop asking here"  # utter_verification_locked
NOT_FOUND = "couldn't find an order"  # utter_order_not_found
ASK_CONTACT = "what's the e-mail address or phone number"  # utter_ask_order_contact


# --- broken text ---------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, cleaned",
    [
        ("hi \ud800 there", "hi \ufffd there"),
        ("\udfff", "\ufffd"),
        ("a\x00b\x07c\x1b[31md\x7f\x85", "abc[31md"),
        ("line one\nline\ttwo\r\n", "line one\nline\ttwo\n"),
        ("emoji 😀 and é stay", "emoji 😀 and é stay"),
    ],
)
def test_broken_text_is_cleaned_before_it_goes_to_rasa(text, cleaned):
    assert clean_text(text) == cleaned
    cleaned.encode("utf-8")  # always encodable


# --- slash commands ------------------------------------------------------------------

WELCOME = {"event": "bot", "text": "Hi!", "data": {"buttons": [{"title": "Pay?", "payload": '/faq{"faq_id": "payment_methods"}'}]}}
HELLO = {"event": "user", "text": "hello"}


def test_only_offered_payloads_and_a_first_session_start_are_commands():
    assert is_offered_payload("/session_start", [])
    assert is_offered_payload("/session_start", [{"event": "action", "name": "action_session_start"}, WELCOME])
    assert not is_offered_payload("/session_start", [WELCOME, HELLO])  # not brand-new any more
    assert is_offered_payload('/faq{"faq_id": "payment_methods"}', [WELCOME, HELLO])
    assert not is_offered_payload('/faq{"faq_id": "shipping_time"}', [WELCOME, HELLO])
    assert not is_offered_payload("/restart", [WELCOME, HELLO])
    assert not is_offered_payload("/talk_to_human", [HELLO, {"event": "bot", "text": "no buttons", "data": {"buttons": None}}])


@pytest.mark.parametrize(
    "text, plain",
    [("/restart", "restart"), ("  //affirm", "affirm"), ('/faq{"faq_id": "x"}', 'faq{"faq_id": "x"}'), ("/", "/"), ("hi /x", "hi /x")],
)
def test_other_slash_texts_become_plain_words(text, plain):
    assert as_plain_text(text) == plain


# --- the lockout's pieces ------------------------------------------------------------

def test_the_client_is_the_address_the_web_service_saw_else_the_conversation():
    assert client_of({CLIENT_ADDRESS: "203.0.113.5", "customer_id": "x"}, "s1") == "address:203.0.113.5"
    assert client_of({}, "s1") == client_of(None, "s1") == client_of({CLIENT_ADDRESS: 5}, "s1") == "sender:s1"


@pytest.fixture
def desk(demo_shop):
    engine = db.make_engine(demo_shop)
    clock = {"now": db.utcnow()}
    yield OrderDesk(
        db.make_session_factory(engine), load_settings(Config.from_env().shop_settings_file), clock=lambda: clock["now"],
    ), clock
    engine.dispose()


def test_five_failures_lock_the_client_out_and_the_right_contact_is_then_refused(desk, caplog):
    desk, _ = desk
    caplog.set_level(logging.WARNING, logger="bot.shop.orders")
    for n in range(4):
        assert desk.verify_contact("100004", f"guess{n}@example.com", "address:a") is False
    assert desk.verify_contact("100004", "emma@example.com", "address:a") is True  # not locked yet
    assert desk.verify_contact("100001", "guess@example.com", "address:a") is False
    assert desk.verification_locked("address:a")
    assert desk.verify_contact("100001", "emma@example.com", "address:a") is False  # locked: not even checked
    assert not desk.verification_locked("address:b")  # another client
    assert desk.verify_contact("100001", "emma@example.com", "address:b") is True
    logged = [r.getMessage() for r in caplog.records]
    assert sum("verification failed: client address:a, order 100004, e-mail given" in m for m in logged) == 4
    assert any("refused, locked out: client address:a, order 100001" in m for m in logged)
    assert not any("guess" in m or "emma@" in m for m in logged)  # never the contact


def test_ten_failures_on_one_order_lock_it_for_everyone_for_a_day(desk):
    desk, clock = desk
    for n in range(10):
        assert desk.verify_contact("100002", "guess@example.com", f"address:{n}") is False
    assert desk.verification_locked("address:new", "100002")
    assert not desk.verification_locked("address:new", "100001")
    assert desk.verify_contact("100002", "emma@example.com", "address:new") is False
    clock["now"] += timedelta(hours=24, minutes=1)
    assert desk.verify_contact("100002", "emma@example.com", "address:new") is True


def test_the_slow_down_grows_with_failures_in_a_row_and_a_success_ends_it(desk):
    desk, _ = desk
    delays = []
    for n in range(4):
        desk.verify_contact("100004", "guess@example.com", "sender:s")
        delays.append(desk.failure_delay("sender:s"))
    assert delays == [1.0, 2.0, 4.0, 8.0]
    assert desk.verify_contact("100004", "emma@example.com", "sender:s")
    assert desk.failure_delay("sender:s") == 0.0


def test_attempts_older_than_every_window_are_forgotten(desk):
    desk, clock = desk
    desk.verify_contact("100004", "guess@example.com", "sender:old")
    clock["now"] += timedelta(days=2)
    desk.verify_contact("100004", "emma@example.com", "sender:new")
    with desk.sessions() as session:
        attempts = db.verification_attempts(session, 1, clock["now"] - timedelta(days=30))
    assert [(a.client, a.succeeded) for a in attempts] == [("sender:new", True)]


def signed(customer_id):
    expires = int(time.time()) + 3600
    return {"customer_id": customer_id, "expires": expires, "signature": sign_identity(DEMO_IDENTITY_SECRET, customer_id, expires)}


def form_tracker(sender, slots=None, metadata=None):
    latest = {"text": "", "intent": {"name": "inform"}, "entities": [], "metadata": metadata or {}}
    return Tracker(sender, slots or {}, latest, [], False, None, {"name": "order_lookup_form"}, "action_listen")


async def test_the_form_stops_for_a_locked_client_in_any_conversation_but_not_for_a_signed_in_owner(demo_shop, monkeypatch):
    monkeypatch.setenv("VERIFICATION_DELAY_SECONDS", "0")
    form = ValidateOrderLookupForm()
    at = {CLIENT_ADDRESS: "198.51.100.7"}
    for n in range(5):
        dispatcher = CollectingDispatcher()
        result = await form.validate_order_contact(
            f"guess{n}@example.com", dispatcher, form_tracker(f"conversation-{n}", {"order_number": "100004"}, at), {},
        )
        assert result["verified_order"] is None
        # The last failure locks: no "not found", and the number stays so that the form stops.
        expected = ([], "100004") if n == 4 else (["utter_order_not_found"], None)
        assert ([m["response"] for m in dispatcher.messages], result["order_number"]) == expected
    assert await form.required_slots([], CollectingDispatcher(), form_tracker("brand-new", metadata=at), {}) == []
    assert await form.required_slots([], CollectingDispatcher(), form_tracker("brand-new"), {}) == ["order_number", "order_contact"]
    owner = {**at, **signed("cust-emma")}
    assert await form.required_slots([], CollectingDispatcher(), form_tracker("brand-new", metadata=owner), {}) == ["order_number"]
    result = await form.validate_order_number("100004", CollectingDispatcher(), form_tracker("brand-new", metadata=owner), {})
    assert result["verified_order"] == "100004"


# --- the web service without Rasa: content type, limits ----------------------------------

@pytest.fixture
async def strict_client(aiohttp_client, seller_files):
    from dataclasses import replace

    config = replace(seller_files, chat_limit_per_sender=2, login_failures_per_username=2)
    return await aiohttp_client(create_app(config))


async def test_chat_takes_only_json_and_counts_every_request(strict_client):
    response = await strict_client.post("/api/chat", data="sender=s&message=hi", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 415 and "application/json" in (await response.json())["error"]
    for _ in range(2):  # Rasa is down in these tests (503), but the messages count
        assert (await strict_client.post("/api/chat", json={"sender": "s", "message": "hi"})).status == 503
    refused = await strict_client.post("/api/chat", json={"sender": "s", "message": "hi"})
    assert refused.status == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
    assert "Please wait" in (await refused.json())["error"]
    assert (await strict_client.post("/api/chat", json={"sender": "other", "message": "hi"})).status == 503


async def test_failed_logins_are_throttled_per_username(strict_client):
    for _ in range(2):
        response = await strict_client.post("/login", data={"username": "seller", "password": "wrong"})
        assert response.status == 401
    refused = await strict_client.post("/login", data={"username": "seller", "password": "demo-seller"}, allow_redirects=False)
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many failed logins" in await refused.text()
    ok = await strict_client.post("/login", data={"username": "agent", "password": "demo-agent"}, allow_redirects=False)
    assert ok.status == 303


# --- real conversations over the web service ------------------------------------------

class Client:
    """The web service over HTTP from one client address."""

    def __init__(self, ports, address):
        self.ports, self.address = ports, address

    def request(self, method, path, body=b"", headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.ports["WEB_PORT"], timeout=120, source_address=(self.address, 0))
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def post_chat(self, body: bytes, content_type="application/json"):
        status, headers, raw = self.request("POST", "/api/chat", body, {"Content-Type": content_type})
        return status, headers, json.loads(raw)

    def chat(self, sender, message, metadata=None):
        payload = {"sender": f"{sender}-{RUN_ID}", "message": message, "metadata": metadata or {}}
        status, _, body = self.post_chat(json.dumps(payload).encode())
        assert status == 200, body
        return body

    def login(self, username, password):
        form = f"username={username}&password={password}".encode()
        status, headers, _ = self.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        return status, headers


def texts(body):
    return " ".join(reply.get("text") or "" for reply in body["replies"])


def tracker(product, sender):
    url = f"http://127.0.0.1:{product[1]['RASA_PORT']}/conversations/{sender}-{RUN_ID}/tracker"
    return requests.get(url, params={"token": PRODUCT_TOKEN}, timeout=30).json()


@pytest.fixture(scope="module")
def shop_orders(product_home, product):
    """Demo orders no other test uses: number → (e-mail, storefront customer id)."""
    engine = db.make_engine(f"sqlite:///{product_home / 'shop.db'}")
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT o.number, c.email, c.external_id FROM orders o JOIN customers c ON c.id = o.customer_id "
            "WHERE o.number IN ('100300', '100301')"
        ).all()
    engine.dispose()
    return {number: (email, customer) for number, email, customer in rows}


def fail_once(client, sender, number):
    """One wrong contact for the order, in its own conversation; the reply and how long it took."""
    assert ASK_CONTACT in texts(client.chat(sender, f"where is my order {number}?"))
    started = time.monotonic()
    body = client.chat(sender, "not.the.buyer@example.com")
    return texts(body), time.monotonic() - started


def test_the_lockout_holds_across_new_conversations_restarts_and_session_starts(product, shop_orders):
    email, customer = shop_orders["100300"]
    prober = Client(product[1], "127.0.0.31")
    answer, _ = fail_once(prober, "lock-1", "100300")
    assert NOT_FOUND in answer
    # A restart or a new session in the same conversation does not reset the count ...
    prober.chat("lock-1", "/restart")
    prober.chat("lock-1", "/session_start")
    answer, _ = fail_once(prober, "lock-1", "100300")
    assert NOT_FOUND in answer
    # ... and neither do new conversations; each failure's answer comes later (0.25 s, doubling).
    for n in (2, 3):
        assert NOT_FOUND in fail_once(prober, f"lock-{n}", "100300")[0]
    answer, seconds = fail_once(prober, "lock-4", "100300")
    assert LOCKED in answer and NOT_FOUND not in answer
    assert seconds >= 4.0  # the fifth failure in a row: 0.25 × 2⁴
    # A brand-new conversation is told at once, and even the right contact is not checked then.
    answer = texts(prober.chat("lock-5", "where is my order 100300?"))
    assert LOCKED in answer and ASK_CONTACT not in answer
    assert "Order 100300" not in texts(prober.chat("lock-5", email))
    # The signed-in owner, from the same address, is not affected.
    owner = texts(prober.chat("lock-owner", "where is my order 100300?", signed(customer)))
    assert "Order 100300" in owner and LOCKED not in owner
    # Another client with the right contact is not affected either (the order has 5 failures, not 10).
    shopper = Client(product[1], "127.0.0.32")
    assert ASK_CONTACT in texts(shopper.chat("lock-shopper", "where is my order 100300?"))
    assert "Order 100300" in texts(shopper.chat("lock-shopper", email))


def test_an_order_probed_from_many_addresses_is_locked_for_its_next_asker(product, shop_orders):
    email, customer = shop_orders["100301"]
    for n in range(10):
        answer, _ = fail_once(Client(product[1], f"127.0.1.{n + 1}"), f"spray-{n}", "100301")
        assert (LOCKED if n == 9 else NOT_FOUND) in answer
    asker = Client(product[1], "127.0.1.100")
    assert LOCKED in texts(asker.chat("spray-next", "where is my order 100301?"))
    owner = texts(asker.chat("spray-owner", "where is my order 100301?", signed(customer)))
    assert "Order 100301" in owner


def test_slash_commands_cannot_unpause_a_handoff_and_a_tapped_button_goes_to_the_person(product):
    client = Client(product[1], "127.0.0.51")
    welcome = client.chat("slash-handoff", "/session_start")
    assert welcome["replies"][0]["buttons"]
    handed = client.chat("slash-handoff", "I want to talk to a human")
    assert handed["handoff"]["status"] == "waiting"
    for command in ("/restart", "/session_start", " /greet", '/faq{"faq_id": "not_offered"}'):
        body = client.chat("slash-handoff", command)
        assert body["replies"] == [] and body["handoff"]["status"] == "waiting", command
    conversation = tracker(product, "slash-handoff")
    assert conversation["paused"] is True
    events = conversation["events"]
    handoff = max(i for i, event in enumerate(events) if event.get("text") == "I want to talk to a human")
    assert not any(event["event"] in ("restart", "session_started") for event in events[handoff:])
    shopper_texts = [event["text"] for event in conversation["events"] if event["event"] == "user"]
    assert shopper_texts[-4:] == ["restart", "session_start", "greet", 'faq{"faq_id": "not_offered"}']
    # A button the bot offered, tapped while a person has the chat, goes to the person too.
    tapped = client.chat("slash-handoff", welcome["replies"][0]["buttons"][0]["payload"])
    assert tapped["replies"] == [] and tapped["handoff"]["status"] == "waiting"


def test_only_offered_buttons_are_payloads_and_slash_text_cannot_skip_the_agents(product, product_home):
    client = Client(product[1], "127.0.0.52")
    welcome = client.chat("slash-buttons", "/session_start")
    offered = welcome["replies"][0]["buttons"][0]["payload"]
    assert texts(client.chat("slash-buttons", offered)), "an offered button is answered"
    assert tracker(product, "slash-buttons")["latest_message"]["text"] == offered
    client.chat("slash-buttons", "/restart")
    conversation = tracker(product, "slash-buttons")
    assert conversation["latest_message"]["text"] == "restart"  # read as a word, not as a command
    assert not any(event["event"] == "restart" for event in conversation["events"])

    settings_file = product_home / "shop.yml"
    original = settings_file.read_text()
    document = yaml.safe_load(original)
    document["working_hours"]["bot_mode"] = "off"  # every message goes to the agents
    settings_file.write_text(yaml.safe_dump(document))
    try:
        assert client.chat("slash-off", "/session_start")["replies"], "a new chat still opens with the welcome"
        for command in ("/affirm", "/talk_to_human"):
            body = client.chat("slash-off", command)
            assert body["replies"] == [] and body["handoff"]["status"] == "waiting", command
    finally:
        settings_file.write_text(original)


def test_chat_rate_limits_per_sender_and_per_address_with_a_polite_reply(product):
    client = Client(product[1], "127.0.0.61")
    assert texts(client.chat("flood", "hi"))
    too_long = json.dumps({"sender": f"flood-{RUN_ID}", "message": "x" * 3000}).encode()
    for _ in range(19):  # 20 messages a minute per sender: these count although they are refused
        assert client.post_chat(too_long)[0] == 400
    status, headers, body = client.post_chat(json.dumps({"sender": f"flood-{RUN_ID}", "message": "hello?"}).encode())
    assert status == 429 and 0 < int(headers["Retry-After"]) <= 60
    assert "Please wait" in body["error"] and "seconds" in body["error"]
    assert texts(client.chat("flood-other", "hi")), "another conversation from the same address is answered"

    # Per address (500 a minute for the product under test), whatever the requests are.
    crowd = Client(product[1], "127.0.0.62")
    assert texts(crowd.chat("crowd-0", "hi"))
    for _ in range(499):
        assert crowd.post_chat(b"hello", content_type="text/plain")[0] == 415
    status, headers, body = crowd.post_chat(json.dumps({"sender": f"crowd-1-{RUN_ID}", "message": "hi"}).encode())
    assert status == 429 and int(headers["Retry-After"]) > 0 and "Please wait" in body["error"]
    assert texts(Client(product[1], "127.0.0.63").chat("crowd-2", "hi")), "other addresses are served"


def test_staff_login_is_throttled_per_username_and_per_address(product):
    username = f"nobody-{RUN_ID}"
    for n in range(5):  # from different addresses: they count for the username
        assert Client(product[1], f"127.0.2.{n + 1}").login(username, "guess")[0] == 401
    status, headers = Client(product[1], "127.0.2.50").login(username, "guess")
    assert status == 429 and int(headers["Retry-After"]) > 0

    guesser = Client(product[1], "127.0.2.60")
    for n in range(20):  # different usernames: they count for the address
        assert guesser.login(f"user{n}-{RUN_ID}", "guess")[0] == 401
    assert guesser.login("seller", "demo-seller")[0] == 429  # not even the right password, from there
    assert Client(product[1], "127.0.2.61").login("seller", "demo-seller")[0] == 303


def test_broken_text_gets_a_normal_reply(product):
    client = Client(product[1], "127.0.0.71")
    for n, raw in enumerate([
        b'{"sender": "broken-0-%s", "message": "hi \\ud800 where is my parcel"}',
        b'{"sender": "broken-1-%s", "message": "\\udfff"}',
        b'{"sender": "broken-2-%s", "message": "hello\\u0000\\u0007 there\\u001b"}',
        b'{"sender": "broken-3-%s", "message": "hello \xff\xfe\xc3 there"}',  # not UTF-8
        b'{"sender": "broken-4-\\ud800-%s", "message": "hello"}',
    ]):
        status, _, body = client.post_chat(raw % RUN_ID.encode())
        assert status == 200, (n, body)
        assert texts(body), n
