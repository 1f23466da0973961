"""The project's spaCy pipeline, built in code.

No pretrained English pipeline for spaCy 3.4 can be installed here, so the
pipeline starts from `spacy.blank("en")` and adds what Rasa's SpacyNLP,
SpacyTokenizer and SpacyEntityExtractor use:

- the English tokenizer;
- an EntityRuler that finds what shoppers paste into the chat: order
  numbers, parcel tracking numbers, e-mail addresses and phone numbers.
  The labels are the Rasa entity names.
"""
from pathlib import Path

import spacy

ORDER_ID = "order_id"
TRACKING_NUMBER = "tracking_number"
EMAIL = "email"
PHONE = "phone"

# Bumped whenever the patterns change: the version goes into the
# pipeline's meta.json, and `make train` retrains when the pipeline is rebuilt.
PIPELINE_VERSION = "1.3.0"

_DIGITS = r"^\d{%d,%d}$"

ENTITY_PATTERNS = [
    # Order numbers: 6 to 20 digits not starting with 0 ("100245"), or "#" and 3+ digits ("#1001").
    {"label": ORDER_ID, "pattern": [{"TEXT": {"REGEX": r"^[1-9]\d{5,19}$"}}]},
    {"label": ORDER_ID, "pattern": [{"ORTH": "#"}, {"TEXT": {"REGEX": _DIGITS % (3, 20)}}]},
    {"label": ORDER_ID, "pattern": [{"TEXT": {"REGEX": r"^#\d{3,20}$"}}]},
    # Tracking numbers mix letters and a run of digits: SPXGB0123456789,
    # 1Z999AA10123456784, LX123456789CN.
    {
        "label": TRACKING_NUMBER,
        "pattern": [{"TEXT": {"REGEX": r"^(?=[A-Za-z0-9]*\d{5})(?=[A-Za-z0-9]*[A-Za-z]{2})[A-Za-z0-9]{10,30}$"}}],
    },
    {"label": EMAIL, "pattern": [{"LIKE_EMAIL": True}]},
    # Phone numbers: international (+44 20 7946 0958, +44 7700 900456, +1 (555) 010-2030,
    # +44 (0)7700 900456, 0044 7700 900456, +447946000958), grouped national (0770 090 0123,
    # 555-123-4567, (555) 123-4567, 555.123.4567). A bare run of digits is an order number;
    # the verification form reads phones from text. The longest match wins, so the digit
    # groups of a phone number are no order numbers.
    {"label": PHONE, "pattern": [{"TEXT": {"REGEX": r"^\+\d{7,15}$"}}]},
    {"label": PHONE, "pattern": [{"TEXT": {"REGEX": r"^0\d{9,10}$"}}]},  # national, written together
    {"label": PHONE, "pattern": [{"TEXT": {"REGEX": r"^\d{3}[.\-]\d{3}[.\-]\d{4}$"}}]},
    {
        "label": PHONE,
        "pattern": [
            {"TEXT": {"REGEX": r"^(\+|00)\d{1,3}$"}},
            {"TEXT": {"REGEX": r"^([()\-.]|\(?\d{1,6}\)?\d{0,6})$"}, "OP": "*"},
            {"TEXT": {"REGEX": r"^\d{2,6}$"}},
        ],
    },
    {
        "label": PHONE,
        "pattern": [
            {"TEXT": {"REGEX": r"^0\d{2,4}$"}},
            {"TEXT": {"REGEX": r"^\d{3,8}$"}},
            {"TEXT": {"REGEX": r"^\d{3,4}$"}, "OP": "?"},
        ],
    },
    {
        "label": PHONE,
        "pattern": [
            {"ORTH": "(", "OP": "?"},
            {"TEXT": {"REGEX": r"^\d{3}$"}},
            {"ORTH": {"IN": [")", "-"]}, "OP": "?"},
            {"TEXT": {"REGEX": r"^\d{3}$"}},
            {"ORTH": "-"},
            {"TEXT": {"REGEX": r"^\d{4}$"}},
        ],
    },
]


def build_pipeline() -> spacy.Language:
    """Create the initialised pipeline."""
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", config={"overwrite_ents": True})
    nlp.initialize()  # it empties the ruler, so the patterns come after
    ruler.add_patterns(ENTITY_PATTERNS)
    nlp.meta["name"] = "shop"
    nlp.meta["version"] = PIPELINE_VERSION
    nlp.meta["description"] = "Blank English pipeline with shop entity rules"
    return nlp


def save_pipeline(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    build_pipeline().to_disk(path)
