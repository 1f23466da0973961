"""The held-out FAQ phrasings (benchmarks/faq_heldout.yml) stay complete and out of the training data."""
import re
import string
from pathlib import Path

import pytest
import yaml

from bot.config import Config
from bot.faq.store import load_faqs

CONFIG = Config.from_env()
HELDOUT_FILE = Path(__file__).parents[2] / "benchmarks" / "faq_heldout.yml"
MIN_PHRASINGS = 2
# `[text](entity)` / `[text]{"entity": ...}` in Rasa examples: only `text` is what the shopper typed.
ENTITY_ANNOTATION = re.compile(r"\[([^\]]*)\](\([^)]*\)|\{[^}]*\})")
PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalised(text: str) -> str:
    return " ".join(ENTITY_ANNOTATION.sub(r"\1", text).lower().translate(PUNCTUATION).split())


def training_examples():
    examples = [example for faq in load_faqs(CONFIG.faq_dir) for example in faq.examples]
    for path in sorted((CONFIG.project_dir / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            examples += [line[2:] for line in item.get("examples", "").splitlines() if line.startswith("- ")]
    return examples


@pytest.fixture(scope="module")
def heldout():
    return yaml.safe_load(HELDOUT_FILE.read_text(encoding="utf-8"))


def test_every_enabled_faq_has_heldout_phrasings(heldout):
    enabled = [faq.id for faq in load_faqs(CONFIG.faq_dir) if faq.enabled]
    too_few = [faq_id for faq_id in enabled if len(heldout.get(faq_id) or []) < MIN_PHRASINGS]
    assert not too_few, f"fewer than {MIN_PHRASINGS} held-out phrasings: {too_few}"


def test_every_heldout_id_is_a_faq(heldout):
    known = {faq.id for faq in load_faqs(CONFIG.faq_dir)}
    assert set(heldout) - known == set()


def test_no_heldout_phrasing_is_a_training_example(heldout):
    trained = {normalised(example) for example in training_examples()}
    leaked = [text for phrasings in heldout.values() for text in phrasings if normalised(text) in trained]
    assert not leaked, f"held-out phrasings found in the training data: {leaked}"
