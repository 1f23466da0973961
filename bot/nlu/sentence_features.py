"""A Rasa NLU component: the sentence's meaning as a dense sentence feature, the vectors
of the configured encoders (bot/nlu/encoders.py) side by side.

Meaning, not shared letters, is what carries the intents over to phrasings the training
data lacks: "has my package shipped" and "where is my parcel" share no word. The intent
classifier (bot/nlu/intent_classifier.py) reads this feature; the FAQs are matched by
bot/nlu/faq_matcher.py.
"""
from __future__ import annotations

import re

from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import encoders

# A message of several questions ("where is my order? and how do I return it") is also read
# clause by clause: the classifier tells the bot about the other questions. The clauses and
# their vectors go into the message under this key (not into the parse).
CLAUSES = "clauses"
_JOINT = r"(?:and also|and|also|plus|btw|by the way)"
_CLAUSE_BREAK = re.compile(rf"[?!.;]+\s+|,?\s+{_JOINT}\s+(?=\w)", re.IGNORECASE)
_LEADING_JOINT = re.compile(rf"^{_JOINT}\s+", re.IGNORECASE)
_MIN_CLAUSE_WORDS = 3


def split_clauses(text: str) -> List[str]:
    """The message's clauses of a few words or more, if it has two or more."""
    clauses = [_LEADING_JOINT.sub("", clause.strip()) for clause in _CLAUSE_BREAK.split(text)]
    clauses = [clause for clause in clauses if len(clause.split()) >= _MIN_CLAUSE_WORDS]
    return clauses if len(clauses) >= 2 else []


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "encoders": ["minilm"]}

    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext,
    ) -> SentenceEmbeddingFeaturizer:
        for name in config["encoders"]:
            encoders.load(name)
        return cls(execution_context.node_name, config)

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[str]:
        return encoders.fingerprint(__file__, config["encoders"])

    def _encode(self, texts: List[str]) -> np.ndarray:
        return np.hstack([encoders.encode(name, texts) for name in self._config["encoders"]])

    def _add_features(self, messages: List[Message]) -> List[Message]:
        with_text = [message for message in messages if message.get(TEXT)]
        if with_text:
            for message, vector in zip(with_text, self._encode([message.get(TEXT) for message in with_text])):
                message.add_features(Features(vector[None, :], FEATURE_TYPE_SENTENCE, TEXT, self._identifier))
        return with_text

    def process(self, messages: List[Message]) -> List[Message]:
        for message in self._add_features(messages):
            clauses = split_clauses(message.get(TEXT))
            if clauses:
                message.set(CLAUSES, list(zip(clauses, self._encode(clauses))))
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._add_features(training_data.training_examples)
        return training_data

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        for name in config.get("encoders", []):
            if name not in encoders.PACKAGES:
                raise ValueError(f"SentenceEmbeddingFeaturizer: unknown encoder {name!r}; known: {', '.join(encoders.PACKAGES)}")
