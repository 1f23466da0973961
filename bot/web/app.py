"""App factory: `create_app(config)` wires resources, middleware and routes."""
from aiohttp import web

from bot.config import Config
from bot.web.middleware import error_middleware
from bot.web.resources import CONFIG, bot_content_ctx, limits_ctx, overdue_answers_ctx, rasa_client_ctx, shop_ctx
from bot.web.routes import setup_routes

MAX_REQUEST_BYTES = 64 * 1024


def create_app(config: Config) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_REQUEST_BYTES)
    app[CONFIG] = config
    app.cleanup_ctx.extend([shop_ctx, rasa_client_ctx, bot_content_ctx, limits_ctx, overdue_answers_ctx])
    setup_routes(app)
    return app
