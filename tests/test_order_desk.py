"""The order desk with a moved clock, on the demo shop."""
from datetime import timedelta

from sqlalchemy import select

from bot.shop import db
from bot.config import Config
from bot.shop.orders import OrderDesk, normalise_contact, normalise_order_number
from bot.shop.settings import load_settings


def desk_at(url, days_later):
    sessions = db.make_session_factory(db.make_engine(url))
    return OrderDesk(sessions, load_settings(Config.from_env().shop_settings_file), clock=lambda: db.utcnow() + timedelta(days=days_later))


def responses(replies):
    return [reply.response for reply in replies]


def test_unanswered_request_past_the_platform_deadline_reads_as_approved_by_the_marketplace(demo_shop):
    assert responses(desk_at(demo_shop, 0).refund_status("100011")) == ["utter_after_sales_requested"]
    assert responses(desk_at(demo_shop, 2).refund_status("100011")) == ["utter_after_sales_platform_approved"]


def test_platform_shipped_orders_are_not_judged_by_the_self_shipping_deadline(demo_shop):
    desk = desk_at(demo_shop, 30)  # long past any 12-day deadline
    with desk.sessions() as session:
        number = session.execute(
            select(db.Order.number).where(db.Order.status == db.READY_TO_SHIP, db.Order.logistics == db.PLATFORM_LOGISTICS)
        ).scalars().first()
    assert responses(desk.late_delivery(number)) == ["utter_late_platform_pickup"]
    assert responses(desk.late_delivery("100001")) == ["utter_late_not_shipped_late"]  # self-shipped


def test_damaged_parcel_reply_lists_the_tracking_events(demo_shop):
    [reply] = desk_at(demo_shop, 0).late_delivery("100014")
    assert reply.response == "utter_tracking_parcel_damaged" and "•" in reply.values["events"]


def test_normalising_what_shoppers_type():
    assert normalise_order_number(" #100245 ") == "100245"
    assert normalise_order_number("A-1001") == "A-1001"
    assert normalise_order_number("hello") is None
    assert normalise_order_number("1' OR 1=1") is None
    assert normalise_contact(" Emma@Example.com ") == "emma@example.com"
    # The trunk "(0)" of a number written internationally is not dialled.
    assert normalise_contact("+44 (0)7700-900 123") == "447700900123"
    assert normalise_contact("call me") is None
