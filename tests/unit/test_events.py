"""bot/rasa/events.py: the events the web service writes pass Rasa's own events schema (the
one its HTTP API checks them with)."""
import jsonschema
import pytest
from rasa.shared.utils.schemas.events import EVENTS_SCHEMA

from bot.rasa import events

# As /model/parse returns them: SpacyEntityExtractor's entities carry a confidence of None.
PARSE = {
    "text": "my order is 100014, emma@example.com",
    "intent": {"name": "inform", "confidence": 0.91},
    "intent_ranking": [{"name": "inform", "confidence": 0.91}],
    "entities": [
        {"entity": "order_id", "value": "100014", "start": 12, "end": 18, "confidence": None, "extractor": "SpacyEntityExtractor"},
        {"entity": "email", "value": "emma@example.com", "start": 20, "end": 36, "confidence": None, "extractor": "SpacyEntityExtractor"},
        {"entity": "language", "value": "id", "start": 0, "end": 36, "confidence": 1.0, "extractor": "LanguageDetector"},
    ],
}


def test_a_message_with_rule_based_entities_is_a_valid_event():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([{"event": "user", "text": PARSE["text"], "parse_data": PARSE}], EVENTS_SCHEMA)
    recorded = events.user_event(PARSE["text"], PARSE, {"client_address": "127.0.0.1"})
    jsonschema.validate([events.LISTEN, recorded, events.bot_event("Thanks!", {"agent": "Alex"})], EVENTS_SCHEMA)
    assert [e["value"] for e in recorded["parse_data"]["entities"]] == ["100014", "emma@example.com", "id"]
    assert recorded["parse_data"]["entities"][2]["confidence"] == 1.0
    assert "confidence" in PARSE["entities"][0]  # the parse itself is left as it was
