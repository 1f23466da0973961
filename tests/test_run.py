"""`python -m bot run` end to end: the real Rasa server, action server and web service,
on free ports, answering over the REST webhook; Ctrl-C leaves no process behind."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from bot.config import PROJECT_DIR


RUN_ID = uuid.uuid4().hex[:8]  # conversations persist in var/tracker.db: new senders every run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url, payload):
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def process_group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    ports = {"RASA_PORT": free_port(), "ACTIONS_PORT": free_port(), "WEB_PORT": free_port()}
    database = tmp_path_factory.mktemp("run") / "shop.db"
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "DATABASE_URL": f"sqlite:///{database}"}
    subprocess.run([sys.executable, "-m", "bot", "db-setup"], env=env, cwd=PROJECT_DIR, check=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"], env=env, cwd=PROJECT_DIR,
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    output = []
    deadline = time.monotonic() + 240
    for line in process.stdout:
        output.append(line)
        if "Press Ctrl-C to stop." in line or time.monotonic() > deadline:
            break
    assert "Shop assistant is up" in "".join(output), "".join(output)
    children = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()]
    yield process, ports, "".join(output)
    if process.poll() is None:  # a test failed before the Ctrl-C test: stop it the same way
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    for pgid in children:  # never leave servers behind, whatever happened
        if process_group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)


def test_prints_the_urls(product):
    _, ports, output = product
    assert f"http://127.0.0.1:{ports['WEB_PORT']}/" in output
    assert f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/rest/webhook" in output


def test_greeting_over_the_rest_webhook(product):
    _, ports, _ = product
    replies = post(f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/rest/webhook", {"sender": f"a-{RUN_ID}", "message": "hi"})
    assert replies[0]["text"].startswith("Hi! I'm the shop's assistant")


def test_faq_answered_by_the_action_server_through_the_web_service(product):
    _, ports, _ = product
    body = post(f"http://127.0.0.1:{ports['WEB_PORT']}/api/chat", {"sender": f"b-{RUN_ID}", "message": "do you take paypal payments"})
    assert "PayPal" in body["replies"][0]["text"]


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
    from bot.demo import DEMO_IDENTITY_SECRET
    from bot.identity import sign_identity

    _, ports, _ = product
    expires = int(time.time()) + 600
    identity = {"customer_id": "cust-liam", "expires": expires, "signature": sign_identity(DEMO_IDENTITY_SECRET, "cust-liam", expires)}
    answer = chat(ports, "e", "why was order 100007 cancelled?", metadata=identity)
    assert "out of stock" in answer and "refund" in answer


def test_ctrl_c_stops_everything(product):
    process, ports, _ = product
    children = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()]
    assert len(children) == 3  # Rasa, the action server and the web service, each leading its process group
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    assert process.wait(timeout=30) == 0
    for pgid in children:
        assert not process_group_alive(pgid), f"process group {pgid} outlived Ctrl-C"
    for port in ports.values():
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
