"""The support agents' console: the queue, a ticket's context and transcript, replies."""
import asyncio
import json
from datetime import datetime
from typing import Any, Dict, List, Optional, Tuple

from aiohttp import web

from bot.rasa import events as tracker_events
from bot.shop.db import AGENT, RESOLVED, Ticket, utcnow
from bot.shop.rules import UrgencyWindows
from bot.shop.tickets import transcript
from bot.shop.orders import OrderDesk
from bot.rasa.recommendations import fitting_suggestions, order_answer
from bot.web.auth import staff_user
from bot.web.resources import FAQ_STORE, RASA, RESPONSES, SHOP, gateway
from bot.web.templating import render
from bot.web.views import json_body

STREAM_CHECK_SECONDS = 1.0
# A stream ends after this long; the browser's EventSource reconnects by itself. Short
# streams never hold up a restart of the web service.
STREAM_SECONDS = 120
# When a ticket turns amber and red in the queue (bot/shop/rules.py `ticket_urgency`).
URGENCY_WINDOWS = UrgencyWindows()


async def console(request: web.Request) -> web.Response:
    await staff_user(request, AGENT)
    # Times on the page are the shop's, as in the queue's deadlines.
    return render(request, "agent.html", shop_timezone=request.app[SHOP].settings.working_hours.timezone)


def shown(app: web.Application, tickets: List[Ticket], viewer: str, now: datetime) -> List[Dict[str, Any]]:
    """The tickets as the console shows them to `viewer`: names, orders, urgency in the shop's time zone."""
    shop = app[SHOP]
    desk = OrderDesk(shop)

    def deadline_of(number: str) -> Optional[Tuple[datetime, str]]:
        try:
            return desk.marketplace_deadline(number)  # as it is now: a shipped order's is gone
        except LookupError:
            return None

    zone = shop.settings.working_hours.zone
    return gateway(app).tickets.shown(tickets, now, viewer, deadline_of, URGENCY_WINDOWS, zone)


async def tickets(request: web.Request) -> web.Response:
    agent = await staff_user(request, AGENT)
    now = utcnow()
    queue = shown(request.app, gateway(request.app).tickets.queue(now), agent.username, now)
    # The queue's order (most urgent first) with the deadlines as they are now, not as recorded.
    queue.sort(key=lambda ticket: (ticket["due_at"] is None, ticket["due_at"] or ""))
    return web.json_response({"tickets": queue})


async def ticket(request: web.Request) -> web.Response:
    """A ticket with the conversation's transcript and the suggested replies that fit."""
    agent = await staff_user(request, AGENT)
    app = request.app
    ticket = gateway(app).tickets.get(int(request.match_info["ticket_id"]))
    tracker = await app[RASA].tracker(ticket.sender_id)
    events = tracker.get("events") or []
    question, suggestions = None, []
    if ticket.status != RESOLVED:
        slots = tracker.get("slots") or {}
        answer = order_answer(OrderDesk(app[SHOP], language=slots.get("language")), app[RESPONSES], slots)
        question, suggestions = fitting_suggestions(tracker, app[FAQ_STORE], answer, slots.get("verified_order"))
    return web.json_response({
        **shown(app, [ticket], agent.username, utcnow())[0], "transcript": transcript(events),
        "suggestions": [s.as_json() for s in suggestions],
        "suggestions_for": question.get("text") if question else None,
        "conversation_exists": any(tracker_events.is_user(e) for e in events),
    })


async def claim(request: web.Request) -> web.Response:
    agent = await staff_user(request, AGENT)
    gateway(request.app).tickets.claim(int(request.match_info["ticket_id"]), agent)
    return web.json_response({"ok": True})


async def release(request: web.Request) -> web.Response:
    agent = await staff_user(request, AGENT)
    gateway(request.app).tickets.release(int(request.match_info["ticket_id"]), agent)
    return web.json_response({"ok": True})


async def reply(request: web.Request) -> web.Response:
    agent = await staff_user(request, AGENT)
    body = await json_body(request)
    await gateway(request.app).agent_reply(int(request.match_info["ticket_id"]), agent, body.get("text"))
    return web.json_response({"ok": True})


async def resolve(request: web.Request) -> web.Response:
    agent = await staff_user(request, AGENT)
    await gateway(request.app).resolve(int(request.match_info["ticket_id"]), agent)
    return web.json_response({"ok": True})


async def stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: a `tickets` event whenever a ticket changes (new ticket, new
    shopper message, claim, reply, resolve), whichever process changed it."""
    await staff_user(request, AGENT)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    last_seen = object()  # unlike any stamp, None included: the first check always sends
    deadline = asyncio.get_running_loop().time() + STREAM_SECONDS
    try:
        while asyncio.get_running_loop().time() < deadline:
            changed = gateway(request.app).tickets.last_change()
            if changed != last_seen:
                last_seen = changed
                stamp = changed.isoformat() if changed else ""
                await response.write(f"event: tickets\ndata: {json.dumps({'changed': stamp})}\n\n".encode())
            await asyncio.sleep(STREAM_CHECK_SECONDS)
    except ConnectionResetError:  # the agent closed the page
        pass
    return response
