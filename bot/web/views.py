"""Thin views: parse the request, call the service layer, shape the response."""
import json
from typing import Any, Dict

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.language import browser_language
from bot.rasa.client import clean_text
from bot.errors import InvalidInput, NotFound, ServiceUnavailable, UnsupportedMediaType
from bot.shop.conversations import Access
from bot.web import chat
from bot.shop.orders import OrderDesk
from bot.shop.tickets import person_answers
from bot.rasa.recommendations import fitting_suggestions, order_answer, recommend
from bot.web.auth import staff_user
from bot.web.resources import FAQ_STORE, RASA, RESPONSES, SHOP, client_address, gateway

BROWSER_KEY_DAYS = 365


async def json_body(request: web.Request) -> Dict[str, Any]:
    raw = await request.read()  # an oversized body is refused here (413)
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send the body as JSON, with Content-Type: application/json.")
    # JSON is UTF-8; bytes that are not become U+FFFD rather than a refused message.
    try:
        body = json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError as error:
        raise InvalidInput("The request body must be JSON.") from error
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object.")
    return body


def browser_access(request: web.Request) -> Access:
    """Who asks: the browser's key (header, else cookie) and the network address."""
    key = request.headers.get(chat.BROWSER_KEY_HEADER) or request.cookies.get(chat.BROWSER_KEY_COOKIE) or None
    return Access(key, client_address(request), browser_language(request.headers.get("Accept-Language", "")))


async def chat_message(request: web.Request) -> web.Response:
    """A shopper's message: the bot's replies (none while a person answers), and a cursor for /api/chat/updates."""
    access = browser_access(request)
    chat.admit_client(request.app, access.address)  # every request counts, well-formed or not
    body = await json_body(request)
    answer = await chat.shopper_message(
        request.app, access, body.get("sender"), body.get("message"), body.get("metadata"), "web",
        body.get("after"),
    )
    response = web.json_response(answer)
    if answer["key"] and answer["key"] != request.cookies.get(chat.BROWSER_KEY_COOKIE):
        response.set_cookie(
            chat.BROWSER_KEY_COOKIE, answer["key"], max_age=BROWSER_KEY_DAYS * 86400, httponly=True, samesite="Lax",
            secure=request.secure,
        )
    return response


async def chat_updates(request: web.Request) -> web.Response:
    """Replies that came later (an agent's, or the bot's after the agents' timeout), after `cursor`."""
    try:
        after = float(request.query.get("after", "0"))
    except ValueError as error:
        raise InvalidInput("`after` must be the cursor of an earlier answer.") from error
    return web.json_response(await chat.shopper_updates(request.app, browser_access(request), request.query.get("sender", ""), after))


async def chat_history(request: web.Request) -> web.Response:
    """The whole conversation (the shopper's own messages too), for a reloaded chat."""
    return web.json_response(await chat.shopper_history(request.app, browser_access(request), request.query.get("sender", "")))


async def recommendations(request: web.Request) -> web.Response:
    """Top suggested replies for `{"message": ...}`, or for the open question of `{"sender": ...}`
    (only replies that fit it: bot/rasa/recommendations.py `fitting_suggestions`)."""
    await staff_user(request)
    body = await json_body(request)
    app = request.app
    if "sender" in body:
        tracker = await app[RASA].tracker(body["sender"])
        slots = tracker.get("slots") or {}
        try:
            answer = order_answer(OrderDesk(app[SHOP], language=slots.get("language")), app[RESPONSES], slots)
        except SQLAlchemyError as error:
            raise ServiceUnavailable("The order database is not reachable; FAQ suggestions only.") from error
        with_a_person = person_answers(gateway(app).tickets.open_ticket_of(body["sender"]))
        parse, suggestions = fitting_suggestions(tracker, app[FAQ_STORE], answer, slots.get("verified_order"), with_a_person)
        if parse is None:
            raise NotFound(f"The conversation {body['sender']!r} has no open question from the shopper.")
    else:
        parse = await app[RASA].parse(clean_text(body.get("message")))
        suggestions = recommend(parse, app[FAQ_STORE])
    return web.json_response({"message": parse.get("text", ""), "suggestions": [s.as_json() for s in suggestions]})


async def health(request: web.Request) -> web.Response:
    try:
        with request.app[SHOP].sessions() as session:
            session.execute(text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError:
        database = "down"
    rasa = "ok" if await request.app[RASA].is_up() else "down"
    status = 200 if database == "ok" else 503
    return web.json_response({"web": "ok", "database": database, "rasa": rasa}, status=status)
