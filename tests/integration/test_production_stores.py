"""Rasa's production stores on the real services: the SQL tracker store on the local PostgreSQL
(a fresh database, created by Rasa itself from `login_db`, as endpoints.production.yml does) and
the Redis lock store on the local Redis. A service that is not reachable skips its tests, saying why."""
import asyncio
import os
import time
import uuid

import pytest


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _lock_store_config(prefix: str):
    """The lock store as endpoints.production.yml configures it, on the test Redis."""
    from urllib.parse import urlsplit

    from rasa.utils.endpoints import EndpointConfig

    url = urlsplit(REDIS_URL)
    return EndpointConfig(
        url=url.hostname, type="bot.rasa.lock_store.AtomicRedisLockStore",
        port=url.port or 6379, db=int(url.path.lstrip("/") or 0), key_prefix=prefix,
    )


@pytest.fixture
def redis_lock_store():
    import redis
    from rasa.core.lock_store import LockStore

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {error}")
    prefix = f"test{uuid.uuid4().hex[:8]}"
    store = LockStore.create(_lock_store_config(prefix))  # as Rasa creates it from the endpoints file
    yield store
    for key in store.red.scan_iter(f"{prefix}:*"):
        store.red.delete(key)
    store.red.close()


def _domain():
    from rasa.shared.core.domain import Domain

    return Domain.from_yaml("""
version: "3.1"
intents: [greet]
slots:
  order_number:
    type: text
    mappings: [{type: custom}]
responses:
  utter_greet: [{text: hi}]
""")


def test_sql_tracker_store_on_postgresql_creates_its_database_and_keeps_a_conversation(postgres_database):
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    url, name = postgres_database
    domain = _domain()
    store = SQLTrackerStore(
        domain, dialect="postgresql", host=url.host, port=url.port or 5432, db=name,
        username=url.username, password=url.password, login_db=url.database,
    )
    sender = f"shopper-{uuid.uuid4().hex[:6]}"
    start = time.time()
    events = [
        ActionExecuted("action_listen", timestamp=start),
        UserUttered("where is order 100004?", {"name": "greet", "confidence": 1.0}, timestamp=start + 1),
        SlotSet("order_number", "100004", timestamp=start + 2),
        BotUttered("What's the e-mail address on the order?", timestamp=start + 3),
    ]
    tracker = DialogueStateTracker.from_events(sender, events, domain.slots)
    asyncio.run(store.save(tracker))

    # A second store object on the same database, as a second Rasa server would have.
    other = SQLTrackerStore(
        domain, dialect="postgresql", host=url.host, port=url.port or 5432, db=name,
        username=url.username, password=url.password,
    )
    found = asyncio.run(other.retrieve(sender))
    assert found is not None
    assert found.get_slot("order_number") == "100004"
    assert [type(e).__name__ for e in found.events] == ["ActionExecuted", "UserUttered", "SlotSet", "BotUttered"]
    assert [e.timestamp for e in found.events] == sorted(e.timestamp for e in found.events)
    assert sender in asyncio.run(other.keys())


def test_redis_lock_store_serialises_two_holders_of_one_conversation(redis_lock_store):
    """Two coroutines (as two Rasa servers would) take the lock of one conversation: the second
    waits until the first lets go, so their critical sections never overlap and run in order."""
    store = redis_lock_store
    sender = f"shopper-{uuid.uuid4().hex[:6]}"
    log = []

    async def handle(name: str, hold: float):
        async with store.lock(sender, lock_lifetime=10, wait_time_in_seconds=0.01):
            log.append(f"{name} in")
            await asyncio.sleep(hold)
            log.append(f"{name} out")

    async def both():
        first = asyncio.create_task(handle("first", 0.3))
        await asyncio.sleep(0.05)  # the first has the lock
        await asyncio.gather(first, handle("second", 0.01))

    asyncio.run(both())
    assert log == ["first in", "first out", "second in", "second out"]
    # Let go: no lock left behind for the conversation.
    assert store.get_lock(sender) is None or store.get_lock(sender).is_locked(0) is False


def test_two_servers_taking_messages_of_one_conversation_at_the_same_moment_never_overlap(redis_lock_store):
    """Four lock stores (as four Rasa servers, each its own Redis connection) take the lock of
    one conversation at the same moment, twenty times over: each ticket is issued once, and no
    two holders are ever inside at once. (Rasa's own RedisLockStore issues the same ticket twice
    here: it reads, changes and writes the lock without a mutex.)"""
    import threading

    from rasa.core.lock_store import LockStore

    stores = [redis_lock_store] + [LockStore.create(_lock_store_config(redis_lock_store.key_prefix.split(":")[0])) for _ in range(3)]
    assert len({id(store.red) for store in stores}) == 4
    sender = f"shopper-{uuid.uuid4().hex[:6]}"
    inside, overlaps, tickets = [], [], []
    start = threading.Barrier(len(stores))

    def server(store):
        async def handle():
            async with store.lock(sender, lock_lifetime=10, wait_time_in_seconds=0.005):
                inside.append(1)
                if len(inside) > 1:
                    overlaps.append(len(inside))
                await asyncio.sleep(0.005)
                inside.pop()

        for _ in range(20):
            start.wait()
            asyncio.run(handle())

    original = type(redis_lock_store).issue_ticket

    def recording(self, conversation_id, lock_lifetime=10):
        ticket = original(self, conversation_id, lock_lifetime)
        tickets.append(ticket)
        return ticket

    type(redis_lock_store).issue_ticket = recording
    try:
        threads = [threading.Thread(target=server, args=(store,)) for store in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        type(redis_lock_store).issue_ticket = original
    assert overlaps == [] and len(tickets) == 80
    for store in stores[1:]:
        store.red.close()


def test_redis_lock_store_keeps_rasas_lock_format_and_lets_expired_tickets_go(redis_lock_store):
    """Each change of the lock is one Lua script: what it writes is the lock as Rasa's own
    TicketLock reads it, numbered in order, without the tickets that expired."""
    store = redis_lock_store
    sender = f"shopper-{uuid.uuid4().hex[:6]}"
    assert [store.issue_ticket(sender, 10), store.issue_ticket(sender, 10)] == [0, 1]
    lock = store.get_lock(sender)
    assert lock.conversation_id == sender and [t.number for t in lock.tickets] == [0, 1]
    assert not lock.is_locked(0) and lock.is_locked(1)
    assert all(time.time() + 9 < t.expires <= time.time() + 10 for t in lock.tickets)

    store.cleanup(sender, 0)  # the first lets go: the second is served
    assert not store.get_lock(sender).is_locked(1)
    assert store.issue_ticket(sender, 0.05) == 2
    time.sleep(0.1)  # ticket 2 expires (its holder died)
    assert store.issue_ticket(sender, 10) == 2  # numbered on from the last valid ticket
    store.cleanup(sender, 1)
    store.cleanup(sender, 2)
    assert store.get_lock(sender) is None  # nobody holds a ticket: the lock is gone

    store.issue_ticket(sender, 0.05)
    time.sleep(0.1)
    store.update_lock(sender)  # as Rasa's waiting loop does: the expired ticket goes
    emptied = store.get_lock(sender)
    assert emptied is not None and list(emptied.tickets) == []
    store.cleanup(sender, 99)  # a ticket that is not there: nothing left, nothing raised
    assert store.get_lock(sender) is None


def test_redis_lock_store_keeps_other_conversations_apart(redis_lock_store):
    """A conversation's lock does not hold up another conversation."""
    store = redis_lock_store
    log = []

    async def handle(sender: str, hold: float):
        async with store.lock(sender, lock_lifetime=10, wait_time_in_seconds=0.01):
            log.append(f"{sender} in")
            await asyncio.sleep(hold)
            log.append(f"{sender} out")

    async def both():
        await asyncio.gather(handle("a-" + uuid.uuid4().hex[:4], 0.3), handle("b-" + uuid.uuid4().hex[:4], 0.01))

    asyncio.run(both())
    assert log[1].endswith("in")  # the second came in while the first still held its own lock


# --- the production settings and the client of several Rasa servers (no services needed) ---

def test_production_environment_fills_the_endpoints_variables_from_the_urls():
    from bot.run import PRODUCTION_DEFAULTS, production_environment

    env = production_environment({
        "TRACKER_STORE_URL": "postgresql://rasa:s3cret@db.internal:6543/conversations",
        "LOCK_STORE_URL": "redis://:pw@cache.internal:6380/4", "RASA_SERVERS": "3",
    })
    assert env["DATABASE_URL"] == PRODUCTION_DEFAULTS["DATABASE_URL"]
    assert (env["TRACKER_DB_HOST"], env["TRACKER_DB_PORT"], env["TRACKER_DB_NAME"]) == ("db.internal", "6543", "conversations")
    assert (env["TRACKER_DB_USER"], env["TRACKER_DB_PASSWORD"]) == ("rasa", "s3cret")
    assert (env["LOCK_STORE_HOST"], env["LOCK_STORE_PORT"], env["LOCK_STORE_DB"], env["LOCK_STORE_PASSWORD"]) == \
        ("cache.internal", "6380", "4", "pw")
    assert env["RASA_SERVERS"] == "3"
    with pytest.raises(SystemExit, match="DATABASE_URL must be a PostgreSQL URL"):
        production_environment({"DATABASE_URL": "sqlite:///x.db"})


def test_the_production_endpoints_file_reads_as_rasa_reads_it():
    """endpoints.production.yml with the variables set: Rasa's own reader gives our SQL tracker
    store on PostgreSQL and our Redis lock store."""
    from rasa.core.utils import read_endpoints_from_path

    from bot.config import PROJECT_DIR
    from bot.run import production_environment

    env = production_environment({})
    saved = dict(os.environ)
    os.environ.update({**env, "ACTION_ENDPOINT_URL": "http://127.0.0.1:5055/webhook"})
    try:
        endpoints = read_endpoints_from_path(str(PROJECT_DIR / "endpoints.production.yml"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert endpoints.tracker_store.type == "bot.rasa.tracker_store.CachedSQLTrackerStore"
    assert endpoints.tracker_store.kwargs["dialect"] == "postgresql"
    assert endpoints.tracker_store.kwargs["db"] == "shop_production_tracker"
    assert endpoints.lock_store.type == "bot.rasa.lock_store.AtomicRedisLockStore"
    assert str(endpoints.lock_store.kwargs["port"]) == "6379"


def test_config_lists_consecutive_rasa_servers():
    from bot.config import Config

    config = Config.from_env({"RASA_PORT": "7005", "RASA_SERVERS": "2"})
    assert config.rasa_urls == ("http://127.0.0.1:7005", "http://127.0.0.1:7006")
    assert Config.from_env({}).rasa_urls == ("http://127.0.0.1:5005", "http://127.0.0.1:5006")  # one a core
    assert Config.from_env({"RASA_SERVERS": "1"}).rasa_urls == ("http://127.0.0.1:5005",)


def test_rasa_client_keeps_each_conversation_on_its_server_and_skips_one_that_refuses():
    import socket

    from aiohttp import web

    from bot.rasa.client import RasaClient

    def free_port():
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    async def scenario():
        seen = []

        def server(name):
            async def webhook(request):
                seen.append((name, (await request.json())["sender"]))
                return web.json_response({"replies": [{"event": "bot", "text": name}], "cursor": 1.0})

            async def status(request):
                seen.append((name, "status"))
                return web.json_response({})
            app = web.Application()
            app.router.add_post("/webhooks/shop/webhook", webhook)
            app.router.add_get("/status", status)
            return app

        runners, urls = [], []
        for name in ("a", "b"):
            runner = web.AppRunner(server(name))
            await runner.setup()
            port = free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            runners.append(runner)
            urls.append(f"http://127.0.0.1:{port}")
        down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        senders = [f"conversation-{i}" for i in range(20)]
        try:
            async with RasaClient.connect(urls, "t") as rasa:
                for sender in senders + senders:
                    await rasa.send(sender, "hi")
                for _ in range(4):
                    await rasa._call("GET", "/status")  # not a conversation's: each server in turn
                homes = {sender: "ab"[rasa.server_of(sender)] for sender in senders}
            async with RasaClient.connect([down, urls[0]], "t") as rasa:
                away = [sender for sender in senders if rasa.server_of(sender) == 0]
                for sender in away:  # their server refuses: the next one answers
                    assert (await rasa.send(sender, "hi"))["replies"][0]["text"] == "a"
        finally:
            for runner in runners:
                await runner.cleanup()
        return seen, homes, away

    seen, homes, away = asyncio.run(scenario())
    messages = seen[: 2 * 20]
    assert all(name == homes[sender] for name, sender in messages)  # each conversation on its own server, every time
    assert sorted(homes.values()) == ["a"] * 10 + ["b"] * 10  # and the conversations shared out evenly
    assert [name for name, _ in seen[40:44]] == ["a", "b", "a", "b"]
    assert away and seen[44:] == [("a", sender) for sender in away]
