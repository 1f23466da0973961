"""Rasa's Redis lock store, safe for several Rasa servers (endpoints.production.yml).

Rasa 3.6's RedisLockStore changes a conversation's lock by reading it from Redis, changing it
and writing it back. Two servers that take messages of one conversation at the same moment can
both read the same lock and issue the same ticket number; both messages are then handled at
once, and the tracker store keeps only one of them (seen in tests/e2e/test_production.py; Rasa
issue 9213; its fix, ConcurrentRedisLockStore, was reverted from the open-source release). Here
every change of a lock is one Lua script, which Redis runs atomically: tickets are issued one at
a time and each message waits for the one before it. It is also one round trip to Redis where
Rasa's takes two or three (and a mutex around them four more): the lock is taken and let go on
every message.

The lock stays in Rasa's format (a JSON object whose tickets are JSON strings), so Rasa's
`get_lock` and waiting loop read it unchanged.
"""
import time
from typing import Text

from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

# The lock's tickets still valid at ARGV[2] (now), each a JSON string as Rasa writes it; then the
# helper that writes the lock back (deleting it when `delete_if_empty` and no ticket is left).
# cjson would write an empty list as {}, so the lock's JSON is put together here.
_LOCK_SCRIPT_HEAD = """
local now = tonumber(ARGV[2])
local tickets = {}
local stored = redis.call('GET', KEYS[1])
if stored then
  for _, ticket in ipairs(cjson.decode(stored).tickets) do
    if cjson.decode(ticket).expires >= now then table.insert(tickets, ticket) end
  end
end
local function write(delete_if_empty)
  if delete_if_empty and #tickets == 0 then
    redis.call('DEL', KEYS[1])
    return
  end
  local encoded = {}
  for i, ticket in ipairs(tickets) do encoded[i] = cjson.encode(ticket) end
  redis.call('SET', KEYS[1], '{"conversation_id": ' .. cjson.encode(ARGV[1]) .. ', "tickets": [' .. table.concat(encoded, ', ') .. ']}')
end
"""
# ARGV: conversation id, now, lifetime. The next number after the last valid ticket (0 if none).
_ISSUE_TICKET = _LOCK_SCRIPT_HEAD + """
local number = 0
if #tickets > 0 then number = cjson.decode(tickets[#tickets]).number + 1 end
table.insert(tickets, cjson.encode({number = number, expires = now + tonumber(ARGV[3])}))
write(false)
return number
"""
# ARGV: conversation id, now, ticket number. The lock goes when nobody else holds a ticket.
_CLEANUP = _LOCK_SCRIPT_HEAD + """
if not stored then return end
local kept = {}
for _, ticket in ipairs(tickets) do
  if cjson.decode(ticket).number ~= tonumber(ARGV[3]) then table.insert(kept, ticket) end
end
tickets = kept
write(true)
"""
# ARGV: conversation id, now. Expired tickets out (Rasa's update_lock, while a message waits).
_UPDATE_LOCK = _LOCK_SCRIPT_HEAD + """
if stored then write(false) end
"""


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)
        self._issue_ticket = self.red.register_script(_ISSUE_TICKET)
        self._cleanup = self.red.register_script(_CLEANUP)
        self._update_lock = self.red.register_script(_UPDATE_LOCK)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return int(self._issue_ticket(
                keys=[self.key_prefix + conversation_id], args=[conversation_id, repr(time.time()), repr(float(lock_lifetime))],
            ))
        except Exception as error:  # as Rasa's issue_ticket reports it
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: Text) -> None:
        self._update_lock(keys=[self.key_prefix + conversation_id], args=[conversation_id, repr(time.time())])

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        self._cleanup(keys=[self.key_prefix + conversation_id], args=[conversation_id, repr(time.time()), ticket_number])
