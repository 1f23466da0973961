"""The FAQ matcher as Rasa runs it: trained, stored, loaded, and its output where Rasa's
ResponseSelector puts its own."""
import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.faq_matcher import NEAREST, FaqMatcher
from bot.nlu.sentence_encoder import sentence_encoder

PHRASINGS = {
    "faq/return_policy": ["what is your return policy", "can i return an item", "how many days do i have to send it back"],
    "faq/payment_methods": ["which payment methods do you accept", "can i pay by card", "do you take paypal"],
    "faq/shipping_times": ["how long does delivery take", "when will my order arrive", "how many days is shipping"],
}

CONFIG = {"retrieval_intent": "faq", "threshold": 0.45, "clear_match": 0.7, "clear_margin": 0.1}


def example(key, text):
    return Message(data={"text": text, "intent": "faq", "intent_response_key": key})


@pytest.fixture
def trained(tmp_path):
    storage = LocalModelStorage(tmp_path)
    resource = Resource("faq_matcher")
    context = ExecutionContext(GraphSchema({}), "test")
    matcher = FaqMatcher.create(CONFIG, storage, resource, context)
    examples = [example(key, text) for key, texts in PHRASINGS.items() for text in texts]
    other_intent = Message(data={"text": "hello there", "intent": "greet"})
    matcher.train(TrainingData(training_examples=[*examples, other_intent]))
    return FaqMatcher.load(CONFIG, storage, resource, context)


def selected(matcher, text):
    message = Message(data={"text": text})
    matcher.process([message])
    return message.get("response_selector")


def test_a_new_phrasing_finds_its_faq_after_the_model_is_stored_and_loaded(trained):
    assert trained.labels == sorted(PHRASINGS)  # the greeting is not a FAQ
    assert all(type(label) is str for label in trained.labels)  # not numpy strings: parse results go to YAML and JSON
    result = selected(trained, "i want to send back the shoes i bought")
    assert result["all_retrieval_intents"] == ["faq"]
    response = result["faq"]["response"]
    assert response["intent_response_key"] == "faq/return_policy"
    assert response["utter_action"] == "utter_faq/return_policy"
    ranking = result["faq"]["ranking"]
    assert [item["intent_response_key"] for item in ranking][0] == "faq/return_policy"
    assert len(ranking) == len(PHRASINGS)
    assert ranking[0]["confidence"] == response["confidence"] > ranking[1]["confidence"] >= ranking[2]["confidence"] >= 0


def test_the_score_is_the_mean_similarity_of_the_nearest_phrasings(trained):
    text = "do you accept credit cards"
    vector = sentence_encoder().encode([text])[0]
    payment = sentence_encoder().encode(PHRASINGS["faq/payment_methods"])
    expected = float(np.sort(payment @ vector)[-NEAREST:].mean())
    score = {item["intent_response_key"]: item["confidence"] for item in selected(trained, text)["faq"]["ranking"]}
    assert score["faq/payment_methods"] == pytest.approx(expected, abs=1e-5)
    assert max(score, key=score.get) == "faq/payment_methods"


def test_messages_without_text_are_left_alone(trained):
    message = Message(data={"intent": {"name": "greet"}})
    trained.process([message])
    assert message.get("response_selector") is None


def test_a_faq_question_that_matches_no_faq_closely_becomes_a_fallback(trained):
    def intent_after(text, intent):
        message = Message(data={"text": text, "intent": {"name": intent, "confidence": 0.9},
                                "intent_ranking": [{"name": intent, "confidence": 0.9}]})
        trained.process([message])
        return message.get("intent"), [item["name"] for item in message.get("intent_ranking")]

    (weather, weather_ranking) = intent_after("what will the weather be like in paris tomorrow", "faq")
    assert weather["name"] == "nlu_fallback" and weather["confidence"] < CONFIG["threshold"]
    assert weather_ranking == ["nlu_fallback", "faq"]
    assert intent_after("which cards can i pay with", "faq")[0]["name"] == "faq"
    assert intent_after("what will the weather be like in paris tomorrow", "greet")[0]["name"] == "greet"  # not a FAQ question


def test_an_unsure_message_that_one_faq_matches_clearly_is_that_faq_question(trained):
    def after_unsure(text):
        ranking = [{"name": "nlu_fallback", "confidence": 0.35}, {"name": "faq", "confidence": 0.3}, {"name": "greet", "confidence": 0.2}]
        message = Message(data={"text": text, "intent": ranking[0], "intent_ranking": ranking})
        trained.process([message])
        scores = [item["confidence"] for item in message.get("response_selector")["faq"]["ranking"]]
        return message.get("intent"), [item["name"] for item in message.get("intent_ranking")], scores

    intent, ranking, scores = after_unsure("how many days does shipping take")
    assert scores[0] >= CONFIG["clear_match"] and scores[0] - scores[1] >= CONFIG["clear_margin"]
    assert intent == {"name": "faq", "confidence": scores[0]} and ranking == ["faq", "greet"]
    intent, _, scores = after_unsure("what will the weather be like in paris tomorrow")
    assert intent["name"] == "nlu_fallback" and scores[0] < CONFIG["clear_match"]  # nothing matches clearly
