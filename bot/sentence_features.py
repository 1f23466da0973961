"""A Rasa NLU component: all-MiniLM-L6-v2 embeddings (bot/sentence_encoder.py) as dense
features, the sentence's vector and one per word, beside the character n-grams.

DIET then sees meaning, not only shared letters, which is what carries the intents over
to phrasings the training data lacks. (The FAQs are matched by bot/faq_matcher.py.)
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.sentence_encoder import fingerprint, sentence_encoder


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext,
    ) -> SentenceEmbeddingFeaturizer:
        return cls(execution_context.node_name, config)

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[str]:
        return fingerprint(__file__)

    def process(self, messages: List[Message]) -> List[Message]:
        # Like the count featurizers, nothing for a message without tokens.
        with_text = [message for message in messages if message.get(TEXT) and message.get(TOKENS_NAMES[TEXT])]
        embeddings = sentence_encoder().embed([message.get(TEXT) for message in with_text])
        # A unit-length sentence vector has components near 0.05, which the classifiers
        # (used to counts) all but ignore; scaled to about 1 per component, it weighs in.
        # The word vectors are the model's own, already of that size.
        scale = np.sqrt(sentence_encoder().dimension)
        for message, embedding in zip(with_text, embeddings):
            words = [(token.start, token.end) for token in message.get(TOKENS_NAMES[TEXT])]
            # Rasa's classifiers need per-word features beside the sentence's.
            message.add_features(Features(embedding.word_vectors(words), FEATURE_TYPE_SEQUENCE, TEXT, self._identifier))
            message.add_features(Features(scale * embedding.sentence[None, :], FEATURE_TYPE_SENTENCE, TEXT, self._identifier))
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        pass
