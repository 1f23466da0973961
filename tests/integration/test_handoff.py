"""Tickets and the agents' queue (bot/shop/tickets.py), on SQLite and on the local PostgreSQL."""
import json
import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.shop import db, demo
from bot.shop.db import CLAIMED, RESOLVED, WAITING
from bot.errors import Conflict, NotFound
from bot.shop.orders import OrderDesk
from bot.shop.tickets import BOT_TROUBLE, WORKING_HOURS, TicketDesk, person_answers, sensitive_topic, short_id, summarize, ticket_json, transcript
from bot.shop.context import ShopContext
from bot.config import Config

SENSITIVE = (("payment", ("charged twice", "payment failed")), ("angry", ("scam", "ridiculous")))
EVENTS = [
    {"event": "action", "name": "action_session_start"},
    {"event": "bot", "text": "Welcome!", "data": {"buttons": [{"title": "Returns", "payload": "/faq"}]}, "timestamp": 1},
    {"event": "user", "text": "/session_start", "timestamp": 2},
    {"event": "user", "text": "where is order 100004", "timestamp": 3,
     "parse_data": {"intent": {"name": "track_shipment", "confidence": 0.93}}, "metadata": {}},
    {"event": "bot", "text": "It's on its way.", "timestamp": 4},
    {"event": "bot", "text": "Hello, I'm Alex.", "metadata": {"agent": "Alex"}, "timestamp": 5},
]


@pytest.fixture(params=["sqlite", "postgresql"])
def desk(request, sqlite_url):
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    with ShopContext(Config(database_url=url, rasa_port=1)) as shop:
        demo.set_up(shop)
        with shop.sessions() as session:
            agents = {u.username: u for u in session.query(db.StaffUser)}
        yield TicketDesk(shop.sessions, shop.shop_id), agents


@pytest.mark.parametrize("text, topic", [
    ("I was CHARGED TWICE for one order!", "payment"),
    ("payment   failed but money gone", "payment"),
    ("this shop is a scam", "angry"),
    ("is scampi on the menu", None),  # whole words only
    ("where is my order", None),
])
def test_sensitive_topics_match_whole_phrases(text, topic):
    assert sensitive_topic(text, SENSITIVE) == topic


def test_summary_and_transcript_of_a_conversation():
    summary = summarize(EVENTS, {"verified_order": "100004", "verified_by": "contact"})
    assert summary["shopper"] == "verified by order e-mail or phone"
    assert summary["order"] == "100004"
    assert (summary["intent"], summary["intent_confidence"]) == ("track_shipment", 0.93)
    assert summary["bot_answered"] == ["Welcome!", "It's on its way."]
    assert [m["from"] for m in transcript(EVENTS)] == ["bot", "shopper", "bot", "agent Alex"]
    assert transcript(EVENTS)[0]["buttons"] == ["Returns"]


def test_one_open_ticket_per_conversation(desk):
    tickets, _ = desk
    first = tickets.open("s1", WORKING_HOURS, {"order": None})
    again = tickets.open("s1", "asked_for_human", {"order": "100004"})
    assert again.id == first.id
    ticket = tickets.get(first.id)
    assert ticket.reason == "asked_for_human"  # asking for a person ends the bot's fallback
    assert ticket.order_number == "100004"


def test_a_ticket_for_the_bots_trouble_lets_the_bot_answer_until_an_agent_claims_it(desk):
    tickets, agents = desk
    assert not person_answers(None)
    trouble = tickets.open("s3", BOT_TROUBLE, {"order": None})
    assert not person_answers(trouble)
    assert tickets.open("s3", WORKING_HOURS, {"order": None}).reason == BOT_TROUBLE  # still the bot's trouble
    tickets.claim(trouble.id, agents["agent"])
    assert person_answers(tickets.get(trouble.id))
    asked = tickets.open("s4", BOT_TROUBLE, {"order": None})
    asked = tickets.open("s4", "asked_for_human", {"order": None})
    assert asked.reason == "asked_for_human" and person_answers(asked)
    assert person_answers(tickets.open("s5", WORKING_HOURS, {"order": None}))


def test_while_the_team_is_away_the_bot_helps_until_an_agent_claims_the_ticket(desk):
    tickets, agents = desk
    asked = tickets.open("s6", "asked_for_human", {"order": None})
    assert person_answers(asked) and not person_answers(asked, team_away=True)
    sensitive = tickets.open("s7", "sensitive:parcel", {"order": None})  # the person's while the team is in
    assert person_answers(sensitive) and not person_answers(sensitive, team_away=True)
    tickets.claim(asked.id, agents["agent"])  # an agent working late has the chat
    assert person_answers(tickets.get(asked.id), team_away=True)


def test_two_agents_claiming_at_once_one_wins_and_the_other_is_told(desk):
    tickets, agents = desk
    ticket = tickets.open("s2", "asked_for_human", {"order": None})
    results = {}

    def claim(name):
        try:
            tickets.claim(ticket.id, agents[name])
            results[name] = "won"
        except Conflict as error:
            results[name] = str(error)

    threads = [threading.Thread(target=claim, args=(name,)) for name in ("agent", "agent2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values())[-1] == "won"
    loser = next(message for message in results.values() if message != "won")
    assert "was claimed by" in loser and "first" in loser
    assert tickets.get(ticket.id).status == CLAIMED


def test_only_the_holder_replies_releases_or_resolves(desk):
    tickets, agents = desk
    ticket = tickets.open("s3", "asked_for_human", {"order": None})
    with pytest.raises(Conflict, match="Claim the ticket first"):
        tickets.owned(ticket.id, agents["agent"])
    tickets.claim(ticket.id, agents["agent"])
    with pytest.raises(Conflict, match="claimed by Alex"):
        tickets.owned(ticket.id, agents["agent2"])
    tickets.release(ticket.id, agents["agent"])
    assert tickets.get(ticket.id).status == WAITING
    tickets.claim(ticket.id, agents["agent2"])
    tickets.resolve(ticket.id, "agent2")
    assert tickets.get(ticket.id).status == RESOLVED
    with pytest.raises(Conflict, match="already resolved"):
        tickets.owned(ticket.id, agents["agent2"])
    with pytest.raises(Conflict, match="already resolved"):
        tickets.resolve(ticket.id, "agent2")
    with pytest.raises(NotFound):
        tickets.get(999999)


def test_the_queue_puts_marketplace_deadlines_and_long_waits_first(desk):
    tickets, _ = desk
    now = db.utcnow()
    relaxed = tickets.open("relaxed", "asked_for_human", {"order": None}, now=now)
    refund = tickets.open("refund", "asked_for_human", {"order": "100011"},
                          deadline=(now + timedelta(minutes=20), "refund request: the marketplace auto-approves it"), now=now)
    old = tickets.open("old", "asked_for_human", {"order": None}, now=now - timedelta(minutes=25))
    assert [t.id for t in tickets.queue(now)] == [old.id, refund.id, relaxed.id]
    shown = ticket_json(tickets.get(refund.id), now)
    assert shown["due_in_minutes"] == 20 and shown["deadline_in_minutes"] == 20
    assert shown["deadline"].startswith("refund request")


def test_an_agent_reply_stops_the_wait_and_overdue_working_hours_tickets_are_found(desk):
    tickets, _ = desk
    now = db.utcnow()
    waiting = tickets.open("w1", WORKING_HOURS, {"order": None}, now=now - timedelta(minutes=4))
    answered = tickets.open("w2", WORKING_HOURS, {"order": None}, now=now - timedelta(minutes=4))
    tickets.record_agent_reply(answered.id, now=now - timedelta(minutes=1))
    tickets.open("asked", "asked_for_human", {"order": None}, now=now - timedelta(minutes=10))
    assert [t.id for t in tickets.waiting_for_the_bot(now, timedelta(minutes=3))] == [waiting.id]
    assert json.loads(tickets.get(waiting.id).summary) == {"order": None}


# --- the console's view of a ticket: who, which order, how urgent, what the agent may do ---

@pytest.fixture
def console(sqlite_url):
    with ShopContext(Config(database_url=sqlite_url, rasa_port=1)) as shop:
        demo.set_up(shop)
        with shop.sessions() as session:
            agents = {u.username: u for u in session.query(db.StaffUser)}
        yield TicketDesk(shop.sessions, shop.shop_id), agents, OrderDesk(shop)


def shopper_said(text, metadata=None, at=100.0):
    return [{"event": "user", "text": text, "timestamp": at, "metadata": metadata or {},
             "parse_data": {"intent": {"name": "talk_to_human", "confidence": 0.9}}}]


def test_the_console_shows_the_verified_orders_customer_its_details_and_its_deadline_in_words(console):
    tickets, _, orders = console
    summary = summarize(shopper_said("a person please"), {"verified_order": "100002", "verified_by": "contact"})
    deadline_at, _ = orders.marketplace_deadline("100002")  # self-shipped, not shipped yet
    now = deadline_at - timedelta(hours=1, minutes=20)
    ticket = tickets.open("named", "asked_for_human", summary, now=now - timedelta(minutes=5))
    shown, = tickets.shown([tickets.get(ticket.id)], now, "agent", orders.marketplace_deadline, zone=ZoneInfo("Europe/Berlin"))
    assert shown["shopper_name"] == "Emma Hartley" and shown["shopper_known"] is True
    details = shown["order_details"]
    assert (details["number"], details["status"], details["status_label"]) == ("100002", "ready_to_ship", "Ready to ship")
    assert details["total"].startswith("€") and details["deadline"]["at"] == deadline_at.isoformat()
    # The clock names the day only when the deadline falls on another day in Berlin than now.
    local, local_now = deadline_at.astimezone(ZoneInfo("Europe/Berlin")), now.astimezone(ZoneInfo("Europe/Berlin"))
    clock = f"{local:%H:%M}" if local.date() == local_now.date() else f"{local:%a} {local.day} {local:%b %H:%M}"
    assert shown["urgency"] == {"level": "red", "reason": f"ship by {clock} — 1 h 20 min left",
                                "deadline_at": deadline_at.isoformat()}
    assert shown["waiting_since"]["ago"] == "5 min ago"
    assert shown["waiting_since"]["absolute"].endswith(("(CET)", "(CEST)"))
    assert shown["actions"] == ["claim"] and shown["mine"] is False
    # Two days before the deadline, a fresh ticket is no emergency.
    calm, = tickets.shown([tickets.get(ticket.id)], deadline_at - timedelta(days=2), "agent", orders.marketplace_deadline)
    assert calm["urgency"]["level"] == "neutral" and calm["urgency"]["reason"].endswith("2 days left")


def test_a_shipped_orders_deadline_no_longer_makes_the_ticket_urgent(console):
    tickets, _, orders = console
    summary = summarize(shopper_said("hello?"), {"verified_order": "100004", "verified_by": "contact"})
    now = db.utcnow()
    # Recorded with an old deadline; the order has shipped since (100004 is in delivery).
    ticket = tickets.open("shipped", "asked_for_human", summary, deadline=(now + timedelta(minutes=30), "must ship"), now=now)
    shown, = tickets.shown([tickets.get(ticket.id)], now, "agent", orders.marketplace_deadline)
    assert shown["urgency"]["level"] == "neutral" and shown["order_details"]["deadline"] is None
    assert shown["order_details"]["status_label"] == "In delivery"
    # Without today's deadlines, the recorded one speaks.
    recorded, = tickets.shown([tickets.get(ticket.id)], now, "agent")
    assert recorded["urgency"]["level"] == "red" and recorded["urgency"]["reason"].startswith("ship by")


def test_the_shopper_is_named_only_by_a_valid_signed_identity_or_the_bots_verification(console):
    from bot.shop.demo import DEMO_IDENTITY_SECRET
    from bot.shop.identity import signed_identity

    tickets, _, _ = console
    now = db.utcnow()
    sent_at = now.timestamp()
    signed = signed_identity(DEMO_IDENTITY_SECRET, "cust-liam", int(sent_at) + 600)
    forged = {**signed, "customer_id": "cust-noah"}
    expired = signed_identity(DEMO_IDENTITY_SECRET, "cust-liam", int(sent_at) - 1)
    opened = {
        name: tickets.open(name, "asked_for_human", summarize(shopper_said("help", metadata, sent_at), slots), now=now)
        for name, metadata, slots in [
            ("signed", signed, {}), ("forged", forged, {}), ("expired", expired, {}), ("anonymous", None, {}),
            ("verified", None, {"verified_by": "cust-noah"}),
        ]
    }
    # The identity counts as of its message: it may have expired since.
    later = now + timedelta(hours=2)
    shown = {t["sender"]: t for t in tickets.shown([tickets.get(t.id) for t in opened.values()], later, "agent")}
    assert shown["signed"]["shopper_name"] == "Liam Fletcher"
    assert shown["verified"]["shopper_name"] == "Noah Bennett"
    for sender in ("forged", "expired", "anonymous"):
        assert shown[sender]["shopper_name"] == f"Shopper {short_id(sender)}" and shown[sender]["shopper_known"] is False
    assert "identity" not in shown["signed"]["summary"]  # the signature stays on the server


def test_the_buttons_follow_the_tickets_state_and_holder(console):
    tickets, agents, _ = console
    ticket = tickets.open("states", "asked_for_human", {"order": None})

    def seen_by(viewer):
        return ticket_json(tickets.get(ticket.id), db.utcnow(), viewer)

    assert seen_by("agent")["actions"] == ["claim"] and seen_by("agent2")["actions"] == ["claim"]
    tickets.claim(ticket.id, agents["agent"])
    mine, theirs = seen_by("agent"), seen_by("agent2")
    assert (mine["actions"], mine["mine"]) == (["reply", "release", "resolve"], True)
    assert (theirs["actions"], theirs["mine"], theirs["agent"]) == ([], False, agents["agent"].display_name)
    tickets.resolve(ticket.id, "agent")
    assert seen_by("agent")["actions"] == []


def test_a_new_shopper_message_shows_in_the_queue_as_the_last_message(console):
    tickets, agents, _ = console
    now = db.utcnow()
    ticket = tickets.open("later", "asked_for_human", summarize(shopper_said("first", at=now.timestamp() - 600), {}),
                          now=now - timedelta(minutes=10))
    tickets.claim(ticket.id, agents["agent"])
    tickets.record_agent_reply(ticket.id, now=now - timedelta(minutes=4))
    assert ticket_json(tickets.get(ticket.id), now)["last_message"]["ago"] == "4 min ago"
    assert ticket_json(tickets.get(ticket.id), now)["waiting_since"] is None
    tickets.note_shopper_message(ticket.id, now=now - timedelta(minutes=1), text="are you still there?")
    shown = ticket_json(tickets.get(ticket.id), now)
    assert shown["last_shopper_text"] == "are you still there?"
    assert shown["last_message"]["ago"] == "1 min ago" and shown["waiting_since"]["ago"] == "1 min ago"
