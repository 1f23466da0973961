"""Order actions: verify who is asking (form), then answer the question they asked.

Flow: an order intent sets `order_topic` and starts `order_lookup_form`, which
collects the order number and, for anonymous shoppers, the e-mail or phone on
the order. Once `verified_order` is set, `action_answer_order_question`
answers for that topic. A wrong number/contact pair gets the same reply as an
unknown order; failed tries count per client and per order in the database (bot/shop/rules.py
`verification_locked`), so after too many the bot stops asking and offers a human.
"""
import re
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.rasa import events as tracker_events
from actions.desk import (
    SERVICE_ERRORS, act_on_verified_order, contact_matches, order_desk, orders_with_named_item, say, signed_in_customer,
    verification_locked, verified_order,
)
from actions.faq import NOT_CANCELLING, offer_other_questions
from actions.returns import mentions_return, stated_reason, withdraws_return
from actions.forms import INFERRED_TOPICS, INTERRUPTING_INTENTS, ORDER_INTENTS, LettingGoFormValidation, entity_values, intent_of, is_question
from bot.shop.orders import WITHDRAW_RETURN, OrderDesk, Reply, normalise_contact
from bot.shop.vocabulary import DELIVERED, IN_DELIVERY, PENDING_PAYMENT, READY_TO_SHIP, normalise_order_number


def _not_found(dispatcher: CollectingDispatcher, tracker: Tracker, keep_number: bool = False) -> Dict[Text, Any]:
    """One failed attempt: clear the answers so the form asks again (with `keep_number`, only the
    contact: a shopper who mistyped the e-mail sends it again for the same order); once the
    lockout holds (actions.desk.verification_locked), keep the number so that the form stops."""
    cleared = {"order_number": None, "order_contact": None, "verified_order": None, "verified_by": None}
    try:
        locked = verification_locked(order_desk(), tracker)
    except SERVICE_ERRORS:
        locked = False
    if locked or keep_number:
        cleared["order_number"] = tracker.get_slot("order_number")
    if not locked:
        dispatcher.utter_message(response="utter_order_not_found")
    return cleared


def _previous_value(tracker: Tracker, slot: str) -> Any:
    """The slot's value before the latest user message."""
    value = None
    for event in tracker_events.split_at_latest_message(tracker.events)[0]:
        if tracker_events.is_slot(event, slot):
            value = event.get("value")
    return value


def _proven_by_contact(tracker: Tracker, number: str) -> Dict[Text, Any]:
    """The slots of an order whose owner the shopper proved by e-mail or phone: verified now,
    and remembered for the session (asking about it again later needs no second proof)."""
    proven = tracker.get_slot("orders_proven") or []
    return {"verified_order": number, "verified_by": "contact", "orders_proven": [*proven, number] if number not in proven else proven}


# Replies of the form's validation that ask for the slot again themselves: the form's own
# question (action_ask_order_number, action_ask_order_contact) is then left out.
ASKING_AGAIN = frozenset({
    "utter_invalid_order_number", "utter_order_number_needed_too", "utter_order_number_unknown", "utter_invalid_contact",
    "utter_ask_which_order_with_item", "utter_order_contact_unknown",
})
RETURN_SLOTS = ("return_kind", "return_reason")  # return_form's questions
# Readings of a message that the rules may still treat as an order question or a form's answer.
UNSURE_READINGS = ("faq", "out_of_scope", "nlu_fallback")
# How sure a reading of an item's name ("the trainers") as a request for a person, a no or a
# goodbye must be to leave the question which order it is.
SURE_LEAVING = 0.6
# "I don't remember the order number (the e-mail)", "lupa nomornya": asking again would not help.
NUMBER_UNKNOWN = re.compile(
    r"\b(do ?n[o']?t|can ?n?[o']?t|could ?n[o']?t|never)\s+(know|remember|recall|find|have|got|see)\b|\b(forgot|forgotten|lost|no idea)\b"
    r"|\b(lupa|hilang|ga\s?k?\s?tau|ngga?k?\s?tau|tidak tahu|nggak ingat|gak ingat|tidak ingat|ga ingat)\b",
    re.IGNORECASE,
)


def _asked_again_this_turn(tracker: Tracker) -> bool:
    """Whether a reply since the shopper's latest message already asks for the slot again."""
    since = tracker_events.split_at_latest_message(tracker.events)[1]
    return any(
        tracker_events.is_bot(event) and (event.get("metadata") or {}).get("utter_action") in ASKING_AGAIN for event in since
    )


# A phone number written without "+" starts with its country code: the marketplace's home
# (Indonesia), its neighbours, and the shop's other markets.
PHONE_COUNTRY_CODES = ("62", "60", "65", "63", "66", "84", "61", "44", "49", "33", "31", "34", "39")


# "what address is it going to?", "alamatnya yg mana?": a question about the address, not a change.
WHICH_ADDRESS = re.compile(
    r"\b(what|which|where)\b[\w\s']{0,15}\baddress\b[\w\s']{0,20}\b(going|sent|shipping|delivered|on|is|have|registered|using)\b"
    r"|\balamat\w*\b[\w\s]{0,15}\b(apa|mana|mn|dimana)\b|\bdikirim ke (mana|alamat mana)\b",
    re.IGNORECASE,
)


def asks_which_address(text: Any) -> bool:
    text = str(text or "")
    return bool(WHICH_ADDRESS.search(text)) and (is_question(text) or "?" in text) and not re.search(r"\b(change|ganti|ubah)\b", text, re.IGNORECASE)


def _phone_shaped(number: str) -> bool:
    """Whether a bare run of digits looks like a phone with its country code ("447700900456",
    "6281234567890"): 11 to 13 digits starting with one. Told by the shape alone, not by looking
    the number up, which would tell anyone which order numbers exist."""
    return number.isdigit() and 11 <= len(number) <= 13 and number.startswith(PHONE_COUNTRY_CODES)


def _gives_contact(message: Dict[Text, Any]) -> bool:
    return bool(entity_values(message, "email") or entity_values(message, "phone") or normalise_contact(message.get("text")))


def order_buttons(orders: List[Tuple[str, str]]) -> List[Dict[Text, Any]]:
    return [{"title": label, "payload": number} for number, label in orders]


def _pick_order_by_item(dispatcher: CollectingDispatcher, named: List[Tuple[str, str]]) -> Optional[str]:
    """Of the orders with the item the shopper named: the one, or (several) None after asking
    which, with a button each."""
    if len(named) == 1:
        return named[0][0]
    dispatcher.utter_message(response="utter_ask_which_order_with_item", buttons=order_buttons(named[:5]))
    return None


ORDER_NUMBER_QUESTIONS = ("utter_ask_which_order_with_item", "utter_ask_order_number_signed_in", "utter_ask_order_number")


def _latest_order_number_question(tracker: Tracker) -> Tuple[Optional[str], List[Dict[Text, Any]]]:
    """This look-up's latest question for the order number before the shopper's message, and
    the order buttons it offered."""
    before, _ = tracker_events.split_at_latest_message(tracker.events)
    for event in reversed(before):
        if (event.get("event") == "active_loop" and not event.get("name")) or tracker_events.is_action(event, "action_session_start"):
            break  # an earlier look-up's (or session's) question
        utter_action = (event.get("metadata") or {}).get("utter_action") if tracker_events.is_bot(event) else None
        if utter_action in ORDER_NUMBER_QUESTIONS:
            return utter_action, (event.get("data") or {}).get("buttons") or []
    return None, []


def _unanswered_item_choice(tracker: Tracker) -> Optional[List[Dict[Text, Any]]]:
    """The buttons of "several of your orders have that: which one?" when it is this look-up's
    latest order-number question: a shopper who answers something else ("why is it so slow?")
    is asked again among those orders, not among all their orders."""
    question, buttons = _latest_order_number_question(tracker)
    return buttons if question == "utter_ask_which_order_with_item" and buttons else None


# "the one that hasn't shipped", "yg belum dikirim", "the delivered one": an offered order by where
# it is. (Delivered only without a negation: "the one not delivered yet" is no delivered one.)
NOT_SHIPPED = re.compile(
    r"\b(not|hasn'?t|hasnt|has not|haven'?t|isn'?t|yet to be|belum|blm)\b[\w\s']{0,12}?\b(ship|shipped|sent|dispatched|dikirim|kirim|terkirim)\b"
    r"|\bunshipped\b", re.IGNORECASE,
)
ON_THE_WAY = re.compile(r"\b(on (its|the) way|in transit|dalam perjalanan|lagi dikirim|sedang dikirim|lagi di jalan)\b", re.IGNORECASE)
ARRIVED = re.compile(r"\b(delivered|arrived|received|sudah sampai|udah sampai|udh sampai|sudah diterima|udah nyampe)\b", re.IGNORECASE)
NEGATION = re.compile(r"\b(not|n'?t|never|belum|blm|ga|gak|tidak)\b", re.IGNORECASE)


def _order_in_state(tracker: Tracker, text: Text) -> Optional[str]:
    """The one order, among those the bot offered last as buttons, in the state the text names."""
    _, buttons = _latest_order_number_question(tracker)
    offered = [button["payload"] for button in buttons if button.get("payload")]
    if NOT_SHIPPED.search(text):
        states: Tuple[str, ...] = (PENDING_PAYMENT, READY_TO_SHIP)
    elif ON_THE_WAY.search(text):
        states = (IN_DELIVERY,)
    elif ARRIVED.search(text) and not NEGATION.search(text):
        states = (DELIVERED,)
    else:
        return None
    if not offered:
        return None
    statuses = order_desk().statuses(offered)
    matching = [number for number in offered if statuses.get(number) in states]
    return matching[0] if len(matching) == 1 else None


def _order_at_place(tracker: Tracker, text: Text) -> Optional[str]:
    """The order a "the second one" picks among the order buttons the bot offered last."""
    place = ordinal_choice(text)
    _, buttons = _latest_order_number_question(tracker)
    return buttons[place].get("payload") if place is not None and place < len(buttons) else None


# After these, a cancellation question has its answer (or the conversation started afresh).
CONFIRMATION_ENDS = ("action_keep_order", "action_confirm_cancellation", "action_restart", "action_session_start")


def _asked_to_confirm_before(tracker: Tracker, number: str) -> bool:
    """Whether the bot asked whether to cancel `number` and the question is still unanswered
    (another order's question came in between)."""
    verified, asked = None, False
    for event in tracker_events.split_at_latest_message(tracker.events)[0]:
        if tracker_events.is_slot(event, "verified_order"):
            verified = event.get("value") or verified
        elif any(tracker_events.is_action(event, name) for name in CONFIRMATION_ENDS):
            asked = False
        elif tracker_events.is_bot(event) and (event.get("metadata") or {}).get("utter_action") == "utter_ask_confirm_cancel":
            asked = verified == number
    return asked


def _order_awaiting_the_address(tracker: Tracker) -> Optional[str]:
    """The order whose new address the bot asked for, when a question about another order came
    in between and the shopper now gives the address, naming no order ("ok, the new address is
    3 Hill Rise, Leeds"): the address is that order's, not the one asked about last."""
    message = tracker.latest_message
    if entity_values(message, "order_id") or not is_address(message.get("text")):
        return None
    verified, awaiting = None, None
    for event in tracker_events.split_at_latest_message(tracker.events)[0]:
        if tracker_events.is_action(event, "action_restart") or tracker_events.is_action(event, "action_session_start"):
            verified, awaiting = None, None
        elif tracker_events.is_slot(event, "verified_order"):
            verified = event.get("value") or verified
        elif tracker_events.is_bot(event) and (event.get("metadata") or {}).get("utter_action") == "utter_ask_new_address":
            awaiting = verified
        elif tracker_events.is_action(event, "action_submit_address_change") or (
            tracker_events.is_bot(event) and (event.get("metadata") or {}).get("utter_action") == "utter_form_stopped"
        ):
            awaiting = None
    return awaiting if awaiting and awaiting != tracker.get_slot("verified_order") else None


def _offered_order_for_the_contact(tracker: Tracker) -> Optional[str]:
    """After "you also asked about these orders; each needs its own check: tap one", a contact
    typed instead of a tap: the first of those orders, to check the contact on."""
    message = tracker.latest_message
    if tracker.get_slot("requested_slot") is not None or entity_values(message, "order_id"):
        return None
    if not (entity_values(message, "email") or entity_values(message, "phone")):
        return None
    before, _ = tracker_events.split_at_latest_message(tracker.events)
    for event in reversed(before):
        if tracker_events.is_user(event):
            break
        if tracker_events.is_bot(event) and (event.get("metadata") or {}).get("utter_action") == "utter_ask_about_other_orders":
            offered = [button.get("payload") for button in (event.get("data") or {}).get("buttons") or []]
            return next((number for number in offered if number and number != tracker.get_slot("order_number")), None)
    return None


def _names_another_item(tracker: Tracker) -> bool:
    """Whether a signed-in shopper's new question names an item that the order asked about
    before does not have ("and where are my trainers?" after the hoodie)."""
    if tracker.get_slot("requested_slot") is not None:
        return False
    named = orders_with_named_item(tracker.latest_message)
    return bool(named) and tracker.get_slot("order_number") not in [number for number, _ in named]


def _signed_in(tracker: Tracker) -> bool:
    try:
        return signed_in_customer(order_desk(), tracker) is not None
    except SERVICE_ERRORS:
        return False


# How likely an order question must be, below the reading as a bare order number, to be the question.
ORDER_QUESTION_BESIDE_A_NUMBER = 0.3


def _likely_order_question(message: Dict[Text, Any]) -> bool:
    return any(ranked.get("name") in INFERRED_TOPICS and (ranked.get("confidence") or 0) >= ORDER_QUESTION_BESIDE_A_NUMBER
               for ranked in message.get("intent_ranking") or [])


def _ranked_order_topic(message: Dict[Text, Any]) -> Text:
    """The order question the model ranks highest for the message; else the order's status."""
    for ranked in message.get("intent_ranking") or []:
        if ranked.get("name") in INFERRED_TOPICS:
            return ranked["name"]
    return "order_status"


ANOTHER_ORDER = re.compile(r"\b(order|pesanan)\b", re.IGNORECASE)
CORRECTION = re.compile(r"\b(wrong|sorry|i mean|i meant|actually|typo|mistake|salah|maksud\w*|maaf|eh)\b", re.IGNORECASE)
# "ok and 100012?", "kalau 100006?": a question about another order, not a phone.
ASKS_ABOUT_ANOTHER = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|oke|hmm|so|now|sekarang)\W+)*(?:and|what about|how about|then|kalau|kalo|klo|gimana|bagaimana(?:\s+dengan)?|terus|trus|lalu|cek|check)\b",
    re.IGNORECASE,
)
# "check 100003 - sorry I meant 100002": the numbers before the correction are not asked about.
CORRECTED_TO = re.compile(
    r"\b(?:i\s+mean[t]?|no,?\s+wait|(?:sorry|oops|maaf),?\s+(?:wrong\s+(?:one|number)|typo)|maksud(?:nya|\s+saya|\s+sy|ku)?|eh\s+salah|salah\s+ketik|koreksi)\b",
    re.IGNORECASE,
)


def named_orders(message: Dict[Text, Any]) -> List[Any]:
    """The order numbers a message names, those after a correction only."""
    named = [e for e in message.get("entities") or [] if e.get("entity") == "order_id"]
    text = message.get("text") or ""
    corrections = list(CORRECTED_TO.finditer(text))
    if corrections and named:
        after = corrections[-1].end()
        later = [e for e in named if (e.get("start") if e.get("start") is not None else text.find(str(e.get("value")))) >= after]
        named = later or named
    return [e.get("value") for e in named]


# "the second one", "yg kedua": a place in the list of order buttons the bot offered (newest
# first, so "the latest" and "yg terakhir", an order's word for the latest, are the first).
# (English "last" is left out: the bottom button, or the newest order?) Indonesian "kedua" also
# means "both": it needs "yg" or "nomor".
ORDINALS = (
    (0, r"first|1st|top|latest|newest|most recent|(yg|yang|nomor|no|urutan) (pertama|terbaru|terakhir|satu|1)"),
    (1, r"second|2nd|(yg|yang|nomor|no|urutan) (kedua|ke ?2|dua|2)"),
    (2, r"third|3rd|(yg|yang|nomor|no|urutan) (ketiga|ke ?3|tiga|3)"),
    (3, r"fourth|4th|(yg|yang|nomor|no|urutan) (keempat|ke ?4|empat|4)"),
    (4, r"fifth|5th|(yg|yang|nomor|no|urutan) (kelima|ke ?5|lima|5)"),
)
ORDINAL_WORDS_AT_MOST = 5


def ordinal_choice(text: Any) -> Optional[int]:
    """The place a short answer picks ("the 2nd one" → 1, "yg kedua" → 1), or None. A question
    ("last day to return?") picks nothing."""
    if is_question(text):
        return None
    text = " ".join("".join(c if c.isalnum() else " " for c in str(text or "").lower()).split())
    if len(text.split()) > ORDINAL_WORDS_AT_MOST:
        return None
    for place, words in ORDINALS:
        if re.search(rf"\b({words})\b", text):
            return place
    return None


def _only_an_order_number(text: Text) -> bool:
    """Whether the message is an order number and nothing else (too short for a phone number)."""
    return normalise_order_number(text) is not None and normalise_contact(text) is None


def _gives_order_details(slot: Text, value: Any, message: Dict[Text, Any]) -> bool:
    """Whether the message gives the order number or contact asked for, or another order number."""
    if entity_values(message, "order_id"):
        return True
    if slot == "order_number":
        return normalise_order_number(str(value or "")) is not None
    return bool(entity_values(message, "email") or entity_values(message, "phone") or normalise_contact(str(value or "")))


class ValidateOrderLookupForm(LettingGoFormValidation):
    def name(self) -> Text:
        return "validate_order_lookup_form"

    def interrupts(self, slot: Text, value: Any, message: Dict[Text, Any], tracker: Optional[Tracker] = None) -> bool:
        # Another order question is no interruption here: it changes `order_topic`, and the
        # form asks its question again.
        if intent_of(message) not in INTERRUPTING_INTENTS - ORDER_INTENTS or _gives_order_details(slot, value, message):
            return False
        # Answers the model may read as a FAQ or be unsure of: "I don't remember which e-mail I
        # used"; a signed-in shopper's "the hoodie one", "yang botol minum" (whatever the model
        # reads in it, "botol" looking like "bot": the question was which order).
        if slot == "order_contact" and intent_of(message) in UNSURE_READINGS and NUMBER_UNKNOWN.search(str(value or "")):
            return False
        leaves = intent_of(message) in ("talk_to_human", "deny", "goodbye") and (message.get("intent") or {}).get("confidence", 1.0) >= SURE_LEAVING
        if slot == "order_number" and not leaves and not is_question(value) and orders_with_named_item(message):
            return False
        # "yg kedua", "the first one" (the model may read a goodbye in it): a pick among the
        # order buttons the bot offered, unless it asks for a person or says no.
        picks = tracker is not None and intent_of(message) not in ("talk_to_human", "deny") and _order_at_place(tracker, value)
        return not (slot == "order_number" and picks)

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        try:
            desk = order_desk()
            another_order = (
                _names_another_item(tracker) or _offered_order_for_the_contact(tracker) or _order_awaiting_the_address(tracker)
            )
            if tracker.get_slot("order_number") and verified_order(desk, tracker) and not another_order:
                return []
            if signed_in_customer(desk, tracker):
                return ["order_number"]
            if verification_locked(desk, tracker):
                return []  # stop asking; the answer action offers a human
        except SERVICE_ERRORS:
            return []  # the answer action says the order system is unavailable
        return ["order_number", "order_contact"]

    async def extract_order_number(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        """A signed-in shopper's question that names an item instead of the order ("where are my
        trainers?"): the order with it, or the question which of those orders it is. (An answer to
        the number question naming an item is validate_order_number's.)"""
        if tracker.get_slot("requested_slot") is not None:
            return {}
        offered = _offered_order_for_the_contact(tracker) or _order_awaiting_the_address(tracker)
        if offered:
            return {"order_number": offered}
        named = orders_with_named_item(tracker.latest_message)
        if not named or tracker.get_slot("order_number") in [number for number, _ in named]:
            return {}  # (the order asked about before has it: the question is about that one)
        return {"order_number": _pick_order_by_item(dispatcher, named)}

    async def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        slots = await self._order_number_slots(value, dispatcher, tracker)
        message = tracker.latest_message
        asks_a_question = intent_of(message) in UNSURE_READINGS or (intent_of(message) == "inform" and _likely_order_question(message))
        started_by = asks_a_question and entity_values(message, "order_id")
        if slots.get("order_number") and started_by and _previous_value(tracker, "requested_slot") is None:
            # A message that reads as a FAQ, out of scope or unsure but names an order started
            # this look-up (data/rules/orders.yml; "can i return order 100005 instead", "where
            # is 100004"), or one read as a bare order number whose words ask a question all the
            # same ("cancle ordr 100426"): it asks the best-ranked order question, not the one
            # asked before.
            slots["order_topic"] = _ranked_order_topic(message)
        if slots.get("order_number") and slots["order_number"] == _order_awaiting_the_address(tracker):
            slots["order_topic"] = "change_address"  # (a bare address, read as an order detail)
        return slots

    async def _order_number_slots(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
        previous = _previous_value(tracker, "order_number")
        message = tracker.latest_message
        text = message.get("text") or ""
        if tracker.get_slot("requested_slot") == "order_contact" and previous and not (
            intent_of(message) in ORDER_INTENTS or ANOTHER_ORDER.search(text) or _only_an_order_number(text)
            or ((CORRECTION.search(text) or ASKS_ABOUT_ANOTHER.search(text)) and not _phone_shaped(str(value or "")))
        ):
            # A phone number typed while the contact is asked for can look like an order number;
            # another order is named as such ("and what about order 100001?"), or sent alone or
            # as a correction ("sorry, wrong one: 100001").
            return {"order_number": previous}
        named = named_orders(message)
        # "my phone is 447700900123 and the order is 100004": the phone is no order.
        phones = [n for n in named if _phone_shaped(str(n))]
        if entity_values(message, "order_id") != named or (len(named) > 1 and value in named):
            # a number corrected away, or several orders in one message: the first one (left)
            # first (the answer action adds the others)
            value = next((n for n in named if n not in phones), named[0])
        number = normalise_order_number(value if isinstance(value, str) else None)
        asked_for_it = tracker.get_slot("requested_slot") == "order_number"
        if number is None and asked_for_it and intent_of(message) not in ("talk_to_human", "deny"):
            number = _order_at_place(tracker, text)
            try:
                number = number or _order_in_state(tracker, text)
            except SERVICE_ERRORS:
                pass  # (then it is asked again)
        if number is None and asked_for_it and (not is_question(text) or intent_of(message) in ORDER_INTENTS):
            # (an order question naming an item, "can I cancel the t-shirt one?", names its order;
            # another question, "does the hoodie have a warranty?", does not)
            named = orders_with_named_item(message)
            if named:
                number = _pick_order_by_item(dispatcher, named)
                if number is None:
                    return {"order_number": None}
        if number is None:
            if _gives_contact(message) and not _signed_in(tracker):  # kept in `order_contact`: checked once the number comes
                dispatcher.utter_message(response="utter_order_number_needed_too")
            elif NUMBER_UNKNOWN.search(text):
                dispatcher.utter_message(response="utter_order_number_unknown")
            elif asked_for_it and intent_of(message) not in ORDER_INTENTS and not _latest_order_number_question(tracker)[1]:
                # An order question without a number is asked again as it is. After order
                # buttons ("yes" to "which one?") the question comes again with them instead.
                dispatcher.utter_message(response="utter_invalid_order_number")
            return {"order_number": None}
        try:
            desk = order_desk()
            customer = signed_in_customer(desk, tracker)
            if customer:
                if desk.verify_customer(number, customer):
                    return {"order_number": number, "verified_order": number, "verified_by": customer, "order_contact": None}
                # Not theirs, or no such order: the same words, so that nothing tells which.
                dispatcher.utter_message(response="utter_order_not_in_account", number=number)
                return {"order_number": None, "order_contact": None, "verified_order": None, "verified_by": None}
            if _phone_shaped(number) and not tracker.get_slot("order_contact"):
                # "447700900456" (or "my phone is 447700900456, has my order shipped?"): the
                # ruler reads a phone written without "+" as an order number. It is kept as the
                # contact; sent again as the answer, it is the order number after all.
                dispatcher.utter_message(response="utter_order_number_needed_too")
                return {"order_number": None, "order_contact": number}
            proven = tracker.get_slot("orders_proven") or []
            if any(number == order or desk.same_customer(number, order) for order in proven):
                # The shopper's own further order (or one proven before): no new proof needed.
                return {"order_number": number, **_proven_by_contact(tracker, number)}
            unverified = {"order_number": number, "order_contact": None, "verified_order": None, "verified_by": None}
            if proven and not _gives_contact(message):
                # Someone else's order, or one under another e-mail: the form asks for its contact.
                # The proven contact is not tried on it, so nothing counts as a failed guess.
                # (A contact in this very message is this order's: it is checked below.)
                return unverified
            contact = normalise_contact(tracker.get_slot("order_contact")) or next((p for p in phones if p != number), None)
            if contact == number:
                return unverified  # the "phone" taken as the contact, sent again: the order number
            if contact:
                # A contact given before or with the number: check the pair now (once:
                # validate_order_contact does not check it again).
                if await contact_matches(desk, tracker, number, contact):
                    return {"order_number": number, "order_contact": contact, **_proven_by_contact(tracker, number)}
                return unverified
        except SERVICE_ERRORS:
            return {"order_number": number}
        return {"order_number": number}

    async def validate_order_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        message = tracker.latest_message
        given = entity_values(message, "email") or entity_values(message, "phone")
        if tracker.get_slot("requested_slot") == "order_contact" and given:
            # The contact asked for, whatever the intent ("my email address is ..." is no
            # change of address): the order question stays the one asked before.
            restored = {"order_topic": _previous_value(tracker, "order_topic")}
        else:
            restored = {}
        number = tracker.get_slot("order_number")
        if number and tracker.get_slot("verified_order") == number:
            # validate_order_number has just verified this pair (a verified order needs no contact).
            return {"order_contact": tracker.get_slot("order_contact"), **restored}
        if value is not None and tracker.get_slot("order_contact") is None and "order_number" in tracker.slots_to_validate():
            # validate_order_number has just refused this pair: it is not checked again.
            if value == _previous_value(tracker, "order_contact"):
                return {"order_contact": None}  # given for an earlier order: the form asks for this one's
            return {**_not_found(dispatcher, tracker, keep_number=True), **restored}
        contact = normalise_contact(value if isinstance(value, str) else None)
        if contact is None and tracker.get_slot("requested_slot") == "order_contact":
            # "maybe it's 447700900123": a phone written without "+" among words, read as an order number.
            phone = next((n for n in entity_values(message, "order_id") if _phone_shaped(str(n))), None)
            contact = normalise_contact(str(phone)) if phone else None
        if contact is None and NUMBER_UNKNOWN.search(str(value or "")) and not entity_values(message, "order_id"):
            dispatcher.utter_message(response="utter_order_contact_unknown")
            return {"order_contact": None}
        if contact is None:
            if not entity_values(message, "order_id") and intent_of(message) not in ORDER_INTENTS:
                dispatcher.utter_message(response="utter_invalid_contact")
            return {"order_contact": None}
        if not number:
            return {"order_contact": contact, **restored}  # given first: checked once the number comes
        try:
            if await contact_matches(order_desk(), tracker, number, contact):
                return {"order_contact": contact, **_proven_by_contact(tracker, number), **restored}
        except SERVICE_ERRORS:
            return {"order_contact": contact, **restored}
        return {**_not_found(dispatcher, tracker, keep_number=True), **restored}


class ActionAskOrderNumber(Action):
    """Signed-in shoppers get their recent orders as buttons."""

    def name(self) -> Text:
        return "action_ask_order_number"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if _asked_again_this_turn(tracker):
            return []
        pending = _unanswered_item_choice(tracker)
        if pending:
            dispatcher.utter_message(response="utter_ask_which_order_with_item", buttons=pending)
            return []
        try:
            desk = order_desk()
            customer = signed_in_customer(desk, tracker)
            orders = desk.recent_orders(customer) if customer else []
        except SERVICE_ERRORS:
            orders = []
        if orders:
            dispatcher.utter_message(response="utter_ask_order_number_signed_in", buttons=order_buttons(orders))
        else:
            dispatcher.utter_message(response="utter_ask_order_number")
        return []


class ActionAskOrderContact(Action):
    """The question thanks for the order number only right after it; asked again (after a
    question in between, say) it names the order; after a contact that did not match, it also
    says a wrong order number can be sent again."""

    def name(self) -> Text:
        return "action_ask_order_contact"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if _asked_again_this_turn(tracker):
            return []
        number = tracker.get_slot("order_number")
        if _gives_contact(tracker.latest_message):
            dispatcher.utter_message(response="utter_ask_order_contact_again")
        elif number and number == _previous_value(tracker, "order_number"):  # not given just now
            dispatcher.utter_message(response="utter_ask_order_contact_for_order")
        else:
            dispatcher.utter_message(response="utter_ask_order_contact")
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
        if topic == "keep_order" and confirms_cancelling(tracker.latest_message.get("text")):
            topic = "cancel_order"  # (read as keeping the order, but a yes to cancelling it)
        try:
            desk = order_desk(tracker.get_slot("language"))
            number = verified_order(desk, tracker)
            if not number:
                dispatcher.utter_message(response="utter_verification_locked")
                return [SlotSet("follow_up", None), SlotSet("verified_order", None)]
            topic_message = _topic_message(tracker)
            asked = topic_message.get("text")
            if withdraws_return(asked) or (
                topic in ("cancel_order", "keep_order") and mentions_return(asked) and desk.return_pending(number)
            ):
                # "cancel my return", or "I started a return by mistake, can you cancel it?" on
                # an order whose return waits for the seller: the return, not the order.
                topic = WITHDRAW_RETURN
            if topic == WITHDRAW_RETURN and _previous_value(tracker, "requested_slot") in RETURN_SLOTS:
                # "never mind, cancel the return" while the bot asks for the return's details:
                # none was on file yet; that one is dropped.
                replies = [Reply("utter_form_stopped", {})]
            else:
                replies = desk.answer(topic, number)
            if topic == "change_address" and asks_which_address(asked):
                replies = [Reply("utter_address_in_the_app", {"order_number": number})]  # no change asked for
            follow_up = FOLLOW_UPS.get(replies[-1].response)
            if (
                follow_up == "confirm_cancel" and confirms_cancelling(tracker.latest_message.get("text"))
                and _asked_to_confirm_before(tracker, number)
            ):
                # "ok now yes, cancel 100404" after its question was left for another order's:
                # the yes was given, the question is not asked a second time.
                replies, follow_up = desk.cancel(number), None
            events: List[EventType] = []
            waiting = _previous_value(tracker, "verified_order")
            if (
                follow_up is None and tracker.get_slot("follow_up") == "confirm_cancel" and topic != "cancel_order"
                and waiting and (waiting == number or _asked_to_confirm_before(tracker, waiting))
            ):
                # A question about this order or another while a cancellation waits for a yes
                # or no: the answer, then the cancellation question again (the yes is for that order).
                replies += desk.cancel_check(waiting)
                follow_up = FOLLOW_UPS.get(replies[-1].response)
                if waiting != number and follow_up == "confirm_cancel":
                    events += [SlotSet("order_number", waiting), SlotSet("verified_order", waiting)]
            unproven: List[str] = []
            if follow_up is None:
                replies, events, unproven = _answer_other_orders(desk, tracker, topic, number, replies)
        except SERVICE_ERRORS:
            dispatcher.utter_message(response="utter_orders_unavailable")
            return [SlotSet("follow_up", None)]
        if follow_up in ("address_form", "return_form"):
            replies = replies[:-1]  # the form asks its first question itself
        latest = tracker.latest_message
        text = latest.get("text") or ""
        gives_the_address = is_address(text) and (intent_of(latest) not in ORDER_INTENTS or address_of(text) != " ".join(text.split()))
        if follow_up == "address_form" and gives_the_address and not entity_values(latest, "order_id"):
            # The new address came already (after "a person, please" or another order's question
            # had left the address form, or after "ok, the new address is"): the form takes it
            # instead of asking for it.
            events.append(SlotSet("new_address", address_of(text)))
        if follow_up == "return_form":
            reason = None if is_question(asked) else stated_reason(asked)  # "can I return it if it's too small?" states none
            # A reason given already ("it arrived broken") is kept: the form asks only the kind.
            if _previous_value(tracker, "requested_slot") not in RETURN_SLOTS:
                # A new return: nothing kept from one the shopper left half-way. (A question in
                # the middle of the form keeps what was chosen.)
                events += [SlotSet("return_kind", None), SlotSet("return_reason", reason)]
            elif reason:
                events.append(SlotSet("return_reason", reason))
        say(dispatcher, replies)
        if unproven:
            buttons = [{"title": f"#{other}", "payload": other} for other in unproven]
            dispatcher.utter_message(response="utter_ask_about_other_orders", buttons=buttons)
        if follow_up is None:  # not while the bot waits for a yes or no, an address or a choice
            offer_other_questions(dispatcher, topic_message)
        if topic in ("keep_order", WITHDRAW_RETURN):
            events.append(SlotSet("order_topic", None))  # not carried on to the next order named
        return [*events, SlotSet("follow_up", follow_up)]


def _answer_other_orders(
    desk: OrderDesk, tracker: Tracker, topic: Text, number: Text, replies: List[Reply],
) -> Tuple[List[Reply], List[EventType], List[str]]:
    """A question about several orders ("where are 100004 and 100005?"): after the verified
    one's answer, the answer for each other order the shopper may see (signed in as its
    customer, or the same customer as the order they proved); the others, to ask about one by
    one (each needs its own proof). The replies, the slot events, the orders not answered."""
    asked = [normalise_order_number(str(value)) for value in _orders_named(tracker)]
    others = [other for other in dict.fromkeys(asked) if other and other != number]
    customer = signed_in_customer(desk, tracker) if tracker.get_slot("verified_by") != "contact" else None
    proven = list(tracker.get_slot("orders_proven") or [])
    unproven = []
    for other in others:
        visible = desk.verify_customer(other, customer) if customer else desk.same_customer(other, number)
        answer = desk.answer(topic, other) if visible else []
        if not answer or FOLLOW_UPS.get(answer[-1].response):
            unproven.append(other)  # (an answer that asks something back is one order at a time)
            continue
        replies = [*replies, *answer]
        if not customer and other not in proven:
            proven.append(other)
    events: List[EventType] = [SlotSet("orders_proven", proven)] if proven != (tracker.get_slot("orders_proven") or []) else []
    return replies, events, unproven


def _topic_message(tracker: Tracker) -> Dict[Text, Any]:
    """The shopper's message that asked the order question being answered (the look-up form
    may have asked for the number and contact since)."""
    for event in reversed(tracker.events):
        if not tracker_events.is_user(event):
            continue
        parse = event.get("parse_data") or {}
        if intent_of(parse) in ORDER_INTENTS or (intent_of(parse) in UNSURE_READINGS and entity_values(parse, "order_id")):
            return parse  # (the rules read the latter as an order question too: data/rules/orders.yml)
    return {}


def _orders_named(tracker: Tracker) -> List[Any]:
    """The orders the question being answered is about: named by the messages since the one
    that started this look-up (sent while the bot asked nothing, or answering which order);
    the latest that names any counts ("where is 100004?" … "and 100005?": only 100005). A
    number the form took as the shopper's phone ("447700900123") names no order."""
    asking = None
    messages = []  # (what the bot was asking for when it came, the orders it names)
    for event in tracker.events:
        if tracker_events.is_slot(event, "requested_slot"):
            asking = event.get("value")
        elif tracker_events.is_slot(event, "order_contact") and messages and event.get("value"):
            came_while, named = messages[-1]
            messages[-1] = (came_while, [n for n in named if normalise_contact(n) != event["value"]])
        elif tracker_events.is_user(event):
            messages.append((asking, named_orders(event.get("parse_data") or {})))
    for asking, named in reversed(messages):
        # An answer to "which order?" that names none (an item: "the lamp one") starts afresh:
        # the orders of an earlier question (one refused, say) are not this one's.
        if named or asking in (None, "order_number"):
            return named
    return []


class ActionConfirmCancellation(Action):
    def name(self) -> Text:
        return "action_confirm_cancellation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if tracker_events.last_action_before_message(tracker.events) != "action_answer_order_question":
            # The question was not the bot's last word: a late "yes" cancels nothing.
            dispatcher.utter_message(response="utter_how_can_i_help")
            return [SlotSet("follow_up", None)]
        act_on_verified_order(dispatcher, tracker, lambda desk, number: desk.cancel(number))
        return [SlotSet("follow_up", None)]


# "iya jadi batal", "ok yes cancel it", "yes cancel 100404": a plain yes to cancelling, however near
# in words to "ga jadi batal" (not cancelling after all) the model reads it. The whole message, so
# that no negation ("ya, tidak jadi batal", "ok, no need to cancel") or question ("ok so can I
# cancel?") slips through.
CONFIRMS_CANCELLING = re.compile(
    r"^\W*((yes|yeah|yep|yup|ok|okay|sure|iya|ya|oke|please|pls|now|so|then|go ahead and)\W+)*(jadi\W+)?"
    r"(cancel|batal|batalkan|batalin|dibatalkan|dibatalin)"
    r"(\W+(it|the order|order|aja|saja|ya|kak|min|please|pls|now|sekarang|pesanan(nya)?|#?\d{5,}))*\W*$",
    re.IGNORECASE,
)


def confirms_cancelling(text: Text) -> bool:
    return bool(CONFIRMS_CANCELLING.search(text or "")) and not NOT_CANCELLING.search(text or "")


class ActionKeepOrder(Action):
    def name(self) -> Text:
        return "action_keep_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if confirms_cancelling(tracker.latest_message.get("text")):
            return await ActionConfirmCancellation().run(dispatcher, tracker, domain)
        dispatcher.utter_message(response="utter_order_kept", order_number=tracker.get_slot("verified_order"))
        return [SlotSet("follow_up", None)]


MIN_ADDRESS_CHARS, MAX_ADDRESS_CHARS = 10, 300
# What makes a delivery address in the common European, UK and US formats: a number (house,
# flat or postcode), a word for the street ("Baker Street", "rue de Rivoli", "Hauptstraße",
# "Kalverstraat") or else a postcode beside a house number, and words for street and town.
STREET_WORD = re.compile(
    r"\b(street|st|road|rd|avenue|ave|lane|ln|drive|dr|way|place|pl|square|sq|court|ct|boulevard|blvd|close"
    r"|crescent|terrace|row|gardens|grove|parade|mews|walk|hill|highway|hwy|flat|apartment|apt|unit|suite|floor"
    r"|rue|chemin|allée|impasse|quai|cours|route|via|viale|piazza|corso|calle|avenida|plaza|paseo|carrer|rua"
    r"|ulica|ul|jalan|jl|gang|gg|komplek|perumahan|blok)\b\.?"
    r"|\w(straße|strasse|str\.|weg|gasse|platz|allee|damm|straat|laan|gracht|plein|gatan|vägen|gade|vej)\b",
    re.IGNORECASE,
)
# Words around the address that are not part of it: "ok, change it to ...", "my new address
# is ...", "kirim ke ...".
ADDRESS_LEAD_IN = re.compile(
    r"^(?:\s*(?:ok(?:ay)?|yes|yeah|sure|please|pls|so|well|hi|hello|actually|here\s+it\s+is|here\s+you\s+go|oke|ya|tolong|mohon|kak|min|ini)\b[\s,.!:-]*)*"
    r"(?:(?:please\s+)?(?:change|update|set|send|ship|deliver|move|redirect)\s+(?:it|them|the\s+(?:address|order|parcel)"
    r"|my\s+(?:address|order|parcel))?\s*(?:to|at)\b"
    r"|(?:my|the)\s+new\s+(?:delivery\s+)?address(?:\s+is|\s*:)|new\s+address(?:\s+is|\s*:)|it'?s\s+(?=\d)"
    r"|(?:alamat(?:nya)?\s+baru(?:\s+saya)?|alamat\s+saya|alamatnya)(?:\s+(?:adalah|di|jadi))?\s*:?"
    r"|(?:kirim|ganti|ubah|pindah)(?:kan)?\s+(?:alamat(?:nya)?\s+)?(?:ke|jadi|menjadi)\b)?[\s,.:-]*",
    re.IGNORECASE,
)


def address_of(text: Any) -> str:
    """The address a shopper wrote, without the words around it and with single spaces."""
    address = " ".join(str(text or "").split())
    return ADDRESS_LEAD_IN.sub("", address, count=1) or address
POSTCODE = re.compile(
    r"\b([A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}"  # UK: NW1 6XE, SW1A 2AA
    r"|\d{5}(-\d{4})?"  # US, DE, FR, IT, ES: 10118, 10115
    r"|\d{4}\s?[A-Z]{2}"  # NL: 1012 AB
    r"|\d{2}-\d{3}|\d{4}-\d{3}|\d{3}\s\d{2}"  # PL, PT, SE
    r"|\d{4})\b",  # AT, BE, CH, DK, NO
    re.IGNORECASE,
)


def is_address(text: Any) -> bool:
    """Whether the text looks like a full delivery address."""
    address = address_of(text)
    if not MIN_ADDRESS_CHARS <= len(address) <= MAX_ADDRESS_CHARS or "@" in address:
        return False
    numbers = re.findall(r"\b\d+[A-Za-z]?\b", address)
    words = re.findall(r"[^\W\d_]{2,}", address)
    return bool(numbers) and len(words) >= 2 and bool(STREET_WORD.search(address) or (POSTCODE.search(address) and len(numbers) >= 2))


class ValidateAddressForm(LettingGoFormValidation):
    def name(self) -> Text:
        return "validate_address_form"

    def interrupts(self, slot: Text, value: Any, message: Dict[Text, Any], tracker: Optional[Tracker] = None) -> bool:
        # An order number here is another order: the rules leave the form for the order look-up.
        return (intent_of(message) in INTERRUPTING_INTENTS or bool(entity_values(message, "order_id"))) and not is_address(value)

    def validate_new_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if not is_address(value):
            dispatcher.utter_message(response="utter_invalid_address")
            return {"new_address": None}
        return {"new_address": address_of(value)}


class ActionSubmitAddressChange(Action):
    def name(self) -> Text:
        return "action_submit_address_change"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        new_address = tracker.get_slot("new_address")
        act_on_verified_order(dispatcher, tracker, lambda desk, number: desk.change_address(number, new_address))
        return [SlotSet("new_address", None), SlotSet("follow_up", None)]
