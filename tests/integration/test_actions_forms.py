"""Forms that let go: the validation actions tell an answer from a message that interrupts
the form (actions/forms.py), on rasa_sdk's Tracker and a fresh demo database."""
import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecutionRejected, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import ActionGreet, order_question_in_context, welcomed_for_this_message
from actions.forms import is_question
from actions.orders import ValidateAddressForm, ValidateOrderLookupForm, is_address
from actions.returns import ValidateReturnForm, stated_reason
from bot.shop.orders import normalise_contact

def message(text, intent="inform", **entities):
    return {
        "text": text, "intent": {"name": intent},
        "entities": [{"entity": name, "value": value} for name, value in entities.items()],
    }


def tracker(latest, slots=None, events=(), form="order_lookup_form"):
    return Tracker("shopper", slots or {}, latest, list(events), False, None, {"name": form}, "action_listen")


def candidate(slot, value, requested=None):
    """The events a form sends its validation: the candidate comes last."""
    return [
        {"event": "slot", "name": "requested_slot", "value": requested or slot},
        {"event": "action", "name": "form"},
        {"event": "slot", "name": slot, "value": value},
    ]


@pytest.mark.parametrize("text", ["what if it arrived damaged?", "can I return it if it's the wrong size", "how long does it take", "is it too late?"])
def test_questions(text):
    assert is_question(text)


@pytest.mark.parametrize("text", ["Damaged", "it's too small", "does not work at all", "they sent the wrong colour", "Size or fit"])
def test_answers_are_no_questions(text):
    assert not is_question(text)


# --- which messages interrupt ---------------------------------------------------------------

@pytest.mark.parametrize(
    "slot, latest, interrupts",
    [
        ("order_number", message("how long does delivery take?", "faq"), True),
        ("order_number", message("talk to a person", "talk_to_human"), True),
        ("order_number", message("is it 100004?", "faq", order_id="100004"), False),
        ("order_number", message("can I cancel it instead?", "cancel_order"), False),  # the topic changes
        ("order_number", message("hello", "greet"), False),  # an answer, and not a valid one
        ("order_number", message("ok thanks", "thank"), True),  # the shopper is done: the form ends
        ("order_number", message("thanks, it's 100004", "thank", order_id="100004"), False),
        ("order_contact", message("do you accept paypal?", "faq"), True),
        ("order_contact", message("my email address is emma@example.com", "change_address", email="emma@example.com"), False),
        ("order_contact", message("+44 7700 900456", "faq"), False),
    ],
)
def test_order_lookup_lets_go_of_questions_but_not_of_order_details(slot, latest, interrupts):
    value = latest["entities"][0]["value"] if latest["entities"] else latest["text"]
    assert ValidateOrderLookupForm().interrupts(slot, value, latest) is interrupts


@pytest.mark.parametrize(
    "latest, interrupts",
    [
        (message("Hauptstraße 5, 10115 Berlin", "out_of_scope"), False),
        (message("221B Baker Street, London NW1 6XE", "nlu_fallback"), False),
        (message("do you ship internationally?", "faq"), True),
        (message("and what about order 100003?", "inform", order_id="100003"), True),
        (message("thanks", "thank"), True),  # the shopper is done: the form ends
    ],
)
def test_address_form_lets_go_of_everything_but_an_address(latest, interrupts):
    assert ValidateAddressForm().interrupts("new_address", latest["text"], latest) is interrupts


@pytest.mark.parametrize(
    "slot, latest, interrupts",
    [
        ("return_reason", message("can I return it if it's the wrong size?", "faq"), True),
        ("return_reason", message("what if it looks different from the photo?", "return_request"), True),
        ("return_reason", message("Damaged", "talk_to_human", handoff_topic="parcel"), False),
        ("return_reason", message("Changed my mind", "deny"), False),
        ("return_reason", message("no", "deny"), True),
        ("return_reason", message('/inform{"return_reason": "size_fit"}', return_reason="size_fit"), False),
        ("return_kind", message("Refund only", "faq"), False),
        ("return_kind", message("how long does a refund take?", "faq"), True),
        # Calling the return off is no choice of the kind "return", whatever it was read as.
        ("return_kind", message("never mind, cancel the return", "cancel_order"), True),
        ("return_kind", message("ga jadi retur deh", "affirm"), True),
        ("return_reason", message("actually forget it i'll keep it", "keep_order"), True),
        ("return_reason", message("no, I'll keep it", "deny"), True),
        ("return_reason", message("I'd rather have a replacement", "deny"), False),
    ],
)
def test_return_form_lets_go_of_questions_even_with_a_reason_word(slot, latest, interrupts):
    assert ValidateReturnForm().interrupts(slot, latest["text"], latest) is interrupts


async def test_an_interruption_clears_the_slot_and_rejects_the_form():
    latest = message("can I return it if it's the wrong size?", "faq")
    events = candidate("return_reason", latest["text"])
    dispatcher = CollectingDispatcher()
    result = await ValidateReturnForm().run(dispatcher, tracker(latest, {"requested_slot": "return_reason"}, events, "return_form"), {})
    assert result == [SlotSet("return_reason", None), ActionExecutionRejected("return_form")]
    assert dispatcher.messages == []


def test_a_question_is_never_a_return_choice():
    dispatcher = CollectingDispatcher()
    form = ValidateReturnForm()
    assert form.validate_return_reason("is it ok if it's the wrong size?", dispatcher, tracker(message("")), {}) == {"return_reason": None}
    assert [m["response"] for m in dispatcher.messages] == ["utter_invalid_choice"]
    assert form.validate_return_reason("size_fit", CollectingDispatcher(), tracker(message("")), {}) == {"return_reason": "size_fit"}
    assert form.validate_return_kind("refund_only", CollectingDispatcher(), tracker(message("")), {}) == {"return_kind": "refund_only"}


# --- the order look-up ------------------------------------------------------------------------

EMMA_VERIFIED_100004 = [
    {"event": "slot", "name": "order_topic", "value": "order_status"},
    {"event": "slot", "name": "order_number", "value": "100004"},
    {"event": "slot", "name": "order_contact", "value": "emma@example.com"},
    {"event": "slot", "name": "verified_order", "value": "100004"},
]


@pytest.mark.usefixtures("demo_shop")
@pytest.mark.parametrize("number, verified", [("100001", True), ("100003", False)])
async def test_another_order_is_checked_against_the_contact_given_before(number, verified):
    latest = message(f"and what about order {number}?", "faq", order_id=number)
    slots = {"order_number": number, "order_contact": "emma@example.com", "verified_order": "100004"}
    form = ValidateOrderLookupForm()
    events = [
        *EMMA_VERIFIED_100004, {"event": "user", "text": latest["text"]}, {"event": "action", "name": "order_lookup_form"},
        {"event": "slot", "name": "order_number", "value": number}, {"event": "slot", "name": "order_contact", "value": "emma@example.com"},
    ]
    dispatcher = CollectingDispatcher()
    result = await form.validate_order_number(number, dispatcher, tracker(latest, slots, events), {})
    assert result["verified_order"] == (number if verified else None)
    contact = await form.validate_order_contact("emma@example.com", dispatcher, tracker(latest, {**slots, **result}, events), {})
    # Not checked twice, nor counted as a wrong contact: the form asks for this order's contact.
    assert contact == {"order_contact": result.get("order_contact", "emma@example.com")}
    assert dispatcher.messages == []


@pytest.mark.usefixtures("demo_shop")
async def test_a_wrong_pair_in_one_message_gets_one_not_found_reply():
    latest = message("where is my order 100003? my email is emma@example.com", "order_status", order_id="100003", email="emma@example.com")
    events = [{"event": "user", "text": latest["text"]}, *candidate("order_number", "100003")[1:],
              {"event": "slot", "name": "order_contact", "value": "emma@example.com"}]
    slots = {"order_number": "100003", "order_contact": "emma@example.com"}
    form, dispatcher = ValidateOrderLookupForm(), CollectingDispatcher()
    result = await form.validate_order_number("100003", dispatcher, tracker(latest, slots, events), {})
    contact = await form.validate_order_contact("emma@example.com", dispatcher, tracker(latest, {**slots, **result}, events), {})
    assert contact["verified_order"] is None and contact["order_contact"] is None
    assert contact["order_number"] == "100003"  # the form asks for this order's contact again
    assert [m["response"] for m in dispatcher.messages] == ["utter_order_not_found"]


@pytest.mark.usefixtures("demo_shop")
async def test_after_a_wrong_contact_the_right_one_or_another_order_number_can_follow():
    form = ValidateOrderLookupForm()
    asked = [*candidate("order_number", "100003")[:2], {"event": "slot", "name": "order_number", "value": "100003"},
             {"event": "slot", "name": "requested_slot", "value": "order_contact"}]
    slots = {"order_number": "100003", "requested_slot": "order_contact"}
    # The e-mail corrected: tried on the same order.
    latest = message("liam@example.com", email="liam@example.com")
    events = [*asked, {"event": "user", "text": latest["text"]}, {"event": "slot", "name": "order_contact", "value": "liam@example.com"}]
    contact = await form.validate_order_contact("liam@example.com", CollectingDispatcher(), tracker(latest, slots, events), {})
    assert contact["verified_order"] == "100003"
    # The order number corrected, alone: taken as the order asked about (a phone number is not).
    for text, number in (("100005", "100005"), ("07700 900123", "100003")):
        latest = message(text, order_id=text) if number != "100003" else message(text)
        events = [*asked, {"event": "user", "text": text}, {"event": "slot", "name": "order_number", "value": text}]
        result = await form.validate_order_number(text, CollectingDispatcher(), tracker(latest, slots, events), {})
        assert result["order_number"] == number, text


@pytest.mark.usefixtures("demo_shop")
async def test_an_email_reply_naming_the_address_keeps_the_order_question():
    latest = message("my email address is emma@example.com", "change_address", email="emma@example.com")
    events = [
        {"event": "slot", "name": "order_topic", "value": "order_status"},
        {"event": "slot", "name": "order_number", "value": "100004"},
        {"event": "user", "text": latest["text"]},
        {"event": "slot", "name": "order_topic", "value": "change_address"},
    ]
    slots = {"order_number": "100004", "order_topic": "change_address", "requested_slot": "order_contact"}
    result = await ValidateOrderLookupForm().validate_order_contact(
        "emma@example.com", CollectingDispatcher(), tracker(latest, slots, events), {}
    )
    assert result["verified_order"] == "100004" and result["order_topic"] == "order_status"


# --- addresses and phone numbers ------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "221B Baker Street, London NW1 6XE", "Hauptstraße 5, 10115 Berlin", "350 Fifth Avenue, New York, NY 10118",
        "12 rue de Rivoli, 75001 Paris", "Flat 4, 27 Harbour Street, Leeds LS1 4AP", "Apt 4B, 350 5th Ave, New York, NY 10118-0110",
        "Kalverstraat 92, 1012 PH Amsterdam", "Am Markt 3, 8010 Graz", "Calle Mayor 5, 28013 Madrid",
    ],
)
def test_addresses_in_common_formats(text):
    assert is_address(text)


@pytest.mark.parametrize(
    "text", ["order 100003 please", "my order 12345 is late", "how long does delivery take?", "emma@example.com", "12", "hello there"],
)
def test_no_addresses(text):
    assert not is_address(text)


@pytest.mark.parametrize(
    "text, normalised",
    [
        ("+44 7700 900456", "447700900456"), ("0044 7700 900456", "447700900456"), ("+44 (0)7700 900456", "447700900456"),
        ("+1 (555) 010-2030", "15550102030"), ("07700 900456", "07700900456"), ("555.010.2030", "5550102030"),
        ("Emma@Example.com", "emma@example.com"), ("12345", None), ("call me", None),
    ],
)
def test_contacts_are_normalised(text, normalised):
    assert normalise_contact(text) == normalised


@pytest.mark.usefixtures("demo_shop")
@pytest.mark.parametrize("contact", ["+44 7700 900456", "0044 7700 900456", "+44 (0) 7700 900456", "07700 900456"])
async def test_phone_numbers_in_international_format_verify_the_order(contact):
    latest = message(contact, "inform", phone=contact)
    slots = {"order_number": "100003", "requested_slot": "order_contact"}
    result = await ValidateOrderLookupForm().validate_order_contact(contact, CollectingDispatcher(), tracker(latest, slots), {})
    assert result["verified_order"] == "100003"


# --- the welcome and the greeting -----------------------------------------------------------

WELCOME = [
    {"event": "action", "name": "action_session_start"},
    {"event": "bot", "text": "Hi! Welcome to Demo Shop."},
    {"event": "session_started"},
    {"event": "action", "name": "action_listen"},
]


@pytest.mark.parametrize(
    "events, greeted",
    [
        ([*WELCOME, {"event": "user", "text": "hi"}], False),  # the welcome has just greeted
        ([*WELCOME, {"event": "user", "text": "how can I pay"}, {"event": "bot", "text": "..."},
          {"event": "user", "text": "hello"}], True),
        # A chat page opens with "/session_start": the shopper's "hi" comes later.
        ([*WELCOME, {"event": "user", "text": "/session_start"}, {"event": "action", "name": "action_session_start"},
          {"event": "session_started"}, {"event": "action", "name": "action_listen"}, {"event": "user", "text": "hi"}], True),
    ],
)
async def test_the_greeting_is_not_a_second_welcome(events, greeted):
    assert welcomed_for_this_message(events) is not greeted
    dispatcher = CollectingDispatcher()
    await ActionGreet().run(dispatcher, tracker(message("hi", "greet"), events=events), {})
    assert [m["response"] for m in dispatcher.messages] == (["utter_greet"] if greeted else [])


def after_an_order_answer(text, ranking, slots=None, entities=()):
    latest = {"text": text, "intent": ranking[0], "intent_ranking": ranking, "entities": list(entities)}
    events = [{"event": "action", "name": "action_answer_order_question"}, {"event": "action", "name": "action_listen"},
              {"event": "user", "text": text, "parse_data": latest}]
    return Tracker("shopper", {"verified_order": "100014", **(slots or {})}, latest, events, False, None, {}, "action_listen")


def test_a_faq_reading_right_after_an_order_answer_is_an_order_question_when_likely():
    ranking = [{"name": "faq", "confidence": 0.78}, {"name": "refund_status", "confidence": 0.21}]
    assert order_question_in_context(after_an_order_answer("can i get a refund for that one", ranking)) == "refund_status"
    unlikely = [{"name": "faq", "confidence": 0.97}, {"name": "late_delivery", "confidence": 0.03}]
    assert order_question_in_context(after_an_order_answer("how long does delivery take", unlikely)) is None
    # Less likely will do for a message that points back at the order, not for one that does not.
    faint = [{"name": "faq", "confidence": 0.84}, {"name": "refund_status", "confidence": 0.13}]
    assert order_question_in_context(after_an_order_answer("can I get a refund for that one?", faint)) == "refund_status"
    assert order_question_in_context(after_an_order_answer("bisa refund pesanannya?", faint)) == "refund_status"
    assert order_question_in_context(after_an_order_answer("how do refunds work", faint)) is None
    # A pending yes or no, a tapped FAQ button, or no order answered just before: the FAQ.
    assert order_question_in_context(after_an_order_answer("x", ranking, {"follow_up": "confirm_cancel"})) is None
    assert order_question_in_context(after_an_order_answer("x", ranking, entities=[{"entity": "faq_id", "value": "refund_methods"}])) is None
    assert order_question_in_context(after_an_order_answer("x", ranking, {"verified_order": None})) is None


@pytest.mark.parametrize(
    "text, reason",
    [
        ("I want to return it, it arrived broken", "damaged"),
        ("mau retur kak, barangnya ga sesuai", "not_as_described"),
        ("i want to return my shoes they dont fit", "size_fit"),
        ("they sent the wrong colour, can i send it back", "wrong_item"),
        ("return my order, it took too long", None),  # "long" names a reason only as an answer
        ("i want to return order 100005", None),
    ],
)
def test_a_reason_given_when_asking_for_the_return_is_kept(text, reason):
    assert stated_reason(text) == reason
