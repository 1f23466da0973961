"""Answer recommendations from a parse (bot/rasa/recommendations.py), without a model."""
import pytest

from bot.faq.store import Button, Faq, FaqStore
from bot.rasa.recommendations import (
    MIN_CONFIDENCE, fitting_suggestions, offers_a_person, open_question, recommend,
)

FAQS = """\
category: other
faqs:
  - id: payment_methods
    question: Which payment methods do you accept?
    similar: [paypal, card, pay]
    answer: Cards and PayPal.
  - id: gift_cards
    question: Do you sell gift cards?
    similar: [voucher, gift card, present card]
    answer: Yes.
    enabled: false
  - id: working_hours
    question: When are you available?
    similar: [opening hours, when open, hours]
    answer: 9 to 6.
  - id: contact_human
    question: How can I contact your customer service team?
    similar: [phone number, email address, reach a person]
    answer: Write "talk to a human" in this chat and a team member will take over.
    buttons:
      - title: Talk to a human
        payload: /talk_to_human
"""


def parse(ranking, intents=()):
    return {
        "text": "x",
        "intent_ranking": [{"name": name, "confidence": c} for name, c in intents],
        "response_selector": {"faq": {"ranking": [{"intent_response_key": k, "confidence": c} for k, c in ranking]}},
    }


def store(tmp_path):
    (tmp_path / "other.yml").write_text(FAQS)
    return FaqStore(tmp_path)


def test_faq_suggestions_follow_the_ranking_and_skip_disabled_or_unknown_faqs(tmp_path):
    ranked = parse([("faq/gift_cards", 0.5), ("faq/payment_methods", 0.3), ("faq/gone", 0.1), ("faq/working_hours", 0.05)])
    suggestions = recommend(ranked, store(tmp_path))
    assert [(s.faq_id, s.confidence) for s in suggestions] == [("payment_methods", 0.3), ("working_hours", 0.05)]
    assert suggestions[0].text == "Cards and PayPal."
    shown = suggestions[0].as_json()
    assert (shown["percent"], shown["source"]) == (30, "FAQ: Which payment methods do you accept?")


def test_the_order_answer_ranks_by_how_sure_the_model_is_that_the_question_is_about_the_order(tmp_path):
    about_order = parse([("faq/payment_methods", 0.6)], intents=[("track_shipment", 0.7), ("order_status", 0.2), ("faq", 0.1)])
    assert [s.kind for s in recommend(about_order, store(tmp_path), "On its way.")] == ["order", "faq"]
    about_faq = parse([("faq/payment_methods", 0.6)], intents=[("faq", 0.95), ("track_shipment", 0.05)])
    assert [s.kind for s in recommend(about_faq, store(tmp_path), "On its way.")] == ["faq", "order"]


# --- what fits an agent's reply ------------------------------------------------------------

def user(text, intent, entities=(), ranking=(), intents=()):
    return {"event": "user", "text": text, "parse_data": {
        "text": text, "intent": {"name": intent}, "entities": list(entities),
        "intent_ranking": [{"name": name, "confidence": c} for name, c in intents],
        "response_selector": {"faq": {"ranking": [{"intent_response_key": k, "confidence": c} for k, c in ranking]}},
    }}


def bot(text, agent=None):
    return {"event": "bot", "text": text, "metadata": {"agent": agent} if agent else {}}


HOW_TO_REACH = user("how can i contact you", "faq", ranking=[("faq/contact_human", 0.8), ("faq/working_hours", 0.6)])
A_PERSON = user("a human please", "talk_to_human")


@pytest.mark.parametrize("answer, button, offers", [
    ("Write \"talk to a human\" and a team member will take over.", None, True),
    ("You can speak to one of our agents in this chat.", None, True),
    ("I can pass you to our team when needed.", None, True),
    ("Anything else?", "/talk_to_human", True),
    ("Our team is online Monday to Friday, 09:00-18:00.", None, False),
    ("Cards and PayPal.", "/faq", False),
])
def test_a_faq_that_is_the_way_to_a_person(answer, button, offers):
    buttons = (Button("b", button),) if button else ()
    assert offers_a_person(Faq("f", "other", "q", (), answer, buttons)) is offers


def test_no_way_to_a_person_for_a_shopper_who_asked_for_one_or_is_with_an_agent(tmp_path):
    faqs = store(tmp_path)
    # Not with a person yet: the contact FAQ is the right answer.
    question, suggestions = fitting_suggestions({"events": [HOW_TO_REACH]}, faqs, with_a_person=False)
    assert question["text"] == "how can i contact you"
    assert [s.faq_id for s in suggestions] == ["contact_human", "working_hours"]
    # With an agent (a ticket is open): never.
    _, suggestions = fitting_suggestions({"events": [HOW_TO_REACH]}, faqs, with_a_person=True)
    assert [s.faq_id for s in suggestions] == ["working_hours"]
    # Asked for a person: never either, even before a ticket.
    _, suggestions = fitting_suggestions({"events": [HOW_TO_REACH, bot("Sure."), A_PERSON]}, faqs, with_a_person=False)
    assert [s.faq_id for s in suggestions] == ["working_hours"]


@pytest.mark.parametrize("events, question", [
    ([user("do you take paypal", "faq")], "do you take paypal"),
    ([user("do you take paypal", "faq"), user("thanks!", "thank")], None),  # thanks is no question
    ([user("hi", "greet")], None),
    ([user("do you take paypal", "faq"), user("bye", "goodbye")], None),
    ([user("are you a bot", "bot_challenge")], None),
    ([user("/session_start", "session_start")], None),
    ([A_PERSON], None),  # asking for a person asks nothing an FAQ answers
    # The question before a flow reply or a request for a person.
    ([user("where is order 100004", "order_status"), user("emma@example.com", "inform"), A_PERSON], "where is order 100004"),
    ([user("is it late", "late_delivery"), user("yes", "affirm")], "is it late"),
    # A sensitive topic is always a question.
    ([user("this is a scam", "talk_to_human", [{"entity": "handoff_topic", "value": "angry"}])], "this is a scam"),
    # An agent has answered: nothing open until the shopper writes again.
    ([user("do you take paypal", "faq"), bot("Yes, we do.", agent="Alex")], None),
    ([user("do you take paypal", "faq"), bot("Yes, we do.", agent="Alex"), user("and cards?", "faq")], "and cards?"),
    # The bot's own messages (its handoff notice) answer nothing for the agent.
    ([user("do you take paypal", "faq"), bot("A person will reply soon.")], "do you take paypal"),
])
def test_suggestions_only_for_an_open_question(events, question):
    found = open_question(events)
    assert (found["text"] if found else None) == question


def test_no_suggestions_for_what_is_not_a_question(tmp_path):
    thanks = {"events": [user("do you take paypal", "faq", ranking=[("faq/payment_methods", 0.9)]), user("thanks", "thank")]}
    assert fitting_suggestions(thanks, store(tmp_path)) == (None, [])


def test_only_confident_suggestions_each_with_its_percentage_and_source(tmp_path):
    just = MIN_CONFIDENCE
    message = user("where is my order 100004", "order_status", ranking=[("faq/payment_methods", just - 0.01),
                                                                      ("faq/working_hours", just)],
                   intents=[("order_status", 0.7), ("track_shipment", 0.2), ("faq", 0.1)])
    _, suggestions = fitting_suggestions({"events": [message]}, store(tmp_path), "On its way.", "100004")
    assert [(s.kind, s.faq_id) for s in suggestions] == [("order", ""), ("faq", "working_hours")]
    order = suggestions[0].as_json()
    assert (order["percent"], order["source"], order["text"]) == (90, "Order answer: 100004", "On its way.")
    assert suggestions[1].as_json()["percent"] == round(just * 100)
    # A FAQ question: the order answer does not fit it.
    paypal = user("do you take paypal", "faq", ranking=[("faq/payment_methods", 0.8)], intents=[("faq", 0.97), ("order_status", 0.03)])
    _, suggestions = fitting_suggestions({"events": [paypal]}, store(tmp_path), "On its way.", "100004")
    assert [s.faq_id for s in suggestions] == ["payment_methods"]
