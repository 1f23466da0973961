"""What the forms share: telling an answer from a message that interrupts the form.

Any text fills a form's requested slot (the `from_text` mappings in domain.yml). A form
validation action built on `LettingGoFormValidation` then looks at the latest message: when
it is no answer and on a topic the rules handle (a FAQ, another order question, a person,
out of scope, not sure, ...), the validation clears the slot and rejects the form, so the
rules answer the message (data/rules/forms.yml) and the form asks its question again, or
ends.
"""
import re
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecutionRejected, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT, FormValidationAction
from rasa_sdk.types import DomainDict

from bot.shop.orders import ANSWER_METHODS

# The order questions: the intents that set `order_topic`, one for each topic the order desk answers.
ORDER_INTENTS = frozenset(ANSWER_METHODS)
# The order questions a message may be taken for when the model only ranks them: not taking back
# a cancellation, which changes the order without a question; only a clear reading of it does.
INFERRED_TOPICS = ORDER_INTENTS - {"keep_order"}
# Intents with a rule of their own: a message with one of them that is no answer
# interrupts the form (a thank-you ends it: the shopper is done). Other intents (greet,
# affirm, inform) are taken as an attempt to answer, and an invalid one is asked again.
INTERRUPTING_INTENTS = ORDER_INTENTS | {
    "faq", "out_of_scope", "nlu_fallback", "bot_challenge", "talk_to_human", "deny", "goodbye", "thank",
}

QUESTION = re.compile(
    r"\?\s*$|^\s*(what|how|why|when|where|which|who|whose|can|could|would|will|should|shall|may|might|if"
    r"|is (it|there|that|this)|are (you|there|they)|do (i|you|we)|does (it|that|this|the))\b",
    re.IGNORECASE,
)


# "can I get an exchange?" asks for a choice: an answer, not a question.
REQUEST = re.compile(r"^\s*((can|could|may) (i|we) (please )?(get|have)|i'?d like|i want)\b", re.IGNORECASE)


def is_question(text: Any) -> bool:
    text = str(text or "")
    return bool(QUESTION.search(text)) and not REQUEST.search(text)


def intent_of(message: Dict[Text, Any]) -> Text:
    return (message.get("intent") or {}).get("name") or ""


def entity_values(message: Dict[Text, Any], entity: Text) -> List[Any]:
    return [e.get("value") for e in message.get("entities") or [] if e.get("entity") == entity]


class LettingGoFormValidation(FormValidationAction, ABC):
    """A form validation that rejects the form when the latest message interrupts it."""

    @abstractmethod
    def interrupts(self, slot: Text, value: Any, message: Dict[Text, Any], tracker: Optional[Tracker] = None) -> bool:
        """Whether `message`, which filled the requested `slot` with `value`, is no answer to it
        (`tracker`: the conversation, where what the bot offered matters)."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        slot = tracker.get_slot(REQUESTED_SLOT)
        candidates = tracker.slots_to_validate()
        if slot in candidates and self.interrupts(slot, candidates[slot], tracker.latest_message, tracker):
            return [SlotSet(slot, None), ActionExecutionRejected(self.form_name())]
        return await super().run(dispatcher, tracker, domain)
