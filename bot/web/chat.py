"""The storefront chat, whichever way it reaches the web service (POST /api/chat, rasa-webchat's
socket.io in bot/web/webchat.py): the same limits, validation and conversation ownership, then
the gateway (working hours, handoff, identity)."""
from typing import Any, Dict, Optional

from aiohttp import web

from bot.errors import InvalidInput
from bot.rasa.client import clean_text, validate_message, validate_sender
from bot.shop.conversations import Access, ConversationOwners, new_sender_id
from bot.web.limits import admit
from bot.web.resources import LIMITS, SHOP, gateway

SLOW_DOWN = "You're sending messages faster than we can answer them. Please wait {seconds} seconds, then send yours again."
# A browser keeps its key in this cookie (HttpOnly), or a widget on another site sends it in the header.
BROWSER_KEY_COOKIE = "shop_chat_key"
BROWSER_KEY_HEADER = "X-Chat-Key"


def owners(app: web.Application) -> ConversationOwners:
    return ConversationOwners(app[SHOP].sessions, app[SHOP].shop_id)


def admit_client(app: web.Application, address: str) -> None:
    """Count one chat request from `address`, well-formed or not; TooManyRequests past the limit."""
    admit([(app[LIMITS].chat_per_address, address)], SLOW_DOWN)


async def shopper_message(
    app: web.Application, access: Access, sender: Optional[str], text: Any, metadata: Any, channel: str,
    after: Any = None,
) -> Dict[str, Any]:
    """A shopper's message (`sender` None: a new conversation): the bot's replies (none while a
    person answers; with the chat's cursor `after`, every reply since then), a cursor for the
    updates, and the browser key to use from now on."""
    sender = new_sender_id() if sender is None else clean_text(sender)
    text = clean_text(text)
    validate_sender(sender)
    admit([(app[LIMITS].chat_per_sender, sender)], SLOW_DOWN)
    validate_message(sender, text)
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidInput("`metadata` must be a JSON object.")
    if after is not None and (isinstance(after, bool) or not isinstance(after, (int, float))):
        raise InvalidInput("`after` must be the cursor of an earlier answer.")
    key = owners(app).claim(sender, access, channel)
    # `metadata` carries the storefront's signed shopper identity (bot/shop/identity.py).
    answer = await gateway(app).shopper_message(sender, text, metadata, access.address, after, access.language)
    return {"sender": sender, "key": key, **answer}


async def shopper_updates(app: web.Application, access: Access, sender: Any, after: float) -> Dict[str, Any]:
    """Replies that came after `after` (an agent's, the bot's after the agents' timeout)."""
    sender = clean_text(sender)
    validate_sender(sender)
    owners(app).check(sender, access)
    return await gateway(app).updates(sender, after)


async def shopper_history(app: web.Application, access: Access, sender: Any) -> Dict[str, Any]:
    """The whole conversation, for a chat that was reloaded or lost its connection."""
    sender = clean_text(sender)
    validate_sender(sender)
    owners(app).check(sender, access)
    return {"sender": sender, **await gateway(app).history(sender)}
