"""The handoff action, the "not sure twice" rule and the sensitive-topic component, with
rasa_sdk's Tracker and CollectingDispatcher on a fresh demo database."""
from datetime import datetime, timezone

import pytest
from rasa.shared.nlu.training_data.message import Message
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import handoff
from actions.faq import ActionNotSure, not_sure_streak
from actions.handoff import ActionHandoff
from bot.shop import db
from bot.faq.store import FaqStore
from bot.nlu.sensitive import SensitiveTopicRouter

DOMAIN = {"responses": {"utter_button_talk_to_human": [{"text": "Talk to a person"}]}}


def tracker(events=(), slots=None, entities=(), sender="shopper-1"):
    latest = {"intent": {"name": "talk_to_human", "confidence": 1.0}, "entities": list(entities), "text": "a person please"}
    return Tracker(sender, slots or {}, latest, list(events), False, None, {}, "action_listen")


async def test_an_unsure_reading_as_a_request_for_a_person_gets_the_closest_faqs_instead(demo_shop):
    unsure = Tracker("shopper-2", {}, {"intent": {"name": "talk_to_human", "confidence": 0.5}, "entities": [], "text": "mau tanya jam operasional cs"},
                     [], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    # The not-sure reply itself, not a follow-up action: after that, no rule would know what comes
    # next for this intent, and Rasa's own fallback would add a second "didn't understand".
    assert await ActionHandoff().run(dispatcher, unsure, DOMAIN) == []
    assert [m["response"] for m in dispatcher.messages] == ["utter_not_sure"] and tickets(demo_shop) == []
    # The "Talk to a person" button, however the model reads it, is a request for a person.
    tapped = Tracker("shopper-2", {}, {"intent": {"name": "talk_to_human", "confidence": 0.5}, "entities": [], "text": "/talk_to_human"},
                     [], False, None, {}, "action_listen")
    await ActionHandoff().run(CollectingDispatcher(), tapped, DOMAIN)
    assert len(tickets(demo_shop)) == 1


def tickets(url):
    engine = db.make_engine(url)
    with db.make_session_factory(engine)() as session:
        found = session.query(db.Ticket).all()
    engine.dispose()
    return found


def at(hour, weekday_date="2026-11-23"):  # a Monday; shop.yml: Europe/Berlin, Mon 09:00-18:00
    return datetime.fromisoformat(f"{weekday_date}T{hour:02d}:00:00+01:00").astimezone(timezone.utc)


@pytest.mark.parametrize("now, response, when, paused", [
    (at(10), "utter_handoff_now", None, True),
    # The team is away: the ticket waits for them, and the bot is not paused (it goes on helping).
    (at(19), "utter_handoff_later", "tomorrow at 09:00", False),
    (at(15, "2026-11-28"), "utter_handoff_later", "on Monday at 09:00", False),  # Saturday after 14:00
])
async def test_handoff_opens_a_ticket_says_when_a_person_replies_and_pauses_while_the_team_is_in(
    demo_shop, monkeypatch, now, response, when, paused,
):
    monkeypatch.setattr(handoff.db, "utcnow", lambda: now)
    dispatcher = CollectingDispatcher()
    slots = {"verified_order": "100011", "verified_by": "contact"}  # a refund request awaiting the seller
    events = await ActionHandoff().run(dispatcher, tracker(slots=slots), DOMAIN)
    assert [e["event"] for e in events] == (["pause"] if paused else [])
    [message] = dispatcher.messages
    assert message["response"] == response
    assert message.get("when") == when
    [ticket] = tickets(demo_shop)
    assert (ticket.sender_id, ticket.reason, ticket.order_number) == ("shopper-1", "asked_for_human", "100011")
    assert ticket.deadline_label.startswith("refund request")


async def test_a_sensitive_topic_is_the_tickets_reason_and_the_bot_helps_on_after_hours(demo_shop, monkeypatch):
    monkeypatch.setattr(handoff.db, "utcnow", lambda: at(19))  # the team is away
    entity = {"entity": "handoff_topic", "value": "payment"}
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff().run(dispatcher, tracker(entities=[entity]), DOMAIN)
    assert [t.reason for t in tickets(demo_shop)] == ["sensitive:payment"]
    # The ticket waits for the team; until then the shopper is not left without answers.
    assert events == [] and dispatcher.messages[0]["response"] == "utter_handoff_later"


async def test_handoff_with_the_database_down_says_so_and_does_not_pause(demo_shop, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:////nonexistent/folder/shop.db")
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff().run(dispatcher, tracker(), DOMAIN)
    assert events == [] and dispatcher.messages[0]["response"] == "utter_handoff_unavailable"


def not_sure_turn(text):
    return [
        {"event": "user", "text": text},
        {"event": "bot", "text": "not sure", "metadata": {"utter_action": "utter_not_sure"}},
    ]


def test_not_sure_streak_counts_consecutive_not_sure_replies():
    answered = [{"event": "user", "text": "hi"}, {"event": "bot", "text": "Hi!", "metadata": {"utter_action": "utter_greet"}}]
    current = [{"event": "user", "text": "???"}]
    assert not_sure_streak(answered + current) == 0
    assert not_sure_streak(answered + not_sure_turn("a") + current) == 1
    assert not_sure_streak(not_sure_turn("a") + answered + not_sure_turn("b") + not_sure_turn("c") + current) == 2


async def test_the_second_not_sure_in_a_row_hands_over(demo_shop, tmp_path, monkeypatch):
    monkeypatch.setattr(handoff.db, "utcnow", lambda: at(10))  # the team is in: the bot pauses
    (tmp_path / "other.yml").write_text("category: other\nfaqs: []\n")
    dispatcher = CollectingDispatcher()
    events = await ActionNotSure(FaqStore(tmp_path)).run(dispatcher, tracker(not_sure_turn("a") + [{"event": "user"}]), DOMAIN)
    assert [e["event"] for e in events] == ["pause"]
    assert dispatcher.messages[0]["response"].startswith("utter_handoff")
    assert [t.reason for t in tickets(demo_shop)] == ["repeated_fallback"]


def test_the_sensitive_topic_component_turns_the_intent_into_a_handoff():
    router = SensitiveTopicRouter()
    angry = Message(data={"text": "This is ridiculous, where is my refund", "intent": {"name": "refund_status"}})
    calm = Message(data={"text": "where is my refund", "intent": {"name": "refund_status"}})
    router.process([angry, calm])
    assert angry.get("intent")["name"] == "talk_to_human"
    assert angry.get("entities")[-1]["value"] == "angry"
    assert calm.get("intent")["name"] == "refund_status"
