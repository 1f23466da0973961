"""`python -m bot run` end to end: the real Rasa server, action server and web service,
on free ports, answering over the REST webhook; Ctrl-C leaves no process behind."""
import os
import signal
import socket
import subprocess
import time

import pytest


from tests.e2e.shop_web import RUN_ID, post, process_group_alive


def test_prints_the_urls(product):
    _, ports, output = product
    assert f"http://127.0.0.1:{ports['WEB_PORT']}/" in output
    assert f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/rest/webhook" in output
    assert f"http://127.0.0.1:{ports['WEB_PORT']}/admin" in output and f"http://127.0.0.1:{ports['WEB_PORT']}/agent" in output


def test_greeting_over_the_rest_webhook(product):
    _, ports, _ = product
    replies = post(f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/rest/webhook", {"sender": f"a-{RUN_ID}", "message": "hi"})
    # A new conversation: the Chat Welcome is the greeting (one message, not two).
    assert [reply["text"][:24] for reply in replies] == ["Hi! Welcome to Demo Shop"]
    again = post(f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/rest/webhook", {"sender": f"a-{RUN_ID}", "message": "hello"})
    assert again[0]["text"].startswith("Hi! I'm the shop's assistant")


def test_faq_answered_by_the_action_server_through_the_web_service(product):
    _, ports, _ = product
    body = post(f"http://127.0.0.1:{ports['WEB_PORT']}/api/chat", {"sender": f"b-{RUN_ID}", "message": "do you take paypal payments"})
    assert "PayPal" in body["replies"][-1]["text"]  # after the Chat Welcome of a new conversation


def chat(ports, sender, message, metadata=None):
    payload = {"sender": f"{sender}-{RUN_ID}", "message": message, **({"metadata": metadata} if metadata else {})}
    replies = post(f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/rest/webhook", payload)
    return " ".join(reply.get("text", "") for reply in replies)


def test_anonymous_shopper_tracks_an_order_after_proving_ownership(product):
    _, ports, _ = product
    assert "e-mail address or phone number" in chat(ports, "c", "where is my parcel for order 100004?")
    answer = chat(ports, "c", "emma@example.com")
    assert "SPXGB0123456789" in answer and "SPX Express" in answer


def test_someone_elses_order_gets_the_unknown_order_reply(product):
    _, ports, _ = product
    chat(ports, "d", "what's the status of order 100016")
    assert "couldn't find an order with that number and those contact details" in chat(ports, "d", "emma@example.com")


def test_very_long_message_gets_an_answer_not_a_crash(product):
    _, ports, _ = product
    assert "What's the order number?" in chat(ports, "f", "where is my order " * 560)  # about 10,000 characters
    assert "e-mail address or phone number" in chat(ports, "f", "100004")  # and the conversation goes on


# The README's showcase orders: (order, e-mail, what the shopper writes, a phrase of the right answer).
SHOWCASE = [
    ("100001", "emma@example.com", "cancel my order 100001", "Do you want me to cancel order 100001"),
    ("100002", "emma@example.com", "my order 100002 is late", "must ship by"),
    ("100003", "liam@example.com", "why hasn't my order 100003 shipped yet", "should have shipped by"),
    ("100004", "emma@example.com", "where is my parcel 100004", "SPXGB0123456789"),
    ("100004", "emma@example.com", "cancel my order 100004", "already shipped, so it can't be cancelled"),
    ("100005", "emma@example.com", "I want to return order 100005", "What would you like?"),
    ("100006", "liam@example.com", "I want to return order 100006", "return window closed"),
    ("100007", "liam@example.com", "why was my order 100007 cancelled", "out of stock"),
    ("100008", "emma@example.com", "why was my order 100008 cancelled", "cancelled automatically by the marketplace"),
    ("100009", "liam@example.com", "why was my order 100009 cancelled", "lost or damaged in transit"),
    ("100010", "emma@example.com", "why was my order 100010 cancelled", "at your request"),
    ("100011", "emma@example.com", "where is my refund for 100011", "waiting for the seller's decision"),
    ("100012", "liam@example.com", "where is my refund for 100012", "was refunded on"),
    ("100013", "liam@example.com", "where is my refund for 100013", "declined by the seller"),
    ("100014", "emma@example.com", "track my order 100014", "damaged in transit"),
    ("100015", "noah@example.com", "order status of 100015", "waiting for payment"),
    ("100016", "noah@example.com", "where is my order 100016", "SPX Express"),
]


@pytest.mark.parametrize("number, email, question, expected", SHOWCASE)
def test_showcase_orders_over_the_rest_webhook(product, number, email, question, expected):
    _, ports, _ = product
    sender = f"showcase-{number}-{question[:6]}"
    assert "e-mail address or phone number" in chat(ports, sender, question)
    assert expected in chat(ports, sender, email)


def test_return_flow_over_the_rest_webhook(product):
    _, ports, _ = product
    chat(ports, "g", "i want to send back order 100005")
    assert "What would you like?" in chat(ports, "g", "emma@example.com")
    assert "What's the reason?" in chat(ports, "g", "Return and refund")
    assert "is approved" in chat(ports, "g", "Damaged")  # €24.90, damaged, 3 days after delivery: the shop's rule


def test_signed_in_shopper_is_not_asked_for_contact_details(product):
    from bot.shop.demo import DEMO_IDENTITY_SECRET
    from bot.shop.identity import signed_identity

    _, ports, _ = product
    identity = signed_identity(DEMO_IDENTITY_SECRET, "cust-liam", int(time.time()) + 600)
    answer = chat(ports, "e", "why was order 100007 cancelled?", metadata=identity)
    assert "out of stock" in answer and "refund" in answer


@pytest.mark.last  # it stops the product the other end-to-end tests share
def test_ctrl_c_stops_everything(product):
    process, ports, _ = product
    children = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()]
    # two Rasa servers (the default RASA_SERVERS), the action server and the web service, each leading its process group
    assert len(children) == 4
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    assert process.wait(timeout=30) == 0
    for pgid in children:
        assert not process_group_alive(pgid), f"process group {pgid} outlived Ctrl-C"
    for port in [*ports.values(), ports["RASA_PORT"] + 1]:  # the second Rasa server listens on the next port
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
