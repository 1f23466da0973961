"""rasa-webchat's socket.io protocol on the web service (bot/web/webchat.py), with python-socketio's
client over long-polling against aiohttp's test server on the demo shop's database. Rasa is not
running here (its port is closed): these check what happens before anything reaches it, and,
with the chat service layer replaced by a stand-in, how replies reach the sockets;
tests/e2e/test_webchat.py holds the real widget and the real product."""
import asyncio
import time
from dataclasses import replace

import pytest
import socketio
from aiohttp.test_utils import TestServer

from bot.errors import Forbidden
from bot.shop.conversations import Access
from bot.web import chat, webchat
from bot.web.app import create_app


class Widget:
    """What rasa-webchat does on the wire: a socket.io client that asks for a session, sends
    `user_uttered` and collects what comes back."""

    def __init__(self):
        # Polling only: python-engineio's websocket client needs a newer aiohttp than ours.
        self.client = socketio.AsyncClient(reconnection=False)
        self.confirms: asyncio.Queue = asyncio.Queue()
        self.utterances: asyncio.Queue = asyncio.Queue()
        self.client.on("session_confirm", self.confirms.put_nowait)
        self.client.on("bot_uttered", self.utterances.put_nowait)
        self.session_id = None

    async def connect(self, url, headers=None):
        await self.client.connect(url, socketio_path="/socket.io/", transports=["polling"], headers=headers or {})
        return self

    async def session(self, session_id=None):
        await self.client.emit("session_request", {"session_id": session_id})
        confirm = await asyncio.wait_for(self.confirms.get(), 5)
        self.session_id = confirm["session_id"]
        return self.session_id

    async def say(self, message, custom_data=None):
        await self.client.emit("user_uttered", {"message": message, "customData": custom_data or {}, "session_id": self.session_id})
        return await self.next()

    async def next(self, seconds=5):
        return await asyncio.wait_for(self.utterances.get(), seconds)

    async def close(self):
        # A plain disconnect() waits for the pending long-poll (up to 25 s).
        await self.client.eio.disconnect(abort=True)


@pytest.fixture
async def server(aiohttp_server, seller_files):
    return await aiohttp_server(create_app(seller_files))


@pytest.fixture
async def widgets(server):
    opened = []

    async def open_widget(headers=None):
        widget = await Widget().connect(str(server.make_url("/")), headers)
        opened.append(widget)
        return widget

    yield open_widget
    for widget in opened:
        await widget.close()


async def test_a_new_widget_gets_a_new_conversation(widgets):
    widget = await widgets()
    first = await widget.session(None)
    assert first.startswith("web-")
    other = await widgets()
    assert await other.session(None) != first


async def test_a_widget_goes_on_with_its_own_conversation(widgets, owners):
    owners.claim("webchat-mine", Access(None, "127.0.0.1"), "socketio")  # started from this address, no cookie
    widget = await widgets()
    assert await widget.session("webchat-mine") == "webchat-mine"


async def test_another_browsers_conversation_gets_a_new_id(widgets, owners):
    owners.claim("webchat-emma", Access("emmas-key", "10.1.1.1"), "socketio")
    owners.claim("webchat-liam", Access(None, "10.1.1.2"), "socketio")  # known by his address only
    for headers in ({}, {"Cookie": "shop_chat_key=guessed"}, {"X-Chat-Key": "guessed"}):
        widget = await widgets(headers)
        for taken in ("webchat-emma", "webchat-liam"):
            given = await widget.session(taken)
            assert given != taken and given.startswith("web-"), (headers, taken)


async def test_the_browser_key_in_the_handshake_cookie_is_the_owners(widgets, owners):
    owners.claim("webchat-key", Access("emmas-key", "10.1.1.1"), "socketio")
    widget = await widgets({"Cookie": "shop_chat_key=emmas-key"})  # her browser, from another network
    assert await widget.session("webchat-key") == "webchat-key"


@pytest.mark.parametrize("session_id", ["", "x" * 1000, 42, ["a"], "bad\x00id"], ids=["empty", "too-long", "number", "list", "control-character"])
async def test_a_malformed_session_id_gets_a_new_one(widgets, session_id):
    widget = await widgets()
    assert (await widget.session(session_id)).startswith("web-")


async def test_the_assistant_down_is_a_polite_message_and_the_conversation_is_bound(widgets, owners):
    widget = await widgets()
    session_id = await widget.session(None)
    utterance = await widget.say("/session_start")
    assert list(utterance) == ["text"] and "not reachable" in utterance["text"]
    owners.check(session_id, Access(None, "127.0.0.1"))  # already this address's conversation
    with pytest.raises(Forbidden):
        owners.check(session_id, Access(None, "10.9.9.9"))
    assert "not reachable" in (await widget.say("where is my order?"))["text"]  # and it stays up


async def test_invalid_messages_get_a_polite_reason(widgets):
    widget = await widgets()
    await widget.session(None)
    assert "please keep it under" in (await widget.say("x" * 10_000))["text"]
    assert "must be" in (await widget.say(""))["text"]
    assert "`metadata`" in (await widget.say("hi", custom_data="cust-emma"))["text"].replace("\\", "")
    await widget.client.emit("user_uttered", "not an object")
    assert "could not be read" in (await widget.next())["text"]


async def test_too_many_messages_from_one_address_are_slowed_down(aiohttp_server, seller_files):
    server = await aiohttp_server(create_app(replace(seller_files, chat_limit_per_address=3)))
    widgets = [await Widget().connect(str(server.make_url("/"))) for _ in range(2)]
    try:
        for widget in widgets:
            await widget.session(None)  # two conversations: the limit is the address's, not a sender's
        texts = [(await widgets[n % 2].say(f"message {n}"))["text"] for n in range(4)]
    finally:
        for widget in widgets:
            await widget.close()
    assert all("not reachable" in text for text in texts[:3])
    assert "faster than we can answer" in texts[3] and "seconds" in texts[3]


async def test_a_message_for_a_conversation_taken_meanwhile_starts_a_new_one(widgets, owners):
    widget = await widgets()
    session_id = await widget.session("webchat-race")  # nobody's yet
    owners.claim("webchat-race", Access("someone-else", "10.1.1.3"), "socketio")  # taken before the first message
    await widget.client.emit("user_uttered", {"message": "hi", "customData": {}, "session_id": session_id})
    confirm = await asyncio.wait_for(widget.confirms.get(), 5)
    assert confirm["session_id"] not in (session_id, None)
    assert "started a new one" in (await widget.next())["text"]


# --- replies that come later, with the chat service layer replaced by a stand-in -----------


class FakeConversations:
    """chat.shopper_message / shopper_updates over an in-memory conversation: the bot answers
    each message, "a person please" opens a handoff, and `agent_says` adds an agent's reply."""

    def __init__(self):
        self.replies = []  # (timestamp, reply)
        self.handoff = None
        self.update_calls = 0

    def _add(self, text, agent=None, buttons=None):
        at = time.time() + len(self.replies) * 1e-3
        self.replies.append((at, {"from": "agent" if agent else "bot", "agent": agent, "text": text, "buttons": buttons or [], "at": at}))

    def agent_says(self, text):
        self._add(text, agent="Alex")

    def cursor(self):
        return max((at for at, _ in self.replies), default=0.0)

    async def shopper_message(self, app, access, sender, text, metadata, channel):
        before = self.cursor()
        if text == "a person please":
            self.handoff = {"status": "waiting", "ticket": 1, "agent": None}
            self._add("A person will reply shortly.")
        elif self.handoff is None:
            self._add(f"You said: {text}", buttons=[{"title": "Shipping", "payload": '/faq{"faq_id": "shipping"}'}])
        replies = [reply for at, reply in self.replies if at > before]
        return {"sender": sender, "key": None, "replies": replies, "cursor": self.cursor(), "handoff": self.handoff}

    async def shopper_updates(self, app, access, sender, after):
        self.update_calls += 1
        return {"replies": [reply for at, reply in self.replies if at > after], "cursor": self.cursor() or after, "handoff": self.handoff}


@pytest.fixture
def conversations(monkeypatch):
    fake = FakeConversations()
    monkeypatch.setattr(chat, "shopper_message", fake.shopper_message)
    monkeypatch.setattr(chat, "shopper_updates", fake.shopper_updates)
    monkeypatch.setattr(webchat, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(webchat, "IDLE_POLL_SECONDS", 0.2)
    return fake


async def test_replies_in_the_shapes_rasa_webchat_renders(widgets, conversations):
    widget = await widgets()
    await widget.session(None)
    assert await widget.say("hi") == {
        "text": "You said: hi",
        "quick_replies": [{"content_type": "text", "title": "Shipping", "payload": '/faq{"faq_id": "shipping"}'}],
    }


async def test_agent_replies_reach_the_widget_once_even_across_reconnects(widgets, conversations):
    widget = await widgets()
    session_id = await widget.session(None)
    assert await widget.say("a person please") == {"text": "A person will reply shortly\\."}
    conversations.agent_says("Hello, this is Alex.")
    assert await widget.next() == {"text": "Alex: Hello, this is Alex\\."}
    await widget.close()

    conversations.agent_says("Are you still there?")  # while the widget is away
    again = await widgets()
    assert await again.session(session_id) == session_id
    assert await again.next() == {"text": "Alex: Are you still there?"}
    conversations.agent_says("Your refund is on its way.")
    assert (await again.next())["text"] == "Alex: Your refund is on its way\\."
    with pytest.raises(asyncio.TimeoutError):
        await again.next(0.5)  # nothing twice


async def test_an_agent_reply_before_the_next_message_comes_first(widgets, conversations, monkeypatch):
    monkeypatch.setattr(webchat, "POLL_SECONDS", 30)  # no look in between
    widget = await widgets()
    await widget.session(None)
    await widget.say("a person please")
    conversations.agent_says("Hi, Alex here.")
    conversations.handoff = None  # Alex resolved it: the bot answers the next message
    assert (await widget.say("thanks"))["text"] == "Alex: Hi, Alex here\\."
    assert (await widget.next())["text"] == "You said: thanks"


async def test_without_a_handoff_nobody_waits_for_replies_often(widgets, conversations):
    widget = await widgets()
    await widget.session(None)
    await asyncio.sleep(0.5)
    assert conversations.update_calls == 0  # a new conversation: nothing can come before its first message
    await widget.say("hi")
    calls = conversations.update_calls
    await asyncio.sleep(0.5)  # the idle look every 0.2 s here, not every 0.05 s
    assert conversations.update_calls - calls <= 3


async def test_the_pollers_stop_with_the_sockets(widgets, conversations, server):
    widget = await widgets()
    session_id = await widget.session(None)
    await widget.say("a person please")
    conversation = server.app[webchat.WEBCHAT].conversations[session_id]
    assert conversation.poller is not None and not conversation.poller.done()
    await widget.close()
    await asyncio.sleep(0.2)
    assert conversation.poller is None and not conversation.sockets


async def test_closing_the_app_does_not_wait_for_connected_widgets(seller_files):
    server = TestServer(create_app(seller_files))
    await server.start_server()
    widget = await Widget().connect(str(server.make_url("/")))
    await widget.session(None)
    started = time.monotonic()
    await server.close()
    assert time.monotonic() - started < 3
    await widget.close()


# --- the shapes themselves ----------------------------------------------------------------


def test_link_buttons_are_web_url_buttons_and_the_others_postbacks():
    reply = {"text": "Our policy:", "agent": None, "buttons": [
        {"title": "Read it", "url": "https://shop.example/returns"},
        {"title": "Shop", "payload": "https://shop.example/"},
        {"title": "Talk to a person", "payload": "/talk_to_human"},
        {"title": "Evil", "url": "javascript:alert(1)"},
    ]}
    assert webchat.bot_uttered(reply) == {"text": "Our policy:", "buttons": [
        {"type": "web_url", "title": "Read it", "url": "https://shop.example/returns"},
        {"type": "web_url", "title": "Shop", "url": "https://shop.example/"},
        {"type": "postback", "title": "Talk to a person", "payload": "/talk_to_human"},
    ]}


def test_a_reply_with_nothing_to_show_is_not_sent():
    assert webchat.bot_uttered({"text": "", "agent": None, "buttons": []}) is None


@pytest.mark.parametrize("text, shown", [
    ("Order 100_004 for a_b@example.com costs €24.90.", r"Order 100\_004 for a\_b@example\.com costs €24\.90\."),
    ("[click](javascript:alert(1)) ![x](http://tracker/x.png)", r"\[click\]\(javascript:alert\(1\)\) \!\[x\]\(http://tracker/x.png)"),
    ("See https://shop.example/returns_policy (page 2)", r"See https://shop.example/returns_policy \(page 2\)"),
    ("line one\nline two", "line one  \nline two"),
])
def test_texts_are_shown_as_written_not_as_markdown(text, shown):
    assert webchat.markdown_text(text) == shown
