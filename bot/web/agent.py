"""The support agents' console: the queue, a ticket's context and transcript, replies."""
import asyncio
import json

from aiohttp import web

from bot.rasa import events as tracker_events
from bot.shop.db import AGENT, utcnow
from bot.shop.tickets import ticket_json, transcript
from bot.shop.orders import OrderDesk
from bot.rasa.recommendations import order_answer, question_to_answer, recommend
from bot.web.auth import staff_user
from bot.web.resources import FAQ_STORE, RASA, RESPONSES, SHOP, gateway
from bot.web.templating import render
from bot.web.views import json_body

STREAM_CHECK_SECONDS = 1.0
# A stream ends after this long; the browser's EventSource reconnects by itself. Short
# streams never hold up a restart of the web service.
STREAM_SECONDS = 120


async def console(request: web.Request) -> web.Response:
    await staff_user(request, AGENT)
    return render(request, "agent.html")


async def tickets(request: web.Request) -> web.Response:
    await staff_user(request, AGENT)
    now = utcnow()
    return web.json_response({"tickets": [ticket_json(t, now) for t in gateway(request.app).tickets.queue(now)]})


async def ticket(request: web.Request) -> web.Response:
    """A ticket with the conversation's transcript and suggested replies."""
    await staff_user(request, AGENT)
    app = request.app
    ticket = gateway(app).tickets.get(int(request.match_info["ticket_id"]))
    tracker = await app[RASA].tracker(ticket.sender_id)
    events = tracker.get("events") or []
    question = question_to_answer(tracker)
    suggestions = []
    if question is not None:
        desk = OrderDesk(app[SHOP])
        answer = order_answer(desk, app[RESPONSES], tracker.get("slots") or {})
        suggestions = [s.as_json() for s in recommend(question, app[FAQ_STORE], answer)]
    return web.json_response({
        **ticket_json(ticket, utcnow()), "transcript": transcript(events), "suggestions": suggestions,
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
