"""Storefront conversations bound to the browser that started them.

A browser is known by its key: a random token the web service gives it with its first chat
request (an HttpOnly cookie, and in the JSON answer for a widget on another site that keeps
it itself). A conversation belongs to the key it started with; any other browser is refused,
however it learnt the conversation's id (rules.may_use_conversation)."""
import hashlib
import secrets
from dataclasses import dataclass
from typing import Optional

from sqlalchemy.orm import sessionmaker

from bot.errors import Forbidden
from bot.shop import rules
from bot.shop.db import ChatConversation, transaction, utcnow

BROWSER_KEY_BYTES = 24


def new_browser_key() -> str:
    return secrets.token_urlsafe(BROWSER_KEY_BYTES)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_sender_id() -> str:
    return f"web-{secrets.token_urlsafe(16)}"


@dataclass(frozen=True)
class Access:
    """Who asks: their browser key (None if they showed none), network address, and the
    language of ours their browser prefers (bot/language.py's `browser_language`), if any."""

    browser_key: Optional[str]
    address: str
    language: Optional[str] = None


class ConversationOwners:
    """Which browser each storefront conversation belongs to."""

    def __init__(self, sessions: sessionmaker, shop_id: int):
        self.sessions, self.shop_id = sessions, shop_id

    def claim(self, sender_id: str, access: Access, channel: str) -> str:
        """Let `access` use the conversation, binding a new one to it; the browser key to use
        from now on (a new one for a browser that had none). Refused: Forbidden."""
        with self.sessions() as session:
            known = session.get(ChatConversation, sender_id)
        if known is not None and known.key_presented and access.browser_key is not None:
            self._check(known, access)
            return access.browser_key  # a conversation's every later message: nothing to write
        with transaction(self.sessions) as session:
            conversation = session.get(ChatConversation, sender_id)
            if conversation is None:
                key = access.browser_key or new_browser_key()
                session.add(ChatConversation(
                    sender_id=sender_id, shop_id=self.shop_id, browser_key_hash=key_hash(key),
                    key_presented=access.browser_key is not None, started_from=access.address[:64],
                    channel=channel, started_at=utcnow(),
                ))
                return key
            self._check(conversation, access)
            if access.browser_key is not None:
                conversation.key_presented = True
                return access.browser_key
            # Recognised by its address, its key never shown (the answer that carried it may have
            # been an error): a new key, which binds the conversation once it is shown.
            key = new_browser_key()
            conversation.browser_key_hash = key_hash(key)
            return key

    def check(self, sender_id: str, access: Access) -> None:
        """Refuse (Forbidden) a request for someone else's conversation. A conversation that
        does not exist yet holds nothing to read."""
        with self.sessions() as session:
            conversation = session.get(ChatConversation, sender_id)
            if conversation is not None:
                self._check(conversation, access)

    def _check(self, conversation: ChatConversation, access: Access) -> None:
        presented = key_hash(access.browser_key) if access.browser_key is not None else None
        allowed = conversation.shop_id == self.shop_id and rules.may_use_conversation(
            conversation.browser_key_hash, conversation.key_presented, conversation.started_from,
            presented, access.address[:64],
        )
        if not allowed:
            raise Forbidden("This conversation belongs to another browser. Start a new chat.")
