"""What the web service opens at start and closes at shutdown (`app.cleanup_ctx`), each under
its typed key: views read `request.app[SHOP]`, `request.app[RASA]`, ..."""
import asyncio
import logging
from typing import Any, AsyncIterator, Dict, List

from aiohttp import web

from bot.config import Config
from bot.faq.store import FaqStore
from bot.rasa.client import RasaClient
from bot.rasa.gateway import Gateway, OfferedButtons
from bot.rasa.responses import load_responses
from bot.rasa.retrainer import ModelTrainer
from bot.shop.context import ShopContext
from bot.shop.tickets import TicketDesk
from bot.web.limits import WebLimits

log = logging.getLogger(__name__)
OVERDUE_CHECK_SECONDS = 2

CONFIG = web.AppKey("config", Config)
SHOP = web.AppKey("shop", ShopContext)  # shop.yml, the database sessions, the shop's id
RASA = web.AppKey("rasa", RasaClient)
FAQ_STORE = web.AppKey("faq_store", FaqStore)  # the FAQs in service
RESPONSES = web.AppKey("responses", Dict[str, List[Dict[str, Any]]])  # the bot's wording (domain.yml)
TRAINER = web.AppKey("trainer", ModelTrainer)
LIMITS = web.AppKey("limits", WebLimits)  # the rate limits' counts, kept in this process's memory
OFFERED = web.AppKey("offered", OfferedButtons)  # each conversation's latest buttons, in this process's memory


async def shop_ctx(app: web.Application) -> AsyncIterator[None]:
    with ShopContext(app[CONFIG]) as shop:
        app[SHOP] = shop
        yield


async def rasa_client_ctx(app: web.Application) -> AsyncIterator[None]:
    async with RasaClient.connect(app[CONFIG].rasa_urls, app[CONFIG].rasa_token, app[CONFIG].rasa_messages_at_once) as rasa:
        app[RASA] = rasa
        yield


async def bot_content_ctx(app: web.Application) -> AsyncIterator[None]:
    """The FAQs in service, the bot's wording, and the background retrainer."""
    config = app[CONFIG]
    app[FAQ_STORE] = FaqStore(config.faq_dir)
    app[RESPONSES] = load_responses(config.project_dir / "domain.yml")
    app[TRAINER] = ModelTrainer(config, app[RASA])
    yield
    await app[TRAINER].close()


async def in_memory_ctx(app: web.Application) -> AsyncIterator[None]:
    """What this process keeps in its own memory: the rate limits' counts, the latest buttons."""
    app[LIMITS] = WebLimits.from_config(app[CONFIG])
    app[OFFERED] = OfferedButtons()
    yield


def client_address(request: web.Request) -> str:
    """The shopper's or staff member's network address, for the per-client limits."""
    return request.remote or "unknown"


def gateway(app: web.Application) -> Gateway:
    """The shopper/agent message routing over this app's resources. The shop's id is the
    context's (looked up once): without the shop or its database, nothing reaches Rasa."""
    shop = app[SHOP]
    return Gateway(shop, app[RASA], TicketDesk(shop.sessions, shop.shop_id), app[RESPONSES], app[OFFERED])


async def overdue_answers_ctx(app: web.Application) -> AsyncIterator[None]:
    """Every few seconds, let the bot answer working-hours messages no agent replied to in time."""

    async def watch() -> None:
        while True:
            await asyncio.sleep(OVERDUE_CHECK_SECONDS)
            try:
                await gateway(app).answer_overdue()
            except Exception:  # Rasa or the database down: try again at the next tick
                log.exception("answering overdue messages failed")

    task = asyncio.create_task(watch())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
