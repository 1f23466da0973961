"""Answers FAQs from the seller's FAQ files at reply time, so an edited answer is
live at the next message without retraining."""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.config import Config
from bot.faq import FaqStore

FAQ_STORE = FaqStore(Config.from_env().faq_dir)


def selected_faq_id(tracker: Tracker) -> str:
    """The FAQ id the ResponseSelector chose for the latest message ("" if none)."""
    selector = tracker.latest_message.get("response_selector", {}).get("faq", {})
    key = selector.get("response", {}).get("intent_response_key") or ""
    return key.split("/", 1)[1] if key.startswith("faq/") else ""


class ActionAnswerFaq(Action):
    def __init__(self, store: FaqStore = FAQ_STORE):
        self.store = store

    def name(self) -> Text:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        faq = self.store.get(selected_faq_id(tracker))
        if faq is None:
            dispatcher.utter_message(response="utter_faq_unavailable")
            return []
        buttons = [{"title": b.title, "payload": b.payload} for b in faq.buttons]
        dispatcher.utter_message(text=faq.answer, buttons=buttons)
        return []
