"""A button's title typed instead of a tap (bot/rasa/gateway.py OfferedButtons)."""
from bot.rasa.gateway import REMEMBERED_CONVERSATIONS, OfferedButtons


def replies(*buttons):
    return [{"text": "...", "buttons": [{"title": title, "payload": payload} for title, payload in buttons]}]


LATE = replies(("I'll wait", "/affirm"), ("Talk to a human", "/talk_to_human"), ("Cancel the order", "/cancel_order"))


def test_a_typed_title_is_the_tap_fillers_and_punctuation_aside():
    offered = OfferedButtons()
    offered.remember("s1", LATE)
    assert offered.payload_for("s1", "ok, I'll wait") == "/affirm"
    assert offered.payload_for("s1", "CANCEL THE ORDER!") == "/cancel_order"
    assert offered.payload_for("s1", "ok") is None  # fillers only
    assert offered.payload_for("s1", "I'll wait for the courier") is None  # other words: the model reads them
    assert offered.payload_for("s2", "I'll wait") is None  # another conversation's buttons


def test_only_the_latest_replies_buttons_count():
    offered = OfferedButtons()
    offered.remember("s1", LATE)
    offered.remember("s1", replies())  # an answer without buttons came since
    assert offered.payload_for("s1", "I'll wait") is None


def test_the_oldest_conversations_are_forgotten_first():
    offered = OfferedButtons()
    for number in range(REMEMBERED_CONVERSATIONS + 1):
        offered.remember(f"s{number}", LATE)
    assert len(offered.latest) == REMEMBERED_CONVERSATIONS
    assert offered.payload_for("s0", "I'll wait") is None and offered.payload_for("s1", "I'll wait") == "/affirm"


def test_a_link_buttons_title_typed_stays_words():
    offered = OfferedButtons()
    offered.remember("s1", replies(("See gift cards", "https://shop.example/gift"), ("Talk to a human", "/talk_to_human")))
    assert offered.payload_for("s1", "see gift cards") is None
    assert offered.payload_for("s1", "talk to a human") == "/talk_to_human"
    offered.forget("s1")  # an agent replied since
    assert offered.payload_for("s1", "talk to a human") is None
