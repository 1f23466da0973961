"""Talking to the Rasa server on behalf of the storefront chat."""
import asyncio
import json
import re
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple
from urllib.parse import quote

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


class RasaClient:
    """The one way to talk to a Rasa server: its REST channel (shopper messages) and its
    token-protected HTTP API (parsing, trackers, events, models). Rasa down or refusing is
    ServiceUnavailable."""

    # Generous: while a retrained model is swapped in, Rasa holds messages until it is loaded (~30 s).
    TIMEOUT_SECONDS = 120
    MODEL_LOAD_TIMEOUT_SECONDS = 300

    def __init__(self, session: aiohttp.ClientSession, token: str):
        self.session, self.token = session, token

    @classmethod
    @asynccontextmanager
    async def connect(cls, url: str, token: str) -> AsyncIterator["RasaClient"]:
        timeout = aiohttp.ClientTimeout(total=cls.TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(base_url=url, timeout=timeout) as session:
            yield cls(session, token)

    async def send(self, sender: str, text: str, metadata: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
        """Send one shopper message through Rasa's REST channel; the bot's replies."""
        validate_message(sender, text)
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidInput("`metadata` must be a JSON object.")
        payload = {"sender": sender, "message": text, "metadata": metadata or {}}
        return await self._call("POST", "/webhooks/rest/webhook", json=payload, authorised=False)

    async def is_up(self) -> bool:
        """Whether the server answers (a model may still be loading)."""
        return await self._answers("/", authorised=False)

    async def is_ready(self) -> bool:
        """Whether the server has loaded a model and its HTTP API answers."""
        return await self._answers("/status", authorised=True)

    async def parse(self, text: str) -> Dict[str, Any]:
        """How the model understands `text` (intent ranking, FAQ ranking), without replying."""
        validate_message("parse", text)
        return await self._call("POST", "/model/parse", json={"text": text})

    async def tracker(self, sender: str) -> Dict[str, Any]:
        """The conversation's tracker (events, slots, latest message)."""
        validate_sender(sender)
        return await self._call("GET", f"{_conversation(sender)}/tracker")

    async def events(self, sender: str) -> List[Dict[str, Any]]:
        return (await self.tracker(sender)).get("events") or []

    async def append_events(self, sender: str, events: List[Dict[str, Any]]) -> None:
        """Add events to a conversation (a message recorded without a reply, an agent's reply, pause/resume)."""
        await self._call("POST", f"{_conversation(sender)}/tracker/events", json=events)

    async def answer_now(self, sender: str, max_actions: int = 10) -> List[Dict[str, Any]]:
        """Let the bot answer the conversation's latest message, which it recorded without replying:
        the next actions are predicted and run until the bot would listen again."""
        path = _conversation(sender)
        messages: List[Dict[str, Any]] = []
        for _ in range(max_actions):
            prediction = await self._call("POST", f"{path}/predict")
            best = prediction["scores"][0]["action"]
            if best == "action_listen":
                break
            result = await self._call("POST", f"{path}/execute", json={
                "name": best, "policy": prediction.get("policy"), "confidence": prediction.get("confidence"),
            })
            messages.extend(result.get("messages") or [])
        return messages

    async def load_model(self, model_file: str) -> None:
        """Swap in a trained model; Rasa answers once it is loaded, holding messages meanwhile."""
        status, body = await self._request(
            "PUT", "/model", json={"model_file": model_file},
            timeout=aiohttp.ClientTimeout(total=self.MODEL_LOAD_TIMEOUT_SECONDS),
        )
        if status != 204:
            raise ServiceUnavailable(f"Rasa refused the new model ({status}): {body}")

    async def _call(self, method: str, path: str, authorised: bool = True, **kwargs) -> Any:
        status, body = await self._request(method, path, authorised, **kwargs)
        if status != 200:
            raise ServiceUnavailable(f"The assistant answered with HTTP {status}; please try again.")
        return json.loads(body)

    async def _request(self, method: str, path: str, authorised: bool = True, **kwargs) -> Tuple[int, str]:
        params = {"token": self.token} if authorised else None
        try:
            async with self.session.request(method, path, params=params, **kwargs) as response:
                return response.status, await response.text()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise ServiceUnavailable("The assistant is not reachable right now; please try again shortly.") from error

    async def _answers(self, path: str, authorised: bool) -> bool:
        try:
            status, _ = await self._request("GET", path, authorised)
        except ServiceUnavailable:
            return False
        return status == 200


def _conversation(sender: str) -> str:
    return f"/conversations/{quote(sender, safe='')}"
