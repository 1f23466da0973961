"""Understanding shoppers, over the web service's /api/chat with the real product (`product`
fixture): several questions in one message, sensitive topics in other words, Indonesian."""
import pytest

from tests.e2e.shop_web import texts

NOT_OUR_TOPIC = "not something I can help with"



def buttons(body):
    return [button for reply in body["replies"] for button in reply.get("buttons") or []]


def test_a_message_of_two_questions_answers_one_and_offers_the_other(web):
    body = web.chat("two-questions", "which payment methods do you accept? and also how long does delivery take to germany")
    answer = texts(body)
    assert "PayPal" in answer and "You also asked:" in answer
    offered = [button for button in buttons(body) if "delivery" in button["title"]]
    assert offered and offered[0]["payload"].startswith('/faq{"faq_id"')
    # The offered button answers the other question.
    assert "working days" in texts(web.chat("two-questions", offered[0]["payload"]))


def test_an_order_question_and_a_faq_in_one_message(web):
    body = web.chat("order-and-faq", "where is my order 100004? also do you ship to austria")
    assert "what's the e-mail address or phone number" in texts(body)
    answer = web.chat("order-and-faq", "emma@example.com")
    assert "SPX Express" in texts(answer) and "You also asked:" in texts(answer)
    assert any(button["payload"].startswith("/faq") for button in buttons(answer))


@pytest.mark.parametrize("message", [
    "the box turned up squashed and the mug is in pieces",
    "two payments for one order, i was charged twice",
    "the courier says it was delivered but nothing came",
])
def test_sensitive_topics_in_other_words_reach_a_person(web, message):
    body = web.chat(f"sensitive-{abs(hash(message))}", message)
    assert body["handoff"] is not None, texts(body)
    assert "passing you to a person" in texts(body)


def test_an_ordinary_question_stays_with_the_bot(web):
    body = web.chat("ordinary", "how long does delivery take?")
    assert body["handoff"] is None and "working days" in texts(body)


@pytest.mark.parametrize("message", [
    "pesanan saya belum sampai kak",
    "mau batalin pesanan",
    "kapan dana refund saya dikembalikan?",
    "paket saya dimana ya min",
])
def test_indonesian_order_questions_are_understood(web, message):
    answer = texts(web.chat(f"id-{abs(hash(message))}", message))
    assert NOT_OUR_TOPIC not in answer
    # The order look-up starts, in Indonesian.
    assert "nomor pesanan" in answer.lower(), answer


def test_an_indonesian_request_for_a_person_is_handed_over(web):
    body = web.chat("id-person", "bisa bicara dengan admin? saya mau komplain")
    assert body["handoff"] is not None, texts(body)


def test_indonesian_the_bot_cannot_help_with_is_told_in_indonesian_with_a_person_offered(web):
    answer = web.chat("id-unknown", "kak, cuaca di jakarta besok bagaimana ya?")
    text = texts(answer)
    assert NOT_OUR_TOPIC not in text
    assert "Maaf, Kak" in text and "Sorry" not in text
    assert "/talk_to_human" in [button["payload"] for button in buttons(answer)]
