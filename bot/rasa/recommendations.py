"""Answer recommendations: the replies an agent (or the unsure bot) could give.

They come from the FAQ matcher's ranking of the FAQs (bot/nlu/faq_matcher.py) for a message, plus,
when the conversation has a verified order, the bot's filled-in answer about
that order. The order answer's confidence is how sure the model is that the
message is about the order (the summed confidence of the order intents).
"""
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Tuple

from bot.faq.store import Faq, FaqStore
from bot.rasa import events as tracker_events
from bot.shop.orders import ANSWER_METHODS, OrderDesk
from bot.rasa.responses import fill_response

RECOMMENDATIONS = 3


@dataclass(frozen=True)
class Suggestion:
    kind: str  # "faq" or "order"
    title: str
    text: str
    confidence: float
    faq_id: str = ""

    def as_json(self) -> Dict[str, Any]:
        return {**asdict(self), "confidence": round(self.confidence, 3)}


def faq_ranking(parse: Dict[str, Any], store: FaqStore) -> List[Tuple[Faq, float]]:
    """The enabled FAQs the FAQ matcher ranked for this parse, best first."""
    ranking = parse.get("response_selector", {}).get("faq", {}).get("ranking", [])
    ranked = []
    for item in ranking:
        key = item.get("intent_response_key") or ""
        faq = store.get(key.split("/", 1)[1]) if key.startswith("faq/") else None
        if faq is not None:
            ranked.append((faq, float(item.get("confidence", 0.0))))
    return ranked


# Not questions: replies inside a flow (an order number, an e-mail, "yes") and asking for a
# person. The question is a message before them.
_NOT_QUESTIONS = {"inform", "affirm", "deny", "session_start", "talk_to_human"}


def question_to_answer(tracker: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The parse of the shopper's latest question in a Rasa tracker; None if they asked nothing."""
    for event in reversed(tracker.get("events") or []):
        parse = event.get("parse_data") or {}
        sensitive = any(entity.get("entity") == "handoff_topic" for entity in parse.get("entities") or [])
        if tracker_events.is_user(event) and (sensitive or tracker_events.user_intent(event) not in _NOT_QUESTIONS):
            return parse
    return None


def order_question_confidence(parse: Dict[str, Any]) -> float:
    return sum(
        float(item.get("confidence", 0.0)) for item in parse.get("intent_ranking", []) if item.get("name") in ANSWER_METHODS
    )


def recommend(
    parse: Dict[str, Any], store: FaqStore, order_answer: Optional[str] = None, limit: int = RECOMMENDATIONS
) -> List[Suggestion]:
    suggestions = [
        Suggestion("faq", faq.question, faq.answer, confidence, faq.id) for faq, confidence in faq_ranking(parse, store)
    ]
    if order_answer:
        suggestions.append(Suggestion("order", "About the shopper's order", order_answer, order_question_confidence(parse)))
    return sorted(suggestions, key=lambda suggestion: -suggestion.confidence)[:limit]


def order_answer(desk: OrderDesk, responses: Dict[str, Any], slots: Dict[str, Any]) -> Optional[str]:
    """The bot's answer about the conversation's verified order, on its current topic; None without one."""
    number = slots.get("verified_order")
    if not number:
        return None
    topic = slots.get("order_topic") if slots.get("order_topic") in ANSWER_METHODS else "order_status"
    try:
        replies = desk.answer(topic, number)
    except LookupError:  # the order vanished from the database since it was verified
        return None
    return "\n\n".join(fill_response(responses, reply.response, reply.values) for reply in replies)
