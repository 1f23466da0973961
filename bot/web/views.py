"""Thin views: parse the request, call the service layer, shape the response."""
from pathlib import Path

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.chat import rasa_is_up, send_to_bot
from bot.errors import InvalidInput

STATIC_DIR = Path(__file__).parent / "static"


async def chat_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "chat.html")


async def chat_message(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError as error:
        raise InvalidInput("The request body must be JSON.") from error
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object.")
    # `metadata` carries the storefront's signed shopper identity (bot/identity.py).
    replies = await send_to_bot(request.app["rasa"], body.get("sender"), body.get("message"), body.get("metadata"))
    return web.json_response({"replies": replies})


async def health(request: web.Request) -> web.Response:
    try:
        with request.app["db"]() as session:
            session.execute(text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError:
        database = "down"
    rasa = "ok" if await rasa_is_up(request.app["rasa"]) else "down"
    status = 200 if database == "ok" else 503
    return web.json_response({"web": "ok", "database": database, "rasa": rasa}, status=status)
