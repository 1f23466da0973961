import textwrap

import pytest
import yaml

from bot.config import Config
from bot.faq.store import (
    CATEGORIES, FaqStore, FaqValidationError, load_faqs, render_faq_file, render_training_data, write_training_data,
)

GOOD = """\
category: logistics
faqs:
  - id: shipping_times
    question: How long does shipping take?
    similar: [when will it ship, delivery time, how fast do you deliver]
    answer: 3 to 5 working days.
    welcome: true
  - id: shipping_costs
    question: How much is shipping?
    similar: [delivery cost, shipping fee, is shipping free]
    answer: Free over 50 euros.
    buttons:
      - title: Track my order
        payload: /track_shipment
"""


def write(directory, name, text):
    (directory / name).write_text(textwrap.dedent(text))


def problems(directory):
    with pytest.raises(FaqValidationError) as error:
        load_faqs(directory)
    return error.value.problems


def test_shipped_faqs_are_valid_and_cover_every_category():
    faqs = load_faqs(Config.from_env().faq_dir)
    assert len(faqs) >= 30
    assert {faq.category for faq in faqs} == {"greetings", "pre-sale", "logistics", "after-sales", "other"}
    assert all(len(faq.similar) >= 3 for faq in faqs)
    assert 1 <= sum(faq.welcome for faq in faqs) <= 5


def test_the_admin_pages_rewrite_of_the_shipped_files_changes_nothing():
    # An edit on the admin page rewrites the whole category file: the FAQs it did not touch,
    # long answers included, must come out as they were written.
    directory = Config.from_env().faq_dir
    faqs = load_faqs(directory)
    for category in CATEGORIES:
        text = (directory / f"{category}.yml").read_text(encoding="utf-8")
        assert render_faq_file(category, [faq for faq in faqs if faq.category == category]) == text
    assert "    answer: |-\n" in text  # long answers stay blocks


def test_training_data_has_every_enabled_faq_and_its_response(tmp_path):
    write(tmp_path, "logistics.yml", GOOD)
    data = yaml.safe_load(render_training_data(load_faqs(tmp_path)))
    assert [item["intent"] for item in data["nlu"]] == ["faq/shipping_times", "faq/shipping_costs"]
    assert "- delivery time\n" in data["nlu"][0]["examples"]
    # The answer is read from the FAQ file at reply time: an answer edit must not change the training data.
    assert set(data["responses"]) == {"utter_faq/shipping_times", "utter_faq/shipping_costs"}
    assert "Free over 50 euros" not in render_training_data(load_faqs(tmp_path))


def test_disabled_faqs_are_not_trained(tmp_path):
    write(tmp_path, "logistics.yml", GOOD.replace("    welcome: true", "    enabled: false"))
    data = yaml.safe_load(render_training_data(load_faqs(tmp_path)))
    assert [item["intent"] for item in data["nlu"]] == ["faq/shipping_costs"]


def test_generation_is_reproducible_and_marked(tmp_path):
    write(tmp_path, "logistics.yml", GOOD)
    target = tmp_path / "out" / "faq.yml"
    write_training_data(tmp_path, target)
    first = target.read_text()
    write_training_data(tmp_path, target)
    assert target.read_text() == first
    assert first.startswith("# GENERATED")


def test_duplicate_id_names_both_places(tmp_path):
    write(tmp_path, "logistics.yml", GOOD)
    write(tmp_path, "other.yml", GOOD.replace("logistics", "other").replace("shipping_costs", "other_costs"))
    [problem] = problems(tmp_path)
    assert "other.yml:3: shipping_times: duplicate id, first defined at" in problem
    assert "logistics.yml:3" in problem


def test_empty_answer_and_too_few_similar_questions(tmp_path):
    bad = GOOD.replace("answer: Free over 50 euros.", "answer: ''").replace(
        "[delivery cost, shipping fee, is shipping free]", "[delivery cost]"
    )
    write(tmp_path, "logistics.yml", bad)
    assert problems(tmp_path) == [
        f"{tmp_path / 'logistics.yml'}:8: shipping_costs: empty answer",
        f"{tmp_path / 'logistics.yml'}:8: shipping_costs: 1 similar questions, at least 3 needed",
    ]


def test_unknown_category(tmp_path):
    write(tmp_path, "misc.yml", GOOD.replace("category: logistics", "category: misc"))
    [problem] = problems(tmp_path)
    assert "misc.yml:1: unknown category 'misc'" in problem


def test_broken_yaml_names_the_line(tmp_path):
    write(tmp_path, "logistics.yml", GOOD + "  - id: [unclosed\n")
    [problem] = problems(tmp_path)
    assert problem.startswith(f"{tmp_path / 'logistics.yml'}:") and "broken YAML" in problem


def test_store_keeps_the_faqs_in_service_when_an_edit_is_invalid(tmp_path):
    write(tmp_path, "logistics.yml", GOOD)
    store = FaqStore(tmp_path)
    assert store.get("shipping_costs").answer == "Free over 50 euros."
    write(tmp_path, "logistics.yml", GOOD.replace("Free over 50 euros.", "Free over 40 euros."))
    assert store.get("shipping_costs").answer == "Free over 40 euros."  # live at the next look-up
    write(tmp_path, "logistics.yml", GOOD + "  - id: [unclosed\n")
    assert store.get("shipping_costs").answer == "Free over 40 euros."
    assert store.get("no_such_faq") is None
