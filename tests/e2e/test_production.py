"""`python -m bot run --production` end to end: 2 Rasa servers sharing Rasa's SQL tracker store on
the local PostgreSQL and Rasa's Redis lock store, the action server and the web service (the
shop's data on PostgreSQL too). One conversation's messages alternate between the servers, or
reach both at once, and its state (slots, the order of events) stays whole."""
import asyncio
import os
import signal
import uuid

import aiohttp
import pytest

from tests.conftest import POSTGRES_URL
from tests.e2e.shop_web import PRODUCT_TOKEN, free_ports, post, process_group_alive, start_product, stop_product

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/3")


def _services_or_skip():
    import redis
    import sqlalchemy

    engine = sqlalchemy.create_engine(POSTGRES_URL, future=True)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
    except sqlalchemy.exc.OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {error.orig}")
    finally:
        engine.dispose()
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {error}")


def _drop_databases(*names: str) -> None:
    import sqlalchemy

    admin = sqlalchemy.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as connection:
        for name in names:
            connection.execute(sqlalchemy.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name})
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(scope="module")
def production(product_home):
    """The production mode on free ports, with its own databases (created by the run: they are
    dropped before and after) and its own Redis key prefix."""
    from sqlalchemy.engine import make_url

    _services_or_skip()
    suffix = uuid.uuid4().hex[:8]
    databases = (f"shop_e2e_{suffix}", f"shop_e2e_tracker_{suffix}")
    server = make_url(POSTGRES_URL)
    home = product_home
    rasa_port = free_ports(2)
    ports = {"RASA_PORT": rasa_port, "ACTIONS_PORT": free_ports(1), "WEB_PORT": free_ports(1)}
    env = {
        **os.environ, **{k: str(v) for k, v in ports.items()},
        "DATABASE_URL": str(server.set(database=databases[0])),
        "TRACKER_STORE_URL": str(server.set(database=databases[1])),
        "LOCK_STORE_URL": REDIS_URL, "LOCK_STORE_KEY_PREFIX": f"e2e{suffix}", "RASA_SERVERS": "2",
        "DATA_DIR": str(home / "data"), "SHOP_SETTINGS": str(home / "shop.yml"), "MODELS_DIR": str(home / "models"),
        "RASA_TOKEN": PRODUCT_TOKEN, "CHAT_LIMIT_PER_ADDRESS": "500", "VERIFICATION_DELAY_SECONDS": "0.25",
    }
    process, output, children = start_product(env, "--production", timeout=300)
    try:
        assert "Shop assistant is up" in output, output
        yield process, ports, output, children
    finally:
        stop_product(process, children, timeout=40)
        _drop_databases(*databases)


def _rasa(ports, index: int) -> str:
    return f"http://127.0.0.1:{ports['RASA_PORT'] + index}"


def _say(ports, index: int, sender: str, text: str) -> str:
    replies = post(f"{_rasa(ports, index)}/webhooks/rest/webhook", {"sender": sender, "message": text})
    return " ".join(reply.get("text", "") for reply in replies)


def _tracker(ports, index: int, sender: str) -> dict:
    import json
    import urllib.request

    url = f"{_rasa(ports, index)}/conversations/{sender}/tracker?token={PRODUCT_TOKEN}"
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def test_two_rasa_servers_the_action_server_and_the_web_service_run(production):
    _, ports, output, children = production
    assert len(children) == 4  # 2 Rasa servers, the action server, the web service
    assert f"{_rasa(ports, 1)}/webhooks/rest/webhook" in output
    assert "2 Rasa servers" in output and "postgresql://" in output and "redis://" in output


def test_one_conversation_alternating_between_the_servers_keeps_its_state_and_order(production):
    _, ports, _, _ = production
    sender = f"alternate-{uuid.uuid4().hex[:6]}"
    assert "e-mail address or phone number" in _say(ports, 0, sender, "where is my parcel for order 100004?")
    answer = _say(ports, 1, sender, "emma@example.com")  # the other server continues the form
    assert "SPXGB0123456789" in answer
    assert "PayPal" in _say(ports, 0, sender, "do you take paypal payments")
    assert "must ship by" in _say(ports, 1, sender, "my order 100002 is late")  # Emma's too: no new question
    for index in (0, 1):  # both servers read the same tracker
        tracker = _tracker(ports, index, sender)
        said = [e["text"] for e in tracker["events"] if e["event"] == "user"]
        assert said == ["where is my parcel for order 100004?", "emma@example.com", "do you take paypal payments",
                        "my order 100002 is late"]
        assert tracker["slots"].get("order_number") in ("100004", "100002")
        timestamps = [e["timestamp"] for e in tracker["events"]]
        assert timestamps == sorted(timestamps)


def test_messages_of_one_conversation_reaching_both_servers_at_once_are_handled_one_at_a_time(production):
    """Rasa's Redis lock store: each message is handled whole (its user event, then the bot's
    actions up to listening) before the next one, whichever server took it."""
    _, ports, _, _ = production
    sender = f"concurrent-{uuid.uuid4().hex[:6]}"
    _say(ports, 0, sender, "hi")
    texts = ["do you take paypal payments", "how long will shipping take", "do you have a size guide", "is there a guarantee"]

    async def send_all():
        async with aiohttp.ClientSession() as session:
            async def send(index, text):
                async with session.post(f"{_rasa(ports, index % 2)}/webhooks/rest/webhook",
                                        json={"sender": sender, "message": text}) as response:
                    return await response.json()
            return await asyncio.gather(*(send(i, t) for i, t in enumerate(texts)))

    replies = asyncio.run(send_all())
    assert all(replies)  # every message answered
    events = _tracker(ports, 0, sender)["events"]
    said = [e["text"] for e in events if e["event"] == "user"]
    assert sorted(said[1:]) == sorted(texts) and len(said) == 5  # each once, none lost
    # Never two shopper messages without the bot going back to listening in between.
    open_turn = False
    for event in events:
        if event["event"] == "user":
            assert not open_turn, "two messages of one conversation were handled at the same time"
            open_turn = True
        elif event["event"] == "action" and event.get("name") == "action_listen":
            open_turn = False


def test_storefront_chat_over_the_web_service_with_the_shop_on_postgresql(production):
    """/api/chat with the shop's data on PostgreSQL: an order look-up over several messages, and
    the whole history afterwards."""
    _, ports, _, _ = production
    web = f"http://127.0.0.1:{ports['WEB_PORT']}"

    async def conversation():
        async with aiohttp.ClientSession() as session:  # one browser: one cookie jar
            async def say(sender, text):
                async with session.post(f"{web}/api/chat", json={"sender": sender, "message": text}) as response:
                    assert response.status == 200, await response.text()
                    return await response.json()
            first = await say(None, "where is my parcel for order 100004?")
            sender = first["sender"]
            second = await say(sender, "emma@example.com")
            third = await say(sender, "do you take paypal payments")
            async with session.get(f"{web}/api/chat/history", params={"sender": sender}) as response:
                history = await response.json()
            return first, second, third, history

    first, second, third, history = asyncio.run(conversation())
    assert "SPXGB0123456789" in " ".join(r["text"] or "" for r in second["replies"])
    assert "PayPal" in " ".join(r["text"] or "" for r in third["replies"])
    said = [m["text"] for m in history["messages"] if m["from"] == "shopper"]
    assert said[-3:] == ["where is my parcel for order 100004?", "emma@example.com", "do you take paypal payments"]


def test_ctrl_c_stops_every_production_process(production):
    process, ports, _, children = production
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=40) == 0
    for pgid in children:
        assert not process_group_alive(pgid), f"process group {pgid} outlived Ctrl-C"
