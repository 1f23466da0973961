"""The Rasa NLU component `LanguageDetector`: it adds the entity `language` with the value
`id` to Indonesian messages and `en` to clearly English ones (bot/language.py tells them;
nothing is added to "ok" or "100001"). The slot `language` takes it, and the responses'
Indonesian variations are chosen by it: a shopper who switches language is answered in the new one.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message

from bot.language import clear_language_of


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class LanguageDetector(GraphComponent):
    """Adds the entity `language` (`id` or `en`) to messages whose language is clear."""

    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext,
    ) -> LanguageDetector:
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get("text") or ""
            language = None if text.startswith("/") else clear_language_of(text)
            if language:
                entity = {"entity": "language", "value": language, "start": 0, "end": len(text), "extractor": "LanguageDetector"}
                message.set("entities", [*message.get("entities", []), entity], add_to_output=True)
        return messages
