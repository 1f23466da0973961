"""Rasa's production stores on the real services: the SQL tracker store on the local PostgreSQL
(a fresh database, created by Rasa itself from `login_db`, as endpoints.production.yml does) and
the Redis lock store on the local Redis. A service that is not reachable skips its tests, saying why."""
import asyncio
import os
import time
import uuid

import pytest
import sqlalchemy

from tests.conftest import POSTGRES_URL

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def postgres_database():
    """The name of a database that does not exist yet on the local PostgreSQL; dropped afterwards."""
    admin = sqlalchemy.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
    except sqlalchemy.exc.OperationalError as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {error.orig}")
    name = f"test_tracker_{uuid.uuid4().hex[:10]}"
    yield admin.url, name
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name})
        connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture
def redis_lock_store():
    import redis
    from rasa.core.lock_store import RedisLockStore
    from urllib.parse import urlsplit

    url = urlsplit(REDIS_URL)
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {error}")
    prefix = f"test{uuid.uuid4().hex[:8]}"
    store = RedisLockStore(host=url.hostname, port=url.port or 6379, db=int(url.path.lstrip("/") or 0), key_prefix=prefix)
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
