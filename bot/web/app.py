"""App factory: `create_app(config)` wires resources, middleware and routes."""
from typing import AsyncIterator

import aiohttp
from aiohttp import web

from bot.config import Config
from bot.db import make_engine, make_session_factory
from bot.web.middleware import error_middleware
from bot.web.routes import setup_routes

MAX_REQUEST_BYTES = 64 * 1024


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    engine = make_engine(app["config"].database_url)
    app["db"] = make_session_factory(engine)
    yield
    engine.dispose()


async def rasa_client_ctx(app: web.Application) -> AsyncIterator[None]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base_url=app["config"].rasa_url, timeout=timeout) as session:
        app["rasa"] = session
        yield


def create_app(config: Config) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_REQUEST_BYTES)
    app["config"] = config
    app.cleanup_ctx.extend([database_ctx, rasa_client_ctx])
    setup_routes(app)
    return app
