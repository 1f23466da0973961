"""Sensitive topics by phrase and by meaning (bot/nlu/sensitive.py), with the real encoder and
the demo shop's shop.yml; and the `handoff` section's schema (bot/shop/settings.py).

The evaluation sentences are our own and appear neither in shop.yml nor in any benchmark.
"""
import shutil

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu import sensitive
from bot.config import Config
from bot.nlu.sensitive import SensitiveTopicMatcher, SensitiveTopicRouter
from bot.shop.settings import HandoffRules, SettingsError, load_settings

SENSITIVE = [
    # the issue's own examples
    ("the box turned up squashed and the mug is in pieces", "parcel"),
    ("two payments for one order", "payment"),
    ("I was charged twice", "payment"),
    ("the courier says delivered but nothing came", "parcel"),
    ("this is a scam, I'm furious", "angry"),
    # payment
    ("my card got debited twice for the same thing", "payment"),
    ("you charged me 49.80 instead of 24.90", "payment"),
    ("i see two identical transactions from your shop on my bank app", "payment"),
    ("money left my account but the order says payment pending", "payment"),
    ("there's a payment on my statement I never authorised", "payment"),
    ("why did I pay double for order 100004", "payment"),
    ("the checkout failed yet my bank took the money", "payment"),
    ("I was overcharged", "payment"),
    # parcel
    ("the lamp arrived in bits", "parcel"),
    ("the cup was smashed when I opened the parcel", "parcel"),
    ("the package came ripped open and half the stuff is gone", "parcel"),
    ("tracking shows it was delivered on monday but I never received anything", "parcel"),
    ("my parcel seems to have vanished, the carrier has no idea where it is", "parcel"),
    ("the box was soaking wet and the book inside is ruined", "parcel"),
    ("someone nicked my package from outside my flat", "parcel"),
    ("the mirror is cracked right across", "parcel"),
    ("the postman lost it", "parcel"),
    # angry
    ("this is the most useless shop ever", "angry"),
    ("I'm absolutely fuming", "angry"),
    ("you lot are a bunch of cheats", "angry"),
    ("I'll be taking this to trading standards", "angry"),
    ("honestly this is appalling customer service", "angry"),
    ("I'm done with your lies", "angry"),
    ("shame on you, taking people's money like this", "angry"),
    ("I am really really upset with how you've handled this", "angry"),
]

ORDINARY = [
    # the issue's own examples
    "where is my parcel", "how do I pay", "I want to return the shoes", "my order is late",
    # orders and deliveries
    "where's my stuff", "has order 100004 been sent", "when is my package coming", "the delivery is taking ages",
    "I still haven't got my order", "what's the tracking number for my order", "is my order on its way",
    "can you check order 100002 for me", "can I have it delivered to my office instead",
    # payments
    "can I pay with apple pay", "do you take visa", "is it possible to pay later", "did my payment go through",
    "why is my order still waiting for payment",
    # returns, refunds, cancellations
    "how do I send back a jacket", "can I exchange it for a bigger size", "I need to cancel order 100001",
    "how long until I get my money back", "what happened to my refund", "the colour isn't what I expected, can I return it",
    # shop questions and small talk
    "do you have a discount code", "is delivery free over 50 euros", "do you ship to the netherlands",
    "how do I reset my password", "good morning", "thanks, that's all", "are you a real person",
    "can I talk to someone from your team", "is this item in stock", "do you gift wrap",
]

# Measured on the sentences above with the demo shop.yml (all-MiniLM-L6-v2,
# sensitive_similarity 0.45), written after the examples and the threshold were first chosen
# and not tuned on: 27 of 30 sensitive messages reach a person with the right topic (recall
# 90%; missed: "I'm absolutely fuming", "trading standards", "shame on you, taking people's
# money"), and 1 of 34 ordinary questions goes to a person ("why is my order still waiting
# for payment"): precision 27 of 28 handoffs, 96%. The asserts leave a little room.
MIN_RECALL, MIN_PRECISION, MAX_ORDINARY_SENT = 0.85, 0.9, 2


@pytest.fixture(scope="module")
def matcher():
    return SensitiveTopicMatcher(load_settings(Config.from_env().shop_settings_file).handoff)


def test_sensitive_messages_in_other_words_are_found_with_their_topic_and_ordinary_ones_are_not(matcher):
    found = [(text, matcher.topic(text), topic) for text, topic in SENSITIVE]
    wrongly_sent = [text for text in ORDINARY if matcher.topic(text)]
    right = sum(got == topic for _, got, topic in found)
    recall = right / len(SENSITIVE)
    precision = right / (sum(got is not None for _, got, _ in found) + len(wrongly_sent))
    print(f"sensitive topics: recall {recall:.1%}, precision {precision:.1%}, ordinary sent to a person: {wrongly_sent}")
    assert recall >= MIN_RECALL, [entry for entry in found if entry[1] != entry[2]]
    assert precision >= MIN_PRECISION, wrongly_sent
    assert len(wrongly_sent) <= MAX_ORDINARY_SENT, wrongly_sent
    # the examples each, whatever the figures
    assert [got for _, got, _ in found[:5]] == ["parcel", "payment", "payment", "parcel", "angry"]
    assert set(wrongly_sent).isdisjoint(ORDINARY[:4])


@pytest.mark.parametrize("text, topic", [
    # The shopper says the order's record is wrong: a person looks into it.
    ("wait, I didn't cancel that one", "dispute"),
    ("i never cancelled, someone else did", "dispute"),
    # ... but asking why it was cancelled, or cancelling, is the bot's.
    ("how come my order got cancelled", None),
    ("please cancel my order", None),
    ("was my cancel request accepted?", None),
    # Saying who one is names no trouble: a payment by its payer, a greeting from the shop's owner.
    ("but it was me who paid for this order", None),
    ("hello, the owner of the shop here", None),
])
def test_a_disputed_record_goes_to_a_person_and_saying_who_one_is_does_not(matcher, text, topic):
    assert matcher.topic(text) == topic


def rules(**handoff):
    return HandoffRules(**{"sensitive_similarity": 0.4, **handoff})


def test_phrases_match_literally_even_without_examples():
    matcher = SensitiveTopicMatcher(rules(sensitive=(("angry", ("ridiculous",)),)))
    assert matcher.topic("This is RIDICULOUS!") == "angry"
    assert matcher.topic("the box turned up squashed and the mug is in pieces") is None


def test_a_message_nearer_an_ordinary_question_than_any_sensitive_example_stays_with_the_bot():
    damaged = (("parcel", ("the parcel went missing in transit",)),)
    without_ordinary = SensitiveTopicMatcher(rules(sensitive_examples=damaged))
    with_ordinary = SensitiveTopicMatcher(rules(sensitive_examples=damaged, ordinary_examples=("track my parcel",)))
    assert without_ordinary.topic("where is my parcel") == "parcel"  # close enough by itself...
    assert with_ordinary.topic("where is my parcel") is None  # ...but closer to the ordinary question
    assert with_ordinary.topic("the carrier lost my parcel on the way") == "parcel"


def test_the_similarity_threshold_decides_how_close_is_close_enough():
    examples = (("payment", ("I was charged two times for the same order",)),)
    text = "there are two payments for one order"
    assert SensitiveTopicMatcher(rules(sensitive_examples=examples)).topic(text) == "payment"
    assert SensitiveTopicMatcher(rules(sensitive_examples=examples, sensitive_similarity=0.99)).topic(text) is None


def test_the_nearest_example_gives_the_topic():
    examples = (("payment", ("I was charged two times",)), ("parcel", ("the vase arrived smashed",)))
    matcher = SensitiveTopicMatcher(rules(sensitive_examples=examples))
    assert matcher.topic("my glass bowl came broken") == "parcel"
    assert matcher.topic("you took my money twice") == "payment"


def test_examples_are_encoded_once_per_version_not_per_message_or_file_change(monkeypatch):
    from bot.nlu import encoders

    encoded = []
    minilm = encoders._ENCODE["minilm"]
    monkeypatch.setitem(encoders._ENCODE, "minilm", lambda texts: encoded.append(tuple(texts)) or minilm(texts))
    monkeypatch.setitem(encoders._remembered, "minilm", type(encoders._remembered["minilm"])())
    sensitive._example_vectors.cache_clear()
    examples = (("payment", ("a new example for this test only",)),)
    matcher = SensitiveTopicMatcher(rules(sensitive_examples=examples))
    for _ in range(3):
        matcher.topic("hello there friend")
    SensitiveTopicMatcher(rules(sensitive_examples=examples, fallbacks_in_a_row=3))  # shop.yml changed elsewhere
    assert encoded.count(("a new example for this test only",)) == 1
    assert encoded.count(("hello there friend",)) == 1  # the message too: the encoder remembers it


def test_the_router_follows_shop_yml_and_sends_other_words_to_a_person(tmp_path, monkeypatch):
    settings = tmp_path / "shop.yml"
    shutil.copy(Config.from_env().shop_settings_file, settings)
    monkeypatch.setenv("SHOP_SETTINGS", str(settings))
    router = SensitiveTopicRouter()
    squashed = Message(data={"text": "the box turned up squashed and the mug is in pieces", "intent": {"name": "return_request"}})
    parcel = Message(data={"text": "where is my parcel", "intent": {"name": "track_shipment"}})
    payload = Message(data={"text": "/talk_to_human", "intent": {"name": "talk_to_human"}})
    router.process([squashed, parcel, payload])
    assert squashed.get("intent")["name"] == "talk_to_human"
    assert squashed.get("entities")[-1] == {
        "entity": "handoff_topic", "value": "parcel", "start": 0, "end": 51, "extractor": "SensitiveTopicRouter",
    }
    assert parcel.get("intent")["name"] == "track_shipment" and not parcel.get("entities")
    assert not payload.get("entities")

    text = settings.read_text().replace("  sensitive_examples:\n", "  sensitive_examples:\n    praise:\n      - you are the best shop ever\n")
    settings.write_text(text)
    praise = Message(data={"text": "what a brilliant shop you are", "intent": {"name": "thank"}})
    router.process([praise])
    assert praise.get("entities")[-1]["value"] == "praise"  # the seller's edit applies at the next message

    settings.write_text("handoff: [")  # a broken edit keeps the last good topics
    again = Message(data={"text": "the box turned up squashed and the mug is in pieces", "intent": {"name": "return_request"}})
    router.process([again])
    assert again.get("entities")[-1]["value"] == "parcel"


def shop_yml(tmp_path, handoff):
    path = tmp_path / "shop.yml"
    path.write_text("shop: demo\nhandoff:\n" + handoff)
    return path


def test_an_old_handoff_section_still_loads(tmp_path):
    loaded = load_settings(shop_yml(tmp_path, "  fallbacks_in_a_row: 3\n  sensitive:\n    angry: [Scam, ' rip  off ']\n")).handoff
    assert loaded == HandoffRules(fallbacks_in_a_row=3, sensitive=(("angry", ("scam", "rip off")),))


def test_the_new_fields_load(tmp_path):
    loaded = load_settings(shop_yml(tmp_path, (
        "  sensitive_similarity: 0.5\n"
        "  sensitive_examples:\n    parcel: [\"the box arrived   crushed\"]\n"
        "  ordinary_examples: [where is my parcel]\n"
    ))).handoff
    assert loaded.sensitive_examples == (("parcel", ("the box arrived crushed",)),)
    assert loaded.ordinary_examples == ("where is my parcel",)
    assert loaded.sensitive_similarity == 0.5


@pytest.mark.parametrize("handoff, field", [
    ("  sensitive: [scam]\n", "`handoff.sensitive` must map each topic"),
    ("  sensitive:\n    angry: scam\n", "`handoff.sensitive.angry` must be a list of phrases"),
    ("  sensitive_examples:\n    parcel: [the box arrived crushed, '']\n", "`handoff.sensitive_examples.parcel` must be a list of sentences"),
    ("  sensitive_examples: [the box arrived crushed]\n", "`handoff.sensitive_examples` must map each topic"),
    ("  ordinary_examples: where is my parcel\n", "`handoff.ordinary_examples` must be a list of sentences"),
    ("  sensitive_similarity: 1.5\n", "`handoff.sensitive_similarity` must be a number"),
    ("  sensitive_similarity: high\n", "`handoff.sensitive_similarity` must be a number"),
])
def test_errors_name_the_field(tmp_path, handoff, field):
    with pytest.raises(SettingsError, match=field.replace("[", r"\[")):
        load_settings(shop_yml(tmp_path, handoff))


def test_a_word_or_two_is_judged_by_the_phrases_only():
    matcher = SensitiveTopicMatcher(rules(sensitive_examples=(("angry", ("stop lying to me",)),)))
    assert matcher.topic("stop") is None  # the form's "stop", not anger
    assert matcher.topic("stop lying to me") == "angry"


# Informal Indonesian, as marketplace buyers write it: the phrases in shop.yml find these
# (the encoder that compares meanings reads English only).
INDONESIAN_SENSITIVE = [
    ("saldo saya kepotong 2x padahal cuma pesan satu", "payment"),
    ("sudah bayar tapi status masih belum dibayar kak", "payment"),
    ("kata kurir paketnya udah diterima tapi saya gak nerima apa2", "parcel"),
    ("gelasnya datang pecah semua", "parcel"),
    ("dusnya penyok, isinya rusak", "parcel"),
    ("pelayanan kalian buruk, saya kecewa banget", "angry"),
    ("toko ini tidak profesional", "angry"),
]
INDONESIAN_ORDINARY = [
    "paket saya belum sampai kak", "saya sudah bayar, kapan dikirim?", "kapan refund saya masuk",
    "mau retur barang, ukurannya kekecilan", "pesanan saya statusnya apa ya", "bisa bayar pakai kartu kredit?",
    "barangnya sudah diterima tapi ukurannya kekecilan, mau retur", "paket udah diterima tapi warnanya beda",
    "bisa bayar 2x cicilan?", "macetnya parah banget ya kak",
]


def test_informal_indonesian_complaints_reach_a_person_and_everyday_questions_do_not(matcher):
    assert [matcher.topic(text) for text, _ in INDONESIAN_SENSITIVE] == [topic for _, topic in INDONESIAN_SENSITIVE]
    assert [text for text in INDONESIAN_ORDINARY if matcher.topic(text)] == []
