"""A Rasa NLU component: messages on a sensitive topic (payment problems, lost or damaged
parcels, an angry shopper) go to a person.

It runs last in the pipeline and turns such a message's intent into `talk_to_human`
with a `handoff_topic` entity, so the usual handoff rule applies and the shopper's
own words stay in the conversation. The topics are read from shop.yml when it changes,
so the seller's edits apply without retraining.

A message is on a topic if it contains one of the topic's phrases (`handoff.sensitive`,
whole words), or if its meaning is close to one of the topic's example sentences
(`handoff.sensitive_examples`): its all-MiniLM-L6-v2 cosine similarity to the nearest one
reaches `handoff.sensitive_similarity` and is higher than to any of the ordinary questions
the bot answers itself (`handoff.ordinary_examples`). That comparison keeps "where is my
parcel" (nearest: an ordinary question) apart from "the courier says delivered but nothing
came" (nearest: a sensitive example), which a threshold alone does not: both are about as
close to "the parcel went missing". The short phrases take no part in it for the same
reason: "parcel lost" is nearer to "where is my parcel" than most ordinary questions are.
tests/unit/test_sensitive.py measures both on sentences of its own.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message

from bot.config import Config
from bot.shop.tickets import sensitive_topic
from bot.nlu import encoders
from bot.shop.settings import HandoffRules, SettingsError, SettingsFile

log = logging.getLogger(__name__)


# A message of a word or two ("stop", "no way") has too little meaning to compare: only
# the phrases tell its topic ("ridiculous", "scam").
MIN_WORDS_BY_MEANING = 3


@lru_cache(maxsize=4)
def _example_vectors(texts: Tuple[str, ...]) -> np.ndarray:
    """The examples' vectors, computed once for each version of them: shop.yml changes
    for other reasons too (working hours), and then the same vectors serve again."""
    return encoders.encode("minilm", texts)


class SensitiveTopicMatcher:
    """The seller's sensitive topics (shop.yml `handoff`), by phrase and by meaning."""

    def __init__(self, rules: HandoffRules) -> None:
        self.rules = rules
        self._topics = [topic for topic, examples in rules.sensitive_examples for _ in examples]
        self._examples = _example_vectors(tuple(example for _, examples in rules.sensitive_examples for example in examples))
        self._ordinary = _example_vectors(rules.ordinary_examples)

    def topic(self, text: str, vector: Optional[np.ndarray] = None, about_the_shop: bool = True) -> Optional[str]:
        """The message's sensitive topic, if any; `vector` is its sentence vector when known.
        By meaning only for messages about the shop (of `MIN_WORDS_BY_MEANING` words or more):
        "my bank card was charged twice" to a shop's bot is a payment problem, "report fraud
        on my credit card" is not the shop's."""
        by_phrase = sensitive_topic(text, self.rules.sensitive)
        if by_phrase or not about_the_shop or len(text.split()) < MIN_WORDS_BY_MEANING:
            return by_phrase
        return self.topic_by_meaning(encoders.encode("minilm", [text])[0] if vector is None else vector)

    def topic_by_meaning(self, vector: np.ndarray) -> Optional[str]:
        if not self._topics:
            return None
        similarities = self._examples @ vector
        nearest = int(similarities.argmax())
        ordinary = float((self._ordinary @ vector).max()) if len(self._ordinary) else -1.0
        best = float(similarities[nearest])
        return self._topics[nearest] if best >= self.rules.sensitive_similarity and best > ordinary else None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class SensitiveTopicRouter(GraphComponent):
    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext,
    ) -> SensitiveTopicRouter:
        return cls()

    def __init__(self) -> None:
        self._settings_file = SettingsFile(Config.from_env().shop_settings_file)
        self._matcher = SensitiveTopicMatcher(HandoffRules())
        self.matcher()  # encodes the examples now, not at the first shopper's message

    def matcher(self) -> SensitiveTopicMatcher:
        """The matcher of shop.yml's topics as they are now (SettingsFile keeps the last valid ones)."""
        try:
            rules = self._settings_file.current().handoff
        except SettingsError:
            log.exception("no valid shop.yml yet: no sensitive topics")
            return self._matcher
        if rules != self._matcher.rules:
            self._matcher = SensitiveTopicMatcher(rules)
        return self._matcher

    def process(self, messages: List[Message]) -> List[Message]:
        with_text = [message for message in messages if message.get("text")]
        # The same texts the featurizer and the FAQ matcher encoded: remembered by the encoder.
        vectors = encoders.encode("minilm", [message.get("text") for message in with_text])
        matcher = self.matcher()
        for message, vector in zip(with_text, vectors):
            text = message.get("text")
            about_the_shop = (message.get("intent") or {}).get("name") != "out_of_scope"
            topic = None if text.startswith("/") else matcher.topic(text, vector, about_the_shop)
            if topic:
                message.set("intent", {"name": "talk_to_human", "confidence": 1.0}, add_to_output=True)
                message.set("intent_ranking", [{"name": "talk_to_human", "confidence": 1.0}], add_to_output=True)
                entity = {"entity": "handoff_topic", "value": topic, "start": 0, "end": len(text), "extractor": "SensitiveTopicRouter"}
                message.set("entities", [*message.get("entities", []), entity], add_to_output=True)
        return messages
