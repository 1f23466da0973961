"""Rasa's Redis lock store, safe for several Rasa servers (endpoints.production.yml).

Rasa 3.6's RedisLockStore changes a conversation's lock by reading it from Redis, changing it
and writing it back. Two servers that take messages of one conversation at the same moment can
both read the same lock and issue the same ticket number; both messages are then handled at
once, and the tracker store keeps only one of them (seen in tests/e2e/test_production.py; Rasa
issue 9213; its fix, ConcurrentRedisLockStore, was reverted from the open-source release). Here
every change of a lock runs under a short Redis mutex of that conversation, so tickets are
issued one at a time and each message waits for the one before it.
"""
from contextlib import contextmanager
from typing import Iterator, Text

from rasa.core.lock_store import LOCK_LIFETIME, RedisLockStore
from rasa.utils.endpoints import EndpointConfig


class SerialisedRedisLockStore(RedisLockStore):
    # A mutex is held for one read and one write of the lock; it expires if its holder dies.
    MUTEX_SECONDS = 5

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)

    @contextmanager
    def _mutex(self, conversation_id: Text) -> Iterator[None]:
        name = f"{self.key_prefix}{conversation_id}:mutex"
        with self.red.lock(name, timeout=self.MUTEX_SECONDS, blocking_timeout=self.MUTEX_SECONDS, sleep=0.005):
            yield

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        with self._mutex(conversation_id):
            return super().issue_ticket(conversation_id, lock_lifetime)

    def update_lock(self, conversation_id: Text) -> None:
        with self._mutex(conversation_id):
            super().update_lock(conversation_id)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """LockStore.cleanup with one read of the lock, not two (each a round trip to Redis)."""
        with self._mutex(conversation_id):
            lock = self.get_lock(conversation_id)
            if lock is None:
                return
            lock.remove_ticket_for(ticket_number)
            if lock.is_someone_waiting():
                self.save_lock(lock)
            else:
                self.delete_lock(conversation_id)
