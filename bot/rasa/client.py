"""Talking to the Rasa server on behalf of the storefront chat."""
import asyncio
import itertools
import json
import re
from collections import OrderedDict, deque
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, List, Optional, Sequence, Tuple, Union
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
    """The one way to talk to a Rasa server: its shop channel (shopper messages) and its
    token-protected HTTP API (parsing, trackers, events, models). Rasa down or refusing is
    ServiceUnavailable.

    Several servers: each conversation has its own, and goes to the next while that one refuses
    connections; other requests go to each server in turn. The servers take new conversations in
    turn, so each gets an equal share: a hash of the conversation's id split 20 shoppers 12 to 8
    or worse as often as not (13 to 7 or worse one time in four), and the busier server's
    shoppers waited longer in proportion. A server then finds the conversations it answers in its
    memory (bot/rasa/tracker_store.py), and the embedded servers, whose locks live in their
    memory, each handle their own conversations (the embedded mode has one web service, which
    does the placing). A conversation's server is kept in this client's memory; one forgotten (a
    restart of the web service, or long idle) is placed anew, which is safe: its earlier messages
    are answered by then, and the tracker store reads the rows another server added. In
    production any server may take any message all the same: Rasa's Redis lock store keeps a
    conversation's messages in order and the shared tracker store keeps it whole. A model swap
    goes to every server, one after another.

    Each server works on `messages_at_once` shopper messages at a time; the others wait their
    turn, first come first served. A Rasa server given them all at once interleaves them, so a
    message waits in proportion to its own work: an order look-up (a form's validation and its
    answer, each a round trip to the action server) took twice a FAQ's time. Taken in turn,
    every message waits about as long, for the same throughput (`make benchmark-load`: p95
    1.57 times the mean where it was 1.70-1.76). Two at once: while one waits for the action server
    the other has the server's core."""

    # Generous: while a retrained model is swapped in, Rasa holds messages until it is loaded (~30 s).
    TIMEOUT_SECONDS = 120
    MODEL_LOAD_TIMEOUT_SECONDS = 300
    IDLE_CONNECTION_SECONDS = 1.0
    # Conversations whose server is remembered, the least recently used forgotten first.
    PLACEMENTS_REMEMBERED = 100_000

    def __init__(
        self, session: aiohttp.ClientSession, token: str, urls: Union[str, Sequence[str]], messages_at_once: int = 2,
    ):
        self.session, self.token = session, token
        self.urls: Tuple[str, ...] = (urls,) if isinstance(urls, str) else tuple(urls)
        if not self.urls:
            raise ValueError("RasaClient needs at least one Rasa server URL.")
        self._next_turn = itertools.cycle(range(len(self.urls)))
        self._next_placement = itertools.cycle(range(len(self.urls)))
        self._placements: "OrderedDict[str, int]" = OrderedDict()
        self._turns = [FifoGate(messages_at_once) for _ in self.urls]

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, urls: Union[str, Sequence[str]], token: str, messages_at_once: int = 2,
    ) -> AsyncIterator["RasaClient"]:
        """A client of one Rasa server (a URL) or of several (a sequence of URLs)."""
        timeout = aiohttp.ClientTimeout(total=cls.TIMEOUT_SECONDS)
        # An idle connection is dropped well before Rasa (Sanic: after 5 s) closes it: a request
        # written to a connection the server is closing is lost.
        connector = aiohttp.TCPConnector(keepalive_timeout=cls.IDLE_CONNECTION_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            yield cls(session, token, urls, messages_at_once)

    async def send(
        self, sender: str, text: str, metadata: Optional[Dict[str, Any]] = None, after: Optional[float] = None,
    ) -> Dict[str, Any]:
        """Send one shopper message through the shop channel (bot/rasa/channel.py): the bot's
        replies as tracker events (those later than `after` if given, else this message's),
        and the conversation's cursor, `{"replies": [...], "cursor": ...}`."""
        validate_message(sender, text)
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidInput("`metadata` must be a JSON object.")
        payload = {"sender": sender, "message": text, "metadata": metadata or {}, "after": after}
        async with self._turns[self.server_of(sender)]:
            return await self._call("POST", "/webhooks/shop/webhook", json=payload, authorised=False, conversation=sender)

    async def is_up(self) -> bool:
        """Whether every server answers (a model may still be loading)."""
        return all([await self._answers(url, "/", authorised=False) for url in self.urls])

    async def is_ready(self) -> bool:
        """Whether every server has loaded a model and its HTTP API answers."""
        return all([await self._answers(url, "/status", authorised=True) for url in self.urls])

    async def action_server_up(self, url: str) -> bool:
        """Whether Rasa's action server at `url` answers its /health. Rasa itself does not tell:
        without its action server it goes on, and the bot says nothing."""
        return await self._answers(url, "/health", authorised=False)

    async def parse(self, text: str) -> Dict[str, Any]:
        """How the model understands `text` (intent ranking, FAQ ranking), without replying."""
        validate_message("parse", text)
        return await self._call("POST", "/model/parse", json={"text": text})

    async def tracker(self, sender: str, include_events: str = "AFTER_RESTART") -> Dict[str, Any]:
        """The conversation's tracker (events since the shopper last started over, slots, latest message)."""
        validate_sender(sender)
        return await self._call("GET", f"{_conversation(sender)}/tracker", conversation=sender, params={"include_events": include_events})

    async def events(self, sender: str) -> List[Dict[str, Any]]:
        """All the conversation's events, those before a "start over" too: the chat as the shopper saw it."""
        return (await self.tracker(sender, include_events="ALL")).get("events") or []

    async def append_events(self, sender: str, events: List[Dict[str, Any]]) -> None:
        """Add events to a conversation (a message recorded without a reply, an agent's reply, pause/resume)."""
        await self._call("POST", f"{_conversation(sender)}/tracker/events", json=events, conversation=sender)

    async def answer_now(self, sender: str, max_actions: int = 10) -> List[Dict[str, Any]]:
        """Let the bot answer the conversation's latest message, which it recorded without replying:
        the next actions are predicted and run until the bot would listen again."""
        path = _conversation(sender)
        messages: List[Dict[str, Any]] = []
        for _ in range(max_actions):
            prediction = await self._call("POST", f"{path}/predict", conversation=sender)
            best = prediction["scores"][0]["action"]
            if best == "action_listen":
                break
            result = await self._call("POST", f"{path}/execute", json={
                "name": best, "policy": prediction.get("policy"), "confidence": prediction.get("confidence"),
            }, conversation=sender)
            messages.extend(result.get("messages") or [])
        return messages

    async def load_model(self, model_file: str) -> None:
        """Swap in a trained model on every server, one at a time; each answers once it is loaded,
        holding its messages meanwhile."""
        for url in self.urls:
            status, body = await self._request(
                "PUT", "/model", json={"model_file": model_file},
                timeout=aiohttp.ClientTimeout(total=self.MODEL_LOAD_TIMEOUT_SECONDS), url=url,
            )
            if status != 204:
                raise ServiceUnavailable(f"Rasa at {url} refused the new model ({status}): {body}")

    async def _call(self, method: str, path: str, authorised: bool = True, **kwargs) -> Any:
        status, body = await self._request(method, path, authorised, **kwargs)
        if status != 200:
            raise ServiceUnavailable(f"The assistant answered with HTTP {status}; please try again.")
        return json.loads(body)

    async def _request(
        self, method: str, path: str, authorised: bool = True, url: Optional[str] = None,
        conversation: Optional[str] = None, params: Optional[Dict[str, str]] = None, **kwargs,
    ) -> Tuple[int, str]:
        """One request to `url`, else to the conversation's server, else to the next server in
        turn; a server that refuses the connection (stopped, restarting: the request never
        reached it) is skipped for the next."""
        params = {**(params or {}), **({"token": self.token} if authorised else {})}
        if url:
            bases = [url]
        else:
            first = self.server_of(conversation) if conversation is not None else next(self._next_turn)
            bases = [*self.urls[first:], *self.urls[:first]]
        for attempt, base in enumerate(bases, start=1):
            try:
                async with self.session.request(method, base + path, params=params, **kwargs) as response:
                    return response.status, await response.text()
            except aiohttp.ClientConnectorError as error:
                if attempt == len(bases):
                    raise ServiceUnavailable("The assistant is not reachable right now; please try again shortly.") from error
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                raise ServiceUnavailable("The assistant is not reachable right now; please try again shortly.") from error
        raise AssertionError("unreachable")

    def server_of(self, conversation: str) -> int:
        """The index of the conversation's own server; a new conversation gets the next in turn."""
        server = self._placements.pop(conversation, None)
        if server is None:
            server = next(self._next_placement)
            if len(self._placements) >= self.PLACEMENTS_REMEMBERED:
                self._placements.popitem(last=False)
        self._placements[conversation] = server
        return server

    async def _answers(self, url: str, path: str, authorised: bool) -> bool:
        try:
            status, _ = await self._request("GET", path, authorised, url=url)
        except ServiceUnavailable:
            return False
        return status == 200


class FifoGate:
    """At most `size` holders at once, the others let in in the order they came."""

    def __init__(self, size: int):
        self.size, self.holders = size, 0
        self._waiting: "deque[asyncio.Future]" = deque()

    async def __aenter__(self) -> None:
        if self.holders < self.size and not self._waiting:
            self.holders += 1
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn  # the leaver handed its place over
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._leave()  # handed a place just as it was cancelled: pass it on
            elif turn in self._waiting:
                self._waiting.remove(turn)
            raise

    async def __aexit__(self, *_exc) -> None:
        self._leave()

    def _leave(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)  # the place goes to the next in line; holders stays
                return
        self.holders -= 1


def _conversation(sender: str) -> str:
    return f"/conversations/{quote(sender, safe='')}"
