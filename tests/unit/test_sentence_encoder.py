"""The NumPy all-MiniLM-L6-v2 encoder: tokenizer, padding, pooling and meaning."""
import numpy as np
import pytest

from bot.nlu.sentence_encoder import MAX_PIECES, basic_tokens, sentence_encoder


@pytest.fixture(scope="module")
def encoder():
    return sentence_encoder()


def pieces(encoder, text):
    names = {index: piece for piece, index in encoder.vocabulary.items()}
    return [names[index] for index in encoder.tokenize(text)[0]]


def test_words_and_punctuation_are_split_lower_cased_and_without_accents():
    assert basic_tokens("Where's my Café order?!") == [
        ("where", (0, 5)), ("'", (5, 6)), ("s", (6, 7)), ("my", (8, 10)),
        ("cafe", (11, 15)), ("order", (16, 21)), ("?", (21, 22)), ("!", (22, 23)),
    ]


@pytest.mark.parametrize("text, words", [
    ("co\u00adoperate", ["cooperate"]),  # a soft hyphen from a pasted text
    ("hel\u200blo there", ["hello", "there"]),  # a zero-width space
    ("ok\x00ay\ufffd", ["okay"]),
    ("one\ttwo\nthree\u00a0four", ["one", "two", "three", "four"]),  # all kinds of spaces split
])
def test_control_and_format_characters_are_dropped_as_bert_drops_them(text, words):
    assert [word for word, _ in basic_tokens(text)] == words


def test_unknown_words_become_word_pieces_framed_by_cls_and_sep(encoder):
    tokens = pieces(encoder, "refundable parcels")
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert "".join(piece.replace("##", "") for piece in tokens[1:-1]) == "refundableparcels"
    assert any(piece.startswith("##") for piece in tokens)


def test_long_messages_are_cut_to_the_model_limit(encoder):
    ids, spans = encoder.tokenize("word " * 500)
    assert len(ids) == len(spans) == MAX_PIECES and pieces(encoder, "word " * 500)[-1] == "[SEP]"


def test_vectors_have_unit_length_and_do_not_depend_on_the_batch(encoder):
    texts = ["hi", "where is my parcel, it was due last week and nothing has arrived yet", "refund please"]
    together = encoder.encode(texts)
    alone = np.stack([encoder.encode([text])[0] for text in texts])
    assert together.shape == (3, 384)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.allclose(together, alone, atol=1e-5)  # padding in a batch changes nothing


def test_paraphrases_are_closer_than_other_topics(encoder):
    refund, money_back, parcel, package, weather = encoder.encode([
        "can I get a refund", "I want my money back", "where is my parcel", "has my package shipped yet",
        "what will the weather be like tomorrow",
    ])
    assert refund @ money_back > 0.5 > refund @ weather
    assert parcel @ package > parcel @ money_back
    assert parcel @ package > parcel @ weather


def test_the_same_texts_asked_again_are_not_computed_again(monkeypatch):
    from bot.nlu import encoders

    computed = []
    minilm = encoders._ENCODE["minilm"]
    monkeypatch.setitem(encoders._ENCODE, "minilm", lambda texts: computed.append(list(texts)) or minilm(texts))
    monkeypatch.setitem(encoders._remembered, "minilm", type(encoders._remembered["minilm"])())
    first = encoders.encode("minilm", ["where is my parcel", "where is my parcel"])
    again = encoders.encode("minilm", ["can i pay with paypal", "where is my parcel"])
    assert computed == [["where is my parcel"], ["can i pay with paypal"]]  # each text once
    assert np.array_equal(again[1], first[0]) and not np.allclose(again[0], first[0])
    again[1][0] = 1.0  # the caller's own copy: what is remembered stays
    assert np.array_equal(encoders.encode("minilm", ["where is my parcel"])[0], first[0])


def test_only_the_latest_texts_are_remembered(monkeypatch):
    from bot.nlu import encoders

    monkeypatch.setattr(encoders, "REMEMBERED_TEXTS", 2)
    monkeypatch.setitem(encoders._remembered, "use", type(encoders._remembered["use"])())
    encoders.encode("use", ["a parcel", "a refund"])
    encoders.encode("use", ["a parcel"])  # used again: the refund is now the oldest
    encoders.encode("use", ["a voucher"])
    assert list(encoders._remembered["use"]) == ["a parcel", "a voucher"]


def test_chat_indonesian_is_encoded_in_written_indonesian_words(monkeypatch):
    from bot.nlu import encoders

    computed = []
    minilm = encoders._ENCODE["minilm"]
    monkeypatch.setitem(encoders._ENCODE, "minilm", lambda texts: computed.append(list(texts)) or minilm(texts))
    monkeypatch.setitem(encoders._remembered, "minilm", type(encoders._remembered["minilm"])())
    chat, written = encoders.encode("minilm", ["paket sy udh dmn kak", "paket saya sudah di mana"])
    assert computed == [["paket saya sudah di mana"]]  # one text, in written Indonesian
    assert np.array_equal(chat, written)
