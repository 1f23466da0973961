"""The order desk with a moved clock, on the demo shop."""
from datetime import timedelta

from sqlalchemy import select

from bot.shop import db
from bot.nlu.spacy_pipeline import build_pipeline
from bot.shop.orders import OrderDesk, normalise_contact
from bot.shop.vocabulary import (
    BUYER, PLATFORM_LOGISTICS, READY_TO_SHIP, REQUESTED, WITHDRAWN, is_order_number, normalise_order_number,
)


def desk_at(shop, days_later):
    return OrderDesk(shop, clock=lambda: db.utcnow() + timedelta(days=days_later))


def responses(replies):
    return [reply.response for reply in replies]


def test_unanswered_request_past_the_platform_deadline_reads_as_approved_by_the_marketplace(demo_context):
    assert responses(desk_at(demo_context, 0).refund_status("100011")) == ["utter_after_sales_requested"]
    assert responses(desk_at(demo_context, 2).refund_status("100011")) == ["utter_after_sales_platform_approved"]


def test_platform_shipped_orders_are_not_judged_by_the_self_shipping_deadline(demo_context):
    desk = desk_at(demo_context, 30)  # long past any 12-day deadline
    with desk.sessions() as session:
        number = session.execute(
            select(db.Order.number).where(db.Order.status == READY_TO_SHIP, db.Order.logistics == PLATFORM_LOGISTICS)
        ).scalars().first()
    assert responses(desk.late_delivery(number)) == ["utter_late_platform_pickup"]
    assert responses(desk.late_delivery("100001")) == ["utter_late_not_shipped_late"]  # self-shipped


def test_damaged_parcel_reply_lists_the_tracking_events(demo_context):
    [reply] = desk_at(demo_context, 0).late_delivery("100014")
    assert reply.response == "utter_tracking_parcel_damaged" and "•" in reply.values["events"]


def test_normalising_what_shoppers_type():
    assert normalise_order_number(" #100245 ") == "100245"
    assert normalise_order_number("A-1001") == "A-1001"
    assert normalise_order_number("hello") is None
    assert normalise_order_number("1' OR 1=1") is None
    assert normalise_order_number("ABC-XY") is None  # no digits: a word, not an order number
    assert normalise_contact(" Emma@Example.com ") == "emma@example.com"
    # The trunk "(0)" of a number written internationally is not dialled.
    assert normalise_contact("+44 (0)7700-900 123") == "447700900123"
    assert normalise_contact("call me") is None


def test_stored_order_numbers_are_what_the_normaliser_gives():
    assert is_order_number("100245") and is_order_number("A-1001") and is_order_number("1" * 32)
    for not_stored in ("#100245", " 100245", "ABC-XY", "12", "-1001", "1" * 33):
        assert not is_order_number(not_stored), not_stored


def test_every_order_number_the_nlu_finds_can_be_looked_up():
    nlp = build_pipeline()
    for text in ("where is 100245", "order #1001 please", "order # 1001", "it's 12345678901234567890"):
        [found] = [entity.text for entity in nlp(text).ents if entity.label_ == "order_id"]
        assert is_order_number(normalise_order_number(found)), text


def test_a_cancellation_request_the_seller_has_not_decided_can_be_taken_back(demo_context):
    desk = desk_at(demo_context, 0)
    assert responses(desk.withdraw_cancellation("100001")) == ["utter_order_not_being_cancelled"]
    assert responses(desk.cancel("100001")) == ["utter_cancellation_requested"]
    assert responses(desk.cancellation_reason("100001")) == ["utter_cancellation_request_pending"]
    assert responses(desk.withdraw_cancellation("100001")) == ["utter_cancellation_withdrawn"]
    # The order goes ahead: no request left, and it may be cancelled again later.
    assert responses(desk.cancellation_reason("100001")) == ["utter_cancellation_not_cancelled"]
    assert responses(desk.cancel_check("100001")) == ["utter_ask_confirm_cancel"]
    with desk.sessions() as session:
        assert session.execute(select(db.Cancellation).join(db.Order).where(db.Order.number == "100001")).first() is None


def test_a_decided_cancellation_is_final(demo_context):
    desk = desk_at(demo_context, 0)
    for number in ("100007", "100010"):  # cancelled by the seller, and at the buyer's own request
        [reply] = desk.withdraw_cancellation(number)
        assert reply.response == "utter_cancellation_final" and reply.values["cancelled_on"]
        assert responses(desk.cancellation_reason(number))[0].startswith("utter_cancellation_reason_")


def test_a_return_request_the_seller_has_not_decided_can_be_taken_back_and_asked_for_again(demo_context):
    desk = desk_at(demo_context, 0)
    assert responses(desk.withdraw_return("100005")) == ["utter_no_return_to_withdraw"]  # delivered, none asked
    [withdrawn] = desk.withdraw_return("100011")
    assert withdrawn.response == "utter_return_withdrawn" and withdrawn.values["return_until"]
    with desk.sessions() as session:
        request = session.execute(select(db.AfterSalesRequest).join(db.Order).where(db.Order.number == "100011")).scalar_one()
        assert request.status == WITHDRAWN and (request.history[-1].status, request.history[-1].actor) == (WITHDRAWN, BUYER)
    # Nothing waits for the seller or the marketplace any more; the shopper is told it was withdrawn.
    assert desk.marketplace_deadline("100011") is None
    [status] = desk.refund_status("100011")
    assert status.response == "utter_after_sales_withdrawn" and status.values["withdrawn_on"]
    assert responses(desk.order_status("100011")) == ["utter_order_status_delivered"]
    assert responses(desk.withdraw_return("100011")) == ["utter_no_return_to_withdraw"]
    # A change of mind again: a new request, not a dispute of the withdrawn one.
    assert responses(desk.return_check("100011")) == ["utter_ask_return_kind"]
    assert responses(desk.request_return("100011", "refund_only", "damaged"))[0].startswith(("utter_return_requested", "utter_return_auto_approved"))
    # Its state is the new request's alone.
    assert responses(desk.refund_status("100011"))[0] in ("utter_after_sales_requested", "utter_after_sales_approved_refund_only")
    assert len(desk.refund_status("100011")) == 1 and len(desk.order_status("100011")) == 2


def test_a_decided_return_request_is_for_a_person_to_undo(demo_context):
    assert responses(desk_at(demo_context, 0).withdraw_return("100012")) == ["utter_after_sales_refunded", "utter_return_not_withdrawable"]
    # Unanswered past the marketplace's deadline: approved by the marketplace, whatever the data says.
    late = desk_at(demo_context, 2)
    assert responses(late.withdraw_return("100011")) == ["utter_after_sales_platform_approved", "utter_return_not_withdrawable"]
    with late.sessions() as session:
        status = session.execute(select(db.AfterSalesRequest.status).join(db.Order).where(db.Order.number == "100011")).scalar_one()
    assert status == REQUESTED


def test_the_status_of_a_delivered_order_says_what_the_shopper_may_still_do(demo_context):
    desk = desk_at(demo_context, 0)
    assert responses(desk.order_status("100005")) == ["utter_order_status_delivered"]  # return until ...
    assert responses(desk.order_status("100006")) == ["utter_return_window_closed"]  # not "until" a past day
    # A return request on file: its state, not the offer to return.
    [delivered, request] = desk.order_status("100011")
    assert (delivered.response, request.response) == ("utter_order_status_delivered_on", "utter_after_sales_requested")


def test_the_status_of_an_order_with_a_cancellation_request_says_so(demo_context):
    desk = desk_at(demo_context, 0)
    assert responses(desk.order_status("100001")) == ["utter_order_status_ready_to_ship"]
    desk.cancel("100001")
    assert responses(desk.order_status("100001")) == ["utter_order_status_ready_to_ship", "utter_cancellation_request_pending"]
    assert responses(desk.tracking("100001")) == ["utter_tracking_not_shipped", "utter_cancellation_request_pending"]
