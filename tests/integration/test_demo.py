from collections import Counter
from datetime import datetime, timedelta, timezone
from itertools import product

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import selectinload

from bot.shop import db, demo, rules, vocabulary
from bot.config import Config
from bot.shop.settings import load_settings

NOW = datetime(2026, 11, 22, 12, 30, tzinfo=timezone.utc)
SETTINGS = load_settings(Config.from_env().shop_settings_file)


def _sessions(url: str):
    db.upgrade(url)
    engine = db.make_engine(url)
    return engine, db.make_session_factory(engine)


def _orders(sessions):
    """Every order of the demo shop with everything about it, by number."""
    query = select(db.Order).order_by(db.Order.id).options(
        selectinload(db.Order.items),
        selectinload(db.Order.customer),
        selectinload(db.Order.shipment).selectinload(db.Shipment.events),
        selectinload(db.Order.cancellation),
        selectinload(db.Order.after_sales).selectinload(db.AfterSalesRequest.history),
    )
    with sessions() as session:
        return {int(order.number): order for order in session.execute(query).scalars()}


@pytest.fixture(scope="module")
def orders(tmp_path_factory):
    engine, sessions = _sessions(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'shop.db'}")
    demo.seed(sessions, SETTINGS, NOW)
    yield _orders(sessions)
    engine.dispose()


def _lateness(order):
    shipped_at = order.shipment.shipped_at if order.shipment else None
    return rules.lateness(
        order.created_at, shipped_at, NOW, SETTINGS.self_shipping_deadline_days, SETTINGS.at_risk_days
    )


def _columns(row):
    return tuple(getattr(row, column.key) for column in inspect(row).mapper.column_attrs)


def _dump(orders):
    """Every stored value of every order, comparable across databases."""
    dump = []
    for order in orders.values():
        dump.append(_columns(order))
        dump += [_columns(item) for item in order.items]
        if order.shipment:
            dump.append(_columns(order.shipment))
            dump += [_columns(event) for event in order.shipment.events]
        if order.cancellation:
            dump.append(_columns(order.cancellation))
        for request in order.after_sales:
            dump.append(_columns(request))
            dump += [_columns(event) for event in request.history]
    return dump


def test_seed_is_idempotent_and_uses_the_settings(sqlite_url, monkeypatch):
    monkeypatch.delenv("SHOP_IDENTITY_SECRET", raising=False)
    engine, sessions = _sessions(sqlite_url)
    summary = demo.seed(sessions, SETTINGS, NOW)
    assert summary == f"demo shop loaded: {len(demo.SHOWCASE) + demo.RANDOM_ORDERS} orders"
    assert demo.seed(sessions, SETTINGS, NOW) == "demo shop already loaded"
    assert demo.seed(sessions, SETTINGS) == "demo shop already loaded"
    with sessions() as session:
        shop = db.get_shop(session, SETTINGS.shop)
        assert (shop.name, shop.identity_secret) == (SETTINGS.name, demo.DEMO_IDENTITY_SECRET)
        assert session.execute(select(func.count()).select_from(db.Shop)).scalar() == 1
        orders = session.execute(select(func.count()).select_from(db.Order)).scalar()
        assert orders == len(demo.SHOWCASE) + demo.RANDOM_ORDERS
        assert session.execute(select(func.count()).select_from(db.Customer)).scalar() == 3 + demo.RANDOM_CUSTOMERS
    engine.dispose()


def test_identity_secret_comes_from_the_environment(sqlite_url, monkeypatch):
    monkeypatch.setenv("SHOP_IDENTITY_SECRET", "a-real-secret")
    engine, sessions = _sessions(sqlite_url)
    demo.seed(sessions, SETTINGS, NOW)
    with sessions() as session:
        assert db.get_shop(session, SETTINGS.shop).identity_secret == "a-real-secret"
    engine.dispose()


def test_now_must_be_timezone_aware(sqlite_url):
    engine, sessions = _sessions(sqlite_url)
    with pytest.raises(ValueError):
        demo.seed(sessions, SETTINGS, datetime(2026, 11, 22, 12, 30))
    engine.dispose()


def test_the_same_now_gives_the_same_shop(tmp_path):
    dumps = []
    for name in ("a", "b"):
        engine, sessions = _sessions(f"sqlite:///{tmp_path / name / 'shop.db'}")
        demo.seed(sessions, SETTINGS, NOW)
        dumps.append(_dump(_orders(sessions)))
        engine.dispose()
    assert dumps[0] == dumps[1]


def test_at_least_300_random_orders_numbered_consecutively(orders):
    random_numbers = sorted(number for number in orders if number >= demo.FIRST_RANDOM_NUMBER)
    assert len(random_numbers) >= 300
    assert random_numbers == list(range(demo.FIRST_RANDOM_NUMBER, demo.FIRST_RANDOM_NUMBER + len(random_numbers)))
    assert sorted(number for number in orders if number < demo.FIRST_RANDOM_NUMBER) == list(range(100001, 100017))
    random_orders = [orders[number] for number in random_numbers]
    assert [order.created_at for order in random_orders] == sorted(order.created_at for order in random_orders)
    assert min(order.created_at for order in random_orders) >= NOW - timedelta(days=demo.HISTORY_DAYS)
    assert len({order.customer_id for order in random_orders}) >= 50


def test_every_state_occurs(orders):
    values = list(orders.values())
    assert {order.status for order in values} == set(vocabulary.ORDER_STATUSES)
    assert {order.logistics for order in values} == set(vocabulary.LOGISTICS)
    cancellations = [order.cancellation for order in values if order.cancellation]
    assert {cancellation.type for cancellation in cancellations} == set(vocabulary.CANCELLATION_TYPES)
    assert {cancellation.refund_state for cancellation in cancellations} == set(vocabulary.CANCELLATION_REFUND_STATES)
    requests = [request for order in values for request in order.after_sales]
    assert {request.status for request in requests} == set(vocabulary.AFTER_SALES_STATUSES)
    assert {request.kind for request in requests} == set(vocabulary.AFTER_SALES_KINDS)
    assert {request.decided_by for request in requests} == {None, *vocabulary.DECIDERS}
    assert {request.round for request in requests} == {1, 2}
    self_shipped = [order for order in values if order.logistics == vocabulary.SELF_SHIPPING and order.paid_at]
    assert {_lateness(order) for order in self_shipped} == {
        rules.ON_TIME, rules.AT_RISK, rules.LATE, rules.SHIPPED_ON_TIME, rules.SHIPPED_LATE
    }
    problems = Counter(
        (order.status, order.shipment.problem) for order in values if order.shipment and order.shipment.problem
    )
    assert set(problems) == set(product((vocabulary.IN_DELIVERY, vocabulary.CANCELLED), vocabulary.PARCEL_PROBLEMS))
    shipments = [order.shipment for order in values if order.shipment]
    assert {(shipment.carrier == demo.PLATFORM_CARRIER) for shipment in shipments if shipment.events} == {True, False}
    # A buyer's cancellation request that waits for the seller.
    assert any(order.cancellation and order.status == vocabulary.READY_TO_SHIP for order in values)


def test_showcase_customers(orders):
    customers = {orders[number].customer.external_id: orders[number].customer for number in range(100001, 100017)}
    assert {external_id: (c.email, c.phone) for external_id, c in customers.items()} == {
        "cust-emma": ("emma@example.com", "447700900123"),
        "cust-liam": ("liam@example.com", "447700900456"),
        "cust-noah": ("noah@example.com", "447700900789"),
    }
    owners = {number: orders[number].customer.external_id for number in range(100001, 100017)}
    assert owners[100015] == owners[100016] == "cust-noah"
    assert [number for number, owner in owners.items() if owner == "cust-noah"] == [100015, 100016]


def test_showcase_shipping(orders):
    deadline, at_risk = SETTINGS.self_shipping_deadline_days, SETTINGS.at_risk_days
    statuses = {number: (orders[number].status, orders[number].logistics) for number in range(100001, 100004)}
    assert set(statuses.values()) == {(vocabulary.READY_TO_SHIP, vocabulary.SELF_SHIPPING)}
    assert orders[100001].ready_to_ship_at == orders[100001].paid_at
    lateness = [_lateness(orders[number]) for number in (100001, 100002, 100003)]
    assert lateness == [rules.ON_TIME, rules.AT_RISK, rules.LATE]
    assert (deadline, at_risk) == (12, 3)  # the showcase dates are made for these

    order = orders[100004]
    assert (order.status, order.logistics) == (vocabulary.IN_DELIVERY, vocabulary.PLATFORM_LOGISTICS)
    shipment = order.shipment
    assert (shipment.carrier, shipment.tracking_number) == ("SPX Express", "SPXGB0123456789")
    assert shipment.shipped_at == NOW - timedelta(days=2)
    assert shipment.estimated_delivery == NOW.date() + timedelta(days=2)
    assert 3 <= len(shipment.events) <= 4 and all(event.location for event in shipment.events)
    assert not any("Out for delivery" in event.description for event in shipment.events)

    order = orders[100014]
    assert (order.status, order.shipment.problem) == (vocabulary.IN_DELIVERY, "damaged")
    assert order.shipment.shipped_at == NOW - timedelta(days=6)
    assert order.shipment.estimated_delivery == NOW.date() - timedelta(days=2)
    assert "damaged in transit" in order.shipment.events[-1].description

    order = orders[100015]
    assert (order.status, order.paid_at, order.shipment) == (vocabulary.PENDING_PAYMENT, None, None)
    assert order.created_at == NOW - timedelta(hours=1)

    assert orders[100016].status == vocabulary.IN_DELIVERY and orders[100016].shipment.events


def test_showcase_returns(orders):
    window, rule = SETTINGS.return_window_days, SETTINGS.return_auto_approval

    order = orders[100005]
    delivered_at = order.shipment.delivered_at
    assert (order.status, order.total_cents, order.currency, len(order.items)) == (vocabulary.DELIVERED, 2490, "EUR", 1)
    assert delivered_at == NOW - timedelta(days=3)
    assert rules.return_eligibility(delivered_at, NOW, window)[0] == rules.ELIGIBLE
    assert rules.seller_auto_approves(rule, order.total_cents, "damaged", delivered_at, NOW)
    assert not rules.seller_auto_approves(rule, order.total_cents, "changed_mind", delivered_at, NOW)

    order = orders[100006]
    assert order.status == vocabulary.DELIVERED
    assert rules.return_eligibility(order.shipment.delivered_at, NOW, window)[0] == rules.WINDOW_CLOSED

    (request,) = orders[100011].after_sales
    assert (request.kind, request.reason, request.status) == (vocabulary.RETURN_AND_REFUND, "size_fit", vocabulary.REQUESTED)
    assert request.requested_at == NOW - timedelta(hours=5)
    assert [(event.status, event.actor) for event in request.history] == [(vocabulary.REQUESTED, "buyer")]

    (request,) = orders[100012].after_sales
    assert (request.kind, request.reason, request.status, request.decided_by) == (
        vocabulary.REFUND_ONLY, "damaged", vocabulary.REFUNDED, vocabulary.DECIDED_BY_SELLER
    )
    assert request.decided_at - request.requested_at == timedelta(hours=3)
    assert request.refunded_at is not None
    assert [event.status for event in request.history] == [vocabulary.REQUESTED, vocabulary.APPROVED, vocabulary.REFUNDED]

    (request,) = orders[100013].after_sales
    assert (request.kind, request.reason, request.status, request.decided_by) == (
        vocabulary.RETURN_AND_REFUND, "changed_mind", vocabulary.REJECTED, vocabulary.DECIDED_BY_SELLER
    )
    assert orders[100013].shipment.delivered_at == NOW - timedelta(days=8)


def test_showcase_cancellations(orders):
    expected = {
        100007: (vocabulary.BY_SELLER, "Out of stock", "refunded"),
        100008: (vocabulary.AUTOMATIC, "Not shipped within 12 days", "pending"),
        100009: (vocabulary.LOGISTICS_OBSTACLE, "Parcel lost in transit", "refunded"),
        100010: (vocabulary.BY_BUYER, "Changed my mind", "refunded"),
    }
    for number, (type_, reason, refund_state) in expected.items():
        order = orders[number]
        cancellation = order.cancellation
        assert order.status == vocabulary.CANCELLED
        assert (cancellation.type, cancellation.reason, cancellation.refund_state) == (type_, reason, refund_state)
        assert cancellation.cancelled_at is not None
        assert (cancellation.refunded_at is not None) == (refund_state == "refunded")
    assert orders[100009].shipment.problem == "lost"
    assert orders[100008].logistics == vocabulary.SELF_SHIPPING and orders[100008].shipment is None


def test_totals_equal_item_sums(orders):
    for order in orders.values():
        assert 1 <= len(order.items) <= 3
        assert order.total_cents == sum(item.quantity * item.unit_price_cents for item in order.items)
        assert order.currency == "EUR"
        assert order.shipping_address.count("\n") >= 2


def _dates(order):
    yield from (order.created_at, order.paid_at, order.ready_to_ship_at)
    if order.shipment:
        yield from (order.shipment.shipped_at, order.shipment.delivered_at)
        yield from (event.occurred_at for event in order.shipment.events)
    if order.cancellation:
        c = order.cancellation
        yield from (c.requested_at, c.cancelled_at, c.refunded_at)
    for request in order.after_sales:
        yield from (request.requested_at, request.decided_at, request.refunded_at)
        yield from (event.occurred_at for event in request.history)


def test_dates_are_consistent(orders):
    for number, order in orders.items():
        dates = [moment for moment in _dates(order) if moment is not None]
        assert all(moment.tzinfo is not None and moment <= NOW for moment in dates), number
        assert order.created_at <= (order.paid_at or order.created_at) <= (order.ready_to_ship_at or NOW)
        assert (order.paid_at is None) == (order.ready_to_ship_at is None), number
        shipment = order.shipment
        if shipment:
            assert order.paid_at is not None and order.ready_to_ship_at < shipment.shipped_at, number
            assert shipment.delivered_at is None or shipment.delivered_at > shipment.shipped_at, number
            assert shipment.events, number
            times = [event.occurred_at for event in shipment.events]
            assert times == sorted(times) and times[0] == shipment.shipped_at, number
            if shipment.delivered_at:
                assert times[-1] == shipment.delivered_at, number
        if order.cancellation and order.cancellation.cancelled_at:
            assert order.cancellation.requested_at <= order.cancellation.cancelled_at
            assert order.cancellation.cancelled_at >= order.created_at
        if order.logistics == vocabulary.PLATFORM_LOGISTICS and shipment:
            assert shipment.carrier == demo.PLATFORM_CARRIER


def test_status_matches_the_records(orders):
    for number, order in orders.items():
        shipment, cancellation = order.shipment, order.cancellation
        if order.status == vocabulary.PENDING_PAYMENT:
            assert order.paid_at is None and shipment is None and cancellation is None, number
        elif order.status == vocabulary.READY_TO_SHIP:
            assert order.paid_at and shipment is None, number
            assert cancellation is None or (cancellation.type == vocabulary.BY_BUYER and cancellation.cancelled_at is None)
        elif order.status == vocabulary.IN_DELIVERY:
            assert shipment and shipment.delivered_at is None and cancellation is None, number
        elif order.status == vocabulary.DELIVERED:
            assert shipment and shipment.delivered_at and shipment.problem is None and cancellation is None, number
        else:
            assert cancellation and cancellation.cancelled_at, number
            assert shipment is None or (shipment.problem and cancellation.type == vocabulary.LOGISTICS_OBSTACLE), number
            if order.paid_at is None:
                assert cancellation.refund_state == "none"
        if order.after_sales:
            assert order.status == vocabulary.DELIVERED, number


def test_after_sales_requests_follow_the_rules(orders):
    hours = SETTINGS.platform_auto_approval_hours
    for number, order in orders.items():
        delivered_at = order.shipment.delivered_at if order.shipment else None
        for request in order.after_sales:
            history = request.history
            assert request.amount_cents == order.total_cents
            assert delivered_at <= request.requested_at <= delivered_at + timedelta(days=SETTINGS.return_window_days)
            assert [(e.status, e.actor, e.round) for e in history[:1]] == [(vocabulary.REQUESTED, "buyer", 1)], number
            assert history[0].occurred_at == request.requested_at
            assert [e.occurred_at for e in history] == sorted(e.occurred_at for e in history), number
            assert (history[-1].status, history[-1].round) == (request.status, request.round), number
            auto = rules.seller_auto_approves(
                SETTINGS.return_auto_approval, request.amount_cents, request.reason, delivered_at, request.requested_at
            )
            # Each round: a buyer's request, then at most one decision, made by the rules.
            for round_ in (1, 2):
                events = [e for e in history if e.round == round_]
                if not events:
                    continue
                asked = events[0]
                assert (asked.status, asked.actor) == (vocabulary.REQUESTED, "buyer"), number
                platform_at = rules.platform_auto_approval_at(order.ready_to_ship_at, asked.occurred_at, hours)
                decisions = [e for e in events if e.status in (vocabulary.APPROVED, vocabulary.REJECTED)]
                assert len(decisions) <= 1, number
                if not decisions:
                    # Undecided: still waiting, or taken back by the buyer before the platform's deadline.
                    ended = events[-1]
                    if ended.status == vocabulary.WITHDRAWN:
                        assert ended.actor == "buyer" and ended.occurred_at < platform_at, number
                    else:
                        assert NOW < platform_at, number
                    continue
                decision = decisions[0]
                if round_ == 1 and auto:
                    assert (decision.status, decision.actor) == (vocabulary.APPROVED, vocabulary.DECIDED_BY_SELLER_RULE), number
                    assert decision.occurred_at - asked.occurred_at == timedelta(minutes=1)
                elif decision.actor == vocabulary.DECIDED_BY_PLATFORM:
                    assert (decision.status, decision.occurred_at) == (vocabulary.APPROVED, platform_at), number
                else:
                    assert decision.actor == vocabulary.DECIDED_BY_SELLER, number
                    assert decision.occurred_at < platform_at, number
                if round_ == 1 and len([e for e in history if e.round == 2]):
                    assert decision.status == vocabulary.REJECTED, number
                if round_ == request.round:
                    assert (request.decided_at, request.decided_by) == (decision.occurred_at, decision.actor)
            refunds = [e for e in history if e.status == vocabulary.REFUNDED]
            assert request.refunded_at == (refunds[0].occurred_at if refunds else None), number
            assert request.kind != vocabulary.REPLACEMENT or not refunds, number
            if request.status == vocabulary.REQUESTED:
                assert request.decided_at is None and request.decided_by is None, number
