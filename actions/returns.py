"""Return requests: `return_form` collects the kind and the reason, then
`action_submit_return` records the request and applies the seller's
auto-approval rule (shop.yml). The choices' buttons carry the choice itself
(`/inform{"return_reason": "damaged"}`); typed answers are read by their words,
and a question is never an answer, whatever words it contains."""
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.desk import act_on_verified_order
from actions.forms import INTERRUPTING_INTENTS, LettingGoFormValidation, entity_values, intent_of, is_question
from bot.shop.vocabulary import (
    CHANGED_MIND, DAMAGED, MISSING_PARTS, NOT_AS_DESCRIBED, OTHER_REASON, REFUND_ONLY, REPLACEMENT, RETURN_AND_REFUND,
    SIZE_FIT, WRONG_ITEM,
)

# Words a shopper (or a button) uses for each choice, in English and Indonesian; the first
# match wins.
KIND_WORDS = {
    REPLACEMENT: ("replace", "exchange", "new one", "swap", "tukar", "ganti barang", "barang pengganti"),
    REFUND_ONLY: (
        "refund only", "keep", "money only", "just refund", "just a refund",
        "refund saja", "refund aja", "dana saja", "uang saja", "barang disimpan",
    ),
    RETURN_AND_REFUND: ("return", "send back", "refund", "retur", "kembalikan", "dikembalikan", "pengembalian"),
}
# A replacement asked for while the reason is asked changes the kind ("I'd rather have a new one").
# Not the refund kinds: "refund" is in the words of both, and "keep" there means no return at all
# ("forget it, I'll keep it").
KIND_CHANGES = {REPLACEMENT: KIND_WORDS[REPLACEMENT]}
REASON_WORDS = {
    DAMAGED: (
        "damage", "broken", "crack", "defect", "faulty", "not working", "doesn't work", "torn",
        "rusak", "pecah", "cacat", "retak", "sobek", "tidak berfungsi", "gak berfungsi", "ga nyala", "gak nyala", "tidak nyala",
    ),
    WRONG_ITEM: ("wrong", "different item", "not what i ordered", "mix", "salah", "beda barang", "bukan yang saya pesan"),
    NOT_AS_DESCRIBED: (
        "described", "description", "different from", "photo", "picture", "fake", "quality",
        "tidak sesuai", "gak sesuai", "ga sesuai", "deskripsi", "beda dengan foto", "palsu", "kualitas",
    ),
    MISSING_PARTS: ("missing", "incomplete", "not all", "tidak lengkap", "gak lengkap", "kurang lengkap", "ada yang kurang", "bagian yang kurang"),
    SIZE_FIT: (
        "size", "fit", "small", "big", "large", "tight", "loose", "long", "short",
        "ukuran", "kekecilan", "kebesaran", "kecil", "besar", "sempit", "longgar", "kepanjangan", "kependekan",
    ),
    CHANGED_MIND: (
        "changed my mind", "change of mind", "don't want", "dont want", "don't like", "dont like", "no longer",
        "berubah pikiran", "gak jadi", "ga jadi", "tidak jadi", "tidak suka", "gak suka", "ga suka",
    ),
    OTHER_REASON: ("other", "something else", "lainnya", "alasan lain"),
}


def choose(text: Any, words: Dict[str, tuple]) -> Optional[str]:
    text = re.sub(r"\s+", " ", str(text or "").lower()).strip()
    if text in words:  # a button's payload
        return text
    for choice, keys in words.items():
        if choice.replace("_", " ") in text or any(key in text for key in keys):
            return choice
    return None


# The words that answer each question: the kind's question may get the reason first ("barang
# rusak"), the reason's only a reason or a change to a replacement ("keep" is no reason there:
# "forget it, I'll keep it" calls the return off).
ANSWER_WORDS = {"return_kind": (KIND_WORDS, REASON_WORDS), "return_reason": (REASON_WORDS, KIND_CHANGES)}
CALLS_OFF = re.compile(r"\b(?:forget\s+it|never\s*mind|nvm|no\s+return)\b", re.IGNORECASE)

# Words that name a reason only as the answer to "what's the reason?": in the message that
# asks for the return they may mean something else ("it took too long", "a big order").
WORDS_ONLY_AS_ANSWER = frozenset({"long", "short", "big", "large", "small", "fit", "mix", "other", "kecil", "besar", "photo", "picture", "quality"})
STATED_REASON_WORDS = {
    reason: tuple(key for key in keys if key not in WORDS_ONLY_AS_ANSWER)
    + {SIZE_FIT: ("too small", "too big", "too large", "doesn't fit", "does not fit", "dont fit", "don't fit")}.get(reason, ())
    for reason, keys in REASON_WORDS.items()
    if reason != OTHER_REASON
}


def stated_reason(text: Any) -> Optional[str]:
    """The reason a shopper gave in the message that asked for the return ("I want to return it,
    it arrived broken", "mau retur, barangnya ga sesuai"), so that the form does not ask again."""
    text = re.sub(r"\s+", " ", str(text or "").lower())
    for reason, keys in STATED_REASON_WORDS.items():
        if any(key in text for key in keys):
            return reason
    return None


# A return request taken back ("cancel my return", "I don't want to return it anymore", "batalkan
# retur"), whatever order intent the words were read as: the return, not the order, is cancelled.
WITHDRAWS_RETURN = re.compile(
    r"\b(?:cancel|withdraw|take\s+back|revoke|retract|undo|drop|stop)\s+(?:(?:my|the|this|that|our|a)\s+)?"
    r"(?:return|refund|exchange|replacement)\b(?!\s+(?:it|them|the\s+(?:item|order|parcel)))"
    r"|\b(?:don'?t|do\s+not)\s+(?:want|need)\s+to\s+(?:return|send)\b.{0,30}\b(?:anymore|any\s+more|after\s+all)\b"
    r"|\bno\s+longer\s+(?:want|need)\s+to\s+(?:return|send)\b"
    r"|\b(?:batal(?:kan|in)?|tarik|cabut)\s+(?:(?:pengajuan|permintaan|komplain)\s+)?(?:retur|return|refund|pengembalian)"
    r"|\b(?:ga|gak|nggak|ngga|enggak|tidak|tdk|gk)\s+jadi\s+(?:retur|return|balikin|dikembalikan|kembalikan|refund|komplain)",
    re.IGNORECASE,
)
# The return named at all ("I started a return by mistake, can you cancel it?").
RETURN_WORDS = re.compile(r"\b(?:return(?:ing|ed)?|retur\w*|send(?:ing)?\s+(?:it\s+|them\s+)?back|pengembalian)\b", re.IGNORECASE)


def withdraws_return(text: Any) -> bool:
    return bool(WITHDRAWS_RETURN.search(str(text or "")))


def mentions_return(text: Any) -> bool:
    return bool(RETURN_WORDS.search(str(text or "")))


class ValidateReturnForm(LettingGoFormValidation):
    def name(self) -> Text:
        return "validate_return_form"

    def interrupts(self, slot: Text, value: Any, message: Dict[Text, Any], tracker: Optional[Tracker] = None) -> bool:
        # A question ("can I return it if it's the wrong size?") is never an answer; an order
        # number here is another order: the rules leave the form for the order look-up. A
        # choice, even of the other question ("it arrived damaged" while the kind is asked) and
        # even on a sensitive topic, is an answer: the shopper is already asking for a return.
        if entity_values(message, slot):
            return False
        if withdraws_return(value) or CALLS_OFF.search(str(value or "")):
            return True  # "never mind, cancel the return": not the kind "return"
        if not (intent_of(message) in INTERRUPTING_INTENTS or entity_values(message, "order_id")):
            return False
        return is_question(value) or not any(choose(value, words) for words in ANSWER_WORDS.get(slot, ()))

    @staticmethod
    def _choice(slot: Text, value: Any, words: Dict[str, tuple], dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
        choice = None if is_question(value) else choose(value, words)
        if choice is None:
            dispatcher.utter_message(response="utter_invalid_choice")
        return {slot: choice}

    def validate_return_kind(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        reason = None if is_question(value) else choose(value, REASON_WORDS)
        if reason and choose(value, KIND_WORDS) is None:
            # The reason came first ("barang rusak"): kept, and the kind is asked again.
            return {"return_kind": None, "return_reason": reason}
        return self._choice("return_kind", value, KIND_WORDS, dispatcher)

    def validate_return_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        kind = None if is_question(value) or choose(value, REASON_WORDS) else choose(value, KIND_CHANGES)
        if kind and kind != tracker.get_slot("return_kind"):
            # "no wait, I'd rather have a new one sent" while the reason is asked: that kind
            # instead, and the reason asked again.
            return {"return_kind": kind, "return_reason": None}
        return self._choice("return_reason", value, REASON_WORDS, dispatcher)


class ActionSubmitReturn(Action):
    def name(self) -> Text:
        return "action_submit_return"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        kind, reason = tracker.get_slot("return_kind"), tracker.get_slot("return_reason")
        act_on_verified_order(dispatcher, tracker, lambda desk, number: desk.request_return(number, kind, reason))
        return [SlotSet("return_kind", None), SlotSet("return_reason", None), SlotSet("follow_up", None)]
