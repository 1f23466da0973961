"""The Rasa NLU component `LanguageDetector`: it adds the entity `language` with the value
`id` to Indonesian messages (bot/language.py tells them; nothing is added to English ones).
The slot `language` takes it, and the responses' Indonesian variations are chosen by it.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message

from bot.language import INDONESIAN, language_of


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageDetector(GraphComponent):
    """Adds the entity `language` = `id` to Indonesian messages."""

    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext,
    ) -> LanguageDetector:
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get("text") or ""
            if text and not text.startswith("/") and language_of(text) == INDONESIAN:
                entity = {"entity": "language", "value": INDONESIAN, "start": 0, "end": len(text), "extractor": "LanguageDetector"}
                message.set("entities", [*message.get("entities", []), entity], add_to_output=True)
        return messages
