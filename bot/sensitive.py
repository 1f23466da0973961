"""A Rasa NLU component: messages on a sensitive topic (shop.yml `handoff.sensitive`:
payment problems, lost or damaged parcels, an angry shopper) go to a person.

It runs last in the pipeline and turns such a message's intent into `talk_to_human`
with a `handoff_topic` entity, so the usual handoff rule applies and the shopper's
own words stay in the conversation. The phrases are read from shop.yml when it
changes, so the seller's edits apply without retraining.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message

from bot.config import Config
from bot.handoff import sensitive_topic
from bot.settings import SettingsError, load_settings

log = logging.getLogger(__name__)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class SensitiveTopicRouter(GraphComponent):
    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext,
    ) -> SensitiveTopicRouter:
        return cls()

    def __init__(self) -> None:
        self._settings_file = Config.from_env().shop_settings_file
        self._stamp: Optional[Tuple[int, int]] = None
        self._sensitive: Tuple = ()

    def _phrases(self) -> Tuple:
        path = Path(self._settings_file)
        try:
            stat = path.stat()
            if (stat.st_mtime_ns, stat.st_size) != self._stamp:
                self._sensitive = load_settings(path).handoff.sensitive
                self._stamp = (stat.st_mtime_ns, stat.st_size)
        except (OSError, SettingsError):
            log.exception("cannot read the sensitive topics from %s; keeping the last ones", path)
        return self._sensitive

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get("text") or ""
            topic = sensitive_topic(text, self._phrases()) if text and not text.startswith("/") else None
            if topic:
                message.set("intent", {"name": "talk_to_human", "confidence": 1.0}, add_to_output=True)
                message.set("intent_ranking", [{"name": "talk_to_human", "confidence": 1.0}], add_to_output=True)
                entity = {"entity": "handoff_topic", "value": topic, "start": 0, "end": len(text), "extractor": "SensitiveTopicRouter"}
                message.set("entities", [*message.get("entities", []), entity], add_to_output=True)
        return messages
