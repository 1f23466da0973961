"""bot/rasa/tracker_store.py on a real SQLite file and on the local PostgreSQL (a database Rasa
creates from `login_db`, as endpoints.production.yml has it): what it retrieves is what Rasa's
own SQL tracker store retrieves from the same rows, however several stores (several Rasa
servers) share the database."""
import asyncio
import time
import uuid

import pytest

from bot.rasa.tracker_store import CachedSQLTrackerStore
from tests.integration.test_production_stores import _domain


@pytest.fixture(params=["sqlite", "postgresql"])
def store_settings(request, tmp_path):
    """How to open a store on a database of the kind: every store opened with these shares it."""
    if request.param == "sqlite":
        return {"dialect": "sqlite", "db": str(tmp_path / "tracker.db")}
    url, name = request.getfixturevalue("postgres_database")
    return {
        "dialect": "postgresql", "host": url.host, "port": url.port or 5432, "db": name,
        "username": url.username, "password": url.password, "login_db": url.database,
    }


def stores(settings, count=2, **options):
    return [CachedSQLTrackerStore(domain=_domain(), **settings, **options) for _ in range(count)]


def rasas(settings):
    """Rasa's own SQL tracker store on the same database."""
    from rasa.core.tracker_store import SQLTrackerStore

    return SQLTrackerStore(_domain(), **settings)


def turn(text, number=None, at=None):
    """A shopper message and the bot's answer, as events."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

    at = at or time.time()
    events = [UserUttered(text, {"name": "order_status", "confidence": 1.0}, timestamp=at)]
    if number:
        events.append(SlotSet("order_number", number, timestamp=at))
    return events + [ActionExecuted("utter_greet", timestamp=at), BotUttered(f"about {text}", timestamp=at),
                     ActionExecuted("action_listen", timestamp=at)]


def same(found, expected):
    assert found is not None and expected is not None
    assert [event.as_dict() for event in found.events] == [event.as_dict() for event in expected.events]
    assert found.current_slot_values() == expected.current_slot_values()
    assert found.latest_message.text == expected.latest_message.text


def test_two_servers_sharing_the_database_each_see_the_other_ones_messages(store_settings):
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker

    first, second = stores(store_settings)
    sender = f"shopper-{uuid.uuid4().hex[:6]}"
    tracker = DialogueStateTracker.from_events(sender, [ActionExecuted("action_listen"), *turn("hi")], _domain().slots)
    asyncio.run(first.save(tracker))

    on_second = asyncio.run(second.retrieve(sender))  # read in full
    for event in turn("where is 100004", "100004"):
        on_second.update(event)
    asyncio.run(second.save(on_second))

    on_first = asyncio.run(first.retrieve(sender))  # the rows the second one added
    assert on_first is tracker  # kept in memory, with the new rows replayed into it
    same(on_first, asyncio.run(rasas(store_settings).retrieve(sender)))
    assert on_first.get_slot("order_number") == "100004"

    for event in turn("and 100005?", "100005"):
        on_first.update(event)
    asyncio.run(first.save(on_first))
    same(asyncio.run(second.retrieve(sender)), asyncio.run(rasas(store_settings).retrieve(sender)))
    assert asyncio.run(second.retrieve(sender)).get_slot("order_number") == "100005"


def test_each_event_is_stored_once(store_settings):
    from rasa.shared.core.trackers import DialogueStateTracker

    store, _ = stores(store_settings)
    sender = f"shopper-{uuid.uuid4().hex[:6]}"
    tracker = asyncio.run(store.retrieve(sender)) or DialogueStateTracker(sender, _domain().slots)
    for text in ("hi", "where is 100004", "thanks"):
        for event in turn(text):
            tracker.update(event)
        asyncio.run(store.save(tracker))
        asyncio.run(store.save(tracker))  # saved twice: nothing new the second time
    # A tracker the store did not hand out (rebuilt elsewhere) is saved as Rasa saves it.
    rebuilt = DialogueStateTracker.from_events(sender, list(tracker.events), _domain().slots)
    asyncio.run(store.save(rebuilt))
    assert len(asyncio.run(rasas(store_settings).retrieve(sender)).events) == len(tracker.events) == 12


def test_a_message_that_failed_half_way_is_read_again_from_the_database(store_settings):
    from rasa.shared.core.trackers import DialogueStateTracker

    store, _ = stores(store_settings)
    sender = f"shopper-{uuid.uuid4().hex[:6]}"
    tracker = DialogueStateTracker.from_events(sender, turn("hi"), _domain().slots)
    asyncio.run(store.save(tracker))
    for event in turn("where is 100004", "100004"):  # changed in memory, never saved
        tracker.update(event)
    found = asyncio.run(store.retrieve(sender))
    assert found is not tracker and found.get_slot("order_number") is None
    same(found, asyncio.run(rasas(store_settings).retrieve(sender)))


def test_a_new_session_started_by_another_server_is_read_in_full(store_settings):
    from rasa.shared.core.events import ActionExecuted, SessionStarted
    from rasa.shared.core.trackers import DialogueStateTracker

    first, second = stores(store_settings)
    sender = f"shopper-{uuid.uuid4().hex[:6]}"

    asyncio.run(first.save(DialogueStateTracker.from_events(sender, turn("hi", "100004"), _domain().slots)))
    later = asyncio.run(second.retrieve(sender))
    for event in [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"), *turn("hello again")]:
        later.update(event)
    asyncio.run(second.save(later))
    found = asyncio.run(first.retrieve(sender))
    same(found, asyncio.run(rasas(store_settings).retrieve(sender)))  # the latest session only
    assert found.get_slot("order_number") is None and len(found.events) == len(turn("hello again")) + 2
    # The server that started it reads it as Rasa does, too (not its tracker with both sessions).
    same(asyncio.run(second.retrieve(sender)), found)


def test_only_the_latest_conversations_are_kept_in_memory(store_settings):
    from rasa.shared.core.trackers import DialogueStateTracker

    (store,) = stores(store_settings, count=1, cache_size=2)
    senders = [f"shopper-{uuid.uuid4().hex[:6]}" for _ in range(3)]
    trackers = [DialogueStateTracker.from_events(sender, turn(sender), _domain().slots) for sender in senders]
    for tracker in trackers:
        asyncio.run(store.save(tracker))
    assert list(store._cache) == senders[1:]
    found = asyncio.run(store.retrieve(senders[0]))  # forgotten: read from the database
    assert found is not trackers[0]
    same(found, trackers[0])
    assert asyncio.run(store.retrieve("nobody-ever-wrote")) is None


def test_sqlite_writes_ahead_so_readers_do_not_wait_for_rasa(tmp_path):
    (store,) = stores({"dialect": "sqlite", "db": str(tmp_path / "tracker.db")}, count=1)
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_a_new_models_domain_rebuilds_the_conversations_in_memory(store_settings):
    from rasa.shared.core.trackers import DialogueStateTracker

    (store,) = stores(store_settings, count=1)
    sender = f"shopper-{uuid.uuid4().hex[:6]}"
    tracker = DialogueStateTracker.from_events(sender, turn("hi", "100004"), _domain().slots)
    asyncio.run(store.save(tracker))
    assert asyncio.run(store.retrieve(sender)) is tracker
    store.domain = _domain()  # as Rasa sets it when a retrained model is swapped in
    rebuilt = asyncio.run(store.retrieve(sender))
    assert rebuilt is not tracker and rebuilt.get_slot("order_number") == "100004"
