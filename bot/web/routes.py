from aiohttp import web

from bot.web import views


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", views.chat_page, name="chat")
    app.router.add_get("/health", views.health, name="health")
    app.router.add_post("/api/chat", views.chat_message, name="chat_message")
