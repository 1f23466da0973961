"""The order desk the actions share, opened once per action server process."""
import functools
import time
from typing import List, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import db
from bot.config import Config
from bot.identity import verified_customer_id
from bot.orders import OrderDesk, Reply
from bot.settings import load_settings


@functools.lru_cache(maxsize=1)
def _sessions(database_url: str):
    return db.make_session_factory(db.make_engine(database_url))


def order_desk() -> OrderDesk:
    """A desk over the configured database, with the seller's current shop.yml."""
    config = Config.from_env()
    return OrderDesk(_sessions(config.database_url), load_settings(config.shop_settings_file))


def signed_in_customer(desk: OrderDesk, tracker: Tracker) -> Optional[str]:
    """The storefront customer id, if the latest message carries a valid signed identity."""
    metadata = tracker.latest_message.get("metadata")
    if not metadata:
        return None
    return verified_customer_id(desk.identity_secret(), metadata, time.time())


def say(dispatcher: CollectingDispatcher, replies: List[Reply]) -> None:
    for reply in replies:
        dispatcher.utter_message(response=reply.response, **reply.values)
