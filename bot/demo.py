"""The demo shop that `make setup` loads into a fresh database."""
from sqlalchemy.orm import sessionmaker

from bot.db import Shop, get_shop, transaction

DEMO_SHOP_SLUG = "demo"


def seed(sessions: sessionmaker) -> str:
    with transaction(sessions) as session:
        if get_shop(session, DEMO_SHOP_SLUG) is not None:
            return "demo shop already loaded"
        session.add(Shop(slug=DEMO_SHOP_SLUG, name="Demo Shop"))
    return "demo shop loaded"
