"""Talking to the Rasa server on behalf of the storefront chat."""
import asyncio
import re
from urllib.parse import quote
from typing import Any, Dict, List, Optional

import aiohttp

from bot.errors import InvalidInput, ServiceUnavailable

MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 128


# Lone surrogates (no UTF-8 encoder takes them, so Rasa would fail on them), and control
# characters other than tab and newline.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(text: Any) -> Any:
    """Text as the bot can read it: lone surrogates become U+FFFD, control characters other
    than tab and newline are dropped. Anything but a string stays as it is (validation refuses it)."""
    if not isinstance(text, str):
        return text
    return CONTROL.sub("", LONE_SURROGATE.sub("\ufffd", text))


def validate_sender(sender: Any) -> None:
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
        raise InvalidInput(f"`sender` must be a non-empty string of at most {MAX_SENDER_CHARS} characters.")


def validate_message(sender: Any, text: Any) -> None:
    validate_sender(sender)
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


async def _rasa_api(rasa: aiohttp.ClientSession, method: str, path: str, token: str, **kwargs) -> Dict[str, Any]:
    """A call to Rasa's HTTP API (token-protected); Rasa down or refusing is ServiceUnavailable."""
    try:
        async with rasa.request(method, path, params={"token": token}, **kwargs) as response:
            if response.status != 200:
                raise ServiceUnavailable(f"The assistant's API answered with HTTP {response.status}.")
            return await response.json()
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        raise ServiceUnavailable("The assistant is not reachable right now; please try again shortly.") from error


async def parse_message(rasa: aiohttp.ClientSession, token: str, text: str) -> Dict[str, Any]:
    """How the model understands `text` (intent ranking, FAQ ranking), without replying."""
    validate_message("parse", text)
    return await _rasa_api(rasa, "POST", "/model/parse", token, json={"text": text})


async def conversation(rasa: aiohttp.ClientSession, token: str, sender: str) -> Dict[str, Any]:
    """The conversation's tracker (events, slots, latest message)."""
    validate_sender(sender)
    return await _rasa_api(rasa, "GET", f"/conversations/{quote(sender, safe='')}/tracker", token)


async def append_events(rasa: aiohttp.ClientSession, token: str, sender: str, events: List[Dict[str, Any]]) -> None:
    """Add events to a conversation (a message recorded without a reply, an agent's reply, pause/resume)."""
    path = f"/conversations/{quote(sender, safe='')}/tracker/events"
    await _rasa_api(rasa, "POST", path, token, json=events)


async def bot_answers_now(rasa: aiohttp.ClientSession, token: str, sender: str, max_actions: int = 10) -> List[Dict[str, Any]]:
    """Let the bot answer the conversation's latest message, which it recorded without replying:
    the next actions are predicted and run until the bot would listen again."""
    path = f"/conversations/{quote(sender, safe='')}"
    messages: List[Dict[str, Any]] = []
    for _ in range(max_actions):
        prediction = await _rasa_api(rasa, "POST", f"{path}/predict", token)
        best = prediction["scores"][0]["action"]
        if best == "action_listen":
            break
        result = await _rasa_api(rasa, "POST", f"{path}/execute", token, json={
            "name": best, "policy": prediction.get("policy"), "confidence": prediction.get("confidence"),
        })
        messages.extend(result.get("messages") or [])
    return messages
