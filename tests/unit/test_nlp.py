import pytest

from bot.nlu.spacy_pipeline import build_pipeline


@pytest.fixture(scope="module")
def nlp():
    return build_pipeline()


def entities(nlp, text):
    return [(ent.text, ent.label_) for ent in nlp(text).ents]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("where is order 100245", [("100245", "order_id")]),
        ("order #1001 please", [("#1001", "order_id")]),
        ("my purchase 113542617735902 hasnt come", [("113542617735902", "order_id")]),
        ("tracking no SPXGB0123456789", [("SPXGB0123456789", "tracking_number")]),
        ("ups 1z999aa10123456784 says delivered", [("1z999aa10123456784", "tracking_number")]),
        ("mail me at jo.doe+shop@example.co.uk", [("jo.doe+shop@example.co.uk", "email")]),
        ("call +44 20 7946 0958 now", [("+44 20 7946 0958", "phone")]),
        ("my number is 555-123-4567", [("555-123-4567", "phone")]),
        ("or (555) 123-4567", [("(555) 123-4567", "phone")]),
        ("07700 900123", [("07700 900123", "phone")]),
        ("call 07700900123", [("07700900123", "phone")]),
        ("order 100245 for jo@example.com", [("100245", "order_id"), ("jo@example.com", "email")]),
        # International formats: their digit groups are no order numbers.
        ("+44 7700 900456", [("+44 7700 900456", "phone")]),
        ("it's +1 (555) 010-2030.", [("+1 (555) 010-2030", "phone")]),
        ("0044 7700 900456", [("0044 7700 900456", "phone")]),
        ("+44 (0)7700 900456", [("+44 (0)7700 900456", "phone")]),
        ("+33 6 12 34 56 78", [("+33 6 12 34 56 78", "phone")]),
        ("555.010.2030", [("555.010.2030", "phone")]),
        ("order 100004 and +44 7700 900456", [("100004", "order_id"), ("+44 7700 900456", "phone")]),
    ],
)
def test_entity_ruler_finds_shop_entities(nlp, text, expected):
    assert entities(nlp, text) == expected


@pytest.mark.parametrize("text", ["I ordered 2 shirts", "it cost 45 euros", "on 12 march", "size 10", "hello"])
def test_short_numbers_and_plain_words_are_not_entities(nlp, text):
    assert entities(nlp, text) == []


def test_saved_pipeline_loads_with_its_patterns(tmp_path):
    import spacy

    from bot.nlu.spacy_pipeline import save_pipeline

    save_pipeline(tmp_path / "en_shop")
    loaded = spacy.load(tmp_path / "en_shop")
    assert [(e.text, e.label_) for e in loaded("order 100245").ents] == [("100245", "order_id")]
