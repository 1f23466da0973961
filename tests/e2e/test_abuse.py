"""Abuse (issue 10) over real conversations with the whole product (`product` fixture): the
verification lockout per client and per order, slash commands and rate limits.

The product's tests all come from 127.0.0.1; these use their own loopback addresses (Linux
routes all of 127.0.0.0/8 to the loopback), so that the limits they hit stay theirs.
"""
import http.client
import json
import time

import pytest
import requests
import yaml

from bot.shop import db
from bot.shop.demo import DEMO_IDENTITY_SECRET
from bot.shop.identity import signed_identity
from tests.e2e.shop_web import PRODUCT_TOKEN, RUN_ID, texts

LOCKED = "look up orders from here for a while"  # utter_verification_locked
NOT_FOUND = "couldn't find an order"  # utter_order_not_found
ASK_CONTACT = "what's the e-mail address or phone number"  # utter_ask_order_contact


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
    for n in range(2, 7):
        assert NOT_FOUND in fail_once(prober, f"lock-{n}", "100300")[0]
    answer, seconds = fail_once(prober, "lock-7", "100300")
    assert LOCKED in answer and NOT_FOUND not in answer
    assert seconds >= 4.0  # the eighth failure in a row (within the hour): 0.25 × 2⁷, capped at 8 s
    # A brand-new conversation is told at once, and even the right contact is not checked then.
    answer = texts(prober.chat("lock-8", "where is my order 100300?"))
    assert LOCKED in answer and ASK_CONTACT not in answer
    # (the answer may start "Order 100300 ..." or, for a late order, "I'm sorry: order 100300 ...")
    assert "order 100300" not in texts(prober.chat("lock-8", email)).lower()
    # The signed-in owner, from the same address, is not affected.
    owner = texts(prober.chat("lock-owner", "where is my order 100300?", signed_identity(DEMO_IDENTITY_SECRET, customer, int(time.time()) + 3600)))
    assert "order 100300" in owner.lower() and LOCKED not in owner
    # Another client with the right contact is not affected either (the order has 8 failures, not 10).
    shopper = Client(product[1], "127.0.0.32")
    assert ASK_CONTACT in texts(shopper.chat("lock-shopper", "where is my order 100300?"))
    assert "order 100300" in texts(shopper.chat("lock-shopper", email)).lower()


def test_an_order_probed_from_many_addresses_is_locked_for_its_next_asker(product, shop_orders):
    email, customer = shop_orders["100301"]
    for n in range(10):
        answer, _ = fail_once(Client(product[1], f"127.0.1.{n + 1}"), f"spray-{n}", "100301")
        assert (LOCKED if n == 9 else NOT_FOUND) in answer
    asker = Client(product[1], "127.0.1.100")
    assert LOCKED in texts(asker.chat("spray-next", "where is my order 100301?"))
    owner = texts(asker.chat("spray-owner", "where is my order 100301?", signed_identity(DEMO_IDENTITY_SECRET, customer, int(time.time()) + 3600)))
    assert "order 100301" in owner.lower() and LOCKED not in owner  # (its own status, whatever it is)


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
    client.chat("slash-buttons", '/faq{"faq_id": "not_offered"}')
    latest = tracker(product, "slash-buttons")["latest_message"]
    assert latest["text"] == 'faq{"faq_id": "not_offered"}'  # read as words, not as a command:
    assert not any(entity["entity"] == "faq_id" for entity in latest["entities"])  # no entity from it

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


def test_a_conversation_is_readable_only_by_the_browser_that_started_it(web):
    """Two browsers (their own cookies) on one address: the second learns the first's
    conversation id, and gets nothing from it."""
    emma, snoop = requests.Session(), requests.Session()
    first = emma.post(f"{web.url}/api/chat", json={"message": "/session_start"}, timeout=60).json()
    sender = first["sender"]
    assert emma.cookies.get("shop_chat_key") == first["key"]
    assert emma.post(f"{web.url}/api/chat", json={"sender": sender, "message": "where is my order 100001?"}, timeout=60).ok
    history = emma.get(f"{web.url}/api/chat/history", params={"sender": sender}, timeout=30).json()
    assert [m["from"] for m in history["messages"]][-2:] == ["shopper", "bot"]
    assert history["messages"][-2]["text"] == "where is my order 100001?"
    for attempt in (
        snoop.get(f"{web.url}/api/chat/history", params={"sender": sender}, timeout=30),
        snoop.get(f"{web.url}/api/chat/updates", params={"sender": sender, "after": 0}, timeout=30),
        snoop.post(f"{web.url}/api/chat", json={"sender": sender, "message": "emma@example.com"}, timeout=60),
        requests.get(f"{web.url}/api/chat/history", params={"sender": sender}, timeout=30),  # no cookies at all
    ):
        assert attempt.status_code == 403, attempt.text
    # A widget on another site sends the key in a header instead of the cookie.
    header_only = requests.get(f"{web.url}/api/chat/history", params={"sender": sender}, headers={"X-Chat-Key": first["key"]}, timeout=30)
    assert header_only.status_code == 200 and header_only.json()["messages"] == history["messages"]
