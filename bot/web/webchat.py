"""rasa-webchat's socket.io protocol: a seller's existing `rasa-webchat` widget (npm, 1.0.1;
1.0.0 and older speak an older protocol) talks to the web service as to Rasa's socket.io
channel, and its shoppers' messages take the same way as `POST /api/chat` (bot/web/chat.py:
limits, validation, conversation ownership, then the gateway's working hours, handoff and
identity).

The events, at path /socket.io/:
- `session_request {session_id}` → `session_confirm {session_id}`: the widget's stored
  conversation id if this browser may use it, else a new one (the widget then stores that).
- `user_uttered {message, customData, session_id}`: `customData` is the message's metadata
  (a storefront's signed shopper identity passes through). Each reply becomes a `bot_uttered`
  in exactly a shape the widget renders: `{text}`, `{text, quick_replies}` or `{text, buttons}`
  (a key more and it shows nothing). An error becomes a polite `bot_uttered` text.
- Agents' replies, and the bot's after the agents' timeout, come later: while a socket of a
  conversation is connected, one task per conversation fetches them (`shopper_updates`) and
  sends them to every socket of it. The conversation's cursor outlives the sockets, so a
  reconnecting widget gets what came meanwhile, once.

Which browser asks is read from the socket's handshake, as for /api/chat: the browser key
(the `shop_chat_key` cookie, or the `X-Chat-Key` header) if it shows one, and the network
address. A widget on the store's own site sends no cookie to us (another origin), so its
conversations are bound to the address, the rule for clients that keep no cookies.
"""
import asyncio
import logging
import re
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Set

import socketio
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import DomainError, Forbidden, InvalidInput
from bot.rasa.client import clean_text, validate_sender
from bot.shop.conversations import Access, new_sender_id
from bot.shop.settings import SettingsError
from bot.web import chat
from bot.web.views import browser_access

log = logging.getLogger(__name__)

SOCKET_PATH = "socket.io"
CHANNEL = "socketio"  # ChatConversation.channel of the conversations rasa-webchat starts
# While a person has the conversation (a ticket is open), replies come without a shopper
# message: look every POLL_SECONDS. Otherwise nothing should come; look now and then anyway.
POLL_SECONDS = 1.5
IDLE_POLL_SECONDS = 10.0
REMEMBERED_CONVERSATIONS = 10_000  # cursors kept for conversations no socket has at the moment

UNAVAILABLE = "Sorry, I can't answer right now: the assistant is not reachable. Please try again in a moment."
FAILED = "Sorry, something went wrong on our side. Please try again in a moment."
NEW_CONVERSATION = (
    "This conversation was started in another browser, so I've started a new one here. "
    "Please send your message again."
)

@dataclass
class Socket:
    """A connected widget: who it is (read from its handshake) and the conversation it uses."""

    access: Access
    sender: Optional[str] = None


@dataclass
class Conversation:
    """A conversation's live state in this process."""

    cursor: Optional[float] = None  # the latest reply the widgets were sent; None: not known yet
    handoff: Any = None  # the handoff state at the last look: not None while a ticket waits or a person has it
    sockets: Set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one exchange with Rasa at a time
    poller: Optional["asyncio.Task[None]"] = None


class Webchat:
    """The socket.io server on the app, and the conversations of its sockets."""

    def __init__(self, app: web.Application, max_bytes: int):
        self.app = app
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            cors_allowed_origins="*",  # stores embed the widget in their own sites
            cors_credentials=False,  # no cookies from other sites' pages
            max_http_buffer_size=max_bytes,
            logger=False,
            engineio_logger=False,
        )
        self.sockets: Dict[str, Socket] = {}
        self.conversations: "OrderedDict[str, Conversation]" = OrderedDict()
        self.sio.on("connect", self.connect)
        self.sio.on("disconnect", self.disconnect)
        self.sio.on("session_request", self.session_request)
        self.sio.on("user_uttered", self.user_uttered)
        # engine.io's own tasks (a ping every 25 s per socket, the event handlers): kept, to be
        # stopped at shutdown, which would otherwise wait for them (aiohttp's shutdown_timeout).
        self.background: "weakref.WeakSet[asyncio.Future[Any]]" = weakref.WeakSet()
        start_background_task = self.sio.eio.start_background_task

        def start_tracked(target: Any, *args: Any, **kwargs: Any) -> "asyncio.Future[Any]":
            task = start_background_task(target, *args, **kwargs)
            self.background.add(task)
            return task

        self.sio.eio.start_background_task = start_tracked

    # --- the events ---------------------------------------------------------------------

    async def connect(self, sid: str, environ: Dict[str, Any], auth: Any = None) -> bool:
        # engine.io's aiohttp driver puts 127.0.0.1 in REMOTE_ADDR: the request knows better.
        self.sockets[sid] = Socket(browser_access(environ["aiohttp.request"]))
        return True

    async def disconnect(self, sid: str, *reason: Any) -> None:
        socket = self.sockets.pop(sid, None)
        if socket is not None and socket.sender is not None:
            await self._leave(sid, socket.sender, connected=False)

    async def session_request(self, sid: str, data: Any) -> None:
        socket = self.sockets.get(sid)
        if socket is None:
            return
        requested = data.get("session_id") if isinstance(data, dict) else None
        try:
            await self._confirm(sid, socket, requested)
        except Exception:  # never a crash for the widget: it would wait for ever
            log.exception("webchat session_request failed")

    async def user_uttered(self, sid: str, data: Any) -> None:
        socket = self.sockets.get(sid)
        if socket is None:
            return
        try:
            try:
                chat.admit_client(self.app, socket.access.address)  # every message counts, well-formed or not
                if not isinstance(data, dict):
                    raise InvalidInput("The message could not be read; please send it again.")
                if socket.sender is None:  # no session_request first: take the message's session id
                    await self._confirm(sid, socket, data.get("session_id"))
                await self._message(sid, socket, data.get("message"), data.get("customData"))
            except Forbidden:
                # The conversation is another browser's (the address changed, say): a new one here.
                await self._confirm(sid, socket, None)
                await self._say(sid, NEW_CONVERSATION)
            except Exception as error:
                await self._say(sid, polite_error(error))
        except Exception:  # the socket went away meanwhile, say
            log.exception("webchat user_uttered failed")

    # --- conversations ------------------------------------------------------------------

    async def _confirm(self, sid: str, socket: Socket, requested: Any) -> None:
        """Put the socket in the conversation it asked for if it may use it, else in a new one;
        tell the widget which."""
        sender = await self._usable(requested, socket.access)
        if sender is None:
            sender = new_sender_id()
            self._conversation(sender).cursor = 0.0  # nothing in it yet: every reply is new
        if socket.sender != sender:
            if socket.sender is not None:
                await self._leave(sid, socket.sender)
            socket.sender = sender
            await self._join(sid, sender)
        await self.sio.emit("session_confirm", {"session_id": sender}, to=sid)

    async def _usable(self, requested: Any, access: Access) -> Optional[str]:
        """`requested` if it is a conversation id `access` may use (or one nobody has yet),
        else None. Where ownership cannot be checked now (the database down), it is checked
        again at every message and every look for replies."""
        if not isinstance(requested, str) or clean_text(requested) != requested:
            return None
        try:
            validate_sender(requested)
            chat.owners(self.app).check(requested, access)
        except (InvalidInput, Forbidden):
            return None
        except (SQLAlchemyError, SettingsError, DomainError):
            log.warning("could not check who owns conversation %s", requested, exc_info=True)
        return requested

    def _conversation(self, sender: str) -> Conversation:
        conversation = self.conversations.get(sender)
        if conversation is None:
            conversation = self.conversations[sender] = Conversation()
        self.conversations.move_to_end(sender)
        self._forget_idle()
        return conversation

    def _forget_idle(self) -> None:
        """Keep the cursors of at most REMEMBERED_CONVERSATIONS conversations without a socket."""
        excess = len(self.conversations) - REMEMBERED_CONVERSATIONS
        if excess > 0:  # the least recently used first
            for sender in [s for s, c in self.conversations.items() if not c.sockets][:excess]:
                del self.conversations[sender]

    async def _join(self, sid: str, sender: str) -> None:
        conversation = self._conversation(sender)
        conversation.sockets.add(sid)
        await self.sio.enter_room(sid, room_of(sender))
        if conversation.poller is None or conversation.poller.done():
            conversation.poller = asyncio.create_task(self._poll(sender, conversation))

    async def _leave(self, sid: str, sender: str, connected: bool = True) -> None:
        conversation = self.conversations.get(sender)
        if conversation is None:
            return
        conversation.sockets.discard(sid)
        if connected:  # a disconnected socket has left its rooms already
            await self.sio.leave_room(sid, room_of(sender))
        if not conversation.sockets and conversation.poller is not None:
            conversation.poller.cancel()
            conversation.poller = None

    def _access(self, conversation: Conversation) -> Optional[Access]:
        """Who looks for replies: any of the conversation's sockets (each was let in)."""
        for sid in list(conversation.sockets):
            socket = self.sockets.get(sid)
            if socket is not None:
                return socket.access
        return None

    # --- messages and replies -----------------------------------------------------------

    async def _message(self, sid: str, socket: Socket, text: Any, metadata: Any) -> None:
        sender = socket.sender
        conversation = self._conversation(sender)
        async with conversation.lock:
            if conversation.handoff is not None:
                # What an agent (or the bot after the timeout) said since the last look comes first.
                await self._deliver(sender, conversation, socket.access)
            answer = await chat.shopper_message(self.app, socket.access, sender, text, metadata, CHANNEL)
            conversation.handoff = answer.get("handoff")
            for reply in answer["replies"]:
                await self._send(sid, reply)
            # With no replies (a person answers), keep the cursor: whatever came meanwhile is
            # a reply yet to be sent, and a shopper's message is never one.
            if answer["replies"] or conversation.cursor is None:
                conversation.cursor = answer["cursor"]

    async def _poll(self, sender: str, conversation: Conversation) -> None:
        """While the conversation has a socket: send them the replies that come without a
        message. A new conversation is not looked at before its first answer (asking Rasa
        about a conversation creates it)."""
        waited = IDLE_POLL_SECONDS  # look at once: a reconnected widget may have missed replies
        while True:
            new = conversation.cursor == 0.0
            if conversation.handoff is not None or (waited >= IDLE_POLL_SECONDS and not new):
                waited = 0.0
                access = self._access(conversation)
                if access is not None:
                    try:
                        async with conversation.lock:
                            await self._deliver(sender, conversation, access)
                    except asyncio.CancelledError:
                        raise
                    except Exception as error:  # Rasa or the database down: look again later
                        log.debug("webchat updates for %s failed: %s", sender, error)
            await asyncio.sleep(POLL_SECONDS)
            waited += POLL_SECONDS

    async def _deliver(self, sender: str, conversation: Conversation, access: Access) -> None:
        """Send the conversation's sockets the replies after its cursor; a conversation this
        process has no cursor for (a restart) starts from its latest event."""
        after = conversation.cursor if conversation.cursor is not None else time.time()
        answer = await chat.shopper_updates(self.app, access, sender, after)
        conversation.handoff = answer.get("handoff")
        if conversation.cursor is not None:
            for reply in answer["replies"]:
                await self._send(room_of(sender), reply)
        conversation.cursor = answer["cursor"]

    async def _send(self, to: str, reply: Dict[str, Any]) -> None:
        message = bot_uttered(reply)
        if message is not None:
            await self.sio.emit("bot_uttered", message, to=to)

    async def _say(self, sid: str, text: str) -> None:
        await self.sio.emit("bot_uttered", {"text": markdown_text(text)}, to=sid)

    # --- shutdown -----------------------------------------------------------------------

    async def close(self) -> None:
        """Drop every socket without waiting for its client (a vanished one never answers), and
        stop the pollers and engine.io's tasks. The widgets see the transport close and
        reconnect by themselves once the service is back."""
        for eio_socket in list(self.sio.eio.sockets.values()):
            try:
                await eio_socket.close(wait=False)  # an engine.io CLOSE: a long-poll ends with it
                # A websocket's writer waits for packets until the client closes it, and the
                # client ignores CLOSE on a websocket: this empty packet makes the server close it.
                eio_socket.queue.put_nowait(None)
            except Exception:
                log.debug("closing a webchat socket failed", exc_info=True)
        self.sio.eio.sockets.clear()
        pollers = [c.poller for c in self.conversations.values() if c.poller is not None]
        for poller in pollers:
            poller.cancel()
        await asyncio.gather(*pollers, return_exceptions=True)
        await self.sio.shutdown()
        leftover = [task for task in self.background if not task.done()]
        for task in leftover:
            task.cancel()
        await asyncio.gather(*leftover, return_exceptions=True)


WEBCHAT = web.AppKey("webchat", Webchat)


def room_of(sender: str) -> str:
    """The socket.io room of a conversation's sockets (apart from the rooms named by socket ids)."""
    return f"conversation:{sender}"


def attach(app: web.Application, max_bytes: int) -> Webchat:
    """Serve rasa-webchat's socket.io at /socket.io/ on `app` (messages up to `max_bytes`)."""
    webchat = Webchat(app, max_bytes)
    webchat.sio.attach(app, socketio_path=SOCKET_PATH)
    app[WEBCHAT] = webchat

    async def close(_app: web.Application) -> None:
        await webchat.close()

    app.on_shutdown.append(close)
    return webchat


# --- what rasa-webchat renders ------------------------------------------------------------

def bot_uttered(reply: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """A reply (bot/rasa/gateway.py `reply`) as rasa-webchat 1.0.1 renders it: `{text}`;
    `{text, quick_replies}` for payload buttons (shown under the latest message until one is
    tapped); `{text, buttons}` when a button is a link (`type: "web_url"` opens it in a new
    tab). None for a reply with nothing to show."""
    text = reply.get("text") or ""
    if reply.get("agent"):
        text = f"{reply['agent']}: {text}"
    buttons = [button for button in reply.get("buttons") or [] if isinstance(button, dict)]
    if not text.strip() and not buttons:
        return None
    message: Dict[str, Any] = {"text": markdown_text(text)}
    if not buttons:
        return message
    if any(link_of(button) for button in buttons):
        message["buttons"] = [
            {"type": "web_url", "title": str(button.get("title") or link_of(button)), "url": link_of(button)}
            if link_of(button) else {"type": "postback", "title": str(button.get("title") or ""), "payload": str(button.get("payload") or "")}
            for button in buttons
            if link_of(button) or button.get("payload")
        ]
    else:
        message["quick_replies"] = [
            {"content_type": "text", "title": str(button.get("title") or ""), "payload": str(button.get("payload") or "")}
            for button in buttons
            if button.get("payload")
        ]
    return message


def link_of(button: Dict[str, Any]) -> Optional[str]:
    """The http(s) address a button opens (its `url`, or a payload that is one), else None."""
    for value in (button.get("url"), button.get("payload")):
        if isinstance(value, str) and re.match(r"https?://", value, re.IGNORECASE):
            return value
    return None


# rasa-webchat renders a bot message as Markdown (HTML shown as text, but links and images
# are made from `[..](..)` with any scheme, javascript: too). The texts are plain: each
# character Markdown would read is escaped, except inside web addresses, which it links by
# itself; a line break stays a line break.
_WEB_ADDRESS = re.compile(r"https?://[^\s\[\]]+", re.IGNORECASE)
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!>~|])")


def markdown_text(text: str) -> str:
    parts, start = [], 0
    for address in _WEB_ADDRESS.finditer(text):
        parts.append(_MARKDOWN.sub(r"\\\1", text[start:address.start()]))
        parts.append(address.group())
        start = address.end()
    parts.append(_MARKDOWN.sub(r"\\\1", text[start:]))
    return "  \n".join("".join(parts).split("\n"))


def polite_error(error: Exception) -> str:
    """What the widget shows for a message that got no answer."""
    if isinstance(error, SettingsError) or isinstance(error, SQLAlchemyError):
        log.exception("webchat message failed")
        return UNAVAILABLE
    if isinstance(error, DomainError):  # too many messages, too long, Rasa down: already in words
        return str(error) or UNAVAILABLE
    log.exception("webchat message failed")
    return FAILED
