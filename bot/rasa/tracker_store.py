"""Rasa's SQL tracker store, with the conversations in use kept in memory (endpoints.yml,
endpoints.production.yml).

Rasa's SQLTrackerStore rebuilds a conversation from all its rows for every message: it reads
and parses every event and replays them into a tracker, and before saving it counts the rows
again. Under `make benchmark-load` that was a fifth of the Rasa server's time, and it grows with
the conversation. This store keeps the trackers it handled last in memory and asks the database
only for the rows added since (by another Rasa server sharing the database, in production), so
a message costs its new rows, not the whole conversation.

The database stays the one truth: every retrieve reads the rows after the latest one this store
knows, and a tracker changed in memory but never saved (a message that failed half-way) is
read again in full. Like Rasa's own store, it relies on Rasa's lock store to let one server at a
time change a conversation, and on events never being deleted.

SQLite (the embedded default) gets a connection pool and write-ahead logging: Rasa opens a new
connection for every query, and a commit that waits for the disk stalls the whole server.
PostgreSQL (production) runs each statement on its own (autocommit), and a message's new
events are one INSERT that also returns their ids: 3 statements a message (two reads, one
insert) where there were 9 with the BEGIN, COMMIT or ROLLBACK around each and a SELECT max(id).
"""
import itertools
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Optional, Text

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

DEFAULT_CACHE_SIZE = 2000  # conversations kept in memory, the least recently used dropped first


@dataclass
class _Cached:
    tracker: DialogueStateTracker
    saved: int  # how many of the tracker's events the database holds
    latest_id: int  # the row id of the latest of them


class CachedSQLTrackerStore(SQLTrackerStore):
    def __init__(self, domain=None, cache_size: int = DEFAULT_CACHE_SIZE, **kwargs: Any) -> None:
        super().__init__(domain=domain, **kwargs)
        url = self.engine.url
        self.engine.dispose()
        if url.get_backend_name() == "sqlite":
            self.engine = _pooled_sqlite(url)
        else:
            # Each query and each insert of a message's events is all or nothing by itself:
            # autocommit saves a BEGIN and a COMMIT or ROLLBACK round trip around each.
            self.engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", **create_engine_kwargs(url))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        self.cache_size = int(cache_size)
        self._cache: "OrderedDict[Text, _Cached]" = OrderedDict()
        # The hot paths below use SQLAlchemy's core statements: its ORM took as long as the rest.
        events = self.SQLEvent.__table__
        self._rows_after = sa.select(events.c.id, events.c.type_name, events.c.data).where(
            events.c.sender_id == sa.bindparam("sender_id"), events.c.id > sa.bindparam("after"),
        ).order_by(events.c.id)
        self._latest_id = sa.select(sa.func.max(events.c.id)).where(events.c.sender_id == sa.bindparam("sender_id"))
        self._insert = events.insert()
        # One statement, compiled once: psycopg2 sends the rows as one INSERT ... VALUES.
        self._insert_returning = events.insert().returning(events.c.id)

    @property
    def domain(self) -> Domain:
        return self._domain

    @domain.setter
    def domain(self, domain: Optional[Domain]) -> None:
        """A swapped-in model's domain: the trackers in memory were built with the old one's slots."""
        self._domain = domain or Domain.empty()
        self._cache.clear()

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The conversation's latest session, from memory plus the rows added since."""
        cached = self._cache.pop(sender_id, None)
        if cached is not None and len(cached.tracker.events) != cached.saved:
            cached = None  # changed and not saved: the database has it right
        if cached is not None:
            with self.engine.connect() as connection:
                rows = connection.execute(self._rows_after, {"sender_id": sender_id, "after": cached.latest_id}).all()
            if any(row.type_name == SessionStarted.type_name for row in rows):
                cached = None  # a new session began elsewhere: read it in full
            else:
                for row in rows:
                    cached.tracker.update(Event.from_parameters(json.loads(row.data)))
                if rows:
                    cached.saved, cached.latest_id = len(cached.tracker.events), rows[-1].id
        if cached is None:
            with self.session_scope() as session:
                rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).all()
            if not self.domain or not rows:
                return None
            tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(row.data) for row in rows], self.domain.slots)
            cached = _Cached(tracker, len(tracker.events), rows[-1].id)
        self._remember(sender_id, cached)
        return cached.tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the events the database does not hold yet."""
        await self.stream_events(tracker)
        cached = self._cache.get(tracker.sender_id)
        if cached is not None and cached.tracker is tracker:
            new_events = list(itertools.islice(tracker.events, cached.saved, None))
        else:
            with self.session_scope() as session:
                new_events = list(self._additional_events(session, tracker))
        rows = [self._row(tracker.sender_id, event) for event in new_events]
        if rows and self.engine.dialect.full_returning:  # PostgreSQL: the rows and their ids, one round trip
            with self.engine.connect() as connection:
                latest_id = max(connection.execute(self._insert_returning, rows).scalars())
        else:
            with self.engine.begin() as connection:
                if rows:
                    connection.execute(self._insert, rows)
                latest_id = connection.execute(self._latest_id, {"sender_id": tracker.sender_id}).scalar()
        if any(isinstance(event, SessionStarted) for event in new_events) and len(tracker.events) > len(new_events):
            # The tracker still holds the previous session, which a retrieve leaves out.
            self._cache.pop(tracker.sender_id, None)
        elif latest_id is not None:
            self._remember(tracker.sender_id, _Cached(tracker, len(tracker.events), latest_id))

    @staticmethod
    def _row(sender_id: Text, event: Event) -> Dict[Text, Any]:
        """An event as Rasa's SQLTrackerStore.save stores it."""
        data = event.as_dict()
        return {
            "sender_id": sender_id, "type_name": event.type_name, "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"), "data": json.dumps(data),
        }

    def _remember(self, sender_id: Text, cached: _Cached) -> None:
        self._cache[sender_id] = cached
        self._cache.move_to_end(sender_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)


def _pooled_sqlite(url: Any) -> sa.engine.Engine:
    engine = sa.create_engine(url, poolclass=sa.pool.QueuePool, connect_args={"timeout": 15, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        # Write-ahead logging: the dashboard reads while Rasa writes, and a commit does not wait
        # for the disk (NORMAL syncs at checkpoints: a power cut may lose the latest commits,
        # never the file).
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")

    return engine
