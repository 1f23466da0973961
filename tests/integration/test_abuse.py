"""Abuse (issue 10), the pieces: the verification lockout per client and per order, slash
commands, rate limits and broken text, on a real SQLite database and the web service without
Rasa. tests/e2e/test_abuse.py holds the same over real conversations."""
import logging
import time
from datetime import timedelta

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.orders import ValidateOrderLookupForm
from bot.shop import db, rules
from bot.rasa.client import clean_text
from bot.shop.demo import DEMO_IDENTITY_SECRET
from bot.rasa.gateway import as_plain_text, is_offered_payload
from bot.shop.identity import CLIENT_ADDRESS, client_of, signed_identity
from bot.shop.orders import OrderDesk
from bot.web.app import create_app


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
def desk(demo_context):
    clock = {"now": db.utcnow()}
    return OrderDesk(demo_context, clock=lambda: clock["now"]), clock


def test_eight_failures_in_an_hour_lock_the_client_out_and_the_right_contact_is_then_refused(desk, caplog):
    desk, clock = desk
    caplog.set_level(logging.WARNING, logger="bot.shop.orders")
    for n in range(7):
        assert desk.verify_contact("100004", f"guess{n}@example.com", "address:a") is False
    assert desk.verify_contact("100004", "emma@example.com", "address:a") is True  # not locked yet
    assert desk.verify_contact("100001", "guess@example.com", "address:a") is False
    assert desk.verification_locked("address:a")
    assert desk.verify_contact("100001", "emma@example.com", "address:a") is False  # locked: not even checked
    assert not desk.verification_locked("address:b")  # another client
    assert desk.verify_contact("100001", "emma@example.com", "address:b") is True
    logged = [r.getMessage() for r in caplog.records]
    assert sum("verification failed: client address:a, order 100004, e-mail given" in m for m in logged) == 7
    assert any("refused, locked out: client address:a, order 100001" in m for m in logged)
    assert not any("guess" in m or "emma@" in m for m in logged)  # never the contact
    clock["now"] += timedelta(hours=1, minutes=1)  # an hour on, the client is let in again
    assert desk.verify_contact("100001", "emma@example.com", "address:a") is True


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
        attempts = session.execute(select(db.VerificationAttempt).order_by(db.VerificationAttempt.id)).scalars().all()
    assert [(a.client, a.succeeded) for a in attempts] == [("sender:new", True)]


def signed(customer_id):
    return signed_identity(DEMO_IDENTITY_SECRET, customer_id, int(time.time()) + 3600)


def form_tracker(sender, slots=None, metadata=None):
    latest = {"text": "", "intent": {"name": "inform"}, "entities": [], "metadata": metadata or {}}
    return Tracker(sender, slots or {}, latest, [], False, None, {"name": "order_lookup_form"}, "action_listen")


async def test_the_form_stops_for_a_locked_client_in_any_conversation_but_not_for_a_signed_in_owner(demo_shop, monkeypatch):
    monkeypatch.setenv("VERIFICATION_DELAY_SECONDS", "0")
    form = ValidateOrderLookupForm()
    at = {CLIENT_ADDRESS: "198.51.100.7"}
    tries = rules.VerificationLimits().failures_per_client
    for n in range(tries):
        dispatcher = CollectingDispatcher()
        result = await form.validate_order_contact(
            f"guess{n}@example.com", dispatcher, form_tracker(f"conversation-{n}", {"order_number": "100004"}, at), {},
        )
        assert result["verified_order"] is None
        # The number stays (the form asks for the contact again); the last failure locks: no
        # "not found", and the form stops.
        expected = ([], "100004") if n == tries - 1 else (["utter_order_not_found"], "100004")
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
