"""The FAQ actions with rasa_sdk's Tracker and CollectingDispatcher, on FAQ files in a
temporary folder (and the demo database where the action records something)."""
import shutil
import time

import pytest

from rasa_sdk import Tracker
from rasa_sdk.events import SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.desk import bot_responses
from actions.faq import ASKS_WHAT_IT_MEANT, ActionAnswerFaq, ActionNotSure, ActionOutOfScope, ActionPlainNo, ActionSessionStart
from bot.config import Config
from bot.shop import db
from bot.shop.demo import DEMO_IDENTITY_SECRET
from bot.shop.identity import signed_identity
from bot.faq.store import FaqStore

FAQS = """\
category: after-sales
faqs:
  - id: return_policy
    question: What is your return policy?
    question_id: Bagaimana kebijakan retur?
    similar: [can I return things, return window, returns accepted]
    answer: You can return items within 15 days of delivery.
    answer_id: Barang bisa dikembalikan dalam 15 hari sejak diterima.
    buttons:
      - title: Start a return
        payload: /return_request
        title_id: Ajukan retur
    welcome: true
  - id: refund_timing
    question: How long does a refund take?
    similar: [when do i get my money, refund time, how fast is the refund]
    answer: Refunds reach you within 5 working days.
"""
DOMAIN = {"responses": {"utter_button_talk_to_human": [{"text": "Talk to a person"}]}}


def tracker_for(ranking, text="what's the return policy", entities=(), events=(), slots=None):
    latest = {
        "intent": {"name": "faq", "confidence": 0.9},
        "entities": list(entities),
        "response_selector": {"faq": {"ranking": [{"intent_response_key": k, "confidence": c} for k, c in ranking]}},
        "text": text,
    }
    return Tracker("shopper", slots or {}, latest, list(events), False, None, {}, "action_listen")


def store_in(tmp_path, text=FAQS) -> FaqStore:
    (tmp_path / "after-sales.yml").write_text(text)
    return FaqStore(tmp_path)


async def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    return dispatcher.messages, events


async def test_answers_the_selected_faq_from_the_faq_files(tmp_path):
    messages, events = await run(ActionAnswerFaq(store_in(tmp_path)), tracker_for([("faq/return_policy", 0.9)]))
    assert events == []
    [message] = messages
    assert message["text"] == "You can return items within 15 days of delivery."
    assert message["buttons"] == [{"title": "Start a return", "payload": "/return_request"}]


async def test_an_indonesian_shopper_gets_the_sellers_indonesian_answer_where_there_is_one(tmp_path):
    action = ActionAnswerFaq(store_in(tmp_path))
    indonesian = {"language": "id"}
    translated, _ = await run(action, tracker_for([("faq/return_policy", 0.9)], text="bisa retur gak kak", slots=indonesian))
    untranslated, _ = await run(action, tracker_for([("faq/refund_timing", 0.9)], text="refund berapa lama", slots=indonesian))
    assert translated[0]["text"] == "Barang bisa dikembalikan dalam 15 hari sejak diterima."
    assert translated[0]["buttons"] == [{"title": "Ajukan retur", "payload": "/return_request"}]  # the button's Indonesian title
    assert untranslated[0]["text"] == "Refunds reach you within 5 working days."


async def test_a_tapped_faq_button_answers_that_faq_whatever_the_ranking(tmp_path):
    tracker = tracker_for([], text='/faq{"faq_id": "refund_timing"}', entities=[{"entity": "faq_id", "value": "refund_timing"}])
    messages, _ = await run(ActionAnswerFaq(store_in(tmp_path)), tracker)
    assert [m["text"] for m in messages] == ["Refunds reach you within 5 working days."]


async def test_an_edited_answer_is_live_without_retraining(tmp_path):
    action = ActionAnswerFaq(store_in(tmp_path))
    first, _ = await run(action, tracker_for([("faq/return_policy", 0.9)]))
    (tmp_path / "after-sales.yml").write_text(FAQS.replace("15 days", "30 days"))
    second, _ = await run(action, tracker_for([("faq/return_policy", 0.9)]))
    assert [first[0]["text"], second[0]["text"]] == [
        "You can return items within 15 days of delivery.",
        "You can return items within 30 days of delivery.",
    ]


async def test_unsure_matches_or_removed_faqs_get_the_not_sure_reply_and_are_recorded(tmp_path, demo_shop):
    store = store_in(tmp_path)
    unsure = (ActionNotSure(store), [("faq/refund_timing", 0.4), ("faq/return_policy", 0.1)])
    removed = (ActionAnswerFaq(store), [("faq/deleted_meanwhile", 0.9)])
    for action, ranking in (unsure, removed):
        messages, _ = await run(action, tracker_for(ranking, text="money back??"))
        [message] = messages
        assert message["response"] == "utter_not_sure"
        assert message["buttons"][-1] == {"title": "Talk to a person", "payload": "/talk_to_human"}
    # a FAQ removed since training is not offered
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/talk_to_human"]
    engine = db.make_engine(demo_shop)
    with db.make_session_factory(engine)() as session:
        recorded = db.unanswered_messages(session, db.get_shop(session, "demo").id)
    engine.dispose()
    assert sorted((m.text, m.closest_faqs) for m in recorded) == [("money back??", ""), ("money back??", "refund_timing,return_policy")]


async def test_nlu_fallback_offers_the_closest_faqs(tmp_path, demo_shop):
    tracker = tracker_for([("faq/refund_timing", 0.2), ("faq/return_policy", 0.1)], text="money?")
    messages, _ = await run(ActionNotSure(store_in(tmp_path)), tracker)
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        '/faq{"faq_id": "refund_timing"}', '/faq{"faq_id": "return_policy"}', "/talk_to_human",
    ]


async def test_a_new_session_starts_with_the_chat_welcome_and_the_welcome_faqs(tmp_path):
    messages, events = await run(ActionSessionStart(store_in(tmp_path)), tracker_for([]))
    [message] = messages
    assert message["text"].startswith("Hi! Welcome to Demo Shop")  # shop.yml's chat_welcome
    assert message["buttons"] == [{"title": "What is your return policy?", "payload": '/faq{"faq_id": "return_policy"}'}]
    assert [e["event"] for e in events] == ["session_started", "action"]


async def test_a_shopper_who_reads_indonesian_is_welcomed_in_indonesian(tmp_path):
    # The web service tells the language of the first message (or the browser's) in its metadata.
    indonesian = tracker_for([], slots={"session_started_metadata": {"shopper_language": "id"}})
    messages, events = await run(ActionSessionStart(store_in(tmp_path)), indonesian)
    [message] = messages
    assert message["text"].startswith("Halo, Kak! Selamat datang di Demo Shop")  # shop.yml's chat_welcome_id
    assert message["buttons"] == [{"title": "Bagaimana kebijakan retur?", "payload": '/faq{"faq_id": "return_policy"}'}]
    assert events[:2] == [SessionStarted(), SlotSet("language", "id")]
    english = tracker_for([], slots={"session_started_metadata": {"shopper_language": "en"}})
    messages, events = await run(ActionSessionStart(store_in(tmp_path)), english)
    assert messages[0]["text"].startswith("Hi! Welcome") and messages[0]["buttons"][0]["title"] == "What is your return policy?"
    assert SlotSet("language", "en") in events


async def test_the_welcome_is_not_repeated_when_the_chat_page_starts_a_brand_new_conversation(tmp_path):
    events = [
        {"event": "action", "name": "action_session_start"}, {"event": "bot", "text": "Hi!"},
        {"event": "session_started"}, {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "/session_start", "parse_data": {"intent": {"name": "session_start"}}},
    ]
    messages, new_events = await run(ActionSessionStart(store_in(tmp_path)), tracker_for([], events=events))
    assert messages == [] and [e["event"] for e in new_events] == ["session_started", "action"]
    events.append({"event": "user", "text": "hello", "parse_data": {"intent": {"name": "greet"}}})
    messages, _ = await run(ActionSessionStart(store_in(tmp_path)), tracker_for([], events=events))
    assert len(messages) == 1


async def test_a_broken_shop_yml_keeps_the_last_good_welcome(tmp_path, demo_shop, monkeypatch):
    settings_file = tmp_path / "settings" / "shop.yml"  # out of the FAQ folder
    settings_file.parent.mkdir()
    shutil.copy(Config.from_env().shop_settings_file, settings_file)
    monkeypatch.setenv("SHOP_SETTINGS", str(settings_file))  # read when the action server's context opens
    first, _ = await run(ActionSessionStart(store_in(tmp_path)), tracker_for([]))
    settings_file.write_text(settings_file.read_text().replace("buyer_cancellation: request", "buyer_cancellation: whenever"))
    second, _ = await run(ActionSessionStart(store_in(tmp_path)), tracker_for([]))
    assert first[0]["text"].startswith("Hi! Welcome to Demo Shop") and second[0]["text"] == first[0]["text"]


@pytest.mark.parametrize("bot_said, reply", [
    ("utter_you_are_welcome", "utter_nothing_else"),  # "Anything else?" "No": a friendly close
    ("utter_not_sure", "utter_how_can_i_help"),  # "Is it one of these?" "No": still a question
    (None, "utter_how_can_i_help"),  # an FAQ's answer (a text, no response name), then "why not?" read as a no
])
async def test_a_plain_no_closes_only_after_anything_else(tmp_path, bot_said, reply):
    events = [{"event": "bot", "text": "...", "metadata": {"utter_action": bot_said} if bot_said else {}},
              {"event": "action", "name": "action_listen"}, {"event": "user", "text": "no"}]
    messages, _ = await run(ActionPlainNo(), tracker_for([], text="no", events=events))
    assert [m["response"] for m in messages] == [reply]


@pytest.mark.parametrize("text", ["why not?? it's barely used", "kenapa gak bisa kak"])
async def test_a_why_not_read_as_a_no_is_invited_to_say_what_is_unclear(tmp_path, text):
    events = [{"event": "bot", "text": "The return window closed on Sun 22 Nov."}, {"event": "action", "name": "action_listen"},
              {"event": "user", "text": text}]
    messages, _ = await run(ActionPlainNo(), tracker_for([], text=text, events=events))
    assert [(m["response"], [b["payload"] for b in m["buttons"]]) for m in messages] == [("utter_explain_better", ["/talk_to_human"])]


@pytest.mark.parametrize("text, cancels", [
    ("actually no, cancel it", True), ("no, just cancel the order", True), ("gak, batalin aja", True),
    ("no, don't cancel it", False), ("no thanks", False), ("gak jadi batal", False),
])
async def test_after_an_order_answer_a_no_that_asks_to_cancel_is_that_question(text, cancels):
    events = [{"event": "action", "name": "action_answer_order_question"}, {"event": "bot", "text": "Order 100003 is late."},
              {"event": "action", "name": "action_listen"}, {"event": "user", "text": text}]
    messages, result = await run(ActionPlainNo(), tracker_for([], text=text, events=events, slots={"verified_order": "100003"}))
    if cancels:
        assert messages == [] and result[0] == SlotSet("order_topic", "cancel_order")
    else:
        assert [m["response"] for m in messages] == ["utter_how_can_i_help"] and result == []


def out_of_scope(text, metadata=None, ranking=()):
    latest = {"text": text, "intent": {"name": "out_of_scope", "confidence": 0.6}, "entities": [], "metadata": metadata or {},
              "intent_ranking": [{"name": "out_of_scope", "confidence": 0.6}, *ranking]}
    return Tracker("shopper", {}, latest, [], False, None, {}, "action_listen")


async def test_a_signed_in_shoppers_item_the_model_missed_starts_the_order_look_up(demo_shop):
    noah = signed_identity(DEMO_IDENTITY_SECRET, "cust-noah", int(time.time()) + 3600)
    ranking = [{"name": "cancel_order", "confidence": 0.05}, {"name": "track_shipment", "confidence": 0.3}]
    messages, events = await run(ActionOutOfScope(), out_of_scope("where is my tote bag", noah, ranking))
    assert messages == [] and events == [SlotSet("order_topic", "track_shipment"), {"event": "followup", "timestamp": None, "name": "order_lookup_form"}]
    # Anonymous, no item of theirs, or a word of the item's name that does not say what it is
    # ("canvas" of the "Canvas tote bag"): the usual reply.
    for tracker in (out_of_scope("where is my tote bag"), out_of_scope("what's the weather in paris", noah),
                    out_of_scope("what is canvas made of", noah)):
        messages, events = await run(ActionOutOfScope(), tracker)
        assert [m["response"] for m in messages] == ["utter_out_of_scope"] and events == []


@pytest.mark.parametrize("requested, expected", [("order_contact", "utter_contact_needed"), ("order_number", None)])
async def test_an_answer_to_the_contact_question_that_is_no_contact_hears_what_it_takes(tmp_path, requested, expected):
    """"my name is Emma" (out of scope) or "why do you need that?" (unsure) where the order look-up
    asks for the e-mail or phone: what it takes and why, not the general replies."""
    slots = {"requested_slot": requested}
    loop = {"name": "order_lookup_form"}
    scoped = out_of_scope("my name is Emma")
    scoped.slots, scoped.active_loop = slots, loop
    unsure = tracker_for([("faq/return_policy", 0.1)], text="why do you need that?", slots=slots)
    unsure.active_loop = loop
    unsure.latest_message["intent"] = {"name": "nlu_fallback", "confidence": 0.3}
    scoped_messages, scoped_events = await run(ActionOutOfScope(), scoped)
    unsure_messages, unsure_events = await run(ActionNotSure(store_in(tmp_path)), unsure)
    assert scoped_events == unsure_events == []
    assert [m["response"] for m in scoped_messages] == [expected or "utter_out_of_scope"]
    assert [m["response"] for m in unsure_messages] == [expected or "utter_not_sure"]
    # Read as a FAQ (reaching the team by e-mail), a "why" there asks about the question too; a
    # FAQ question in between is answered.
    for text, asks_why in (("why do you need my email??", True), ("what's the return policy", False)):
        faq_reading = tracker_for([("faq/return_policy", 0.9)], text=text, slots=slots)
        faq_reading.active_loop = loop
        messages, _ = await run(ActionAnswerFaq(store_in(tmp_path)), faq_reading)
        contact_needed = [m.get("response") for m in messages] == ["utter_contact_needed"]
        assert contact_needed is (asks_why and expected is not None)


ANSWERED = [{"event": "user", "text": "why was order 100003 not shipped"},
            {"event": "bot", "text": "Order 100003 should have shipped by Sat 5 Dec.", "metadata": {"utter_action": "utter_late"}}]


@pytest.mark.parametrize("text", [
    "what do you mean?", "wait what does that mean??", "sorry I don't understand", "huh?",
    "maksudnya gimana kak?", "saya kurang paham",
])
async def test_a_shopper_who_did_not_follow_the_answer_hears_how_to_get_it_explained(tmp_path, demo_shop, text):
    unsure = tracker_for([("faq/return_policy", 0.1)], text=text, events=[*ANSWERED, {"event": "user", "text": text}])
    unsure.latest_message["intent"] = {"name": "nlu_fallback", "confidence": 0.3}
    scoped = out_of_scope(text)
    scoped.events = unsure.events
    for action, tracker in ((ActionNotSure(store_in(tmp_path)), unsure), (ActionOutOfScope(), scoped)):
        messages, events = await run(action, tracker)
        # Not the closest FAQs, which are beside the point: how to get it explained, and a person.
        assert [(m["response"], [b["payload"] for b in m["buttons"]]) for m in messages] == [("utter_explain_better", ["/talk_to_human"])]


@pytest.mark.parametrize("text", ["I don't understand how to use a voucher", "saya gak ngerti cara retur", "maksud saya refund, bukan retur"])
def test_a_question_that_starts_with_not_understanding_is_no_request_to_explain(text):
    assert not ASKS_WHAT_IT_MEANT.search(text)


async def test_what_it_meant_asked_with_no_answer_before_or_in_other_words_gets_the_usual_replies(tmp_path, demo_shop):
    first = tracker_for([("faq/return_policy", 0.1)], text="what do you mean?", events=[{"event": "user", "text": "what do you mean?"}])
    first.latest_message["intent"] = {"name": "nlu_fallback", "confidence": 0.3}
    messages, _ = await run(ActionNotSure(store_in(tmp_path)), first)
    assert [m["response"] for m in messages] == ["utter_not_sure"]
    other = tracker_for([("faq/return_policy", 0.1)], text="what does express delivery mean for the price", events=ANSWERED)
    other.latest_message["intent"] = {"name": "nlu_fallback", "confidence": 0.3}
    messages, _ = await run(ActionNotSure(store_in(tmp_path)), other)
    assert [m["response"] for m in messages] == ["utter_not_sure"]


def after_order_answer(answer, text):
    return [{"event": "action", "name": "action_answer_order_question"},
            {"event": "bot", "text": "...", "metadata": {"utter_action": answer}},
            {"event": "action", "name": "action_listen"}, {"event": "user", "text": text}]


@pytest.mark.parametrize("answer, text, reply, payloads", [
    ("utter_late_not_shipped_late", "so what can I do now?", "utter_next_steps_late", ["/affirm", "/cancel_order", "/talk_to_human"]),
    ("utter_cannot_cancel_in_delivery", "ok what now", "utter_next_steps_in_delivery", ["/talk_to_human"]),
    ("utter_order_status_ready_to_ship", "terus aku harus gimana kak?", "utter_next_steps", ["/talk_to_human"]),
])
async def test_what_now_after_an_order_answer_gets_the_next_steps_for_that_answer(tmp_path, demo_shop, answer, text, reply, payloads):
    slots = {"verified_order": "100003"}
    unsure = tracker_for([("faq/return_policy", 0.1)], text=text, events=after_order_answer(answer, text), slots=slots)
    unsure.latest_message["intent"] = {"name": "nlu_fallback", "confidence": 0.3}
    faq_reading = tracker_for([("faq/shipping_times", 0.9)], text=text, events=after_order_answer(answer, text), slots=slots)
    for action, tracker in ((ActionNotSure(store_in(tmp_path)), unsure), (ActionAnswerFaq(store_in(tmp_path)), faq_reading)):
        messages, _ = await run(action, tracker)
        assert [m["response"] for m in messages] == [reply]
        assert messages[0]["order_number"] == "100003" and messages[0]["return_window_days"] == 15
    # (the buttons are the response's, in both languages)
    for variation in bot_responses()[reply]:
        assert [b["payload"] for b in variation["buttons"]] == payloads


async def test_what_now_after_a_parcel_problem_is_a_person(tmp_path, demo_shop):
    text = "what should I do now?"
    tracker = out_of_scope(text)
    tracker.events = after_order_answer("utter_tracking_parcel_damaged", text)
    messages, _ = await run(ActionOutOfScope(), tracker)
    assert messages[0]["response"].startswith("utter_handoff_")
    engine = db.make_engine(demo_shop)
    with db.make_session_factory(engine)() as session:
        assert [t.reason for t in session.query(db.Ticket).all()] == ["asked_for_human"]
    engine.dispose()


async def test_what_now_without_an_order_answer_before_gets_the_usual_reply(tmp_path, demo_shop):
    text = "so what can I do now?"
    events = [{"event": "bot", "text": "We dispatch within 1-2 days."}, {"event": "action", "name": "action_listen"}, {"event": "user", "text": text}]
    unsure = tracker_for([("faq/return_policy", 0.1)], text=text, events=events)
    unsure.latest_message["intent"] = {"name": "nlu_fallback", "confidence": 0.3}
    messages, _ = await run(ActionNotSure(store_in(tmp_path)), unsure)
    assert [m["response"] for m in messages] == ["utter_not_sure"]
