"""The order desk the actions share, and the checks every order action makes."""
import functools
import logging
import time
from typing import Callable, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from bot import db
from bot.config import Config
from bot.identity import verified_customer_id
from bot.orders import OrderDesk, Reply
from bot.settings import SettingsError, ShopSettings, load_settings

log = logging.getLogger(__name__)
# What may fail while looking an order up: the database, the shop missing from it, shop.yml.
SERVICE_ERRORS = (SQLAlchemyError, LookupError, SettingsError)
_last_good_settings: Optional[ShopSettings] = None


@functools.lru_cache(maxsize=1)
def database_sessions(database_url: str):
    return db.make_session_factory(db.make_engine(database_url))


def shop_settings(config: Config) -> ShopSettings:
    """shop.yml as it is now; if a seller's edit broke it, the last good version."""
    global _last_good_settings
    try:
        _last_good_settings = load_settings(config.shop_settings_file)
    except SettingsError:
        if _last_good_settings is None:
            raise
        log.exception("shop.yml is invalid; keeping the last valid settings")
    return _last_good_settings


def order_desk() -> OrderDesk:
    """A desk over the configured database, with the seller's current shop.yml."""
    config = Config.from_env()
    return OrderDesk(database_sessions(config.database_url), shop_settings(config))


def signed_in_customer(desk: OrderDesk, tracker: Tracker) -> Optional[str]:
    """The storefront customer id, if the latest message carries a valid signed identity."""
    metadata = tracker.latest_message.get("metadata")
    if not metadata:
        return None
    return verified_customer_id(desk.identity_secret(), metadata, time.time())


def verified_order(desk: OrderDesk, tracker: Tracker) -> Optional[str]:
    """The verified order, if whoever sends this message may still see it.

    An order verified through a signed identity stays visible only while the
    messages carry that same identity; one verified by contact details stays
    visible for the conversation (a new session verifies again).
    """
    number = tracker.get_slot("verified_order")
    verified_by = tracker.get_slot("verified_by")
    if not number:
        return None
    if verified_by and verified_by != "contact" and signed_in_customer(desk, tracker) != verified_by:
        return None
    return number


def say(dispatcher: CollectingDispatcher, replies: List[Reply]) -> None:
    for reply in replies:
        dispatcher.utter_message(response=reply.response, **reply.values)


def act_on_verified_order(
    dispatcher: CollectingDispatcher, tracker: Tracker, act: Callable[[OrderDesk, str], List[Reply]]
) -> None:
    """Run `act` on the verified order and say its replies; or say why it can't run."""
    try:
        desk = order_desk()
        number = verified_order(desk, tracker)
        if number:
            say(dispatcher, act(desk, number))
        else:
            dispatcher.utter_message(response="utter_verification_locked")
    except SERVICE_ERRORS:
        dispatcher.utter_message(response="utter_orders_unavailable")
