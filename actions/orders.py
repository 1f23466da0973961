"""Order actions: verify who is asking (form), then answer the question they asked.

Flow: an order intent sets `order_topic` and starts `order_lookup_form`, which
collects the order number and, for anonymous shoppers, the e-mail or phone on
the order. Once `verified_order` is set, `action_answer_order_question`
answers for that topic. A wrong number/contact pair gets the same reply as an
unknown order, and after MAX_FAILURES the bot stops asking and offers a human.
"""
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.desk import SERVICE_ERRORS, act_on_verified_order, order_desk, say, signed_in_customer, verified_order
from bot.orders import normalise_contact, normalise_order_number

MAX_FAILURES = 5


def _failed(tracker: Tracker) -> int:
    return int(tracker.get_slot("verification_failures") or 0)


def _not_found(dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
    """One failed attempt: clear both answers so the form asks again (or stop at the limit)."""
    failures = _failed(tracker) + 1
    if failures < MAX_FAILURES:
        dispatcher.utter_message(response="utter_order_not_found")
    return {
        "order_number": None, "order_contact": None, "verified_order": None, "verified_by": None,
        "verification_failures": float(failures),
    }


def _before_latest_message(tracker: Tracker) -> List[Dict[Text, Any]]:
    users = [i for i, event in enumerate(tracker.events) if event.get("event") == "user"]
    return tracker.events[: users[-1]] if users else list(tracker.events)


def _previous_value(tracker: Tracker, slot: str) -> Any:
    """The slot's value before the latest user message."""
    value = None
    for event in _before_latest_message(tracker):
        if event.get("event") == "slot" and event.get("name") == slot:
            value = event.get("value")
    return value


def _previous_action(tracker: Tracker) -> Optional[str]:
    """The last action the bot ran before the latest user message."""
    for event in reversed(_before_latest_message(tracker)):
        if event.get("event") == "action" and event.get("name") != "action_listen":
            return event.get("name")
    return None


class ValidateOrderLookupForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_order_lookup_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        if _failed(tracker) >= MAX_FAILURES:
            return []  # stop asking; the answer action offers a human
        try:
            desk = order_desk()
            if verified_order(desk, tracker) and tracker.get_slot("verified_order") == tracker.get_slot("order_number"):
                return []
            if signed_in_customer(desk, tracker):
                return ["order_number"]
        except SERVICE_ERRORS:
            return []  # the answer action says the order system is unavailable
        return ["order_number", "order_contact"]

    def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        previous = _previous_value(tracker, "order_number")
        if tracker.get_slot("requested_slot") == "order_contact" and previous:
            # A phone number typed while the contact is asked for can look like an order number.
            return {"order_number": previous}
        number = normalise_order_number(value if isinstance(value, str) else None)
        if number is None:
            dispatcher.utter_message(response="utter_invalid_order_number")
            return {"order_number": None}
        try:
            desk = order_desk()
            customer = signed_in_customer(desk, tracker)
            if customer:
                if desk.verify_customer(number, customer):
                    return {"order_number": number, "verified_order": number, "verified_by": customer, "order_contact": None}
                return _not_found(dispatcher, tracker)
            contact = tracker.get_slot("order_contact")
            if contact and number != tracker.get_slot("verified_order"):
                # A new order number with a contact already given: check the pair now.
                if desk.verify_contact(number, contact):
                    return {"order_number": number, "verified_order": number, "verified_by": "contact"}
                return {"order_number": number, "order_contact": None, "verified_order": None, "verified_by": None}
        except SERVICE_ERRORS:
            return {"order_number": number}
        return {"order_number": number}

    def validate_order_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        contact = normalise_contact(value if isinstance(value, str) else None)
        if contact is None:
            dispatcher.utter_message(response="utter_invalid_contact")
            return {"order_contact": None}
        number = tracker.get_slot("order_number")
        if not number:
            return {"order_contact": contact}  # given first: checked once the number comes
        try:
            if order_desk().verify_contact(number, contact):
                return {"order_contact": contact, "verified_order": number, "verified_by": "contact"}
        except SERVICE_ERRORS:
            return {"order_contact": contact}
        return _not_found(dispatcher, tracker)


class ActionAskOrderNumber(Action):
    """Signed-in shoppers get their recent orders as buttons."""

    def name(self) -> Text:
        return "action_ask_order_number"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        try:
            desk = order_desk()
            customer = signed_in_customer(desk, tracker)
            numbers = desk.recent_order_numbers(customer) if customer else []
        except SERVICE_ERRORS:
            numbers = []
        if numbers:
            buttons = [{"title": f"#{number}", "payload": number} for number in numbers]
            dispatcher.utter_message(response="utter_ask_order_number_signed_in", buttons=buttons)
        else:
            dispatcher.utter_message(response="utter_ask_order_number")
        return []


# The `follow_up` slot tells the rules what comes after an answer (data/rules/orders.yml).
FOLLOW_UPS = {
    "utter_ask_confirm_cancel": "confirm_cancel",
    "utter_ask_new_address": "address_form",
    "utter_ask_return_kind": "return_form",
}


class ActionAnswerOrderQuestion(Action):
    def name(self) -> Text:
        return "action_answer_order_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        topic = tracker.get_slot("order_topic") or "order_status"
        try:
            desk = order_desk()
            number = verified_order(desk, tracker)
            if not number:
                dispatcher.utter_message(response="utter_verification_locked")
                return [SlotSet("follow_up", None), SlotSet("verified_order", None)]
            replies = desk.answer(topic, number)
        except SERVICE_ERRORS:
            dispatcher.utter_message(response="utter_orders_unavailable")
            return [SlotSet("follow_up", None)]
        follow_up = FOLLOW_UPS.get(replies[-1].response)
        if follow_up in ("address_form", "return_form"):
            replies = replies[:-1]  # the form asks its first question itself
        say(dispatcher, replies)
        return [SlotSet("follow_up", follow_up)]


class ActionConfirmCancellation(Action):
    def name(self) -> Text:
        return "action_confirm_cancellation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if _previous_action(tracker) != "action_answer_order_question":
            # The question was not the bot's last word: a late "yes" cancels nothing.
            dispatcher.utter_message(response="utter_how_can_i_help")
            return [SlotSet("follow_up", None)]
        act_on_verified_order(dispatcher, tracker, lambda desk, number: desk.cancel(number))
        return [SlotSet("follow_up", None)]


class ActionKeepOrder(Action):
    def name(self) -> Text:
        return "action_keep_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(response="utter_order_kept", order_number=tracker.get_slot("verified_order"))
        return [SlotSet("follow_up", None)]


MIN_ADDRESS_CHARS, MAX_ADDRESS_CHARS = 10, 300


class ValidateAddressForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_address_form"

    def validate_new_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        address = " ".join(str(value or "").split())
        if not MIN_ADDRESS_CHARS <= len(address) <= MAX_ADDRESS_CHARS or not any(c.isdigit() for c in address):
            dispatcher.utter_message(response="utter_invalid_address")
            return {"new_address": None}
        return {"new_address": address}


class ActionSubmitAddressChange(Action):
    def name(self) -> Text:
        return "action_submit_address_change"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        new_address = tracker.get_slot("new_address")
        act_on_verified_order(dispatcher, tracker, lambda desk, number: desk.change_address(number, new_address))
        return [SlotSet("new_address", None), SlotSet("follow_up", None)]
