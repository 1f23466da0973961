"""A Rasa NLU component that picks the FAQ for a message by meaning, in place of Rasa's
ResponseSelector.

Training keeps the all-MiniLM-L6-v2 vector (bot/nlu/sentence_encoder.py) of every phrasing
of every FAQ. A message's score for a FAQ is the mean cosine similarity of its `NEAREST`
closest phrasings of that FAQ; the FAQs are ranked by it. Several close phrasings count
for more than one lucky match. On the held-out phrasings in benchmarks/faq_heldout.yml this
ranks far better than the ResponseSelector, which learns from few examples per FAQ and
underfits dense features (`make benchmark` prints the figures).

The result goes where Rasa's ResponseSelector puts its own (`response_selector.faq`:
the chosen response and the ranking), so Rasa's retrieval intents, the FAQ action and the
answer recommendations read it unchanged. Confidences are those similarities, 0 to 1.

A message classified as a FAQ question whose best FAQ scores below `threshold` becomes
`nlu_fallback`, as Rasa's FallbackClassifier marks an unsure intent: the bot says it is
not sure and offers the closest FAQs. On the held-out phrasings the right FAQ scored 0.53
or more in 95 of 100 cases; questions about other things (the weather, a joke) 0.18-0.40.
The other way round, a message the intent classifier was unsure of is a FAQ question when
one FAQ matches it clearly (`clear_match`, `clear_margin`).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, INTENT_RESPONSE_KEY, PREDICTED_CONFIDENCE_KEY, TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import encoders

log = logging.getLogger(__name__)
NEAREST = 3
RANKING_LENGTH = 10
_PHRASINGS_FILE = "faq_phrasings.npz"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class FaqMatcher(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"retrieval_intent": "faq", "threshold": 0.45, "clear_match": 0.7, "clear_margin": 0.1}

    def __init__(
        self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
        vectors: Optional[np.ndarray] = None, keys: Optional[List[str]] = None,
    ) -> None:
        self.retrieval_intent = config["retrieval_intent"]
        self.threshold = config["threshold"]
        self.clear_match, self.clear_margin = config["clear_match"], config["clear_margin"]
        self._model_storage = model_storage
        self._resource = resource
        self.vectors = vectors if vectors is not None else np.zeros((0, 0), dtype=np.float32)
        keys = np.array(keys or [], dtype=str)  # each vector's `faq/<id>`
        self.labels = sorted(set(keys.tolist()))
        rows = [np.flatnonzero(keys == label) for label in self.labels]  # each label's vectors
        # One row per label of its vectors' indices, padded with -1 (a similarity of -inf).
        self._rows = np.full((len(rows), max((len(r) for r in rows), default=0)), -1)
        for label, label_rows in enumerate(rows):
            self._rows[label, : len(label_rows)] = label_rows
        self._nearest = np.minimum([len(r) for r in rows], NEAREST)

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[str]:
        return encoders.fingerprint(__file__, ["minilm"])

    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext,
    ) -> FaqMatcher:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        phrasings = [
            message for message in training_data.intent_examples
            if message.get(INTENT) == self.retrieval_intent and message.get(INTENT_RESPONSE_KEY)
        ]
        vectors = encoders.encode("minilm", [message.get(TEXT) for message in phrasings])
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(Path(directory) / _PHRASINGS_FILE, vectors=vectors, keys=[m.get(INTENT_RESPONSE_KEY) for m in phrasings])
        return self._resource

    @classmethod
    def load(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> FaqMatcher:
        encoders.load("minilm")  # the weights now, not at the first shopper's message
        try:
            with model_storage.read_from(resource) as directory, np.load(Path(directory) / _PHRASINGS_FILE) as stored:
                return cls(config, model_storage, resource, stored["vectors"], [str(key) for key in stored["keys"]])
        except (ValueError, FileNotFoundError):  # as Rasa's own components: a model without FAQs
            log.warning("no FAQ phrasings in this model; the FAQ matcher ranks nothing")
            return cls(config, model_storage, resource)

    def ranking(self, vector: np.ndarray) -> List[Dict[Text, Any]]:
        """The FAQs, best first, each with the mean similarity of its nearest phrasings."""
        similarities = np.append(self.vectors @ vector, -np.inf)[self._rows]
        nearest = min(NEAREST, similarities.shape[1])
        top = -np.partition(-similarities, nearest - 1, axis=1)[:, :nearest]
        scores = np.clip(np.where(np.isfinite(top), top, 0.0).sum(axis=1) / self._nearest, 0.0, 1.0)
        best = np.argsort(-scores, kind="stable")[:RANKING_LENGTH]
        return [{"id": index, "confidence": float(scores[label]), INTENT_RESPONSE_KEY: self.labels[label]}
                for index, label in enumerate(best)]

    def process(self, messages: List[Message]) -> List[Message]:
        with_text = [message for message in messages if message.get(TEXT)]
        if not self.labels or not with_text:
            return messages
        for message, vector in zip(with_text, encoders.encode("minilm", [m.get(TEXT) for m in with_text])):
            ranking = self.ranking(vector)
            best = ranking[0][INTENT_RESPONSE_KEY]
            utter_action = f"utter_{best}"
            prediction = {
                "response": {
                    # The answers come from the FAQ files at reply time (action_answer_faq).
                    "responses": [{TEXT: best}],
                    "confidence": ranking[0]["confidence"],
                    INTENT_RESPONSE_KEY: best,
                    "utter_action": utter_action,
                },
                "ranking": ranking,
            }
            selectors = message.get("response_selector", {})
            selectors["all_retrieval_intents"] = [self.retrieval_intent]
            selectors[self.retrieval_intent] = prediction
            message.set("response_selector", selectors, add_to_output=True)
            self._take_a_clear_faq(message, ranking)
            self._fall_back_if_unsure(message, ranking[0]["confidence"])
            self._name_other_faqs(message, best)
        return messages

    def _name_other_faqs(self, message: Message, answered: str) -> None:
        """Each other question of the message that is a FAQ gets its FAQ (`faq_id`); one that
        no FAQ matches closely, or that is the FAQ the message is answered with, is left out."""
        questions = message.get("other_questions") or []
        faq_questions = [question for question in questions if question["intent"] == self.retrieval_intent]
        if not faq_questions:
            return
        answered = answered if (message.get(INTENT) or {}).get(INTENT_NAME_KEY) == self.retrieval_intent else None
        vectors = encoders.encode("minilm", [question["text"] for question in faq_questions])
        named = {}
        for question, vector in zip(faq_questions, vectors):
            best = self.ranking(vector)[0]
            if best["confidence"] >= self.threshold and best[INTENT_RESPONSE_KEY] != answered:
                named[id(question)] = best[INTENT_RESPONSE_KEY].split("/", 1)[1]
        kept = [
            {**question, "faq_id": named[id(question)]} if question["intent"] == self.retrieval_intent else question
            for question in questions if question["intent"] != self.retrieval_intent or id(question) in named
        ]
        message.set("other_questions", kept, add_to_output=True)

    def _take_a_clear_faq(self, message: Message, ranking: List[Dict[Text, Any]]) -> None:
        """A message the intent classifier was unsure of (`nlu_fallback`) is a FAQ question when
        one FAQ matches it clearly: `clear_match` or more, `clear_margin` ahead of the next. The
        classifier learns few phrasings of each FAQ in chat Indonesian ("kurir datang pas saya
        ga di rumah"); questions about other things score far below (module docstring)."""
        intent = message.get(INTENT) or {}
        best, runner_up = ranking[0]["confidence"], ranking[1]["confidence"] if len(ranking) > 1 else 0.0
        if intent.get(INTENT_NAME_KEY) != DEFAULT_NLU_FALLBACK_INTENT_NAME or best < self.clear_match or best - runner_up < self.clear_margin:
            return
        faq = {INTENT_NAME_KEY: self.retrieval_intent, PREDICTED_CONFIDENCE_KEY: best}
        others = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) not in (self.retrieval_intent, DEFAULT_NLU_FALLBACK_INTENT_NAME)]
        message.set(INTENT, faq, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [faq, *others], add_to_output=True)

    def _fall_back_if_unsure(self, message: Message, best: float) -> None:
        intent = message.get(INTENT) or {}
        if intent.get(INTENT_NAME_KEY) == self.retrieval_intent and best < self.threshold:
            fallback = {INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME, PREDICTED_CONFIDENCE_KEY: best}
            message.set(INTENT, fallback, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [fallback, *(message.get(INTENT_RANKING_KEY) or [])], add_to_output=True)
