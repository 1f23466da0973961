"""The meaning featurizer and the intent classifier as Rasa runs them: trained, stored,
loaded; the cross-validated "not sure" threshold; several questions in one message."""
import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import encoders
from bot.nlu.intent_classifier import MeaningIntentClassifier
from bot.nlu.sentence_features import CLAUSES, SentenceEmbeddingFeaturizer, split_clauses

EXAMPLES = {
    "track_shipment": [
        "where is my parcel", "track my package", "wheres my delivery", "has my parcel shipped yet",
        "tracking number for my order", "which courier has my package", "where is my shipment now",
        "can you track my parcel", "i want to follow my delivery", "where's my stuff, is it on the way",
    ],
    "cancel_order": [
        "cancel my order", "i want to cancel", "please cancel the order i placed", "cancle my purchase",
        "stop my order please", "i dont want the order anymore, cancel it", "can you cancel order 100001",
        "call off my order", "undo my purchase", "cancel the thing i bought yesterday",
    ],
    "return_request": [
        "i want to return the shoes", "send back my item", "the jacket doesnt fit, i want to return it",
        "return request", "i'd like a refund for the broken mug", "how do i send this back",
        "the item arrived damaged, i want to return it", "exchange the shirt for another size",
        "i received the wrong item and want to return it", "return my order please",
    ],
    "out_of_scope": [
        "what's the weather tomorrow", "tell me a joke", "book a flight to rome", "who won the football match",
        "how do i bake bread", "what is the capital of peru", "play some jazz", "set an alarm for 7",
        "what's my bank balance", "translate hello into french",
    ],
}
CONFIG = {**MeaningIntentClassifier.get_default_config(), "folds": 3, "max_false_rejection": 0.1}
FEATURIZER = {**SentenceEmbeddingFeaturizer.get_default_config(), "encoders": ["minilm", "use"]}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    storage = LocalModelStorage(tmp_path_factory.mktemp("model"))
    context = ExecutionContext(GraphSchema({}), "test")
    featurizer = SentenceEmbeddingFeaturizer.create(FEATURIZER, storage, Resource("featurizer"), context)
    data = TrainingData(training_examples=[
        Message(data={"text": text, "intent": intent}) for intent, texts in EXAMPLES.items() for text in texts
    ])
    featurizer.process_training_data(data)
    resource = Resource("classifier")
    MeaningIntentClassifier.create(CONFIG, storage, resource, context).train(data)
    return featurizer, MeaningIntentClassifier.load(CONFIG, storage, resource, context)


def parse(pipeline, text):
    featurizer, classifier = pipeline
    message = Message(data={"text": text})
    classifier.process(featurizer.process([message]))
    return message


def test_the_meaning_feature_is_the_encoders_vectors_side_by_side():
    featurizer = SentenceEmbeddingFeaturizer.create(FEATURIZER, None, Resource("f"), ExecutionContext(GraphSchema({}), "t"))
    message = Message(data={"text": "where is my parcel"})
    featurizer.process([message])
    _, sentence = message.get_dense_features("text")
    expected = np.hstack([encoders.encode("minilm", ["where is my parcel"]), encoders.encode("use", ["where is my parcel"])])
    assert np.allclose(sentence.features, expected, atol=1e-6)


@pytest.mark.parametrize("name", sorted(encoders.PACKAGES))
def test_every_encoder_gives_unit_vectors_that_put_paraphrases_closer(name):
    vectors = encoders.encode(name, ["where is my parcel", "has my package shipped", "what's the weather tomorrow"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_the_multilingual_encoders_read_indonesian():
    for name in ("use", "e5"):
        parcel, indonesian, weather = encoders.encode(name, ["where is my parcel", "paket saya dimana", "what's the weather tomorrow"])
        assert parcel @ indonesian > parcel @ weather, name


def test_an_unknown_encoder_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown sentence encoder 'bert'"):
        encoders.encode("bert", ["hi"])
    with pytest.raises(ValueError, match="unknown encoder 'bert'"):
        SentenceEmbeddingFeaturizer.validate_config({"encoders": ["bert"]})


def test_new_phrasings_and_typos_get_their_intent_after_the_model_is_stored_and_loaded(pipeline):
    assert parse(pipeline, "has my package left the warehouse").get("intent")["name"] == "track_shipment"
    assert parse(pipeline, "cancell my ordr pls").get("intent")["name"] == "cancel_order"
    assert parse(pipeline, "who is the president of france").get("intent")["name"] == "out_of_scope"


def test_the_ranking_is_sorted_and_the_confidences_are_probabilities(pipeline):
    ranking = parse(pipeline, "where is my parcel").get("intent_ranking")
    confidences = [entry["confidence"] for entry in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0, abs=1e-6)


def test_the_threshold_is_cross_validated_and_below_it_the_message_is_not_sure(pipeline):
    _, classifier = pipeline
    assert 0.0 < classifier.threshold < 1.0
    classifier.threshold, kept = 0.999, classifier.threshold  # nothing is that sure
    try:
        message = parse(pipeline, "where is my parcel")
    finally:
        classifier.threshold = kept
    assert message.get("intent") == {"name": "nlu_fallback", "confidence": 0.999}
    assert message.get("intent_ranking")[1]["name"] == "track_shipment"


def test_an_intent_that_must_be_sure_is_passed_over_below_its_bar(pipeline):
    _, classifier = pipeline
    ranking = parse(pipeline, "where is my parcel").get("intent_ranking")
    top, runner_up = ranking[0], ranking[1]
    for bar, expected in ((top["confidence"] + 0.001, runner_up["name"]), (top["confidence"] - 0.001, top["name"])):
        classifier.config["sure_only"], classifier.threshold, kept = {top["name"]: bar}, 0.0, classifier.threshold
        try:
            message = parse(pipeline, "where is my parcel")
        finally:
            classifier.config["sure_only"], classifier.threshold = {}, kept
        assert message.get("intent")["name"] == expected
        assert (top["name"] in [entry["name"] for entry in message.get("intent_ranking")]) == (expected == top["name"])


def test_a_message_of_several_questions_lists_the_other_questions(pipeline):
    message = parse(pipeline, "where is my parcel? and also i want to return the shoes i got last week")
    assert message.get("intent")["name"] == "track_shipment"
    assert [question["intent"] for question in message.get("other_questions")] == ["return_request"]
    assert message.get("other_questions")[0]["text"] == "i want to return the shoes i got last week"
    assert parse(pipeline, "where is my parcel").get("other_questions") == []


def test_clauses_split_at_sentence_ends_and_joints_and_short_ones_are_left_out():
    assert split_clauses("where is my parcel? and can i return the shoes") == ["where is my parcel", "can i return the shoes"]
    assert split_clauses("hi. where is my order and also how do i pay") == ["where is my order", "how do i pay"]
    assert split_clauses("where is my parcel") == []
    assert split_clauses("salt and pepper grinder, where is it") == []  # "and" inside a phrase: one short side


def test_clause_vectors_are_kept_for_the_classifier_but_not_for_training_data():
    featurizer = SentenceEmbeddingFeaturizer.create(FEATURIZER, None, Resource("f"), ExecutionContext(GraphSchema({}), "t"))
    message = Message(data={"text": "where is my parcel? how do i return the shoes"})
    featurizer.process([message])
    assert [text for text, _ in message.get(CLAUSES)] == ["where is my parcel", "how do i return the shoes"]
    training = TrainingData(training_examples=[Message(data={"text": "where is my parcel? how do i pay", "intent": "x"})])
    featurizer.process_training_data(training)
    assert training.training_examples[0].get(CLAUSES) is None
