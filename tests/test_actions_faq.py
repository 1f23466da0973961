
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import ActionAnswerFaq
from bot.faq import FaqStore

FAQS = """\
category: after-sales
faqs:
  - id: return_policy
    question: What is your return policy?
    similar: [can I return things, return window, returns accepted]
    answer: You can return items within 15 days of delivery.
    buttons:
      - title: Start a return
        payload: /return_request
"""


def tracker_for(faq_key):
    latest = {
        "intent": {"name": "faq", "confidence": 0.9},
        "response_selector": {"faq": {"response": {"intent_response_key": faq_key, "confidence": 0.9}}},
        "text": "what's the return policy",
    }
    return Tracker("shopper", {}, latest, [], False, None, {}, "action_listen")


async def run(tmp_path, faq_key):
    (tmp_path / "after-sales.yml").write_text(FAQS)
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerFaq(FaqStore(tmp_path)).run(dispatcher, tracker_for(faq_key), {})
    return dispatcher.messages, events


async def test_answers_the_selected_faq_from_the_faq_files(tmp_path):
    messages, events = await run(tmp_path, "faq/return_policy")
    assert events == []
    [message] = messages
    assert message["text"] == "You can return items within 15 days of delivery."
    assert message["buttons"] == [{"title": "Start a return", "payload": "/return_request"}]


async def test_an_edited_answer_is_live_without_retraining(tmp_path):
    store = FaqStore(tmp_path)
    (tmp_path / "after-sales.yml").write_text(FAQS)
    action = ActionAnswerFaq(store)
    dispatcher = CollectingDispatcher()
    await action.run(dispatcher, tracker_for("faq/return_policy"), {})
    (tmp_path / "after-sales.yml").write_text(FAQS.replace("15 days", "30 days"))
    await action.run(dispatcher, tracker_for("faq/return_policy"), {})
    assert [m["text"] for m in dispatcher.messages] == [
        "You can return items within 15 days of delivery.",
        "You can return items within 30 days of delivery.",
    ]


async def test_unknown_or_removed_faq_gets_the_unavailable_response(tmp_path):
    messages, _ = await run(tmp_path, "faq/deleted_meanwhile")
    assert [m["response"] for m in messages] == ["utter_faq_unavailable"]
    messages, _ = await run(tmp_path, "")
    assert [m["response"] for m in messages] == ["utter_faq_unavailable"]
