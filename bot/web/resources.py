"""What the web service opens at start and closes at shutdown (`app.cleanup_ctx`)."""
import asyncio
import logging
from typing import AsyncIterator

import aiohttp
from aiohttp import web

from bot.shop import db
from bot.errors import ServiceUnavailable
from bot.faq.store import FaqStore
from bot.rasa.gateway import Gateway
from bot.shop.tickets import TicketDesk
from bot.web.limits import WebLimits
from bot.rasa.responses import load_responses
from bot.shop.settings import load_settings
from bot.rasa.retrainer import ModelTrainer

log = logging.getLogger(__name__)
OVERDUE_CHECK_SECONDS = 2


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    engine = db.make_engine(app["config"].database_url)
    app["db"] = db.make_session_factory(engine)
    yield
    engine.dispose()


async def rasa_client_ctx(app: web.Application) -> AsyncIterator[None]:
    # Generous: while a retrained model is swapped in, Rasa holds messages until it is loaded (~30 s).
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(base_url=app["config"].rasa_url, timeout=timeout) as session:
        app["rasa"] = session
        yield


async def bot_content_ctx(app: web.Application) -> AsyncIterator[None]:
    """The FAQs in service, the bot's wording, and the background retrainer."""
    config = app["config"]
    app["faq_store"] = FaqStore(config.faq_dir)
    app["responses"] = load_responses(config.project_dir / "domain.yml")
    app["trainer"] = ModelTrainer(config, app["rasa"])
    yield
    await app["trainer"].close()


async def limits_ctx(app: web.Application) -> AsyncIterator[None]:
    """The rate limits' counts, kept in this process's memory."""
    app["limits"] = WebLimits.from_config(app["config"])
    yield


def web_limits(app: web.Application) -> WebLimits:
    return app["limits"]


def client_address(request: web.Request) -> str:
    """The shopper's or staff member's network address, for the per-client limits."""
    return request.remote or "unknown"


def gateway(app: web.Application) -> Gateway:
    """The shopper/agent message routing over this app's resources."""
    tickets = TicketDesk(app["db"], shop_id(app))
    return Gateway(app["config"], app["rasa"], tickets, app["db"], app["responses"])


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


def shop_id(app: web.Application) -> int:
    """The database id of the shop that shop.yml names."""
    slug = load_settings(app["config"].shop_settings_file).shop
    with app["db"]() as session:
        shop = db.get_shop(session, slug)
    if shop is None:
        raise ServiceUnavailable(f"The shop {slug!r} is not in the database; run `make setup`.")
    return shop.id
