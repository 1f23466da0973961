"""The web service's way into the Rasa server (credentials.yml): Rasa's REST channel, answering
with what the storefront chat shows, so the web service needs no second request per message.

`POST /webhooks/shop/webhook` takes what the REST channel takes (`sender`, `message`,
`metadata`) and `after`, the chat's cursor. It answers `{"replies": [...], "cursor": ...}`:
the bot's (and agents') messages as tracker events (`bot/rasa/events.py` reads them), those
later than `after`, or without it those of this message; and the time of the conversation's
latest event, the chat's next cursor. Reading them back from the tracker store costs nothing
more with bot/rasa/tracker_store.py, which keeps the conversation in memory.
"""
import time
from typing import Any, Awaitable, Callable, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import BotUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse


class ShopChatInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "shop"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("shop_chat_webhook", __name__)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            sender = await self._extract_sender(request)
            after = request.json.get("after")
            started = time.time()
            # Recorded as the REST channel's: the same way in, with a richer answer.
            await on_new_message(UserMessage(
                self._extract_message(request), CollectingOutputChannel(), sender,
                input_channel=RestInput.name(), metadata=self.get_metadata(request),
            ))
            tracker_store = request.app.ctx.agent.tracker_store
            tracker = await tracker_store.retrieve(sender)
            events = list(tracker.events) if tracker is not None else []
            since = after if isinstance(after, (int, float)) and not isinstance(after, bool) else started
            if events and events[0].timestamp > since:
                # A session began during this message (after a restart, "start over"): the
                # replies before it are in the previous session, which `retrieve` leaves out.
                events = list((await tracker_store.retrieve_full_tracker(sender)).events)
            return response.json({
                "replies": [event.as_dict() for event in events if isinstance(event, BotUttered) and event.timestamp > since],
                "cursor": max((event.timestamp for event in events), default=0.0),
            })

        return webhook
