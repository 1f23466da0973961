"""Thin views: parse the request, call the service layer, shape the response."""
import json
from pathlib import Path
from typing import Any, Dict

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.rasa.client import clean_text, validate_message, validate_sender
from bot.errors import InvalidInput, NotFound, ServiceUnavailable, UnsupportedMediaType
from bot.web.limits import admit
from bot.shop.orders import OrderDesk
from bot.rasa.recommendations import order_answer, question_to_answer, recommend
from bot.web.auth import staff_user
from bot.web.resources import FAQ_STORE, LIMITS, RASA, RESPONSES, SHOP, client_address, gateway

STATIC_DIR = Path(__file__).parent / "static"
SLOW_DOWN = "You're sending messages faster than we can answer them. Please wait {seconds} seconds, then send yours again."


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


async def chat_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "chat.html")


async def chat_message(request: web.Request) -> web.Response:
    """A shopper's message: the bot's replies (none while a person answers), and a cursor for /api/chat/updates."""
    address, limits = client_address(request), request.app[LIMITS]
    admit([(limits.chat_per_address, address)], SLOW_DOWN)  # every request counts, well-formed or not
    body = await json_body(request)
    sender, text = clean_text(body.get("sender")), clean_text(body.get("message"))
    validate_sender(sender)
    admit([(limits.chat_per_sender, sender)], SLOW_DOWN)
    validate_message(sender, text)
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise InvalidInput("`metadata` must be a JSON object.")
    # `metadata` carries the storefront's signed shopper identity (bot/shop/identity.py).
    return web.json_response(await gateway(request.app).shopper_message(sender, text, metadata, address))


async def chat_updates(request: web.Request) -> web.Response:
    """Replies that came later (an agent's, or the bot's after the agents' timeout), after `cursor`."""
    try:
        after = float(request.query.get("after", "0"))
    except ValueError as error:
        raise InvalidInput("`after` must be the cursor of an earlier answer.") from error
    sender = clean_text(request.query.get("sender", ""))
    validate_sender(sender)
    return web.json_response(await gateway(request.app).updates(sender, after))


async def recommendations(request: web.Request) -> web.Response:
    """Top suggested replies for `{"message": ...}`, or for the latest message of `{"sender": ...}`."""
    await staff_user(request)
    body = await json_body(request)
    app = request.app
    answer = None
    if "sender" in body:
        tracker = await app[RASA].tracker(body["sender"])
        parse = question_to_answer(tracker)
        if parse is None:
            raise NotFound(f"The conversation {body['sender']!r} has no question from the shopper.")
        desk = OrderDesk(app[SHOP])
        try:
            answer = order_answer(desk, app[RESPONSES], tracker.get("slots") or {})
        except SQLAlchemyError as error:
            raise ServiceUnavailable("The order database is not reachable; FAQ suggestions only.") from error
    else:
        parse = await app[RASA].parse(clean_text(body.get("message")))
    suggestions = recommend(parse, app[FAQ_STORE], answer)
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
