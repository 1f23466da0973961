"""The shop context and order desk the actions share, and the checks every order action makes."""
import asyncio
import functools
import logging
import time
from typing import Any, Callable, Dict, List, Optional, Text, Tuple

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from bot.shop import rules
from bot.config import Config
from bot.errors import ServiceUnavailable
from bot.rasa.responses import load_responses
from bot.shop.context import ShopContext
from bot.shop.identity import client_of, verified_customer_id
from bot.shop.orders import OrderDesk, Reply
from bot.shop.settings import SettingsError

log = logging.getLogger(__name__)
# What may fail while looking an order up: the database; the shop missing from it (the order
# desk's LookupError, the shop context's ServiceUnavailable); shop.yml never valid.
SERVICE_ERRORS = (SQLAlchemyError, LookupError, ServiceUnavailable, SettingsError)
_shop_context: Optional[ShopContext] = None


def shop_context() -> ShopContext:
    """The action server's shop context, opened from the environment at the first action."""
    global _shop_context
    if _shop_context is None:
        _shop_context = ShopContext(Config.from_env())
    return _shop_context


@functools.lru_cache(maxsize=1)
def bot_responses() -> Dict[str, List[Dict[str, Any]]]:
    """domain.yml's responses, for the wording an action puts into a button. (Rasa sends the
    domain only to the actions that need it, endpoints.yml `enable_selective_domain`: the forms'
    validate_* actions: 48 KB of JSON fewer on every other call.)"""
    return load_responses(shop_context().config.project_dir / "domain.yml")


def close_shop_context() -> None:
    """Close the shop context; the next action opens a new one from the environment as it is
    then (tests change it)."""
    global _shop_context
    if _shop_context is not None:
        _shop_context.close()
        _shop_context = None


def order_desk(language: Optional[str] = None) -> OrderDesk:
    """A desk over the shop's database, with the seller's current shop.yml; its answers' dates
    and names in `language` (the `language` slot)."""
    shop = shop_context()
    limits = rules.VerificationLimits(base_delay_seconds=shop.config.verification_delay_seconds)
    return OrderDesk(shop, limits=limits, language=language)


def signed_in_customer(desk: OrderDesk, tracker: Tracker) -> Optional[str]:
    """The storefront customer id, if the latest message carries a valid signed identity."""
    return customer_of_message(desk, tracker.latest_message)


def customer_of_message(desk: OrderDesk, message: Dict[Text, Any]) -> Optional[str]:
    """The storefront customer id, if the message carries a valid signed identity."""
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or "signature" not in metadata:
        return None  # nothing signed: no need to read the shop's secret
    return verified_customer_id(desk.identity_secret(), metadata, time.time())


def orders_with_named_item(message: Dict[Text, Any], by_kind: bool = False) -> List[Tuple[str, str]]:
    """A signed-in shopper's orders with an item the message names ("the hoodie one") instead
    of an order number: (number, label). `by_kind`: OrderDesk.orders_with_item's."""
    if any(entity.get("entity") == "order_id" for entity in message.get("entities") or []):
        return []
    try:
        desk = order_desk()
        customer = customer_of_message(desk, message)
        return desk.orders_with_item(customer, message.get("text") or "", by_kind) if customer else []
    except SERVICE_ERRORS:
        return []


def client_of_message(tracker: Tracker) -> str:
    """Who sends this message, for the verification limits (identity.client_of)."""
    return client_of(tracker.latest_message.get("metadata"), tracker.sender_id)


def verification_locked(desk: OrderDesk, tracker: Tracker) -> bool:
    """Whether contact checks are refused for whoever sends this message (for the order asked
    about, if any). A signed-in shopper needs none, so is never locked out."""
    if signed_in_customer(desk, tracker):
        return False
    return desk.verification_locked(client_of_message(tracker), tracker.get_slot("order_number"))


async def contact_matches(desk: OrderDesk, tracker: Tracker, number: str, contact: str) -> bool:
    """`desk.verify_contact` for whoever sends this message. The answer to a failure is held
    back, longer with each failure in a row: guessing contacts gets slow."""
    client = client_of_message(tracker)
    if desk.verify_contact(number, contact, client):
        return True
    await asyncio.sleep(desk.failure_delay(client))
    return False


def verified_order(desk: OrderDesk, tracker: Tracker) -> Optional[str]:
    """The verified order, if it is the order asked about and whoever sends this message may
    still see it.

    An order verified through a signed identity stays visible only while the
    messages carry that same identity; one verified by contact details stays
    visible for the conversation (a new session verifies again). While another
    order is asked about (not verified, e.g. locked out), none is: an answer
    about the earlier order would answer the wrong question.
    """
    number = tracker.get_slot("verified_order")
    verified_by = tracker.get_slot("verified_by")
    asked = tracker.get_slot("order_number")
    if not number or (asked and asked != number):
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
        desk = order_desk(tracker.get_slot("language"))
        number = verified_order(desk, tracker)
        if number:
            say(dispatcher, act(desk, number))
        else:
            dispatcher.utter_message(response="utter_verification_locked")
    except SERVICE_ERRORS:
        dispatcher.utter_message(response="utter_orders_unavailable")
