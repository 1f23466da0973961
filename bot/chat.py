"""Talking to the Rasa server on behalf of the storefront chat."""
import asyncio
from typing import Any, Dict, List, Optional

import aiohttp

from bot.errors import InvalidInput, ServiceUnavailable

MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 128


def validate_message(sender: Any, text: Any) -> None:
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
        raise InvalidInput(f"`sender` must be a non-empty string of at most {MAX_SENDER_CHARS} characters.")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("`message` must be a non-empty string.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidInput(
            f"The message is {len(text)} characters long; please keep it under {MAX_MESSAGE_CHARS}."
        )


async def send_to_bot(
    rasa: aiohttp.ClientSession, sender: str, text: str, metadata: Optional[Dict[str, Any]] = None
) -> List[Dict[str, Any]]:
    """Send one shopper message through Rasa's REST channel; return the bot's replies."""
    validate_message(sender, text)
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidInput("`metadata` must be a JSON object.")
    payload = {"sender": sender, "message": text, "metadata": metadata or {}}
    try:
        async with rasa.post("/webhooks/rest/webhook", json=payload) as response:
            if response.status != 200:
                raise ServiceUnavailable(f"The assistant answered with HTTP {response.status}; please try again.")
            return await response.json()
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        raise ServiceUnavailable("The assistant is not reachable right now; please try again shortly.") from error


async def rasa_is_up(rasa: aiohttp.ClientSession) -> bool:
    try:
        async with rasa.get("/") as response:
            return response.status == 200
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return False
