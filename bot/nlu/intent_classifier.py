"""A Rasa NLU component: the intent from the sentence's meaning and its letters, with a
confidence that means what it says, and the bot's "not sure" decided in one place.

A multinomial logistic regression reads the meaning features (bot/nlu/sentence_features.py)
beside TF-IDF character n-grams of the text (which absorb typos: "cancle", "refnd").
Logistic regression's probabilities are calibrated by its training objective, unlike the
similarities DIET ranks by; so one threshold on them separates "sure" from "not sure".
That threshold is not guessed: training predicts every training example by k-fold
cross-validation and takes the confidence below which only `max_false_rejection` of the
in-domain examples fall. A message below it becomes `nlu_fallback`, as Rasa's
FallbackClassifier would mark it (this component replaces DIET and FallbackClassifier,
whose fixed threshold rejected one in-domain message in five).

Messages of several questions ("where is my order and how do I return it") are also read
clause by clause: `other_questions` in the parse lists the other clauses' in-domain intents,
so the bot can answer the first and offer the rest.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
import scipy.sparse
import scipy.special
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import encoders
from bot.nlu.sentence_features import CLAUSES, SentenceEmbeddingFeaturizer

log = logging.getLogger(__name__)
_MODEL_FILE = "intent_model.skops"
_THRESHOLD_FILE = "threshold.json"
REJECTED = "out_of_scope"
# Intents that are not questions of their own, so never "another question" in a message.
NOT_QUESTIONS = {"greet", "goodbye", "thank", "affirm", "deny", "inform", "bot_challenge", REJECTED}


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class MeaningIntentClassifier(GraphComponent, IntentClassifier):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "C": 10.0,  # inverse regularisation strength
            "char_ngrams": [2, 4],
            "folds": 3,
            "max_false_rejection": 0.02,  # share of in-domain training examples cross-validation may reject
            "other_question_confidence": 0.8,  # a clause must be at least this sure to count as another question
            "ranking_length": 10,
            "random_seed": 1,
            # Intents read only when at least this sure (else the next one is): those whose
            # action is hard to take back ("restart" forgets the conversation).
            "sure_only": {},
        }

    @classmethod
    def required_components(cls) -> List[type]:
        return [SentenceEmbeddingFeaturizer]

    def __init__(
        self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
        model: Optional[Tuple[Any, Any]] = None, threshold: float = 0.0,
    ) -> None:
        self.config = config
        self._model_storage = model_storage
        self._resource = resource
        self._model = model  # (TF-IDF vectorizer, logistic regression)
        self._weights: Optional[Tuple[np.ndarray, np.ndarray]] = None  # its coefficients as _probabilities uses them
        self.threshold = threshold

    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext,
    ) -> MeaningIntentClassifier:
        return cls(config, model_storage, resource)

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[str]:
        return encoders.fingerprint(__file__, [])

    # --- training -------------------------------------------------------------------

    def _new_model(self) -> Tuple[Any, Any]:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        low, high = self.config["char_ngrams"]
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(low, high), sublinear_tf=True, min_df=2, lowercase=True)
        # Balanced: the out-of-scope and FAQ examples outnumber each order intent's several times.
        classifier = LogisticRegression(
            C=self.config["C"], class_weight="balanced", tol=1e-2, max_iter=5000, random_state=self.config["random_seed"],
        )
        return vectorizer, classifier

    @staticmethod
    def _features(vectorizer: Any, texts: List[str], meaning: np.ndarray) -> scipy.sparse.csr_matrix:
        return scipy.sparse.hstack([scipy.sparse.csr_matrix(meaning), vectorizer.transform(texts)]).tocsr()

    def _fit(self, texts: List[str], meaning: np.ndarray, intents: np.ndarray) -> Tuple[Any, Any]:
        vectorizer, classifier = self._new_model()
        vectorizer.fit(texts)
        classifier.fit(self._features(vectorizer, texts, meaning), intents)
        return vectorizer, classifier

    def _cross_validated_threshold(self, texts: List[str], meaning: np.ndarray, intents: np.ndarray) -> float:
        """The confidence below which `max_false_rejection` of the in-domain examples fall,
        each predicted by a model that did not see it."""
        from sklearn.model_selection import StratifiedKFold

        folds = StratifiedKFold(self.config["folds"], shuffle=True, random_state=self.config["random_seed"])
        confidences = np.zeros(len(texts))
        for train, held_out in folds.split(meaning, intents):
            vectorizer, classifier = self._fit([texts[i] for i in train], meaning[train], intents[train])
            probabilities = classifier.predict_proba(self._features(vectorizer, [texts[i] for i in held_out], meaning[held_out]))
            confidences[held_out] = probabilities.max(axis=1)
        in_domain = intents != REJECTED
        threshold = float(np.quantile(confidences[in_domain], self.config["max_false_rejection"]))
        log.info("not-sure threshold %.3f (cross-validated, %d folds)", threshold, self.config["folds"])
        return threshold

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT) and _meaning(m) is not None]
        texts = [m.get(TEXT) for m in examples]
        meaning = np.vstack([_meaning(m) for m in examples])
        intents = np.array([m.get(INTENT) for m in examples])
        # An intent with fewer examples than folds cannot be cross-validated; then no threshold.
        smallest = min(np.unique(intents, return_counts=True)[1])
        threshold = self._cross_validated_threshold(texts, meaning, intents) if smallest >= self.config["folds"] else 0.0
        self._model, self._weights, self.threshold = self._fit(texts, meaning, intents), None, threshold
        self._persist()
        return self._resource

    def _persist(self) -> None:
        import skops.io

        with self._model_storage.write_to(self._resource) as directory:
            skops.io.dump(self._model, directory / _MODEL_FILE)
            (directory / _THRESHOLD_FILE).write_text(json.dumps({"threshold": self.threshold}))

    @classmethod
    def load(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> MeaningIntentClassifier:
        import skops.io

        try:
            with model_storage.read_from(resource) as directory:
                path = directory / _MODEL_FILE
                # Only scikit-learn's and NumPy's own types: a model file cannot run code.
                types = skops.io.get_untrusted_types(file=path)
                unexpected = [name for name in types if not name.startswith(("sklearn.", "numpy.", "scipy."))]
                if unexpected:
                    raise ValueError(f"the intent model holds unexpected types: {unexpected}")
                model = tuple(skops.io.load(path, trusted=types))
                threshold = json.loads((directory / _THRESHOLD_FILE).read_text())["threshold"]
        except (ValueError, FileNotFoundError):  # as Rasa's own components: a model trained on no data
            log.warning("no trained intent model; every message is `nlu_fallback`")
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, model, threshold)

    # --- prediction -----------------------------------------------------------------

    def _probabilities(self, texts: List[str], meaning: np.ndarray) -> np.ndarray:
        """The regression's predict_proba (multinomial: the softmax of its scores), with the
        meaning's weights and the n-grams' applied one after the other: stacking the two into
        one sparse matrix first took longer than the rest (0.9 ms a message against 0.5)."""
        vectorizer, classifier = self._model
        if self._weights is None:  # the coefficients split at the meaning's width, each laid out for its product
            width = classifier.coef_.shape[1] - len(vectorizer.vocabulary_)
            self._weights = (np.ascontiguousarray(classifier.coef_[:, :width].T), np.ascontiguousarray(classifier.coef_[:, width:].T))
        meaning_weights, ngram_weights = self._weights
        scores = meaning @ meaning_weights + vectorizer.transform(texts) @ ngram_weights + classifier.intercept_
        return scipy.special.softmax(scores, axis=1)

    def process(self, messages: List[Message]) -> List[Message]:
        with_meaning = [m for m in messages if m.get(TEXT) and _meaning(m) is not None]
        if not with_meaning:
            return messages
        if self._model is None:
            for message in with_meaning:
                _set_intent(message, {INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME, PREDICTED_CONFIDENCE_KEY: 1.0}, [])
            return messages
        classes = self._model[1].classes_
        probabilities = self._probabilities([m.get(TEXT) for m in with_meaning], np.vstack([_meaning(m) for m in with_meaning]))
        for message, row in zip(with_meaning, probabilities):
            order = np.argsort(-row)[: self.config["ranking_length"]]
            ranking = [{INTENT_NAME_KEY: str(classes[i]), PREDICTED_CONFIDENCE_KEY: float(row[i])} for i in order
                       if row[i] >= self.config["sure_only"].get(classes[i], 0.0)]
            questions = self._clause_questions(message)
            intent = ranking[0]
            if intent[PREDICTED_CONFIDENCE_KEY] < self.threshold and questions:
                # Unsure of the whole, sure of its parts: the first question is the message's.
                first = questions.pop(0)
                intent = {INTENT_NAME_KEY: first["intent"], PREDICTED_CONFIDENCE_KEY: first["confidence"]}
                ranking = [intent, *(entry for entry in ranking if entry[INTENT_NAME_KEY] != first["intent"])]
            elif intent[PREDICTED_CONFIDENCE_KEY] < self.threshold:
                intent = {INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME, PREDICTED_CONFIDENCE_KEY: self.threshold}
                ranking = [intent, *ranking]
            _set_intent(message, intent, ranking)
            # Another FAQ is another question; the FAQ matcher names it (and drops the same FAQ).
            others = [q for q in questions if q["intent"] == "faq" or q["intent"] != intent[INTENT_NAME_KEY]]
            message.set("other_questions", others, add_to_output=True)
        return messages

    def _clause_questions(self, message: Message) -> List[Dict[str, Any]]:
        """The in-domain questions its clauses ask with confidence, in order, each intent once
        (but any number of FAQs)."""
        clauses = message.get(CLAUSES) or []
        if len(clauses) < 2:
            return []
        texts = [text for text, _ in clauses]
        classes = self._model[1].classes_
        found: List[Dict[str, Any]] = []
        for text, row in zip(texts, self._probabilities(texts, np.vstack([vector for _, vector in clauses]))):
            best = str(classes[row.argmax()])
            repeated = best != "faq" and best in {question["intent"] for question in found}
            if row.max() >= self.config["other_question_confidence"] and best not in NOT_QUESTIONS and not repeated:
                found.append({"intent": best, "text": text, "confidence": float(row.max())})
        return found


def _meaning(message: Message) -> Optional[np.ndarray]:
    _, sentence = message.get_dense_features(TEXT)
    return None if sentence is None else sentence.features[0]


def _set_intent(message: Message, intent: Dict[str, Any], ranking: List[Dict[str, Any]]) -> None:
    message.set(INTENT, intent, add_to_output=True)
    message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
