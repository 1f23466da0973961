"""App factory: `create_app(config)` wires resources, middleware and routes."""
from aiohttp import web

from bot.config import Config
from bot.web.middleware import cors_middleware, error_middleware
from bot.web.resources import CONFIG, bot_content_ctx, in_memory_ctx, overdue_answers_ctx, rasa_client_ctx, shop_ctx
from bot.web.routes import setup_routes
from bot.web.webchat import attach as attach_webchat

MAX_REQUEST_BYTES = 64 * 1024


def create_app(config: Config) -> web.Application:
    app = web.Application(middlewares=[cors_middleware, error_middleware], client_max_size=MAX_REQUEST_BYTES)
    app[CONFIG] = config
    app.cleanup_ctx.extend([shop_ctx, rasa_client_ctx, bot_content_ctx, in_memory_ctx, overdue_answers_ctx])
    setup_routes(app)
    attach_webchat(app, MAX_REQUEST_BYTES)  # rasa-webchat's socket.io, at /socket.io/
    return app
