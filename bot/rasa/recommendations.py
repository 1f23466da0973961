"""Answer recommendations: the replies an agent (or the unsure bot) could give.

They come from the FAQ matcher's ranking of the FAQs (bot/nlu/faq_matcher.py) for a message, plus,
when the conversation has a verified order, the bot's filled-in answer about
that order. The order answer's confidence is how sure the model is that the
message is about the order (the summed confidence of the order intents).

In the agents' console (`fitting_suggestions`) a suggestion is offered only when it fits:
the shopper's latest words are a question nobody has answered yet, the suggestion is
confident enough, and it never tells a shopper who is with (or asked for) a person how to
reach one.
"""
import re
from dataclasses import asdict, dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple

from bot.faq.store import Faq, FaqStore
from bot.language import INDONESIAN
from bot.rasa import events as tracker_events
from bot.shop.orders import ANSWER_METHODS, OrderDesk
from bot.rasa.responses import fill_response

RECOMMENDATIONS = 3
# Below this confidence a suggestion is noise to an agent (the FAQ matcher's "sure" is 0.45).
MIN_CONFIDENCE = 0.3


@dataclass(frozen=True)
class Suggestion:
    kind: str  # "faq" or "order"
    title: str
    text: str
    confidence: float
    faq_id: str = ""
    source: str = ""  # where it comes from, for the agent: "FAQ: <question>", "Order answer: 100004"

    def as_json(self) -> Dict[str, Any]:
        return {**asdict(self), "confidence": round(self.confidence, 3), "percent": round(self.confidence * 100)}


# An answer that sends the shopper to a person: a button for it, or words telling them how.
_TO_A_PERSON = re.compile(
    r"\b(?:talk|speak|chat|write) (?:to|with) (?:a |an |one of our |our )?(?:real )?"
    r"(?:human|person|agent|team member|someone|staff)s?\b|\bwill take over\b|\bpass(?:es)? you (?:on )?to\b",
    re.IGNORECASE,
)
ASKS_FOR_A_PERSON = "talk_to_human"


def offers_a_person(faq: Faq) -> bool:
    """Whether a FAQ's answer is the way to a person ("write talk to a human"): useless, even
    odd, to a shopper who asked for one or is with an agent already."""
    return any((button.payload or "").startswith(f"/{ASKS_FOR_A_PERSON}") for button in faq.buttons) or bool(
        _TO_A_PERSON.search(faq.answer)
    )


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


def order_question_confidence(parse: Dict[str, Any]) -> float:
    return sum(
        float(item.get("confidence", 0.0)) for item in parse.get("intent_ranking", []) if item.get("name") in ANSWER_METHODS
    )


def recommend(
    parse: Dict[str, Any], store: FaqStore, order_answer: Optional[str] = None, limit: int = RECOMMENDATIONS,
    with_a_person: bool = False, min_confidence: float = 0.0, order_number: Optional[str] = None,
) -> List[Suggestion]:
    """The best `limit` replies to a parsed message, best first. `with_a_person`: the shopper
    asked for a person or has one, so no FAQ that tells them how to reach one."""
    # An Indonesian message (bot/nlu/language.py marks it) is answered with the Indonesian answers.
    indonesian = any(e.get("entity") == "language" and e.get("value") == INDONESIAN for e in parse.get("entities") or [])
    language = INDONESIAN if indonesian else None
    suggestions = [
        Suggestion("faq", faq.question, faq.answer_in(language), confidence, faq.id, f"FAQ: {faq.question}")
        for faq, confidence in faq_ranking(parse, store)
        if not (with_a_person and offers_a_person(faq))
    ]
    if order_answer:
        source = f"Order answer: {order_number}" if order_number else "Order answer"
        suggestions.append(Suggestion(
            "order", "About the shopper's order", order_answer, order_question_confidence(parse), source=source,
        ))
    fitting = [suggestion for suggestion in suggestions if suggestion.confidence >= min_confidence]
    return sorted(fitting, key=lambda suggestion: -suggestion.confidence)[:limit]


# Shopper messages that ask nothing ("thanks", "hi"): nothing to suggest for them.
_NO_QUESTION = {"greet", "goodbye", "thank", "bot_challenge", "session_start"}
# Replies inside a flow (an order number, an e-mail, "yes"): the question is a message before them.
_FLOW_REPLIES = {"inform", "affirm", "deny"}


def _is_sensitive(parse: Dict[str, Any]) -> bool:
    return any(entity.get("entity") == "handoff_topic" for entity in parse.get("entities") or [])


def _is_agent_reply(event: Dict[str, Any]) -> bool:
    return tracker_events.is_bot(event) and bool((event.get("metadata") or {}).get("agent"))


def open_question(events: Iterable[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The parse of the shopper's question that still waits for an agent's answer; None if
    their latest words ask nothing ("thanks") or an agent has replied since.

    Flow replies (an e-mail, "yes") and asking for a person are passed over: the question
    is the message before them. A message on a sensitive topic is always a question."""
    for event in reversed(list(events)):
        if _is_agent_reply(event):
            return None
        if not tracker_events.is_shopper_message(event):
            continue
        parse = event.get("parse_data") or {}
        intent = tracker_events.user_intent(event)
        if _is_sensitive(parse):
            return parse
        if intent in _FLOW_REPLIES or intent == ASKS_FOR_A_PERSON:
            continue
        return None if intent in _NO_QUESTION else parse
    return None


def asked_for_a_person(events: Iterable[Dict[str, Any]]) -> bool:
    return any(
        tracker_events.is_shopper_message(event) and tracker_events.user_intent(event) == ASKS_FOR_A_PERSON
        for event in events
    )


def fitting_suggestions(
    tracker: Dict[str, Any], store: FaqStore, order_answer: Optional[str] = None, order_number: Optional[str] = None,
    with_a_person: bool = True, limit: int = RECOMMENDATIONS,
) -> Tuple[Optional[Dict[str, Any]], List[Suggestion]]:
    """(the question, the replies that fit it) for an agent answering this conversation:
    nothing when there is no open question, none below MIN_CONFIDENCE, and no way-to-a-person
    FAQ when the shopper is with a person (`with_a_person`; a ticket is open) or asked for one."""
    events = tracker.get("events") or []
    question = open_question(events)
    if question is None:
        return None, []
    return question, recommend(
        question, store, order_answer, limit, with_a_person=with_a_person or asked_for_a_person(events),
        min_confidence=MIN_CONFIDENCE, order_number=order_number,
    )


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
    language = slots.get("language")
    return "\n\n".join(fill_response(responses, reply.response, reply.values, language) for reply in replies)
