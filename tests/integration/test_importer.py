"""bot/shop/importer.py: order exports (CSV and JSON) into the database, all or nothing."""
import csv
import io
import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.shop import db, importer, vocabulary
from bot.shop.db import Cancellation, Customer, Order, OrderItem, Shipment, Shop, TrackingEvent
from bot.errors import NotFound
from bot.shop.importer import import_orders

DATA = Path(__file__).parents[1] / "data"
GOOD_CSV = DATA / "orders_good.csv"
GOOD_JSON = DATA / "orders_good.json"


def _database(url):
    db.upgrade(url)
    engine = db.make_engine(url)
    return engine, db.make_session_factory(engine)


def _add_shop(sessions, slug="test"):
    with db.transaction(sessions) as session:
        shop = Shop(slug=slug, name=f"Shop {slug}", identity_secret="s" * 32)
        session.add(shop)
        session.flush()
        return shop.id


@pytest.fixture
def shop(sqlite_url):
    """(sessions, shop id) on a fresh SQLite database."""
    engine, sessions = _database(sqlite_url)
    yield sessions, _add_shop(sessions)
    engine.dispose()


def _count(sessions, model):
    with sessions() as session:
        return session.execute(select(func.count()).select_from(model)).scalar()


def _counts(sessions):
    return {model.__name__: _count(sessions, model) for model in (Customer, Order, OrderItem, Shipment, Cancellation)}


def _order(sessions, shop_id, number):
    with sessions() as session:
        return db.get_order(session, shop_id, number)


def _snapshot(sessions, shop_id):
    """Everything the import writes for a shop, comparable across shops."""
    with sessions() as session:
        orders = session.execute(select(Order).where(Order.shop_id == shop_id).order_by(Order.number)).scalars()
        result = []
        for order in orders:
            order = db.get_order(session, shop_id, order.number)
            shipment, cancellation, customer = order.shipment, order.cancellation, order.customer
            result.append((
                order.number, order.status, order.logistics, order.created_at, order.paid_at, order.ready_to_ship_at,
                order.total_cents, order.currency, order.shipping_address,
                (customer.external_id, customer.name, customer.email, customer.phone),
                [(item.sku, item.name, item.quantity, item.unit_price_cents) for item in order.items],
                shipment and (shipment.carrier, shipment.tracking_number, shipment.shipped_at,
                              shipment.estimated_delivery, shipment.delivered_at),
                cancellation and (cancellation.type, cancellation.reason, cancellation.cancelled_at),
            ))
        return result


def _utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


# --- Good files --------------------------------------------------------------------------------

@pytest.mark.parametrize("url_fixture", ["sqlite_url", "postgres_url"])
def test_good_csv_is_imported_and_a_second_import_updates(request, url_fixture):
    engine, sessions = _database(request.getfixturevalue(url_fixture))
    shop_id = _add_shop(sessions)

    report = import_orders(sessions, shop_id, GOOD_CSV)

    assert (report.ok, report.created, report.updated) == (True, 4, 0)
    assert str(report) == "orders_good.csv: 4 orders created, 0 updated"
    assert _counts(sessions) == {"Customer": 3, "Order": 4, "OrderItem": 5, "Shipment": 2, "Cancellation": 1}

    delivered = _order(sessions, shop_id, "A-1001")
    assert delivered.status == vocabulary.DELIVERED and delivered.logistics == vocabulary.PLATFORM_LOGISTICS
    assert delivered.created_at == _utc(2024, 5, 1, 7, 15)
    assert delivered.total_cents == 2 * 1250 + 500
    assert [(i.sku, i.name, i.quantity, i.unit_price_cents) for i in delivered.items] == [
        ("MUG-01", "Coffee mug", 2, 1250), ("SPOON-2", "Tea spoon, silver", 1, 500),
    ]
    assert delivered.shipping_address == "Hauptstraße 5, 10115 Berlin\nGermany"
    shipment = delivered.shipment
    assert (shipment.carrier, shipment.tracking_number) == ("DHL", "JJD0001")
    assert shipment.shipped_at == _utc(2024, 5, 2, 8, 0)
    assert shipment.estimated_delivery == date(2024, 5, 4)
    assert shipment.delivered_at == _utc(2024, 5, 3, 15, 30)
    # Anna's details come from her newest order (A-1003); the e-mail is stored lower-case.
    assert (delivered.customer.external_id, delivered.customer.email, delivered.customer.phone) == (
        "C-17", "anna.mueller@example.com", "49301234567",
    )

    cancelled = _order(sessions, shop_id, "A-1002")
    assert cancelled.currency == "EUR" and cancelled.shipment is None and cancelled.total_cents == 4990
    assert (cancelled.cancellation.type, cancelled.cancellation.reason) == ("by_buyer", "Changed my mind")
    assert cancelled.cancellation.cancelled_at == _utc(2024, 5, 4, 7, 0)

    self_shipped = _order(sessions, shop_id, "A-1003")
    assert self_shipped.logistics == vocabulary.SELF_SHIPPING and self_shipped.shipment.delivered_at is None

    pending = _order(sessions, shop_id, "A-1004")
    assert (pending.currency, pending.logistics, pending.paid_at) == ("EUR", "platform", None)
    assert pending.total_cents == 10000
    assert pending.customer.phone is None

    before = _snapshot(sessions, shop_id)
    again = import_orders(sessions, shop_id, GOOD_CSV)
    assert (again.ok, again.created, again.updated) == (True, 0, 4)
    assert _counts(sessions) == {"Customer": 3, "Order": 4, "OrderItem": 5, "Shipment": 2, "Cancellation": 1}
    assert _snapshot(sessions, shop_id) == before
    engine.dispose()


def test_json_gives_the_same_orders_as_the_same_csv(sqlite_url):
    engine, sessions = _database(sqlite_url)
    from_csv, from_json = _add_shop(sessions, "csv"), _add_shop(sessions, "json")

    assert import_orders(sessions, from_csv, GOOD_CSV).created == 4
    report = import_orders(sessions, from_json, GOOD_JSON)

    assert (report.ok, report.created, report.updated) == (True, 4, 0)
    assert _snapshot(sessions, from_json) == _snapshot(sessions, from_csv)
    assert import_orders(sessions, from_json, GOOD_JSON).updated == 4
    engine.dispose()


def test_reimport_replaces_items_and_keeps_the_parcels_tracking(shop, tmp_path):
    sessions, shop_id = shop
    import_orders(sessions, shop_id, GOOD_JSON)
    with db.transaction(sessions) as session:
        shipment = db.get_order(session, shop_id, "A-1003").shipment
        shipment.events.append(TrackingEvent(occurred_at=_utc(2024, 6, 13), location="Hub", description="Sorted"))
    orders = json.loads(GOOD_JSON.read_text())
    orders[0]["items"] = [{"sku": "MUG-01", "name": "Coffee mug", "quantity": 4, "unit_price": "12.50"}]
    orders[1]["customer_email"] = "ben.okafor@example.org"
    orders[2]["status"] = "delivered"
    orders[2]["shipment"]["delivered_at"] = "2024-06-14T16:00:00+01:00"
    changed = tmp_path / "orders.json"
    changed.write_text(json.dumps(orders))

    report = import_orders(sessions, shop_id, changed)

    assert (report.ok, report.created, report.updated) == (True, 0, 4)
    mugs = _order(sessions, shop_id, "A-1001")
    assert [(i.sku, i.quantity) for i in mugs.items] == [("MUG-01", 4)] and mugs.total_cents == 5000
    assert _order(sessions, shop_id, "A-1002").customer.email == "ben.okafor@example.org"
    delivered = _order(sessions, shop_id, "A-1003")
    assert delivered.status == "delivered" and delivered.shipment.delivered_at == _utc(2024, 6, 14, 15, 0)
    assert [event.description for event in delivered.shipment.events] == ["Sorted"]
    assert _counts(sessions) == {"Customer": 3, "Order": 4, "OrderItem": 4, "Shipment": 2, "Cancellation": 1}


def test_reimport_keeps_a_pending_cancellation_request_and_drops_what_the_file_no_longer_has(shop, tmp_path):
    sessions, shop_id = shop
    import_orders(sessions, shop_id, GOOD_JSON)
    with db.transaction(sessions) as session:
        pending = db.get_order(session, shop_id, "A-1004")
        pending.cancellation = Cancellation(type="by_buyer", reason="Too slow", requested_at=_utc(2024, 6, 21))
        in_delivery = db.get_order(session, shop_id, "A-1003")
        in_delivery.shipment.events.append(TrackingEvent(occurred_at=_utc(2024, 6, 13), location="Hub", description=""))
    orders = json.loads(GOOD_JSON.read_text())
    orders[1]["status"] = "ready_to_ship"  # no longer cancelled
    del orders[1]["cancellation"]
    orders[2]["shipment"]["tracking_number"] = "H999"  # another parcel
    orders[0]["status"] = "ready_to_ship"  # not shipped after all
    del orders[0]["shipment"]
    changed = tmp_path / "orders.json"
    changed.write_text(json.dumps(orders))

    assert import_orders(sessions, shop_id, changed).updated == 4

    assert _order(sessions, shop_id, "A-1004").cancellation.reason == "Too slow"
    assert _order(sessions, shop_id, "A-1002").cancellation is None
    assert _order(sessions, shop_id, "A-1001").shipment is None
    parcel = _order(sessions, shop_id, "A-1003").shipment
    assert parcel.tracking_number == "H999" and parcel.events == []
    assert _count(sessions, TrackingEvent) == 0 and _count(sessions, Shipment) == 1


# --- Bad rows: everything reported, nothing imported -------------------------------------------

HEADER = GOOD_CSV.read_text(encoding="utf-8").split("\n", 1)[0].split(",")
BASE_ROW = {
    "order_number": "B-101", "created_at": "2024-07-01T10:00:00Z", "status": "ready_to_ship",
    "customer_id": "C-50", "customer_name": "Dana Test", "customer_email": "dana@example.com",
    "shipping_address": "1 Test Road", "item_sku": "SKU-1", "item_name": "Thing", "item_quantity": "1",
    "item_unit_price": "9.99",
}
SHIPPED = {"carrier": "DHL", "tracking_number": "JJD9", "shipped_at": "2024-07-02T10:00:00Z"}


def _write_csv(path, rows, header=HEADER):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({**BASE_ROW, **row})
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def test_a_file_with_bad_rows_imports_nothing_and_reports_every_one(shop, tmp_path):
    sessions, shop_id = shop
    import_orders(sessions, shop_id, GOOD_CSV)
    before = _snapshot(sessions, shop_id)
    path = _write_csv(tmp_path / "orders.csv", [
        {},                                                                     # 2: good
        {"order_number": "B-102", "customer_email": "dana at example.com"},     # 3
        {"order_number": "B-103", "created_at": "2024-07-01T10:00:00"},         # 4: naive
        {"order_number": "B-104", "status": "shipped"},                         # 5
        {"order_number": "B-105", "item_quantity": "-1"},                       # 6
        {"order_number": "B-106", "item_unit_price": "12,50"},                  # 7
        {"order_number": "B-107", "item_unit_price": "1.999"},                  # 8
        {"order_number": "B-108", "status": "delivered", **SHIPPED},            # 9: no delivered_at
        {"order_number": "B-109", "status": "cancelled", "cancellation_type": "by_seller"},  # 10: no reason
        {"item_sku": "SKU-2"},                                                  # 11: B-101's second item, good
        {"order_number": "B-110", "status": "in_delivery"},                     # 12: no shipment
        {"order_number": "B-111", "carrier": "DHL"},                            # 13: partial shipment
        {"created_at": "2024-07-05T10:00:00Z"},                                 # 14: another B-101
        {"order_number": "A-1001", "customer_phone": "12-34"},                  # 15: existing order, bad phone
    ])

    report = import_orders(sessions, shop_id, path)

    assert (report.ok, report.created, report.updated) == (False, 0, 0)
    assert [(error.line, error.field) for error in report.errors] == [
        (3, "customer_email"), (4, "created_at"), (5, "status"), (6, "item_quantity"), (7, "item_unit_price"),
        (8, "item_unit_price"), (9, "delivered_at"), (10, "cancellation_reason"), (12, "status"),
        (13, "tracking_number"), (13, "shipped_at"), (14, "created_at"), (15, "customer_phone"),
    ]
    lines = str(report).splitlines()
    assert lines[0] == "orders.csv:3: customer_email: not an e-mail address"
    assert lines[1].startswith("orders.csv:4: created_at: '2024-07-01T10:00:00' has no time zone")
    assert lines[2].startswith("orders.csv:5: status: 'shipped' is not one of: pending_payment, ready_to_ship")
    assert lines[3] == "orders.csv:6: item_quantity: must be a positive whole number"
    assert "decimal separator" in lines[4] and "at most 2 decimals" in lines[5]
    assert lines[6] == "orders.csv:9: delivered_at: required when status is delivered"
    assert lines[7] == "orders.csv:10: cancellation_reason: required when status is cancelled"
    assert lines[8].startswith("orders.csv:12: status: in_delivery needs a shipment")
    assert "differs from '2024-07-01T10:00:00Z' on line 2" in lines[11]
    assert lines[12] == "orders.csv:15: customer_phone: must have 7 to 15 digits, has 4"
    assert lines[-1] == "orders.csv: 13 errors, nothing imported"
    assert _snapshot(sessions, shop_id) == before
    assert _count(sessions, Order) == 4


def test_missing_required_columns_are_one_error_on_the_header_line(shop, tmp_path):
    sessions, shop_id = shop
    header = [name for name in HEADER if name not in ("status", "customer_email")]
    path = _write_csv(tmp_path / "orders.csv", [{}], header=header)

    report = import_orders(sessions, shop_id, path)

    assert str(report).splitlines() == [
        "orders.csv:1: missing required columns: status, customer_email",
        "orders.csv: 1 error, nothing imported",
    ]


def test_a_row_with_too_many_values_is_reported(shop, tmp_path):
    sessions, shop_id = shop
    path = _write_csv(tmp_path / "orders.csv", [{}])
    good_row = path.read_text().splitlines()[1]
    path.write_text(path.read_text() + good_row.replace("1 Test Road", "1 Test Road, Leeds") + "\n")

    report = import_orders(sessions, shop_id, path)

    assert [(error.line, error.field) for error in report.errors] == [(3, "")]
    assert "has 25 values but the header has 24 columns" in str(report)
    assert _count(sessions, Order) == 0


def test_broken_quotes_are_reported_where_the_row_starts(shop, tmp_path):
    sessions, shop_id = shop
    path = tmp_path / "orders.csv"
    path.write_text(GOOD_CSV.read_text() + '"A-1005,2024-07-01T10:00:00Z\nmore\nlines\n')

    assert _only_error(import_orders(sessions, shop_id, path)) == (
        "orders.csv:9: not valid CSV: unexpected end of data (in the row that starts on this line)"
    )


def test_semicolon_separated_csv_is_read(shop, tmp_path):
    sessions, shop_id = shop
    path = _write_csv(tmp_path / "orders.csv", [{}])
    path.write_text(path.read_text().replace(",", ";"))

    assert import_orders(sessions, shop_id, path).created == 1


def test_json_errors_name_the_path(shop, tmp_path):
    sessions, shop_id = shop
    orders = json.loads(GOOD_JSON.read_text())
    del orders[0]["customer_email"]
    orders[1]["items"][0]["quantity"] = 0
    orders[2]["shipment"] = {"carrier": "DHL", "tracking_number": "X1"}
    orders[3]["order_number"] = "A-1001"
    orders[3]["items"][0]["unit_price"] = True
    orders.append({**orders[3], "order_number": "A-1005", "items": []})
    orders.append("A-1006")
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(orders))

    report = import_orders(sessions, shop_id, path)

    assert str(report).splitlines() == [
        "orders.json: order[0].customer_email: required",
        "orders.json: order[1].items[0].quantity: must be a positive whole number",
        "orders.json: order[2].shipment.shipped_at: required for a shipment: "
        "carrier, tracking_number and shipped_at go together",
        "orders.json: order[3].items[0].unit_price: must be text or a number, not true",
        "orders.json: order[3].order_number: A-1001 is also the number of order[0]",
        "orders.json: order[4].items: required: a list of at least one item",
        "orders.json: order[5]: must be an object",
        "orders.json: 7 errors, nothing imported",
    ]
    assert _count(sessions, Order) == 0


def test_order_numbers_shoppers_cannot_look_up_are_refused(shop, tmp_path):
    """The chat takes no text without 3 digits for an order number ("ABC-XY"), so such an order
    could never be asked about."""
    sessions, shop_id = shop
    csv_path = _write_csv(tmp_path / "orders.csv", [{}, {"order_number": "ABC-XY"}])
    orders = json.loads(GOOD_JSON.read_text())
    orders[1]["order_number"] = "ABC-XY"
    json_path = tmp_path / "orders.json"
    json_path.write_text(json.dumps(orders))
    reason = (
        "'ABC-XY' is not an order number shoppers can look up: use 3 to 32 letters, digits or '-', "
        "starting with a letter or digit, with at least 3 digits, such as 100245 or A-1001"
    )

    assert str(import_orders(sessions, shop_id, csv_path)).splitlines() == [
        f"orders.csv:3: order_number: {reason}", "orders.csv: 1 error, nothing imported",
    ]
    assert str(import_orders(sessions, shop_id, json_path)).splitlines() == [
        f"orders.json: order[1].order_number: {reason}", "orders.json: 1 error, nothing imported",
    ]
    assert _count(sessions, Order) == 0

    _write_csv(csv_path, [{}, {"order_number": "ABC-123"}])
    orders[1]["order_number"] = "XY-200"
    json_path.write_text(json.dumps(orders))
    assert (import_orders(sessions, shop_id, csv_path).created, import_orders(sessions, shop_id, json_path).created) == (2, 4)
    for typed in ("#ABC-123", "XY-200", "B-101"):  # as a shopper types them in the chat
        assert _order(sessions, shop_id, vocabulary.normalise_order_number(typed)) is not None, typed


# --- Files that cannot be read -----------------------------------------------------------------

def _only_error(report):
    assert (report.ok, report.created, report.updated, len(report.errors)) == (False, 0, 0, 1), str(report)
    return report.errors[0].format(report.file_name)


def test_non_utf8_file(shop, tmp_path):
    sessions, shop_id = shop
    path = tmp_path / "orders.csv"
    path.write_bytes(GOOD_CSV.read_text(encoding="utf-8").encode("latin-1"))

    assert _only_error(import_orders(sessions, shop_id, path)) == (
        "orders.csv:2: not UTF-8 text (byte 0xfc on this line): save the export as UTF-8"
    )
    assert _count(sessions, Order) == 0


def test_unknown_extension_and_missing_file(shop, tmp_path):
    sessions, shop_id = shop
    path = tmp_path / "orders.xlsx"
    path.write_bytes(b"PK\x03\x04")

    assert _only_error(import_orders(sessions, shop_id, path)) == (
        "orders.xlsx:1: unsupported file type '.xlsx': export the orders as .csv or .json"
    )
    assert "cannot read the file: No such file" in _only_error(import_orders(sessions, shop_id, tmp_path / "no.csv"))


@pytest.mark.parametrize("name, content, reason", [
    ("orders.csv", "", "the file is empty"),
    ("orders.json", " \n\n", "the file is empty"),
    ("orders.csv", "\ufeff", "the file is empty"),
    ("orders.csv", ",".join(HEADER) + "\n", "no orders: the file has a header but no rows"),
    ("orders.json", "[]", "no orders: the list is empty"),
    ("orders.json", '{"orders": []}', "must be a list of orders: [{...}, {...}]"),
])
def test_empty_files(shop, tmp_path, name, content, reason):
    sessions, shop_id = shop
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    assert _only_error(import_orders(sessions, shop_id, path)) == f"{name}:1: {reason}"


def test_invalid_json_names_the_line(shop, tmp_path):
    sessions, shop_id = shop
    path = tmp_path / "orders.json"
    path.write_text('[\n  {"order_number": "A-1"\n  "status": "delivered"}\n]')

    assert _only_error(import_orders(sessions, shop_id, path)).startswith("orders.json:3: not valid JSON")


def test_size_and_row_limits(shop, monkeypatch, tmp_path):
    sessions, shop_id = shop
    monkeypatch.setattr(importer, "MAX_FILE_BYTES", 1024 * 1024)
    big = tmp_path / "orders.csv"
    big.write_bytes(b"x" * (1024 * 1024 + 1))
    assert "the file is 1.0 MB, more than the limit of 1 MB" in _only_error(import_orders(sessions, shop_id, big))

    monkeypatch.setattr(importer, "MAX_ROWS", 4)
    assert _only_error(import_orders(sessions, shop_id, GOOD_CSV)) == (
        "orders_good.csv:1: more than 4 rows: split the export into smaller files"
    )
    assert "more than 4 items" in _only_error(import_orders(sessions, shop_id, GOOD_JSON))
    assert _count(sessions, Order) == 0


def test_unknown_shop_is_an_exception_not_a_data_error(shop):
    sessions, _ = shop
    with pytest.raises(NotFound):
        import_orders(sessions, 999, GOOD_CSV)


# --- The validators ----------------------------------------------------------------------------

@pytest.mark.parametrize("column, value, expected", [
    ("order_number", "A-1001", "A-1001"),
    ("created_at", "2024-05-01T14:30:00Z", _utc(2024, 5, 1, 14, 30)),
    ("created_at", "2024-05-01 14:30:00+0200", _utc(2024, 5, 1, 12, 30)),
    ("status", "Delivered", "delivered"),
    ("customer_email", "Dana.Test+shop@Example.CO.uk", "dana.test+shop@example.co.uk"),
    ("customer_phone", "+44 (20) 7946-0958", "442079460958"),
    ("currency", "gbp", "GBP"),
    ("item_quantity", "12", 12),
    ("item_unit_price", "12.5", 1250),
    ("item_unit_price", "0.99", 99),
    ("item_unit_price", "1000000.00", 100_000_000),
    ("estimated_delivery", "2024-05-04", date(2024, 5, 4)),
])
def test_valid_values(column, value, expected):
    assert importer.COLUMN[column].parse(value) == expected


@pytest.mark.parametrize("column, value, reason", [
    ("order_number", "#1001", "'#1001' is not an order number shoppers can look up"),
    ("order_number", "12", "with at least 3 digits"),
    ("order_number", "ABC-XY", "'ABC-XY' is not an order number shoppers can look up"),
    ("order_number", "-1001", "starting with a letter or digit"),
    ("created_at", "2024-05-01", "has no time"),
    ("created_at", "yesterday", "is not an ISO 8601 date and time"),
    ("created_at", "2024-05-01T14:30:00", "has no time zone"),
    ("customer_email", "dana@localhost", "not an e-mail address"),
    ("customer_email", "dana..test@example.com", "not an e-mail address"),
    ("customer_phone", "call me", "is not a phone number"),
    ("customer_phone", "+1 234 567 890 123 456", "must have 7 to 15 digits, has 16"),
    ("currency", "€", "must be a 3-letter currency code"),
    ("logistics", "courier", "'courier' is not one of: platform, self"),
    ("cancellation_type", "buyer", "is not one of: by_seller, automatic, logistics_obstacle, by_buyer"),
    ("item_quantity", "0", "must be a positive whole number"),
    ("item_quantity", "1.5", "must be a positive whole number"),
    ("item_unit_price", "-3.00", "must not be negative"),
    ("item_unit_price", "€12", "is not a price"),
    ("item_unit_price", "1000000.01", "more than 1,000,000.00"),
    ("estimated_delivery", "04/05/2024", "is not a date in the form YYYY-MM-DD"),
    ("item_sku", "S" * 65, "longer than 64 characters"),
])
def test_invalid_values(column, value, reason):
    with pytest.raises(importer.Invalid, match=None) as error:
        importer.COLUMN[column].parse(value)
    assert reason in str(error.value)
