"""Handing the conversation to a person: a ticket in the agents' queue, the bot paused (or,
while the team is away, helping on until they are back).

The web service resumes the conversation when an agent resolves the ticket.
"""
import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused
from rasa_sdk.executor import CollectingDispatcher

from actions.desk import SERVICE_ERRORS, order_desk, shop_context
from bot.shop import db
from bot.shop.tickets import ASKED_FOR_HUMAN, SENSITIVE_PREFIX, TicketDesk, summarize
from bot.shop.hours import describe_opening, is_open, next_opening

log = logging.getLogger(__name__)


def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> List[Dict[Text, Any]]:
    """Open (or refresh) the conversation's ticket, tell the shopper when a person replies, and
    pause the bot if the team is in."""
    now = db.utcnow()
    try:
        shop = shop_context()
        settings = shop.settings
        summary = summarize(tracker.events, tracker.slots)
        deadline = order_desk().marketplace_deadline(summary["order"]) if summary["order"] else None
        TicketDesk(shop.sessions, shop.shop_id).open(tracker.sender_id, reason, summary, deadline, now)
    except SERVICE_ERRORS:
        log.exception("could not open a ticket for %s", tracker.sender_id)
        dispatcher.utter_message(response="utter_handoff_unavailable")
        return []
    hours = settings.working_hours
    if is_open(hours, now):
        dispatcher.utter_message(response="utter_handoff_now")
        return [ConversationPaused()]
    # The team is away: the ticket waits for them, and until then the bot goes on helping
    # (bot/shop/tickets.py person_answers), so the conversation is not paused.
    opening = next_opening(hours, now)
    if opening is not None:
        when = describe_opening(opening, now, tracker.get_slot("language"))
        dispatcher.utter_message(response="utter_handoff_later", when=when)
    else:
        dispatcher.utter_message(response="utter_handoff_no_hours")
    return []


class ActionHandoff(Action):
    def name(self) -> Text:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        topic = next(tracker.get_latest_entity_values("handoff_topic"), None)
        if topic is None and not asks_for_a_person_surely(tracker.latest_message):
            # Once handed over (while the team is in) the bot says nothing more, so an unsure
            # reading ("mau tanya jam operasional cs" is about the hours) gets the closest FAQs
            # and a person's button. Said here, not as a follow-up action: no rule goes on
            # after action_not_sure for this intent, and Rasa's own fallback would add its reply.
            from actions.faq import ActionNotSure  # (actions.faq imports hand_off from here)

            return await ActionNotSure().run(dispatcher, tracker, domain)
        return hand_off(dispatcher, tracker, f"{SENSITIVE_PREFIX}{topic}" if topic else ASKED_FOR_HUMAN)


# Below this confidence, a message read as a request for a person is not handed over at once.
SURE_REQUEST_FOR_A_PERSON = 0.6


def asks_for_a_person_surely(message: Dict[Text, Any]) -> bool:
    """Whether the message surely asks for a person: a tapped button ("/talk_to_human"), or
    words the model reads so with confidence."""
    if (message.get("text") or "").startswith("/"):
        return True
    return (message.get("intent") or {}).get("confidence", 1.0) >= SURE_REQUEST_FOR_A_PERSON
