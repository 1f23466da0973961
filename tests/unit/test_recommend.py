"""Answer recommendations from a parse (bot/rasa/recommendations.py), without a model."""
from bot.faq.store import FaqStore
from bot.rasa.recommendations import question_to_answer, recommend

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


def test_the_order_answer_ranks_by_how_sure_the_model_is_that_the_question_is_about_the_order(tmp_path):
    about_order = parse([("faq/payment_methods", 0.6)], intents=[("track_shipment", 0.7), ("order_status", 0.2), ("faq", 0.1)])
    assert [s.kind for s in recommend(about_order, store(tmp_path), "On its way.")] == ["order", "faq"]
    about_faq = parse([("faq/payment_methods", 0.6)], intents=[("faq", 0.95), ("track_shipment", 0.05)])
    assert [s.kind for s in recommend(about_faq, store(tmp_path), "On its way.")] == ["faq", "order"]


def test_the_question_is_the_latest_message_that_is_not_a_flow_reply_or_a_request_for_a_person():
    def user(text, intent, entities=()):
        return {"event": "user", "text": text, "parse_data": {"text": text, "intent": {"name": intent}, "entities": list(entities)}}

    events = [user("where is my order", "order_status"), user("emma@example.com", "inform"), user("a human please", "talk_to_human")]
    assert question_to_answer({"events": events})["text"] == "where is my order"
    angry = user("this is a scam", "talk_to_human", [{"entity": "handoff_topic", "value": "angry"}])
    assert question_to_answer({"events": events + [angry]})["text"] == "this is a scam"
    assert question_to_answer({"events": [user("hi", "session_start")]}) is None
