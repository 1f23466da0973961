"""Tickets and the agents' queue (bot/shop/tickets.py), on SQLite and on the local PostgreSQL."""
import json
import threading
from datetime import timedelta

import pytest

from bot.shop import db, demo
from bot.shop.db import CLAIMED, RESOLVED, WAITING
from bot.errors import Conflict, NotFound
from bot.shop.tickets import WORKING_HOURS, TicketDesk, sensitive_topic, summarize, ticket_json, transcript
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
