"""The Indonesian detector and its NLU component (bot/nlu/language.py), on sentences of our own."""
import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.language import browser_language, clear_language_of, language_of, standard_indonesian
from bot.nlu.language import LanguageDetector

INDONESIAN = [
    # the issue's own examples
    "pesanan saya belum sampai", "mau batalin pesanan 100001", "kapan refund saya cair", "bisa bicara dengan admin?",
    # abbreviated and misspelt, as typed on a phone
    "pesenan sya kpn nyampe y", "trs gmn kak", "brp lama lg",
    # short chat messages
    "kak", "halo kak", "halo min", "permisi", "makasih kak", "iya", "ya kak", "ok kak siap", "gak jadi",
    "udah kak", "belum", "tolong dong", "ada orang?", "selamat pagi", "terima kasih banyak",
    # orders and deliveries
    "paket saya kok belum datang ya", "barangnya udah dikirim belum?", "no resi nya berapa kak",
    "kapan pesanan 100004 sampai", "kurirnya lama banget", "alamat pengiriman salah, bisa ganti?",
    "order saya statusnya apa ya min", "sudah 2 minggu tapi belum nyampe", "gimana cara lacak paket",
    "pesanan aku dimana sekarang", "kenapa pesanan saya dibatalkan",
    # returns, refunds, payments
    "saya mau retur barang ini", "barang rusak, mau tukar", "dana refund kapan masuk ke rekening",
    "uang saya belum kembali", "saya sudah transfer tapi status belum dibayar", "bisa bayar pakai cod?",
    "ukurannya kekecilan, bisa tukar size?", "gimana cara refund",
    # people and complaints
    "mau ngomong sama cs", "tolong sambungkan ke admin", "saya kecewa banget", "min tolong dibantu",
    "email saya emma@example.com kak",
]

ENGLISH = [
    # orders and deliveries
    "where is my parcel", "my order hasn't arrived yet", "has order 100004 shipped", "track my package please",
    "the delivery is late again", "can I change my address", "what's my tracking number",
    "it was supposed to arrive yesterday", "I ordered two weeks ago", "is my order on its way?",
    # returns, refunds, payments
    "I want to return the shoes", "how do I pay", "when will I get my refund", "cancel order 100001",
    "I was charged twice", "the item arrived broken", "can I pay by card", "do you accept paypal",
    # short messages and names that look Indonesian
    "hi", "thanks", "yes", "no", "no thanks", "ok", "okay cool", "bye", "100001", "emma@example.com",
    "ya I want to cancel it", "I paid 5 min ago", "Dan here, where is my order?", "is the Ada lamp in stock?",
    "I'm in Jakarta, do you ship to Bali?", "min order value?", "no, leave it as it is", "ya, that's right",
    # people and complaints
    "can I talk to a human", "this is ridiculous", "are you a bot?", "I need help with order 100245",
    "what are your opening hours", "do you have this in size 42",
]


@pytest.mark.parametrize("text", INDONESIAN)
def test_indonesian_messages_are_recognised(text):
    assert language_of(text) == "id"


@pytest.mark.parametrize("text", ENGLISH)
def test_english_messages_are_not_taken_for_indonesian(text):
    assert language_of(text) == "en"


def test_enough_sentences_of_each_language():
    assert len(INDONESIAN) >= 40 and len(ENGLISH) >= 40


@pytest.mark.parametrize("text, language", [
    ("pesanan saya belum sampai", "id"), ("halo kak", "id"), ("where is my order", "en"), ("I want to return the shoes", "en"),
    ("ok", None), ("thanks", None), ("100001", None), ("emma@example.com", None), ("no thanks", None),
    ("order 100001 ya", None),  # one English word and a shared one: unclear
])
def test_only_a_clear_language_is_told(text, language):
    assert clear_language_of(text) == language


def test_the_component_marks_messages_whose_language_is_clear():
    indonesian = Message(data={"text": "pesanan saya belum sampai", "entities": [{"entity": "order_id", "value": "100001"}]})
    english = Message(data={"text": "my order has not arrived"})
    unclear, payload, empty = Message(data={"text": "ok 100001"}), Message(data={"text": "/talk_to_human"}), Message(data={"text": ""})
    LanguageDetector().process([indonesian, english, unclear, payload, empty])
    assert indonesian.get("entities") == [
        {"entity": "order_id", "value": "100001"},
        {"entity": "language", "value": "id", "start": 0, "end": 25, "extractor": "LanguageDetector"},
    ]
    assert english.get("entities") == [{"entity": "language", "value": "en", "start": 0, "end": 24, "extractor": "LanguageDetector"}]
    assert not unclear.get("entities") and not payload.get("entities") and not empty.get("entities")


@pytest.mark.parametrize("header, language", [
    ("id-ID,id;q=0.9,en-US;q=0.8", "id"), ("in", "id"), ("en-GB,en;q=0.9,id;q=0.5", "en"),
    ("fr-FR,fr;q=0.9,id;q=0.7,en;q=0.6", "id"),  # the first of ours the browser names, by its weight
    ("en;q=0.2, id;q=0.8", "id"), ("de-DE", None), ("", None), ("id;q=0", None), ("id;q=abc, en", "en"),
])
def test_the_browsers_preferred_language_of_ours(header, language):
    assert browser_language(header) == language


@pytest.mark.parametrize("text, standard", [
    ("paket sy udh dmn ya kak", "paket saya sudah di mana ya"),
    ("data saya aman ga?", "data saya aman tidak?"),
    ("udh seminggu blm dikirim2", "sudah seminggu belum dikirim"),
    ("ongkir ke surabaya brp min", "ongkos kirim ke surabaya berapa"),
    # e-mail addresses, order numbers and "2x" are no words
    ("email sy sy@gmail.com, pesenan 100004 kak", "email saya sy@gmail.com, pesanan 100004"),
    ("saldo kepotong 2x gmn dong", "saldo kepotong 2x bagaimana"),
    ("kak", "kak"),  # nothing but a form of address: kept
    # English is left as it is, its "ga" and "min" included
    ("where is my order, it's been 5 min", "where is my order, it's been 5 min"),
    ("I live in ga", "I live in ga"),
])
def test_chat_indonesian_is_read_in_written_indonesian_words(text, standard):
    assert standard_indonesian(text) == standard
