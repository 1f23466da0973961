"""Order actions with rasa_sdk's Tracker and CollectingDispatcher on a fresh demo database.
The showcase orders are described in the README."""
import json
import re
import time

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.orders import (
    ActionAnswerOrderQuestion, ActionAskOrderContact, ActionAskOrderNumber, ActionConfirmCancellation, ActionKeepOrder,
    ActionSubmitAddressChange, ValidateAddressForm, ValidateOrderLookupForm, named_orders,
)
from actions import desk
from actions.returns import KIND_WORDS, REASON_WORDS, ActionSubmitReturn, ValidateReturnForm, choose
from bot.config import Config
from bot.rasa.responses import load_responses
from bot.shop import db, rules, vocabulary
from bot.shop.demo import DEMO_IDENTITY_SECRET
from bot.shop.identity import signed_identity

pytestmark = pytest.mark.usefixtures("demo_shop")


@pytest.fixture(autouse=True)
def no_slow_down(monkeypatch):
    """Failed verifications are answered at once here (the slow-down is tested in test_abuse.py)."""
    monkeypatch.setenv("VERIFICATION_DELAY_SECONDS", "0")


def tracker(slots=None, text="", metadata=None, events=None):
    latest = {"text": text, "intent": {"name": "inform"}, "entities": [], "metadata": metadata or {}}
    return Tracker("shopper", slots or {}, latest, events or [], False, None, {"name": "order_lookup_form"}, "action_listen")


AFTER_CANCEL_QUESTION = [
    {"event": "action", "name": "action_answer_order_question"},
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "yes"},
]


def signed(customer_id, expires_in=3600):
    return signed_identity(DEMO_IDENTITY_SECRET, customer_id, int(time.time()) + expires_in)


async def answer(number, topic):
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerOrderQuestion().run(
        dispatcher, tracker({"verified_order": number, "order_topic": topic}), {}
    )
    return [m["response"] for m in dispatcher.messages], dispatcher.messages, events


# --- verification -------------------------------------------------------------

async def required(slots=None, metadata=None):
    return await ValidateOrderLookupForm().required_slots([], CollectingDispatcher(), tracker(slots, metadata=metadata), {})


async def test_anonymous_shopper_must_give_number_and_contact():
    assert await required() == ["order_number", "order_contact"]


async def test_signed_in_shopper_needs_only_the_number_and_sees_their_orders():
    assert await required(metadata=signed("cust-emma")) == ["order_number"]
    dispatcher = CollectingDispatcher()
    await ActionAskOrderNumber().run(dispatcher, tracker(metadata=signed("cust-emma")), {})
    [message] = dispatcher.messages
    assert message["response"] == "utter_ask_order_number_signed_in"
    numbers = [b["payload"] for b in message["buttons"]]
    assert numbers and all(n in {f"1000{i:02d}" for i in range(1, 17)} for n in numbers)
    assert "100016" not in numbers  # Noah's order
    # Each button says what is in the order.
    assert "#100001 · Organic cotton T-shirt, black, M +1" in [b["title"] for b in message["buttons"]]


def named_item(text, slots=None, intent="faq"):
    latest = {"text": text, "intent": {"name": intent}, "entities": [], "metadata": signed("cust-emma")}
    slots = {"requested_slot": "order_number", **(slots or {})}
    return Tracker("shopper", slots, latest, [], False, None, {"name": "order_lookup_form"}, "action_listen")


async def test_a_signed_in_shopper_may_name_the_item_instead_of_the_order_number():
    form = ValidateOrderLookupForm()
    # Only 100004 of Emma's orders has trainers: it is the one.
    dispatcher = CollectingDispatcher()
    assert not form.interrupts("order_number", "the trainers", named_item("the trainers").latest_message)
    botol = named_item("yang botol minum", intent="bot_challenge").latest_message  # "botol" looks like "bot" to the model
    assert not form.interrupts("order_number", "yang botol minum", {**botol, "intent": {"name": "bot_challenge", "confidence": 0.95}})
    result = await form.validate_order_number("the trainers", dispatcher, named_item("the trainers"), {})
    assert result["order_number"] == result["verified_order"] == "100004" and dispatcher.messages == []
    # Two of hers have the hoodie: both are offered, newest first, and the question waits.
    dispatcher = CollectingDispatcher()
    result = await form.validate_order_number("the hoodie one", dispatcher, named_item("the hoodie one"), {})
    [message] = dispatcher.messages
    assert result == {"order_number": None} and message["response"] == "utter_ask_which_order_with_item"
    assert [b["payload"] for b in message["buttons"]] == ["100011", "100002"]
    assert [b["title"] for b in message["buttons"]] == ["#100011 · Zip hoodie, grey, M +1", "#100002 · Zip hoodie, grey, M"]
    # The question that starts the look-up may name the item too.
    asking = named_item("has my trainers order shipped?", {"requested_slot": None}, intent="order_status")
    assert await form.extract_order_number(CollectingDispatcher(), asking, {}) == {"order_number": "100004"}
    dispatcher = CollectingDispatcher()
    assert await form.extract_order_number(dispatcher, named_item("where's my hoodie?", {"requested_slot": None}), {}) == {"order_number": None}
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_which_order_with_item"]
    # ... and the validation of that empty number adds nothing to the question.
    dispatcher = CollectingDispatcher()
    assert await form.validate_order_number(None, dispatcher, named_item("where's my hoodie?", {"requested_slot": None}), {}) == {"order_number": None}
    assert dispatcher.messages == []
    # After the trainers, "and the lamp?" is about the order with the lamp, not the trainers' one.
    after_trainers = {"requested_slot": None, "order_number": "100004", "verified_order": "100004", "verified_by": "cust-emma"}
    assert await form.required_slots([], CollectingDispatcher(), named_item("and the lamp?", after_trainers), {}) == ["order_number"]
    assert await form.extract_order_number(CollectingDispatcher(), named_item("and the lamp?", after_trainers), {}) == {"order_number": "100014"}
    assert await form.required_slots([], CollectingDispatcher(), named_item("are the trainers here yet?", after_trainers), {}) == []
    # An item's name the model takes for another intent, unsure, is an answer; a sure request for a person is not.
    unsure = {**named_item("the trainers").latest_message, "intent": {"name": "talk_to_human", "confidence": 0.55}}
    assert not form.interrupts("order_number", "the trainers", unsure)
    sure = {**named_item("a person please, about the trainers").latest_message, "intent": {"name": "talk_to_human", "confidence": 0.98}}
    assert form.interrupts("order_number", "a person please, about the trainers", sure)
    # Nothing of hers: an ordinary interruption (a FAQ), and Noah's tote bag is no answer.
    assert form.interrupts("order_number", "do you sell gift cards", named_item("do you sell gift cards").latest_message)
    assert await form.validate_order_number("the tote bag", CollectingDispatcher(), named_item("the tote bag"), {}) == {"order_number": None}


async def test_expired_or_forged_identity_counts_as_anonymous():
    assert await required(metadata=signed("cust-emma", expires_in=-10)) == ["order_number", "order_contact"]
    forged = {**signed("cust-emma"), "customer_id": "cust-noah"}
    assert await required(metadata=forged) == ["order_number", "order_contact"]


async def validate_number(value, slots=None, metadata=None):
    """The shopper's answer to the number question."""
    dispatcher = CollectingDispatcher()
    slots = {"requested_slot": "order_number", **(slots or {})}
    result = await ValidateOrderLookupForm().validate_order_number(value, dispatcher, tracker(slots, metadata=metadata), {})
    return result, [m["response"] for m in dispatcher.messages]


async def validate_contact(value, slots):
    dispatcher = CollectingDispatcher()
    result = await ValidateOrderLookupForm().validate_order_contact(value, dispatcher, tracker(slots), {})
    return result, [m["response"] for m in dispatcher.messages]


@pytest.mark.parametrize(
    "text, response",
    [
        ("i don't remember the order number", "utter_order_number_unknown"),
        ("I can't find it", "utter_order_number_unknown"),
        ("lupa nomornya kak", "utter_order_number_unknown"),
        ("emma@example.com", "utter_order_number_needed_too"),  # kept for when the number comes
        ("+44 7700 900123", "utter_order_number_needed_too"),
    ],
)
async def test_no_number_gets_help_instead_of_a_bare_refusal(text, response):
    dispatcher = CollectingDispatcher()
    result = await ValidateOrderLookupForm().validate_order_number(text, dispatcher, tracker(text=text), {})
    assert result == {"order_number": None} and [m["response"] for m in dispatcher.messages] == [response]


@pytest.mark.parametrize("text, kept", [
    ("sorry wrong one, 100001", "100001"), ("eh salah, 100001 kak", "100001"),
    ("100001 is the reference my friend gave me", "100004"),  # no correction: the asked order stays
    ("sorry, my phone is 447700900456", "100004"),
    ("ok and 100001?", "100001"), ("kalau 100001?", "100001"),  # asks about another order instead
    ("and my phone is 447700900456", "100004"),
])
async def test_a_corrected_order_number_replaces_the_one_asked_about(text, kept):
    asking = Tracker("shopper", {"requested_slot": "order_contact", "order_number": "100004"},
                     {"text": text, "intent": {"name": "inform"}, "entities": []},
                     [{"event": "slot", "name": "order_number", "value": "100004"}, {"event": "user", "text": text}],
                     False, None, {"name": "order_lookup_form"}, "action_listen")
    value = "447700900456" if "447700900456" in text else "100001"
    result = await ValidateOrderLookupForm().validate_order_number(value, CollectingDispatcher(), asking, {})
    assert result["order_number"] == kept


async def test_a_phone_without_plus_among_words_answers_the_contact_question():
    text = "maybe it's 447700900456"
    latest = {"text": text, "intent": {"name": "inform"}, "entities": [{"entity": "order_id", "value": "447700900456"}]}
    asking = Tracker("shopper", {"requested_slot": "order_contact", "order_number": "100003"}, latest,
                     [{"event": "slot", "name": "order_number", "value": "100003"}, {"event": "user", "text": text}],
                     False, None, {"name": "order_lookup_form"}, "action_listen")
    form = ValidateOrderLookupForm()
    assert (await form.validate_order_number("447700900456", CollectingDispatcher(), asking, {}))["order_number"] == "100003"
    result = await form.validate_order_contact(text, CollectingDispatcher(), asking, {})
    assert (result["order_contact"], result["verified_order"]) == ("447700900456", "100003")  # Liam's phone, Liam's order


async def test_a_phone_and_an_order_number_in_one_message_are_the_pair():
    text = "hi my phone number is 447700900123 and order is 100004"
    latest = {"text": text, "intent": {"name": "inform"}, "entities": [
        {"entity": "order_id", "value": "447700900123"}, {"entity": "order_id", "value": "100004"}]}
    asking = Tracker("shopper", {"requested_slot": None}, latest, [{"event": "user", "text": text}], False, None, {}, "action_listen")
    result = await ValidateOrderLookupForm().validate_order_number("447700900123", CollectingDispatcher(), asking, {})
    assert (result["order_number"], result["verified_order"], result["order_contact"]) == ("100004", "100004", "447700900123")


@pytest.mark.parametrize("text", ["447700900456", "my phone is 447700900456, has my order shipped?"])
async def test_a_phone_written_without_plus_where_the_order_number_goes_is_kept_as_the_contact(text):
    dispatcher = CollectingDispatcher()
    asked = tracker({"requested_slot": "order_number"}, text=text)
    result = await ValidateOrderLookupForm().validate_order_number("447700900456", dispatcher, asked, {})
    assert result == {"order_number": None, "order_contact": "447700900456"}
    assert [m["response"] for m in dispatcher.messages] == ["utter_order_number_needed_too"]
    # ... and then proves Liam's order.
    result, _ = await validate_number("100003", {"order_contact": "447700900456"})
    assert result["verified_order"] == "100003"
    # Sent again, it is an order number after all (its contact is asked for; nothing is tried).
    result, responses = await validate_number("447700900456", {"order_contact": "447700900456"})
    assert result["order_number"] == "447700900456" and result["order_contact"] is None and responses == []
    # A contact given before is not replaced; other long numbers are order numbers.
    result, _ = await validate_number("447700900456", {"order_contact": "emma@example.com"})
    assert result["order_number"] == "447700900456"
    for number in ("123456789012", "4477009004561234"):
        assert (await validate_number(number))[0]["order_number"] == number


@pytest.mark.parametrize("text", ["i don't remember which email i used", "I forgot the e-mail", "lupa emailnya kak"])
async def test_a_shopper_who_does_not_know_the_contact_is_offered_the_phone_and_a_person(text):
    form = ValidateOrderLookupForm()
    faq_reading = {"text": text, "intent": {"name": "faq"}, "entities": []}
    assert not form.interrupts("order_contact", text, faq_reading)
    result, responses = await validate_contact(text, {"order_number": "100004"})
    assert result == {"order_contact": None} and responses == ["utter_order_contact_unknown"]


async def test_a_signed_in_shopper_is_not_told_their_email_was_noted():
    dispatcher = CollectingDispatcher()
    signed_in = tracker({"requested_slot": "order_number"}, text="noah@example.com", metadata=signed("cust-emma"))
    await ValidateOrderLookupForm().validate_order_number("noah@example.com", dispatcher, signed_in, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_invalid_order_number"]


def turn(*bot_replies):
    """The events of a turn: the shopper's message, then the bot's replies (by response name)."""
    return [{"event": "user", "text": "x"}, *({"event": "bot", "text": "...", "metadata": {"utter_action": name}} for name in bot_replies)]


@pytest.mark.parametrize("text, customer, number", [
    ("yg sepatu lari", "cust-emma", "100004"), ("yang botol minum", "cust-emma", "100005"),
    ("lampu meja sy", "cust-emma", "100014"), ("tas tote sy udh sampe mana", "cust-noah", "100016"),
])
def test_indonesian_item_words_name_the_orders_english_items(text, customer, number):
    assert [found for found, _ in desk.order_desk().orders_with_item(customer, text)] == [number]


async def test_a_shopper_who_does_not_pick_among_the_orders_with_an_item_is_asked_among_those_again():
    jeans = [{"title": "#100013 · Slim jeans", "payload": "100013"}, {"title": "#100003 · Slim jeans +1", "payload": "100003"}]
    which = {"event": "bot", "text": "Several of your orders have that.", "data": {"buttons": jeans},
             "metadata": {"utter_action": "utter_ask_which_order_with_item"}}
    liam = {"requested_slot": "order_number"}
    dispatcher = CollectingDispatcher()
    await ActionAskOrderNumber().run(dispatcher, tracker(liam, metadata=signed("cust-liam"), events=[*turn(), which, *turn()]), {})
    assert [(m["response"], m["buttons"]) for m in dispatcher.messages] == [("utter_ask_which_order_with_item", jeans)]
    # A later look-up (the form ended in between) asks among all the shopper's orders.
    dispatcher = CollectingDispatcher()
    ended = {"event": "active_loop", "name": None}
    await ActionAskOrderNumber().run(dispatcher, tracker(liam, metadata=signed("cust-liam"), events=[*turn(), which, ended, *turn()]), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_order_number_signed_in"]
    assert len(dispatcher.messages[0]["buttons"]) == 5


@pytest.mark.parametrize("text, number", [
    ("the second one", "100004"), ("yg kedua", "100004"), ("yg terakhir aja", "100001"), ("the 3rd", "100005"),
])
async def test_a_signed_in_shopper_picks_an_offered_order_by_its_place(text, number):
    offered = [{"title": f"#{n}", "payload": n} for n in ("100001", "100004", "100005")]
    question = {"event": "bot", "text": "Which order is it about?", "data": {"buttons": offered},
                "metadata": {"utter_action": "utter_ask_order_number_signed_in"}}
    goodbye = {"text": text, "intent": {"name": "goodbye", "confidence": 0.85}, "entities": [], "metadata": signed("cust-emma")}
    picked = Tracker("shopper", {"requested_slot": "order_number"}, goodbye,
                     [*turn(), question, {"event": "user", "text": text}], False, None, {"name": "order_lookup_form"}, "action_listen")
    assert not ValidateOrderLookupForm().interrupts("order_number", text, goodbye, picked)
    dispatcher = CollectingDispatcher()
    result = await ValidateOrderLookupForm().validate_order_number(text, dispatcher, picked, {})
    assert result["order_number"] == number and result["verified_by"] == "cust-emma"
    # Without offered buttons (an earlier session's, or none) it picks nothing: the goodbye is one.
    new_session = [*turn(), question, {"event": "action", "name": "action_session_start"}, {"event": "user", "text": text}]
    unoffered = Tracker("shopper", {"requested_slot": "order_number"}, goodbye, new_session, False, None, {}, "action_listen")
    assert ValidateOrderLookupForm().interrupts("order_number", text, goodbye, unoffered)


@pytest.mark.parametrize("text", ["talk to a human first", "last day to return?", "kapan batas terakhir retur?", "cek kedua pesanan saya"])
async def test_words_that_merely_contain_an_ordinal_pick_no_order(text):
    offered = [{"title": f"#{n}", "payload": n} for n in ("100001", "100004")]
    question = {"event": "bot", "text": "Which order?", "data": {"buttons": offered}, "metadata": {"utter_action": "utter_ask_order_number_signed_in"}}
    latest = {"text": text, "intent": {"name": "talk_to_human" if "human" in text else "faq"}, "entities": [], "metadata": signed("cust-emma")}
    asked = Tracker("shopper", {"requested_slot": "order_number"}, latest, [*turn(), question, {"event": "user", "text": text}], False, None, {}, "action_listen")
    assert ValidateOrderLookupForm().interrupts("order_number", text, latest, asked)


async def test_the_form_does_not_ask_twice_when_a_reply_already_asked_again():
    for ask in (ActionAskOrderNumber(), ActionAskOrderContact()):
        dispatcher = CollectingDispatcher()
        await ask.run(dispatcher, tracker(events=turn("utter_faq", "utter_invalid_contact")), {})
        assert dispatcher.messages == []
        await ask.run(dispatcher, tracker(events=turn("utter_faq")), {})
        assert len(dispatcher.messages) == 1


async def test_the_contact_question_thanks_for_the_number_only_right_after_it_and_names_the_order_else():
    dispatcher = CollectingDispatcher()
    await ActionAskOrderContact().run(dispatcher, tracker({"order_number": "100003"}, text="emma@example.com", events=turn("utter_order_not_found")), {})
    await ActionAskOrderContact().run(dispatcher, tracker({"order_number": "100003"}, text="where is 100003", events=turn()), {})
    given_before = [{"event": "slot", "name": "order_number", "value": "100003"}]
    await ActionAskOrderContact().run(dispatcher, tracker({"order_number": "100003"}, text="who ordered 100003?", events=given_before + turn()), {})
    assert [m["response"] for m in dispatcher.messages] == [
        "utter_ask_order_contact_again", "utter_ask_order_contact", "utter_ask_order_contact_for_order",
    ]


@pytest.mark.parametrize("bad", ["hello", "12", "DROP TABLE orders;--", "100245' OR '1'='1", "😀😀", "9" * 40, None])
async def test_malformed_order_numbers_are_refused_politely(bad):
    assert await validate_number(bad) == ({"order_number": None}, ["utter_invalid_order_number"])


async def test_well_formed_number_is_accepted_without_revealing_whether_it_exists():
    assert await validate_number("#100004") == ({"order_number": "100004"}, [])
    assert await validate_number("999999") == ({"order_number": "999999"}, [])


@pytest.mark.parametrize("contact", ["emma@example.com", "EMMA@example.com ", "+44 7700 900123", "07700 900123"])
async def test_right_contact_verifies_the_order(contact):
    result, responses = await validate_contact(contact, {"order_number": "100004"})
    assert result["verified_order"] == "100004" and responses == []


@pytest.mark.parametrize(
    "number, contact",
    [("100016", "emma@example.com"), ("999999", "emma@example.com"), ("100004", "liam@example.com")],
)
async def test_wrong_pair_looks_exactly_like_an_unknown_order(number, contact):
    result, responses = await validate_contact(contact, {"order_number": number})
    assert responses == ["utter_order_not_found"]
    # The number stays: the form asks for the contact again (or takes another order number).
    assert result == {"order_number": number, "order_contact": None, "verified_order": None, "verified_by": None}


async def test_contact_that_is_neither_email_nor_phone():
    assert await validate_contact("my name is emma", {"order_number": "100004"}) == (
        {"order_contact": None}, ["utter_invalid_contact"],
    )


async def test_after_eight_failures_the_bot_stops_asking_and_offers_a_human():
    for _ in range(7):
        assert (await validate_contact("x@example.com", {"order_number": "100004"}))[1] == ["utter_order_not_found"]
    result, responses = await validate_contact("x@example.com", {"order_number": "100004"})
    assert result["order_number"] == "100004" and responses == []  # the number stays: the form stops
    assert await required() == []
    dispatcher = CollectingDispatcher()
    await ActionAnswerOrderQuestion().run(dispatcher, tracker({"order_topic": "order_status"}), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_verification_locked"]


async def test_after_an_answer_a_signed_in_shopper_naming_another_item_asks_about_that_order():
    from actions.faq import ActionNotSure

    latest = {"text": "and the trainers?", "intent": {"name": "nlu_fallback"}, "intent_ranking": [], "entities": [], "metadata": signed("cust-emma")}
    events = [{"event": "action", "name": "action_answer_order_question"}, {"event": "action", "name": "action_listen"},
              {"event": "user", "text": latest["text"], "parse_data": latest}]
    slots = {"verified_order": "100002", "verified_by": "cust-emma", "order_number": "100002", "order_topic": "track_shipment"}
    after = Tracker("shopper", slots, latest, events, False, None, {}, "action_listen")
    assert await ActionNotSure(None).run(CollectingDispatcher(), after, {}) == [
        SlotSet("order_topic", "track_shipment"), FollowupAction("order_lookup_form")]


async def test_signed_in_shopper_cannot_open_someone_elses_order():
    result, responses = await validate_number("100016", metadata=signed("cust-emma"))
    assert responses == ["utter_order_not_in_account"] and result["verified_order"] is None and result["order_number"] is None
    # No such order at all: the same words, so that nothing tells which.
    assert (await validate_number("999999", metadata=signed("cust-emma")))[1] == ["utter_order_not_in_account"]
    result, responses = await validate_number("100004", metadata=signed("cust-emma"))
    assert result["verified_order"] == "100004" and result["verified_by"] == "cust-emma" and responses == []


async def test_order_verified_by_identity_is_hidden_once_the_identity_changes():
    slots = {"verified_order": "100004", "verified_by": "cust-emma", "order_number": "100004", "order_topic": "order_status"}
    assert await ValidateOrderLookupForm().required_slots([], CollectingDispatcher(), tracker(slots, metadata=signed("cust-emma")), {}) == []
    for metadata in (None, signed("cust-noah")):
        assert await required(slots, metadata=metadata) != []
        dispatcher = CollectingDispatcher()
        await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots, metadata=metadata), {})
        assert [m["response"] for m in dispatcher.messages] == ["utter_verification_locked"]


async def test_phone_typed_while_the_contact_is_asked_keeps_the_order_number():
    events = [{"event": "slot", "name": "order_number", "value": "100004"}, {"event": "user", "text": "07700 900123"}]
    slots = {"order_number": "900123", "requested_slot": "order_contact"}
    dispatcher = CollectingDispatcher()
    result = await ValidateOrderLookupForm().validate_order_number("900123", dispatcher, tracker(slots, events=events), {})
    assert result == {"order_number": "100004"}


async def test_contact_given_before_the_number_is_kept_for_later():
    assert await validate_contact("emma@example.com", {}) == ({"order_contact": "emma@example.com"}, [])


async def test_a_late_yes_cancels_nothing():
    dispatcher = CollectingDispatcher()
    late = [{"event": "action", "name": "action_answer_order_question"}, {"event": "user", "text": "thanks"},
            {"event": "action", "name": "utter_you_are_welcome"}, {"event": "user", "text": "yes"}]
    events = await ActionConfirmCancellation().run(dispatcher, tracker({"verified_order": "100001"}, events=late), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_how_can_i_help"]
    assert events == [SlotSet("follow_up", None)]
    responses, _, _ = await answer("100001", "cancel_order")
    assert responses == ["utter_ask_confirm_cancel"]  # still not cancelled


async def test_new_number_with_a_contact_given_first_is_checked_at_once():
    slots = {"order_contact": "emma@example.com"}
    result, _ = await validate_number("100005", slots)
    assert result["verified_order"] == "100005" and result["orders_proven"] == ["100005"]
    assert (await validate_number("100006", slots))[0] == {
        "order_number": "100006", "order_contact": None, "verified_order": None, "verified_by": None,
    }


def failed_tries():
    shop = desk.shop_context()
    with shop.sessions() as session:
        since = db.utcnow() - rules.VerificationLimits().client_window
        return db.verification_failure_times(session, shop.shop_id, since, client="sender:shopper")


async def test_several_orders_in_one_chat_each_proven_once_and_no_failed_guess_counted():
    emma = {"order_contact": "emma@example.com", "verified_order": "100004", "verified_by": "contact", "orders_proven": ["100004"]}
    # Emma's further order: no second proof.
    result, responses = await validate_number("100005", emma)
    assert result["verified_order"] == "100005" and result["orders_proven"] == ["100004", "100005"] and responses == []
    # Liam's order: Emma's e-mail is not tried on it (no failed try counted), the form asks for its contact.
    result, responses = await validate_number("100007", emma)
    assert result == {"order_number": "100007", "order_contact": None, "verified_order": None, "verified_by": None}
    assert responses == [] and failed_tries() == []
    result, _ = await validate_contact("liam@example.com", {**emma, **result})
    assert result["verified_order"] == "100007" and result["orders_proven"] == ["100004", "100007"]
    # Back to Emma's first order: proven before, shown without asking again.
    result, _ = await validate_number("100004", {**emma, **result})
    assert result["verified_order"] == "100004" and result["verified_by"] == "contact"


@pytest.mark.parametrize("ranking, topic", [
    ([("faq", 0.52), ("return_request", 0.44), ("change_address", 0.02)], "return_request"),
    ([("nlu_fallback", 0.6), ("faq", 0.3), ("out_of_scope", 0.1)], "order_status"),
    ([("out_of_scope", 0.56), ("track_shipment", 0.29), ("inform", 0.13)], "track_shipment"),
    # Read as a bare order number, but its words ask a question ("cancle ordr 100426")...
    ([("inform", 0.57), ("cancel_order", 0.35), ("return_request", 0.03)], "cancel_order"),
    # ... or not clearly: the question asked before goes on ("and 100005?").
    ([("inform", 0.8), ("track_shipment", 0.15)], "refund_status"),
])
async def test_a_faq_like_message_naming_an_order_asks_the_best_ranked_order_question(ranking, topic):
    latest = {"text": "can i return order 100005 instead", "intent": {"name": ranking[0][0]}, "metadata": {},
              "entities": [{"entity": "order_id", "value": "100005"}],
              "intent_ranking": [{"name": name, "confidence": c} for name, c in ranking]}
    asked_before = [{"event": "slot", "name": "order_topic", "value": "refund_status"}, {"event": "user", "text": latest["text"]}]
    form_tracker = Tracker("shopper", {"order_topic": "refund_status"}, latest, asked_before, False, None, {"name": "order_lookup_form"}, "action_listen")
    result = await ValidateOrderLookupForm().validate_order_number("100005", CollectingDispatcher(), form_tracker, {})
    assert result["order_number"] == "100005" and result.get("order_topic", "refund_status") == topic


async def test_no_answer_about_the_verified_order_while_another_is_asked_about():
    dispatcher = CollectingDispatcher()
    slots = {"verified_order": "100004", "verified_by": "contact", "order_number": "100007", "order_topic": "cancellation_reason"}
    await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_verification_locked"]


# --- answers ------------------------------------------------------------------

@pytest.mark.parametrize(
    "number, topic, expected",
    [
        ("100015", "order_status", ["utter_order_status_pending_payment"]),
        ("100001", "order_status", ["utter_order_status_ready_to_ship"]),
        ("100004", "order_status", ["utter_order_status_in_delivery"]),
        ("100005", "order_status", ["utter_order_status_delivered"]),
        ("100014", "order_status", ["utter_tracking_parcel_damaged"]),  # not "on its way"
        ("100003", "order_status", ["utter_late_not_shipped_late"]),  # past its deadline: not "it ships by ..."
        ("100014", "return_request", ["utter_tracking_parcel_damaged"]),  # not "not delivered yet"
        ("100014", "cancel_order", ["utter_tracking_parcel_damaged"]),
        ("100014", "refund_status", ["utter_tracking_parcel_damaged"]),  # its refund is what the team sorts out
        ("100007", "order_status", ["utter_order_status_cancelled", "utter_cancellation_reason_by_seller", "utter_refund_paid"]),
        ("100001", "track_shipment", ["utter_tracking_not_shipped"]),
        ("100003", "track_shipment", ["utter_late_not_shipped_late"]),  # no tracking, and past its deadline
        ("100015", "track_shipment", ["utter_order_status_pending_payment"]),  # not paid yet: nothing ships
        ("100004", "track_shipment", ["utter_tracking"]),
        ("100005", "track_shipment", ["utter_tracking_delivered"]),
        ("100009", "track_shipment", ["utter_tracking_parcel_lost"]),
        ("100014", "track_shipment", ["utter_tracking_parcel_damaged"]),
        ("100010", "track_shipment", ["utter_tracking_cancelled"]),
        ("100001", "late_delivery", ["utter_late_not_shipped_on_time"]),
        ("100002", "late_delivery", ["utter_late_not_shipped_at_risk"]),
        ("100003", "late_delivery", ["utter_late_not_shipped_late"]),
        ("100004", "late_delivery", ["utter_late_in_transit_on_time"]),
        ("100005", "late_delivery", ["utter_late_but_delivered"]),
        ("100008", "late_delivery", ["utter_cancellation_reason_automatic", "utter_refund_pending"]),
        ("100004", "cancellation_reason", ["utter_cancellation_not_cancelled"]),
        ("100013", "cancellation_reason", ["utter_after_sales_rejected"]),  # "why was it rejected?" about its return
        ("100008", "cancellation_reason", ["utter_cancellation_reason_automatic", "utter_refund_pending"]),
        ("100009", "cancellation_reason", ["utter_cancellation_reason_logistics_obstacle", "utter_refund_paid"]),
        ("100010", "cancellation_reason", ["utter_cancellation_reason_by_buyer", "utter_refund_paid"]),
        ("100004", "cancel_order", ["utter_cannot_cancel_in_delivery"]),
        ("100005", "cancel_order", ["utter_cannot_cancel_delivered"]),
        ("100004", "change_address", ["utter_cannot_change_address_in_delivery"]),
        ("100007", "change_address", ["utter_cannot_change_address_cancelled"]),
        ("100001", "return_request", ["utter_return_not_delivered"]),
        ("100006", "return_request", ["utter_return_window_closed"]),
        ("100011", "return_request", ["utter_after_sales_requested"]),
        ("100011", "refund_status", ["utter_after_sales_requested"]),
        ("100012", "refund_status", ["utter_after_sales_refunded"]),
        ("100013", "refund_status", ["utter_after_sales_rejected"]),
        ("100012", "return_request", ["utter_after_sales_refunded"]),  # no second refund
        ("100004", "refund_status", ["utter_no_after_sales_request"]),  # on its way: nothing to do yet
        ("100002", "refund_status", ["utter_no_refund_before_shipping"]),  # cancelling would refund it
        ("100005", "refund_status", ["utter_no_after_sales_request_delivered"]),  # returning it would
        ("100006", "refund_status", ["utter_no_after_sales_request"]),  # delivered, its return window closed
    ],
)
async def test_answers_for_each_topic_and_state(number, topic, expected):
    responses, messages, events = await answer(number, topic)
    assert responses == expected
    assert all(m.get("order_number") == number for m in messages)
    assert events == [SlotSet("follow_up", None)]


async def test_tracking_lists_the_latest_events():
    _, [message], _ = await answer("100004", "track_shipment")
    assert message["tracking_number"] == "SPXGB0123456789" and message["events"].count("•") >= 2


async def test_cancel_before_shipment_asks_then_records_a_request_for_the_seller(demo_shop):
    responses, messages, events = await answer("100001", "cancel_order")
    assert responses == ["utter_ask_confirm_cancel"] and events == [SlotSet("follow_up", "confirm_cancel")]
    dispatcher = CollectingDispatcher()
    events = await ActionConfirmCancellation().run(
        dispatcher, tracker({"verified_order": "100001"}, events=AFTER_CANCEL_QUESTION), {}
    )
    assert [m["response"] for m in dispatcher.messages] == ["utter_cancellation_requested"]
    assert events == [SlotSet("follow_up", None)]
    engine = db.make_engine(demo_shop)
    with db.make_session_factory(engine)() as session:
        order = db.get_order(session, db.get_shop(session, "demo").id, "100001")
        assert order.cancellation.type == "by_buyer" and order.cancellation.cancelled_at is None
        assert order.status == "ready_to_ship"  # the seller decides
    engine.dispose()
    responses, _, _ = await answer("100001", "cancel_order")
    assert responses == ["utter_cancellation_request_pending"]


async def test_an_unpaid_orders_cancellation_request_promises_no_refund(demo_shop):
    responses, _, _ = await answer("100015", "cancel_order")  # Noah's, waiting for payment
    assert responses == ["utter_ask_confirm_cancel"]
    dispatcher = CollectingDispatcher()
    await ActionConfirmCancellation().run(dispatcher, tracker({"verified_order": "100015"}, events=AFTER_CANCEL_QUESTION), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_cancellation_requested_unpaid"]


async def test_a_question_about_the_address_is_no_request_to_change_it():
    slots = {"verified_order": "100002", "verified_by": "contact", "order_number": "100002", "order_topic": "change_address"}
    for text, response in (("what address is it going to?", "utter_address_in_the_app"), ("can you change the address?", None)):
        dispatcher = CollectingDispatcher()
        events = await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots, events=asked(text, "change_address")), {})
        if response:
            assert [m["response"] for m in dispatcher.messages] == [response] and SlotSet("follow_up", None) in events
        else:
            assert dispatcher.messages == [] and SlotSet("follow_up", "address_form") in events  # the form asks for the address


async def test_declining_keeps_the_order():
    dispatcher = CollectingDispatcher()
    events = await ActionKeepOrder().run(dispatcher, tracker({"verified_order": "100001"}), {})
    assert dispatcher.messages[0]["response"] == "utter_order_kept"
    assert events == [SlotSet("follow_up", None)]


@pytest.mark.parametrize("text, response", [
    ("ga jadi batal kak", "utter_order_kept"), ("no, keep it", "utter_order_kept"), ("don't cancel, I'll keep it", "utter_order_kept"),
    # Read as keeping the order, but a yes to the cancellation question: the cancellation goes ahead.
    ("iya jadi batal", "utter_cancellation_requested"), ("jadi batal aja kak", "utter_cancellation_requested"),
    ("ok yes cancel it", "utter_cancellation_requested"),
    # Negations and questions the grammar does not take for a yes.
    ("ya, tidak jadi batal", "utter_order_kept"), ("iya ngga jadi batal", "utter_order_kept"), ("ok, no need to cancel", "utter_order_kept"),
    ("ok I won't cancel", "utter_order_kept"), ("ok so can I cancel?", "utter_order_kept"), ("ok, cancel my cancellation request", "utter_order_kept"),
])
async def test_an_answer_read_as_keeping_the_order_that_says_yes_to_cancelling_cancels(text, response):
    events = [*AFTER_CANCEL_QUESTION[:-1], {"event": "user", "text": text}]
    latest = {"text": text, "intent": {"name": "keep_order"}, "entities": [], "metadata": {}}
    asked = Tracker("shopper", {"verified_order": "100001", "follow_up": "confirm_cancel"}, latest, events, False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    await ActionKeepOrder().run(dispatcher, asked, {})
    assert [m["response"] for m in dispatcher.messages] == [response]


async def test_a_yes_to_cancelling_read_as_keeping_the_order_with_nothing_pending_asks_to_cancel():
    slots = {"verified_order": "100001", "verified_by": "contact", "order_number": "100001", "order_topic": "keep_order"}
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots, text="iya jadi batal", events=asked("iya jadi batal", "keep_order")), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_confirm_cancel"]
    # Taking back a request is never carried on to the next order named ("and 100002?").
    assert SlotSet("order_topic", None) not in events  # (here it was no taking back)
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots, text="keep my order", events=asked("keep my order", "keep_order")), {})
    assert [m["response"] for m in dispatcher.messages][0] == "utter_order_not_being_cancelled"
    assert SlotSet("order_topic", None) in events


@pytest.mark.parametrize("text, intent", [
    ("cancel my return for 100011", "cancel_order"),
    ("I don't want to return it anymore, I'll keep it", "keep_order"),
    ("batalkan retur 100011 kak", "return_request"),
])
async def test_cancelling_the_return_withdraws_the_return_request_not_the_order(demo_shop, text, intent):
    slots = {"verified_order": "100011", "verified_by": "contact", "order_number": "100011", "order_topic": intent}
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots, text=text, events=asked(text, intent, "100011")), {})
    assert [m["response"] for m in dispatcher.messages][0] == "utter_return_withdrawn"
    assert SlotSet("order_topic", None) in events and SlotSet("follow_up", None) in events  # done: nothing asked back
    # Said again: nothing is left to withdraw.
    dispatcher = CollectingDispatcher()
    await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots, text=text, events=asked(text, intent, "100011")), {})
    assert [m["response"] for m in dispatcher.messages][0] == "utter_no_return_to_withdraw"


async def test_cancelling_an_order_whose_return_waits_for_the_seller_with_the_return_named_withdraws_the_return(demo_shop):
    text = "i started a return on 100011 by mistake, can u cancel it"
    slots = {"verified_order": "100011", "verified_by": "contact", "order_number": "100011", "order_topic": "cancel_order"}
    dispatcher = CollectingDispatcher()
    await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots, text=text, events=asked(text, "cancel_order", "100011")), {})
    assert [m["response"] for m in dispatcher.messages][0] == "utter_return_withdrawn"
    # With no return waiting, the same words are about the order itself.
    dispatcher = CollectingDispatcher()
    await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots, text=text, events=asked(text, "cancel_order", "100011")), {})
    assert [m["response"] for m in dispatcher.messages][0] == "utter_cannot_cancel_delivered"


async def test_another_orders_question_while_a_cancellation_waits_for_a_yes_asks_it_again(demo_shop):
    text = "actually where is 100004 first?"
    events = [{"event": "slot", "name": "verified_order", "value": "100001"},
              {"event": "bot", "text": "Do you want me to cancel order 100001?", "metadata": {"utter_action": "utter_ask_confirm_cancel"}},
              *asked(text, "track_shipment", "100004"), {"event": "slot", "name": "verified_order", "value": "100004"}]
    slots = {"verified_order": "100004", "verified_by": "contact", "order_number": "100004", "order_topic": "track_shipment",
             "follow_up": "confirm_cancel"}
    dispatcher = CollectingDispatcher()
    result = await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots, text=text, events=events), {})
    said = [m["response"] for m in dispatcher.messages]
    assert said[0].startswith("utter_tracking") and said[-1] == "utter_ask_confirm_cancel"
    assert dispatcher.messages[-1]["order_number"] == "100001"
    # The yes that follows is for 100001.
    assert SlotSet("verified_order", "100001") in result and result[-1] == SlotSet("follow_up", "confirm_cancel")
    assert SlotSet("order_number", "100001") in result  # (else the verified order is not the one asked about)


async def test_calling_off_the_return_being_asked_for_drops_it(demo_shop):
    slots = {"verified_order": "100005", "verified_by": "contact", "order_number": "100005", "order_topic": "cancel_order"}
    text = "never mind, cancel the return"
    form_asked = [{"event": "slot", "name": "requested_slot", "value": "return_kind"}, *asked(text, "cancel_order")]
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots, text=text, events=form_asked), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_form_stopped"]
    assert SlotSet("follow_up", None) in events


async def test_cancelling_the_order_and_returning_it_is_no_withdrawal(demo_shop):
    slots = {"verified_order": "100005", "verified_by": "contact", "order_number": "100005", "order_topic": "cancel_order"}
    text = "cancel my order and return it"
    dispatcher = CollectingDispatcher()
    await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots, text=text, events=asked(text, "cancel_order", "100005")), {})
    assert [m["response"] for m in dispatcher.messages][0] == "utter_cannot_cancel_delivered"


async def test_a_yes_with_the_order_after_its_question_was_left_cancels_without_asking_again(demo_shop):
    slots = {"verified_order": "100001", "verified_by": "contact", "order_number": "100001", "order_topic": "cancel_order"}
    asked_before = [{"event": "slot", "name": "verified_order", "value": "100001"},
                    {"event": "bot", "text": "Do you want me to cancel order 100001?", "metadata": {"utter_action": "utter_ask_confirm_cancel"}},
                    *asked("wait, where is 100004 first", "track_shipment", "100004"), {"event": "slot", "name": "verified_order", "value": "100004"},
                    {"event": "slot", "name": "verified_order", "value": "100001"}]
    # A question, the question again; a yes (or the request said again), the cancellation.
    for text, response in (("can I still cancel 100001?", "utter_ask_confirm_cancel"), ("ok now yes cancel 100001", "utter_cancellation_requested")):
        dispatcher = CollectingDispatcher()
        latest_asked = asked(text, "cancel_order", "100001")
        await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots, text=text, events=[*asked_before, *latest_asked]), {})
        assert [m["response"] for m in dispatcher.messages][0] == response
    # Never asked before: the question comes first, whatever the words.
    dispatcher = CollectingDispatcher()
    await ActionAnswerOrderQuestion().run(dispatcher, tracker({**slots, "verified_order": "100002", "order_number": "100002"},
                                                              text="yes cancel 100002", events=asked("yes cancel 100002", "cancel_order", "100002")), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_confirm_cancel"]
    # The question answered "no" (or a re-run for "are you a bot?" in between, the request's own
    # words unchanged): nothing is cancelled without a yes.
    answered = [*asked_before[:2], {"event": "action", "name": "action_keep_order"}, *asked_before[2:]]
    dispatcher = CollectingDispatcher()
    await ActionAnswerOrderQuestion().run(dispatcher, tracker({**slots, "verified_order": "100004", "order_number": "100004"},
                                                              text="yes cancel 100004", events=[*answered, *asked("yes cancel 100004", "cancel_order", "100004")]), {})
    assert [m["response"] for m in dispatcher.messages] != ["utter_cancellation_requested"]


async def test_address_change_before_shipment():
    responses, _, events = await answer("100002", "change_address")
    assert responses == [] and events == [SlotSet("follow_up", "address_form")]
    form = ValidateAddressForm()
    assert form.validate_new_address("nope", CollectingDispatcher(), tracker(), {}) == {"new_address": None}
    assert form.validate_new_address(" 12  Rose Street,\nLondon E2 7AB ", CollectingDispatcher(), tracker(), {}) == {
        "new_address": "12 Rose Street, London E2 7AB"
    }
    dispatcher = CollectingDispatcher()
    await ActionSubmitAddressChange().run(
        dispatcher, tracker({"verified_order": "100002", "new_address": "12 Rose Street, London E2 7AB"}), {}
    )
    assert dispatcher.messages[0]["response"] == "utter_address_change_requested"


@pytest.mark.parametrize("typed, address", [
    ("ok change it to 12 Baker Street, London NW1 6XE", "12 Baker Street, London NW1 6XE"),
    ("my new address is Hauptstraße 5, 10115 Berlin", "Hauptstraße 5, 10115 Berlin"),
    ("Okay, it's 3 rue de Rivoli, 75001 Paris", "3 rue de Rivoli, 75001 Paris"),
    ("alamat baru saya Jl. Sudirman No. 5, Jakarta 10220", "Jl. Sudirman No. 5, Jakarta 10220"),
    ("kirim ke Jl. Merdeka 10, Bandung 40111", "Jl. Merdeka 10, Bandung 40111"),
    ("Toorstraat 5, 1012 AB Amsterdam", "Toorstraat 5, 1012 AB Amsterdam"),  # "To..." is the street's
    ("ok here it is: 4 Elm Grove, Leeds LS6 2AB", "4 Elm Grove, Leeds LS6 2AB"),
    ("ini kak, Jl. Kenanga 3, Medan 20111", "Jl. Kenanga 3, Medan 20111"),
])
def test_the_address_is_recorded_without_the_words_around_it(typed, address):
    assert ValidateAddressForm().validate_new_address(typed, CollectingDispatcher(), tracker(), {}) == {"new_address": address}


@pytest.mark.parametrize(
    "kind, reason, expected, status_then",
    [
        # €24.90, damaged, 3 days: the rule applies; what happens next depends on the kind.
        ("return_and_refund", "damaged", "utter_return_auto_approved", "utter_after_sales_approved"),
        ("refund_only", "damaged", "utter_return_auto_approved_refund_only", "utter_after_sales_approved_refund_only"),
        ("replacement", "damaged", "utter_return_auto_approved_replacement", "utter_after_sales_approved_replacement"),
        ("return_and_refund", "changed_mind", "utter_return_requested", "utter_after_sales_requested"),  # reason not in the rule
    ],
)
async def test_return_request_applies_the_auto_approval_rule(kind, reason, expected, status_then):
    responses, _, events = await answer("100005", "return_request")
    assert responses == [] and events == [SlotSet("return_kind", None), SlotSet("return_reason", None), SlotSet("follow_up", "return_form")]
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitReturn().run(
        dispatcher, tracker({"verified_order": "100005", "return_kind": kind, "return_reason": reason}), {}
    )
    assert [m["response"] for m in dispatcher.messages] == [expected]
    assert events == [SlotSet("return_kind", None), SlotSet("return_reason", None), SlotSet("follow_up", None)]
    responses, _, _ = await answer("100005", "refund_status")
    assert responses == [status_then]


async def test_a_rejected_request_gets_one_second_round_without_the_seller_rule():
    responses, _, events = await answer("100013", "return_request")
    # What happened to the first request, then the form asks for the choice again.
    assert responses == ["utter_return_declined_ask_again"] and events == [SlotSet("return_kind", None), SlotSet("return_reason", None), SlotSet("follow_up", "return_form")]
    dispatcher = CollectingDispatcher()
    slots = {"verified_order": "100013", "return_kind": "return_and_refund", "return_reason": "damaged"}
    await ActionSubmitReturn().run(dispatcher, tracker(slots), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_return_second_round"]
    responses, _, _ = await answer("100013", "return_request")
    assert responses == ["utter_after_sales_requested"]  # no third round


@pytest.mark.parametrize(
    "text, kind",
    [("Return and refund", "return_and_refund"), ("Refund only", "refund_only"), ("can i get an exchange", "replacement"), ("banana", None)],
)
def test_return_kind_choices(text, kind):
    assert ValidateReturnForm().validate_return_kind(text, CollectingDispatcher(), tracker(), {}) == {"return_kind": kind}


@pytest.mark.parametrize(
    "text, reason",
    [("Damaged", "damaged"), ("it's too small", "size_fit"), ("they sent the wrong colour", "wrong_item"), ("zzz", None)],
)
def test_return_reason_choices(text, reason):
    assert ValidateReturnForm().validate_return_reason(text, CollectingDispatcher(), tracker(), {}) == {"return_reason": reason}


@pytest.mark.parametrize("slot, words", [("return_kind", KIND_WORDS), ("return_reason", REASON_WORDS)])
def test_each_indonesian_button_title_typed_out_is_its_own_choice(slot, words):
    [translated] = indonesian("utter_ask_return_kind" if slot == "return_kind" else "utter_ask_return_reason")
    for button in translated["buttons"]:
        value = json.loads(button["payload"].removeprefix("/inform"))[slot]
        assert choose(button["title"], words) == value, button["title"]


@pytest.mark.parametrize("text, result", [
    ("no wait, I'd rather get a new one sent instead", {"return_kind": "replacement", "return_reason": None}),
    ("mau tukar aja kak", {"return_kind": "replacement", "return_reason": None}),
    ("it's broken, I want a new one", {"return_reason": "damaged"}),  # a reason: the kind stays
    ("forget it, I'll keep it", {"return_reason": None}),  # no kind: "keep" here means no return
    ("return and refund", {"return_reason": None}),  # the kind already chosen: asked again
    ("I just want a refund", {"return_reason": None}),  # the refund kinds share words: no change
])
def test_another_kind_named_while_the_reason_is_asked_changes_the_kind(text, result):
    chosen = tracker({"return_kind": "return_and_refund", "requested_slot": "return_reason"})
    assert ValidateReturnForm().validate_return_reason(text, CollectingDispatcher(), chosen, {}) == result


async def test_a_reason_given_while_the_kind_is_asked_is_kept_and_no_person_is_called():
    # "barang rusak" is a sensitive phrase of the demo shop: the NLU reads it as a request for a person.
    message = {"text": "barang rusak", "intent": {"name": "talk_to_human"}, "entities": [{"entity": "handoff_topic", "value": "parcel"}]}
    form = ValidateReturnForm()
    assert not form.interrupts("return_kind", "barang rusak", message)
    assert form.interrupts("return_kind", "kenapa lama sekali?", message)
    dispatcher = CollectingDispatcher()
    assert form.validate_return_kind("barang rusak", dispatcher, tracker(), {}) == {"return_kind": None, "return_reason": "damaged"}
    assert dispatcher.messages == []  # the form asks for the kind again, nothing more


# --- the vocabulary, the words and domain.yml agree ------------------------------------------

def test_every_return_choice_has_words_and_a_display_text():
    assert set(KIND_WORDS) == set(vocabulary.AFTER_SALES_KINDS) == set(vocabulary.KIND_TEXT)
    assert set(REASON_WORDS) == set(vocabulary.RETURN_REASONS) == set(vocabulary.REASON_TEXT)
    assert set(vocabulary.STATUS_TEXT) == set(vocabulary.ORDER_STATUSES)


def test_domain_has_a_response_for_every_value_the_desk_names():
    responses = load_responses(Config.from_env().project_dir / "domain.yml")
    named = (
        [f"utter_order_status_{status}" for status in vocabulary.ORDER_STATUSES]
        + [f"utter_cancellation_reason_{type_}" for type_ in vocabulary.CANCELLATION_TYPES]
        + [f"utter_after_sales_{status}" for status in vocabulary.AFTER_SALES_STATUSES + (vocabulary.PLATFORM_APPROVED,)]
        + [f"utter_tracking_parcel_{problem}" for problem in vocabulary.PARCEL_PROBLEMS]
        + [
            f"utter_cannot_change_address_{status}"
            for status in vocabulary.ORDER_STATUSES if not rules.buyer_may_change_address(status)
        ]
    )
    assert [name for name in named if name not in responses] == []


@pytest.mark.parametrize(
    "response, slot, texts",
    [("utter_ask_return_kind", "return_kind", vocabulary.KIND_TEXT), ("utter_ask_return_reason", "return_reason", vocabulary.REASON_TEXT)],
)
def test_the_return_forms_buttons_carry_vocabulary_values_under_their_display_texts(response, slot, texts):
    buttons = load_responses(Config.from_env().project_dir / "domain.yml")[response][0]["buttons"]
    for button in buttons:
        value = json.loads(button["payload"].removeprefix("/inform"))[slot]
        assert button["title"].lower().startswith(texts[value]), button


RESPONSES = load_responses(Config.from_env().project_dir / "domain.yml")
PLACEHOLDER = re.compile(r"{([^{}]+)}")


def indonesian(name):
    return [v for v in RESPONSES[name] if {"type": "slot", "name": "language", "value": "id"} in (v.get("condition") or [])]


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_every_response_has_an_indonesian_variation_with_the_same_values_and_buttons(name):
    english, [translated] = RESPONSES[name][0], indonesian(name)
    assert set(PLACEHOLDER.findall(translated["text"])) == set(PLACEHOLDER.findall(english["text"]))
    offered = [b["payload"] for b in translated.get("buttons") or []]
    assert all(payload in offered for payload in [b["payload"] for b in english.get("buttons") or []])
    assert translated["text"] != english["text"]


async def test_an_indonesian_shopper_gets_dates_and_names_in_indonesian():
    dispatcher = CollectingDispatcher()
    slots = {"verified_order": "100007", "order_number": "100007", "order_topic": "order_status", "language": "id"}
    await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots), {})
    english = CollectingDispatcher()
    await ActionAnswerOrderQuestion().run(english, tracker({**slots, "language": None}), {})
    [(said, told)] = [(m, e) for m, e in zip(dispatcher.messages, english.messages) if m["response"] == "utter_cancellation_reason_by_seller"]
    assert said["cancelled_on"].split()[0] in ("Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min")
    assert told["cancelled_on"].split()[0] in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    assert said["cancelled_on"].split()[1] == told["cancelled_on"].split()[1]  # the same day
    dispatcher = CollectingDispatcher()
    await ActionAnswerOrderQuestion().run(dispatcher, tracker({**slots, "verified_order": "100004", "order_number": "100004", "order_topic": "cancellation_reason"}), {})
    assert dispatcher.messages[0]["status_text"] == vocabulary.STATUS_TEXT_ID[vocabulary.IN_DELIVERY]


async def test_closed_database_gets_a_clear_reply(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    desk.close_shop_context()  # the next action opens the shop from the environment above
    dispatcher = CollectingDispatcher()
    await ActionAnswerOrderQuestion().run(dispatcher, tracker({"verified_order": "100004", "order_topic": "order_status"}), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_orders_unavailable"]


def test_indonesian_answers_give_the_carriers_and_the_marketplaces_standard_words_in_indonesian():
    indonesian = desk.order_desk("id")
    [tracking] = indonesian.answer("track_shipment", "100004")
    assert "Tiba di pusat sortir" in tracking.values["events"] and "Arrived" not in tracking.values["events"]
    reasons = {reply.values.get("reason") for number in ("100007", "100008", "100009") for reply in indonesian.answer("cancellation_reason", number)}
    assert {"Stok habis", "Tidak dikirim dalam 12 hari", "Paket hilang dalam perjalanan"} <= reasons
    # In English, and for words the table does not know, as written.
    assert "Arrived at sorting centre" in desk.order_desk().answer("track_shipment", "100004")[0].values["events"]
    assert indonesian.wording.phrase("Left at the neighbour's") == "Left at the neighbour's"


def asked(text, intent, *numbers):
    """The shopper's message that asked the order question, as the tracker keeps it."""
    entities = [{"entity": "order_id", "value": number} for number in numbers]
    return [{"event": "user", "text": text, "parse_data": {"text": text, "intent": {"name": intent}, "entities": entities}}]


async def test_a_question_about_several_orders_answers_each_the_shopper_may_see():
    emma = {"verified_order": "100004", "verified_by": "contact", "order_number": "100004", "order_topic": "order_status", "orders_proven": ["100004"]}
    dispatcher = CollectingDispatcher()
    # (a message the model was unsure of, but that names orders, asked it: the rules make it an order question)
    events = await ActionAnswerOrderQuestion().run(
        dispatcher, tracker(emma, events=asked("where are 100004, 100005 and 100016?", "nlu_fallback", "100004", "100005", "100016")), {},
    )
    responses = [m["response"] for m in dispatcher.messages]
    # Emma's own two orders are answered; Noah's 100016 is only offered, to be proven on its own.
    assert responses == ["utter_order_status_in_delivery", "utter_order_status_delivered", "utter_ask_about_other_orders"]
    assert [b["payload"] for b in dispatcher.messages[-1]["buttons"]] == ["100016"]
    assert SlotSet("orders_proven", ["100004", "100005"]) in events
    assert "100016" not in json.dumps(dispatcher.messages[:2])


async def test_a_follow_up_naming_another_order_is_about_that_order_only():
    emma = {"verified_order": "100005", "verified_by": "contact", "order_number": "100005", "order_topic": "track_shipment", "orders_proven": ["100004", "100005"]}
    events = [*asked("where is 100004", "track_shipment", "100004"), *asked("emma@example.com", "inform"), *asked("and 100005?", "inform", "100005")]
    dispatcher = CollectingDispatcher()
    await ActionAnswerOrderQuestion().run(dispatcher, tracker(emma, events=events), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_tracking_delivered"]


async def test_a_new_question_naming_no_order_is_not_about_the_orders_of_an_earlier_one():
    emma = {"verified_order": "100005", "verified_by": "contact", "order_number": "100005", "order_topic": "track_shipment", "orders_proven": ["100004", "100005"]}
    earlier = [*asked("where are 100004 and 100005", "track_shipment", "100004", "100005"),
               {"event": "slot", "name": "requested_slot", "value": "order_contact"}, *asked("emma@example.com", "inform"),
               {"event": "slot", "name": "requested_slot", "value": None}]
    dispatcher = CollectingDispatcher()
    await ActionAnswerOrderQuestion().run(dispatcher, tracker(emma, events=[*earlier, *asked("has it shipped yet?", "track_shipment")]), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_tracking_delivered"]
    # The contact given for the two-order question: both are answered.
    dispatcher = CollectingDispatcher()
    await ActionAnswerOrderQuestion().run(dispatcher, tracker({**emma, "verified_order": "100004", "order_number": "100004"}, events=earlier[:-1]), {})
    assert len(dispatcher.messages) == 2


async def test_a_phone_number_given_as_the_contact_is_no_other_order():
    emma = {"verified_order": "100004", "verified_by": "contact", "order_number": "100004", "order_topic": "track_shipment", "orders_proven": ["100004"]}
    # (the ruler reads a phone written without "+" as an order number; the form took it as the contact)
    events = [*asked("where is my order 100004?", "track_shipment", "100004"),
              {"event": "slot", "name": "requested_slot", "value": "order_contact"}, *asked("447700900123", "inform", "447700900123"),
              {"event": "slot", "name": "order_contact", "value": "447700900123"}, {"event": "slot", "name": "requested_slot", "value": None}]
    dispatcher = CollectingDispatcher()
    await ActionAnswerOrderQuestion().run(dispatcher, tracker(emma, events=events), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_tracking"]


async def test_a_contact_typed_after_the_other_orders_are_offered_is_checked_on_the_first_of_them():
    offer = {"event": "bot", "text": "You also asked about these orders.", "metadata": {"utter_action": "utter_ask_about_other_orders"},
             "data": {"buttons": [{"title": "#100003", "payload": "100003"}]}}
    slots = {"verified_order": "100001", "verified_by": "contact", "order_number": "100001", "orders_proven": ["100001"], "requested_slot": None}
    latest = {"text": "liam@example.com", "intent": {"name": "inform"}, "entities": [{"entity": "email", "value": "liam@example.com"}], "metadata": {}}
    events = [*asked("status 100001 and 100003", "order_status", "100001", "100003"), offer, {"event": "user", "text": latest["text"], "parse_data": latest}]
    typed = Tracker("shopper", slots, latest, events, False, None, {"name": "order_lookup_form"}, "action_listen")
    form = ValidateOrderLookupForm()
    assert await form.required_slots([], CollectingDispatcher(), typed, {}) == ["order_number", "order_contact"]
    assert await form.extract_order_number(CollectingDispatcher(), typed, {}) == {"order_number": "100003"}
    # ... and checked on it: Liam's e-mail proves his order.
    proving = Tracker("shopper", {**slots, "order_number": "100003", "order_contact": "liam@example.com"}, latest, events, False, None, {}, "action_listen")
    result = await form.validate_order_number("100003", CollectingDispatcher(), proving, {})
    assert result["verified_order"] == "100003" and result["orders_proven"] == ["100001", "100003"]
    # Once the shopper has written something else in between, a contact is no longer for the offer.
    later = [*events[:-1], {"event": "user", "text": "thanks"}, {"event": "bot", "text": "You're welcome!"}, events[-1]]
    assert await form.required_slots([], CollectingDispatcher(), Tracker("shopper", slots, latest, later, False, None, {}, "action_listen"), {}) == []


async def test_a_signed_in_shopper_asking_about_several_orders_sees_only_their_own():
    slots = {"verified_order": "100004", "verified_by": "cust-emma", "order_number": "100004", "order_topic": "track_shipment"}
    dispatcher = CollectingDispatcher()
    await ActionAnswerOrderQuestion().run(
        dispatcher, tracker(slots, metadata=signed("cust-emma"), events=asked("track 100004 and 100016", "track_shipment", "100004", "100016")), {},
    )
    assert [m["response"] for m in dispatcher.messages] == ["utter_tracking", "utter_ask_about_other_orders"]


async def test_an_order_picked_by_its_item_after_a_refused_number_brings_no_earlier_order_back():
    # Signed-in Emma asked "and 100003?" (Liam's: refused), then, asked which order, named an item.
    slots = {"verified_order": "100014", "verified_by": "cust-emma", "order_number": "100014", "order_topic": "order_status"}
    events = [*asked("and 100003?", "order_status", "100003"), {"event": "slot", "name": "requested_slot", "value": "order_number"},
              *asked("where's my lamp and candle order", "order_status"), {"event": "slot", "name": "requested_slot", "value": None}]
    dispatcher = CollectingDispatcher()
    await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots, metadata=signed("cust-emma"), events=events), {})
    responses = [m["response"] for m in dispatcher.messages]
    assert "utter_ask_about_other_orders" not in responses and "100003" not in json.dumps(dispatcher.messages)
    # Orders named as the answer to that question are this look-up's all the same.
    events[-2:-1] = asked("100014 and 100016", "inform", "100014", "100016")
    dispatcher = CollectingDispatcher()
    await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots, metadata=signed("cust-emma"), events=events), {})
    assert [b["payload"] for b in dispatcher.messages[-1]["buttons"]] == ["100016"]


@pytest.mark.parametrize("text, number", [
    ("the one that hasnt shipped", "100002"), ("yg belum dikirim kak", "100002"), ("the delivered one", "100011"),
    ("the one not delivered yet", None),  # a negation: no delivered one, and no shipping word either
    ("the grey one", None),  # no state: asked again
])
async def test_a_signed_in_shopper_picks_an_offered_order_by_where_it_is(text, number):
    hoodies = [{"title": "#100011 · Zip hoodie", "payload": "100011"}, {"title": "#100002 · Zip hoodie", "payload": "100002"}]
    which = {"event": "bot", "text": "Several of your orders have that.", "data": {"buttons": hoodies},
             "metadata": {"utter_action": "utter_ask_which_order_with_item"}}
    latest = {"text": text, "intent": {"name": "inform"}, "entities": [], "metadata": signed("cust-emma")}
    asked = Tracker("shopper", {"requested_slot": "order_number"}, latest, [*turn(), which, {"event": "user", "text": text}],
                    False, None, {"name": "order_lookup_form"}, "action_listen")
    result = await ValidateOrderLookupForm().validate_order_number(None, CollectingDispatcher(), asked, {})
    assert result.get("order_number") == number


async def test_an_order_question_about_another_item_while_asked_which_order_is_about_that_item():
    hoodies = [{"title": "#100011 · Zip hoodie", "payload": "100011"}, {"title": "#100002 · Zip hoodie", "payload": "100002"}]
    which = {"event": "bot", "text": "Several of your orders have that.", "data": {"buttons": hoodies},
             "metadata": {"utter_action": "utter_ask_which_order_with_item"}}
    latest = {"text": "can I cancel the t-shirt order?", "intent": {"name": "cancel_order"}, "entities": [], "metadata": signed("cust-emma")}
    asked = Tracker("shopper", {"requested_slot": "order_number"}, latest, [*turn(), which, {"event": "user", "text": latest["text"]}],
                    False, None, {"name": "order_lookup_form"}, "action_listen")
    dispatcher = CollectingDispatcher()
    assert await ValidateOrderLookupForm().validate_order_number(None, dispatcher, asked, {}) == {"order_number": None}
    [message] = dispatcher.messages  # which of the t-shirt orders, not the hoodies again
    assert message["response"] == "utter_ask_which_order_with_item"
    assert {b["payload"] for b in message["buttons"]} == {"100001", "100011"}


async def test_a_reply_that_picks_none_of_the_offered_orders_gets_the_offer_again_not_an_order_number_lecture():
    hoodies = [{"title": "#100011 · Zip hoodie", "payload": "100011"}, {"title": "#100002 · Zip hoodie", "payload": "100002"}]
    which = {"event": "bot", "text": "Several of your orders have that.", "data": {"buttons": hoodies},
             "metadata": {"utter_action": "utter_ask_which_order_with_item"}}
    latest = {"text": "yes", "intent": {"name": "affirm"}, "entities": [], "metadata": signed("cust-emma")}
    events = [*turn(), which, {"event": "user", "text": "yes", "parse_data": latest}]
    yes = Tracker("shopper", {"requested_slot": "order_number"}, latest, events, False, None, {"name": "order_lookup_form"}, "action_listen")
    dispatcher = CollectingDispatcher()
    assert await ValidateOrderLookupForm().validate_order_number(None, dispatcher, yes, {}) == {"order_number": None}
    assert dispatcher.messages == []
    await ActionAskOrderNumber().run(dispatcher, yes, {})
    assert [(m["response"], m["buttons"]) for m in dispatcher.messages] == [("utter_ask_which_order_with_item", hoodies)]
    # Without order buttons offered, the number is asked for again as before.
    plain = Tracker("shopper", {"requested_slot": "order_number"}, {**latest, "metadata": {}}, [*turn(), {"event": "user", "text": "yes"}],
                    False, None, {"name": "order_lookup_form"}, "action_listen")
    dispatcher = CollectingDispatcher()
    await ValidateOrderLookupForm().validate_order_number(None, dispatcher, plain, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_invalid_order_number"]


async def test_a_question_while_the_cancellation_waits_is_answered_then_the_cancellation_asked_again():
    slots = {"verified_order": "100001", "verified_by": "contact", "order_number": "100001", "order_topic": "refund_status", "follow_up": "confirm_cancel"}
    asked_about = lambda number: [{"event": "slot", "name": "verified_order", "value": number}, {"event": "user", "text": "..."}]
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots, events=asked_about("100001")), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_no_refund_before_shipping", "utter_ask_confirm_cancel"]
    assert events == [SlotSet("follow_up", "confirm_cancel")]
    # A question about another order: the shopper moved on, the cancellation is not asked again.
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerOrderQuestion().run(dispatcher, tracker(slots, events=asked_about("100002")), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_no_refund_before_shipping"]
    assert events == [SlotSet("follow_up", None)]


async def test_of_several_orders_in_one_message_the_first_is_looked_up_first():
    message = {"text": "where are 100004 and 100005", "intent": {"name": "order_status"},
               "entities": [{"entity": "order_id", "value": "100004"}, {"entity": "order_id", "value": "100005"}]}
    lookup = Tracker("shopper", {"order_contact": None}, message, [], False, None, {"name": "order_lookup_form"}, "action_listen")
    result = await ValidateOrderLookupForm().validate_order_number("100005", CollectingDispatcher(), lookup, {})
    assert result["order_number"] == "100004"


async def test_a_reason_given_with_the_return_request_is_not_asked_again():
    slots = {"verified_order": "100005", "verified_by": "contact", "order_number": "100005", "order_topic": "return_request"}
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerOrderQuestion().run(
        dispatcher, tracker(slots, events=asked("i want to return 100005, it arrived broken", "return_request", "100005")), {},
    )
    assert events == [SlotSet("return_kind", None), SlotSet("return_reason", "damaged"), SlotSet("follow_up", "return_form")]
    # A question names no reason ("can I return it if it's the wrong size?"): the form asks
    # both, whatever a return the shopper left half-way had chosen.
    left_half_way = {**slots, "return_kind": "refund_only", "return_reason": "size_fit"}
    events = await ActionAnswerOrderQuestion().run(
        CollectingDispatcher(), tracker(left_half_way, events=asked("can I return 100005 if it's the wrong size?", "return_request", "100005")), {},
    )
    assert events == [SlotSet("return_kind", None), SlotSet("return_reason", None), SlotSet("follow_up", "return_form")]
    # A question while the form asks for the reason keeps the kind chosen.
    mid_form = [{"event": "slot", "name": "requested_slot", "value": "return_reason"},
                *asked("can I return 100005 if it's the wrong size?", "return_request", "100005")]
    events = await ActionAnswerOrderQuestion().run(CollectingDispatcher(), tracker(left_half_way, events=mid_form), {})
    assert events == [SlotSet("follow_up", "return_form")]


@pytest.mark.parametrize("text, named", [
    ("check order 100003 - sorry I meant 100002", ["100002"]),
    ("cek pesanan 100003 eh salah, maksudnya 100002", ["100002"]),
    ("where are 100004 and 100005?", ["100004", "100005"]),
    ("I mean, where is 100004?", ["100004"]),  # nothing before the correction
])
def test_a_correction_names_only_the_orders_after_it(text, named):
    entities = [{"entity": "order_id", "value": m.group(), "start": m.start()} for m in re.finditer(r"\d{6}", text)]
    assert named_orders({"text": text, "entities": entities}) == named
    # Without positions (older events), by where the number stands in the text.
    assert named_orders({"text": text, "entities": [{"entity": "order_id", "value": e["value"]} for e in entities]}) == named


async def test_the_corrected_order_is_looked_up(demo_shop):
    text = "hi, I want to check order 100001 - sorry I meant 100002"
    entities = [{"entity": "order_id", "value": "100001", "start": 26}, {"entity": "order_id", "value": "100002", "start": 50}]
    latest = {"text": text, "intent": {"name": "order_status"}, "entities": entities, "metadata": {}}
    asked_it = Tracker("shopper", {"order_number": "100001", "requested_slot": None}, latest,
                       [{"event": "user", "text": text, "parse_data": latest}], False, None, {}, "action_listen")
    slots = await ValidateOrderLookupForm().validate_order_number("100001", CollectingDispatcher(), asked_it, {})
    assert slots["order_number"] == "100002"
