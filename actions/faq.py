"""FAQ answers, the Chat Welcome and the greeting, and the reply when the bot is not sure.

Answers are read from the seller's FAQ files at reply time, so an edited answer
is live at the next message without retraining.
"""
import logging
import re
from abc import ABCMeta, abstractmethod
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, FollowupAction, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.desk import SERVICE_ERRORS, bot_responses, orders_with_named_item, shop_context
from actions.forms import INFERRED_TOPICS
from actions.handoff import hand_off
from bot.rasa import events as tracker_events
from bot.shop import db
from bot.config import Config
from bot.faq.store import Faq, FaqStore
from bot.shop.tickets import ASKED_FOR_HUMAN, REPEATED_FALLBACK
from bot.rasa.recommendations import RECOMMENDATIONS, faq_ranking
from bot.rasa.responses import fill_response
from bot.language import INDONESIAN, SHOPPER_LANGUAGE
from bot.shop.settings import HandoffRules, SettingsError

log = logging.getLogger(__name__)
MAX_BUTTON_TITLE = 80
FAQ_STORE = FaqStore(Config.from_env().faq_dir)


class FaqAction(Action, metaclass=ABCMeta):
    """An action over the FAQs in service (tests pass a store over their own files).
    Abstract, so that the action server does not register it as an action itself."""

    def __init__(self, store: FaqStore = FAQ_STORE):
        self.store = store

    @abstractmethod
    def name(self) -> Text:
        ...


def faq_button(faq: Faq, language: Optional[str] = None) -> Dict[str, str]:
    """A button that answers this FAQ when tapped (the `faq_id` entity picks it, no NLU involved),
    titled in the shopper's language."""
    return {"title": faq.question_in(language), "payload": f'/faq{{"faq_id": "{faq.id}"}}'}


def offer_other_questions(dispatcher: CollectingDispatcher, message: Dict[Text, Any]) -> None:
    """A message of several questions: after the answer to one, a button for each other one
    (bot/nlu/intent_classifier.py finds them, bot/nlu/faq_matcher.py names their FAQs)."""
    buttons = []
    for question in message.get("other_questions") or []:
        if question["intent"] == "faq":
            payload = f'/faq{{"faq_id": "{question["faq_id"]}"}}'
        else:
            payload = f"/{question['intent']}"
        buttons.append({"title": question["text"][:MAX_BUTTON_TITLE], "payload": payload})
    if buttons:
        dispatcher.utter_message(response="utter_other_questions", buttons=buttons)


def selected_faq(tracker: Tracker, store: FaqStore) -> Optional[Faq]:
    """The FAQ a button named, or the FAQ matcher's best. (When the matcher is not sure, the
    message's intent is `nlu_fallback`, not `faq`: bot/nlu/faq_matcher.py.)"""
    tapped = next(tracker.get_latest_entity_values("faq_id"), None)
    if tapped:
        return store.get(tapped)
    ranking = faq_ranking(tracker.latest_message, store)
    return ranking[0][0] if ranking else None


# "What do you mean?", "maksudnya gimana?": the shopper did not follow the bot's last answer.
ASKS_WHAT_IT_MEANT = re.compile(
    r"^\W*(wait\W+|sorry\W+|so\W+|hm+\W+|eh\W+)?("
    r"what\W+do\W+(yo)?u\W+mean|what\W+does\W+(that|this|it)\W+mean|what\W+is\W+that\W+supposed\W+to\W+mean|"
    r"i\W+do\W*n'?o?t\W+(understand|get\W+it|follow)|i\W+dont\W+(understand|get\W+it)|meaning\??|huh|"
    r"maksud(nya)?|maksudnya\W+(gimana|apa|gmn)|apa\W+maksudnya|(saya\W+|aku\W+)?(ga|gak|nggak|tidak|kurang)\W+(ngerti|paham|mengerti)"
    r")(\W+(that|this|it|kak|min|ya|sih|dong|please))*\W*$",
    re.IGNORECASE,
)


def asks_what_it_meant(tracker: Tracker) -> bool:
    """Whether the message asks what the bot's answer just before meant. The closest FAQs would
    be beside the point: the shopper hears how to get it explained."""
    text = tracker.latest_message.get("text") or ""
    return bool(ASKS_WHAT_IT_MEANT.search(text)) and tracker_events.is_bot(_last_event_before_message(tracker.events))


# "why do you need my email?", "why not?": a why, in the answer to a question or after one.
ASKS_WHY = re.compile(r"\b(why|what for|how come|kenapa|knp|ngapain|buat apa|untuk apa|utk apa)\b", re.IGNORECASE)
# "so what can I do now?", "terus aku harus gimana?": what next, after an order answer.
WHAT_NOW = re.compile(
    r"^\W*((so|ok|okay|and|then|hmm+|well|terus|trus|lalu|jadi)\W+)*("
    r"what\W+(should|can|do)\W+i\W+do|what\W+now|now\W+what|what\W+happens\W+now|what\W+are\W+my\W+options|"
    r"(aku\W+|saya\W+)?(harus\W+)?(gimana|bagaimana)"
    r")(\W+(now|then|next|kak|min|sekarang|ya|dong|about\W+it))*\W*$",
    re.IGNORECASE,
)
# The next steps after an order answer, by that answer: a person for a parcel lost or damaged, a
# window closed, a look-up stopped (only they can do more); the choices for a late order; a return
# once a shipped order arrives; else a person's offer.
NEXT_STEPS = {
    "utter_late_not_shipped_late": "utter_next_steps_late",
    "utter_cannot_cancel_in_delivery": "utter_next_steps_in_delivery",
}
NEXT_STEP_IS_A_PERSON = ("utter_tracking_parcel_lost", "utter_tracking_parcel_damaged", "utter_return_window_closed", "utter_verification_locked")


def say_next_steps(dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[List[Dict[Text, Any]]]:
    """The reply to a "what can I do now?" right after an order answer; None for other messages."""
    if not WHAT_NOW.search(tracker.latest_message.get("text") or ""):
        return None
    if tracker_events.last_action_before_message(tracker.events) != "action_answer_order_question":
        return None
    answer = (_last_event_before_message(tracker.events).get("metadata") or {}).get("utter_action")
    if answer in NEXT_STEP_IS_A_PERSON:
        return hand_off(dispatcher, tracker, ASKED_FOR_HUMAN)
    try:
        window = shop_context().settings.return_window_days
        response = NEXT_STEPS.get(answer, "utter_next_steps")
    except SettingsError:
        window, response = None, "utter_next_steps"  # (it names no window)
    dispatcher.utter_message(response=response, order_number=tracker.get_slot("verified_order"), return_window_days=window)
    return []


def answer_follow_up(dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[List[Dict[Text, Any]]]:
    """The reply to a follow-up about the bot's last answer, whatever the model read in it: "what
    do you mean?" or "what can I do now?". None for other messages, and while the look-up waits
    for the contact (its own reply says what it takes)."""
    if waits_for_the_contact(tracker):
        return None
    if asks_what_it_meant(tracker):
        return say_explain_better(dispatcher, tracker)
    return say_next_steps(dispatcher, tracker)


def say_explain_better(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[Text, Any]]:
    dispatcher.utter_message(response="utter_explain_better", buttons=[person_button(tracker.get_slot("language"))])
    return []


def person_button(language: Optional[str]) -> Dict[str, str]:
    return {"title": fill_response(bot_responses(), "utter_button_talk_to_human", {}, language), "payload": "/talk_to_human"}


def _last_event_before_message(events: List[Dict[Text, Any]]) -> Dict[Text, Any]:
    before, _ = tracker_events.split_at_latest_message(events)
    said = [event for event in before if tracker_events.is_bot(event) or tracker_events.is_user(event)]
    return said[-1] if said else {}


def not_sure_streak(events: List[Dict[Text, Any]]) -> int:
    """How many shopper messages in a row, before the latest, got the "not sure" reply. (Not the
    "what I meant" one: the shopper's next words say what they meant, no sign the bot is lost.)"""
    streak = 0
    user_turns = 0
    for event in reversed(events):
        if tracker_events.is_user(event):
            user_turns += 1
            if user_turns > streak + 1:
                break
        elif tracker_events.is_bot(event) and user_turns == streak + 1:
            if (event.get("metadata") or {}).get("utter_action") != "utter_not_sure":
                break
            streak += 1
    return streak


def say_not_sure(dispatcher: CollectingDispatcher, tracker: Tracker, store: FaqStore) -> List[Dict[Text, Any]]:
    """Say so, offer the closest FAQs and a person, and keep the message for the seller; after
    too many in a row (shop.yml `handoff.fallbacks_in_a_row`), hand over to a person instead."""
    try:
        fallbacks_in_a_row = shop_context().settings.handoff.fallbacks_in_a_row
    except SettingsError:
        fallbacks_in_a_row = HandoffRules().fallbacks_in_a_row
    if not_sure_streak(tracker.events) + 1 >= fallbacks_in_a_row:
        return hand_off(dispatcher, tracker, REPEATED_FALLBACK)
    follow_up = answer_follow_up(dispatcher, tracker)
    if follow_up is not None:
        return follow_up
    closest = [faq for faq, _ in faq_ranking(tracker.latest_message, store)][:RECOMMENDATIONS]
    language = tracker.get_slot("language")
    dispatcher.utter_message(response="utter_not_sure", buttons=[*(faq_button(faq, language) for faq in closest), person_button(language)])
    try:
        shop = shop_context()
        shop_id, text = shop.shop_id, tracker.latest_message.get("text") or ""
        with db.transaction(shop.sessions) as session:
            db.record_unanswered(session, shop_id, tracker.sender_id, text, [faq.id for faq in closest])
    except SERVICE_ERRORS:  # the shopper still gets the reply; the log keeps the message
        log.exception("could not record the unanswered message %r", tracker.latest_message.get("text"))
    return []


class ActionAnswerFaq(FaqAction):
    def name(self) -> Text:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        topic = order_question_in_context(tracker)
        if topic:
            return ask_order_question(topic)
        if waits_for_the_contact(tracker) and ASKS_WHY.search(tracker.latest_message.get("text") or ""):
            # "why do you need my email??" reads like the FAQ on reaching the team: it asks about this question.
            dispatcher.utter_message(response="utter_contact_needed")
            return []
        follow_up = answer_follow_up(dispatcher, tracker)  # ("what should I do now?" read as a FAQ)
        if follow_up is not None:
            return follow_up
        faq = selected_faq(tracker, self.store)
        if faq is None:
            return say_not_sure(dispatcher, tracker, self.store)
        buttons = [{"title": b.title_in(tracker.get_slot("language")), "payload": b.payload} for b in faq.buttons]
        dispatcher.utter_message(text=faq.answer_in(tracker.get_slot("language")), buttons=buttons)
        offer_other_questions(dispatcher, tracker.latest_message)
        return []


# How likely an order reading of a FAQ-like message must be to win right after an order answer;
# less likely will do for a message that points back at the order ("for that one", "bisa
# dibatalkan pesanannya?").
ORDER_READING_IN_CONTEXT = 0.15
ORDER_READING_POINTING_BACK = 0.05
POINTS_BACK = re.compile(
    r"\b(that one|this one|that order|this order|the order|for (it|that|this)|(on|with|of) (it|that|this)|"
    r"pesanan (ini|itu|tsb|tersebut)|yang (ini|itu|tadi)|yg (ini|itu|tadi)|pesanannya|ordernya|paketnya|barangnya)\b",
    re.IGNORECASE,
)
# A follow-up of at most this many words that names an item ("and the lamp?") is about its order.
SHORT_FOLLOW_UP_WORDS = 4


def ask_order_question(topic: Text) -> List[Dict[Text, Any]]:
    """The events that hand a message on to the order look-up as a question of `topic`."""
    return [SlotSet("order_topic", topic), FollowupAction("order_lookup_form")]


def order_question_in_context(tracker: Tracker) -> Optional[Text]:
    """The order question a message the model reads as a FAQ (or is unsure of) asks, right after
    an answer about an order ("can I get a refund for that one?", "bisa dibatalkan aja?"): the
    best-ranked order intent, when it is likely enough; a signed-in shopper's "and the
    trainers?" asks the same question about their order with that item. Else None. A tapped
    FAQ button or a pending question (a yes or no, a form) keeps the FAQ reading."""
    message = tracker.latest_message
    if tracker.get_slot("follow_up") or not tracker.get_slot("verified_order"):
        return None
    if any(entity.get("entity") in ("faq_id", "order_id") for entity in message.get("entities") or []):
        return None
    if tracker_events.last_action_before_message(tracker.events) != "action_answer_order_question":
        return None
    likely_enough = ORDER_READING_POINTING_BACK if POINTS_BACK.search(message.get("text") or "") else ORDER_READING_IN_CONTEXT
    for ranked in message.get("intent_ranking") or []:
        if ranked.get("name") in INFERRED_TOPICS:
            if (ranked.get("confidence") or 0) >= likely_enough:
                return ranked["name"]
            break
    # "and the trainers?" (not "does the hoodie have a warranty?", a FAQ about it)
    unsure = (message.get("intent") or {}).get("name") == "nlu_fallback"
    if (unsure or len((message.get("text") or "").split()) <= SHORT_FOLLOW_UP_WORDS) and orders_with_named_item(message):
        return tracker.get_slot("order_topic") or "order_status"
    return None


def order_question_naming_an_item(tracker: Tracker) -> Optional[Text]:
    """A signed-in shopper's message the model did not understand (out of scope, unsure) but
    that names an item of their orders ("where is my tote bag"): the order question it asks,
    the best-ranked order intent (else the order's status). None while a form or a yes/no
    question waits. The item counts by the word that says what it is ("bag", not "canvas": "what
    is canvas made of" asks no order question)."""
    message = tracker.latest_message
    if tracker.get_slot("follow_up") or (tracker.active_loop or {}).get("name") or not orders_with_named_item(message, by_kind=True):
        return None
    likely = (r["name"] for r in message.get("intent_ranking") or []
              if r.get("name") in INFERRED_TOPICS and (r.get("confidence") or 0) >= ORDER_READING_IN_CONTEXT)
    return next(likely, "order_status")


def already_welcomed(tracker: Tracker) -> bool:
    """Whether this session's welcome was sent and the shopper has said nothing since.

    A chat page opening a brand-new conversation with "/session_start" starts two
    sessions in a row (Rasa starts one for the new conversation first); one welcome is enough.
    """
    welcomed = False
    for event in reversed(tracker.events):
        if tracker_events.is_user(event) and tracker_events.user_intent(event) != "session_start":
            return False
        welcomed = welcomed or tracker_events.is_bot(event)
        if tracker_events.is_action(event, "action_session_start"):
            return welcomed
    return False


def restarted(tracker: Tracker) -> bool:
    """Whether this session starts because the shopper asked to start over (Rasa's restart):
    they were welcomed already, and `utter_restart` asked what they need."""
    return bool(tracker.events) and tracker.events[-1].get("event") == "restart"


class ActionSessionStart(FaqAction):
    """Every conversation opens with the seller's welcome text and welcome FAQs as buttons."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        # The language the shopper reads, as the web service saw the first message (Rasa reads
        # its words only after this action): the welcome, and the replies, are in it.
        # (A chat page's "/session_start" starts a second session whose metadata says nothing:
        # the language found for the first stays.)
        language = (tracker.get_slot("session_started_metadata") or {}).get(SHOPPER_LANGUAGE) or tracker.get_slot("language")
        try:
            settings = shop_context().settings
            welcome = (settings.chat_welcome_id if language == INDONESIAN else "") or settings.chat_welcome
        except SettingsError:  # no valid shop.yml ever loaded: the generic greeting
            log.exception("shop.yml is invalid; welcoming with the default text")
            welcome = None
        events = [SessionStarted(), *([SlotSet("language", language)] if language else []), ActionExecuted("action_listen")]
        if already_welcomed(tracker) or restarted(tracker):
            return events
        buttons = [faq_button(faq, language) for faq in self.store.all() if faq.enabled and faq.welcome]
        if welcome:
            dispatcher.utter_message(text=welcome, buttons=buttons)
        else:
            dispatcher.utter_message(response="utter_chat_welcome_default", buttons=buttons)
        return events


def welcomed_for_this_message(events: List[Dict[Text, Any]]) -> bool:
    """Whether the latest shopper message opened the session and got the Chat Welcome.

    Rasa starts a new conversation's session before it reads the first message, so a
    conversation that opens with "hi" has the welcome just before that "hi"."""
    seen_message = welcomed = False
    for event in reversed(events):
        if tracker_events.is_user(event):
            if seen_message:
                return False
            seen_message = True
        elif seen_message and tracker_events.is_bot(event):
            welcomed = True
        elif seen_message and tracker_events.is_action(event, "action_session_start"):
            return welcomed
    return False


class ActionGreet(Action):
    """A greeting gets one back, unless the Chat Welcome has just greeted."""

    def name(self) -> Text:
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if not welcomed_for_this_message(tracker.events):
            dispatcher.utter_message(response="utter_greet")
        return []


# The bot's "Anything else I can help with?": a plain "no" after one means "nothing else".
ANYTHING_ELSE = frozenset({"utter_you_are_welcome", "utter_how_can_i_help", "utter_form_stopped"})


# "actually no, cancel it", "gak, batalin aja": a no that asks for the cancellation after all
# (not "no, don't cancel it", "jangan dibatalin").
CANCEL_AFTER_ALL = re.compile(r"\b(cancel|batal\w*|dibatal\w*)\b", re.IGNORECASE)
NOT_CANCELLING = re.compile(
    r"\b(don'?t|do not|not|never|jangan|gak usah|ga usah|nggak usah|tidak usah|gak jadi|ga jadi|nggak jadi)\b[\w\s']{0,12}"
    r"\b(cancel|batal|dibatal)", re.IGNORECASE,
)


class ActionPlainNo(Action):
    """A "no" with nothing pending: after "anything else?" a friendly close; otherwise (after
    "is it one of these?") the bot asks what else. A "why not?" the model took for a no is
    invited to say what is unclear. Once an order was looked up, a no that asks to cancel it is
    that question."""

    def name(self) -> Text:
        return "action_plain_no"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        text = tracker.latest_message.get("text") or ""
        if tracker.get_slot("verified_order") and CANCEL_AFTER_ALL.search(text) and not NOT_CANCELLING.search(text):
            return ask_order_question("cancel_order")
        if ASKS_WHY.search(text):
            return say_explain_better(dispatcher, tracker)
        before, _ = tracker_events.split_at_latest_message(tracker.events)
        said = [event for event in before if tracker_events.is_bot(event)]
        last = (said[-1].get("metadata") or {}).get("utter_action") if said else None
        dispatcher.utter_message(response="utter_nothing_else" if last in ANYTHING_ELSE else "utter_how_can_i_help")
        return []


class ActionNotSure(FaqAction):
    """The NLU is below its confidence threshold (the `nlu_fallback` intent)."""

    def name(self) -> Text:
        return "action_not_sure"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        topic = order_question_in_context(tracker) or order_question_naming_an_item(tracker)
        if topic:
            return ask_order_question(topic)
        if waits_for_the_contact(tracker):
            dispatcher.utter_message(response="utter_contact_needed")
            return []
        return say_not_sure(dispatcher, tracker, self.store)


class ActionOutOfScope(Action):
    """A message the model reads as none of the shop's business."""

    def name(self) -> Text:
        return "action_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        topic = order_question_naming_an_item(tracker)
        if topic:
            return ask_order_question(topic)
        follow_up = answer_follow_up(dispatcher, tracker)
        if follow_up is not None:
            return follow_up
        dispatcher.utter_message(response="utter_contact_needed" if waits_for_the_contact(tracker) else "utter_out_of_scope")
        return []


def waits_for_the_contact(tracker: Tracker) -> bool:
    """Whether the order look-up waits for the e-mail address or phone number on the order. An
    answer there that the model reads as out of scope or is unsure of is mostly about that
    question ("my name is Emma", "why do you need that?"): the shopper hears what it takes and
    why, and the form asks again."""
    return tracker.active_loop_name == "order_lookup_form" and tracker.get_slot("requested_slot") == "order_contact"
