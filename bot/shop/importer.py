"""Import a shop's order export (CSV or JSON) into the database.

`import_orders` reads the whole file, checks every value, and writes only when
nothing is wrong: one bad value anywhere means nothing is imported, and the
report lists every problem with its place in the file. The file format is
described in docs/import.md.

The code runs in three steps:

1. read: the file's text, and the file-level checks (size, encoding, empty);
2. parse: CSV rows or JSON objects become `ParsedOrder`s, each value checked
   by the validator of its column (the column tables below);
3. write: in one transaction, insert new orders and customers and update
   existing ones.
"""
import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.shop.db import Cancellation, Customer, Order, OrderItem, Shipment, Shop, transaction, utcnow
from bot.shop.vocabulary import (
    CANCELLATION_TYPES, CANCELLED, DELIVERED, IN_DELIVERY, LOGISTICS, ORDER_NUMBER_FORMAT, ORDER_STATUSES,
    PLATFORM_LOGISTICS, is_order_number,
)
from bot.errors import NotFound

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_ROWS = 100_000  # CSV data rows; for JSON, items (an order without items counts as one)
MAX_QUANTITY = 1_000_000
MAX_UNIT_PRICE_CENTS = 100_000_000  # 1,000,000.00
MAX_TOTAL_CENTS = 2_147_483_647  # the largest value of the database's integer column


# --- The report ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportIssue:
    """One problem in the file.

    `line` is the file's line number for CSV (the header is line 1) and for
    problems with the file as a whole; for a JSON record it is the record's
    path, such as "order[3].items[0]" (indices count from 0).
    `field` is the column or key ("" when the problem is not about one field).
    """

    line: Union[int, str]
    field: str
    reason: str

    def format(self, file_name: str) -> str:
        if isinstance(self.line, int):
            where = f"{file_name}:{self.line}:"
            return f"{where} {self.field}: {self.reason}" if self.field else f"{where} {self.reason}"
        path = ".".join(part for part in (self.line, self.field) if part)
        return f"{file_name}: {path}: {self.reason}"


@dataclass
class ImportReport:
    file_name: str
    created: int = 0
    updated: int = 0
    errors: List[ImportIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def __str__(self) -> str:
        lines = [error.format(self.file_name) for error in self.errors]
        if self.errors:
            count = len(self.errors)
            lines.append(f"{self.file_name}: {count} error{'s' if count != 1 else ''}, nothing imported")
        else:
            lines.append(f"{self.file_name}: {self.created} orders created, {self.updated} updated")
        return "\n".join(lines)


class Invalid(ValueError):
    """A value a validator refuses; the message is the reason shown to the user."""


# --- Validators: one per kind of value; each takes a non-empty, stripped string -------------

DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL = re.compile(rf"[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{DOMAIN_LABEL}(?:\.{DOMAIN_LABEL})+")
PRICE = re.compile(r"\d+(?:\.\d{1,2})?")
NUMERIC_OFFSET = re.compile(r"([+-]\d\d)(\d\d)$")  # +0200 -> +02:00 (Python 3.10 needs the colon)


def text(max_length: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if len(value) > max_length:
            raise Invalid(f"longer than {max_length} characters")
        return value

    return parse


def choice(options: Sequence[str]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value.lower() not in options:
            raise Invalid(f"'{_short(value)}' is not one of: {', '.join(options)}")
        return value.lower()

    return parse


def order_number(value: str) -> str:
    """An order number as the chat looks it up: shoppers could never ask about another."""
    if not is_order_number(value):
        raise Invalid(
            f"'{_short(value)}' is not an order number shoppers can look up: "
            f"use {ORDER_NUMBER_FORMAT}, such as 100245 or A-1001"
        )
    return value


def timestamp(value: str) -> datetime:
    """An ISO 8601 date and time with a time zone, returned in UTC."""
    normalized = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else NUMERIC_OFFSET.sub(r"\1:\2", value)
    try:
        parsed = datetime.fromisoformat(normalized)
    except ValueError:
        raise Invalid(f"'{_short(value)}' is not an ISO 8601 date and time, such as 2024-05-01T14:30:00+02:00")
    if len(value) <= 10:
        raise Invalid(f"'{value}' has no time: give a date, time and time zone, such as 2024-05-01T14:30:00+02:00")
    if parsed.tzinfo is None:
        raise Invalid(f"'{_short(value)}' has no time zone: add the offset, such as +02:00, or Z for UTC")
    return parsed.astimezone(timezone.utc)


def day(value: str) -> date:
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"'{_short(value)}' is not a date in the form YYYY-MM-DD")


def email(value: str) -> str:
    local = value.split("@", 1)[0]
    if len(value) > 254 or ".." in value or local[:1] == "." or local[-1:] == "." or not EMAIL.fullmatch(value):
        raise Invalid("not an e-mail address")
    return value.lower()


def phone(value: str) -> str:
    """Digits only (with the country code, if the export has one)."""
    if re.search(r"[^0-9 +()./-]", value):
        raise Invalid(f"'{_short(value)}' is not a phone number")
    digits = re.sub(r"\D", "", value)
    if not 7 <= len(digits) <= 15:
        raise Invalid(f"must have 7 to 15 digits, has {len(digits)}")
    return digits


def currency(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise Invalid("must be a 3-letter currency code, such as EUR")
    return value.upper()


def quantity(value: str) -> int:
    if not re.fullmatch(r"[0-9]+", value) or int(value) < 1:
        raise Invalid("must be a positive whole number")
    if int(value) > MAX_QUANTITY:
        raise Invalid(f"more than {MAX_QUANTITY}")
    return int(value)


def price(value: str) -> int:
    """A price such as 12.50, in cents."""
    if value.startswith("-"):
        raise Invalid("must not be negative")
    if re.fullmatch(r"\d+,\d{1,2}", value):
        raise Invalid(f"'{value}': use '.' as the decimal separator, such as 12.50")
    if not PRICE.fullmatch(value):
        raise Invalid(f"'{_short(value)}' is not a price: use a number with at most 2 decimals, such as 12.50")
    cents = int(Decimal(value) * 100)
    if cents > MAX_UNIT_PRICE_CENTS:
        raise Invalid(f"more than {_money(MAX_UNIT_PRICE_CENTS)}")
    return cents


def _short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _money(cents: int) -> str:
    return f"{cents // 100:,}.{cents % 100:02d}"


# --- The columns -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """A CSV column, and where the same value sits in the JSON format.

    JSON keeps order fields at the top of an order object, item fields in
    `items[i]` and shipment and cancellation fields in their own objects
    (`group`), under `key` (the CSV name without its prefix).
    """

    name: str
    parse: Callable[[str], Any]
    required: bool = False
    default: Any = None
    group: str = ""  # "", "items", "shipment" or "cancellation"
    key: str = ""

    @property
    def json_key(self) -> str:
        return self.key or self.name


ORDER_COLUMNS = (
    Column("order_number", order_number, required=True),
    Column("created_at", timestamp, required=True),
    Column("status", choice(ORDER_STATUSES), required=True),
    Column("logistics", choice(LOGISTICS), default=PLATFORM_LOGISTICS),
    Column("customer_id", text(128), required=True),
    Column("customer_name", text(200), required=True),
    Column("customer_email", email, required=True),
    Column("customer_phone", phone),
    Column("shipping_address", text(1000), required=True),
    Column("currency", currency, default="EUR"),
    Column("paid_at", timestamp),
    Column("ready_to_ship_at", timestamp),
)
ITEM_COLUMNS = (
    Column("item_sku", text(64), required=True, group="items", key="sku"),
    Column("item_name", text(200), required=True, group="items", key="name"),
    Column("item_quantity", quantity, required=True, group="items", key="quantity"),
    Column("item_unit_price", price, required=True, group="items", key="unit_price"),
)
SHIPMENT_COLUMNS = (
    Column("carrier", text(64), group="shipment"),
    Column("tracking_number", text(64), group="shipment"),
    Column("shipped_at", timestamp, group="shipment"),
    Column("estimated_delivery", day, group="shipment"),
    Column("delivered_at", timestamp, group="shipment"),
)
CANCELLATION_COLUMNS = (
    Column("cancellation_type", choice(CANCELLATION_TYPES), group="cancellation", key="type"),
    Column("cancellation_reason", text(300), group="cancellation", key="reason"),
    Column("cancelled_at", timestamp, group="cancellation"),
)
# The columns whose values belong to the order (the same on every CSV row of one order).
ORDER_LEVEL_COLUMNS = ORDER_COLUMNS + SHIPMENT_COLUMNS + CANCELLATION_COLUMNS
ALL_COLUMNS = ORDER_LEVEL_COLUMNS + ITEM_COLUMNS
REQUIRED_COLUMNS = tuple(column.name for column in ALL_COLUMNS if column.required)
SHIPMENT_REQUIRED = ("carrier", "tracking_number", "shipped_at")  # a shipment needs all three
COLUMN = {column.name: column for column in ALL_COLUMNS}
ITEMS = Column("items", str)  # where order-wide item problems (the total) are reported


Report = Callable[[Column, str], None]  # records a problem with a column's value, at its place in the file


def parse_columns(
    columns: Sequence[Column], raw: Callable[[Column], Optional[str]], report: Report
) -> Tuple[Dict[str, Any], set]:
    """Check each column's raw value: the parsed values by name, and the names that were invalid."""
    values, invalid = {}, set()
    for column in columns:
        try:
            value = raw(column)
        except Invalid as error:
            report(column, str(error))
            invalid.add(column.name)
            continue
        value = (value or "").strip()
        if not value:
            if column.required:
                report(column, "required")
                invalid.add(column.name)
            values[column.name] = column.default
            continue
        try:
            values[column.name] = column.parse(value)
        except Invalid as error:
            report(column, str(error))
            invalid.add(column.name)
    return values, invalid


# --- Parsed orders and the rules across fields -----------------------------------------------


@dataclass
class ParsedOrder:
    values: Dict[str, Any]  # parsed order, shipment and cancellation values by column name
    invalid: set  # the order-level columns that were invalid
    report: Report  # reports a problem with an order-level column, at the order's place in the file
    items: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def number(self) -> str:
        return self.values.get("order_number")

    def given(self, name: str) -> bool:
        return self.values.get(name) is not None or name in self.invalid


def check_order(order: ParsedOrder) -> None:
    """The rules that involve more than one field of an order."""
    values, report = order.values, order.report
    shipment_given = [c.name for c in SHIPMENT_COLUMNS if order.given(c.name)]
    if shipment_given:
        for name in SHIPMENT_REQUIRED:
            if not order.given(name):
                report(COLUMN[name], "required for a shipment: carrier, tracking_number and shipped_at go together")
    status = None if "status" in order.invalid else values.get("status")
    if status in (IN_DELIVERY, DELIVERED) and not shipment_given:
        report(COLUMN["status"], f"{status} needs a shipment: give carrier, tracking_number and shipped_at")
    if status == DELIVERED and shipment_given and not order.given("delivered_at"):
        report(COLUMN["delivered_at"], "required when status is delivered")
    if status == CANCELLED:
        for name in ("cancellation_type", "cancellation_reason"):
            if not order.given(name):
                report(COLUMN[name], "required when status is cancelled")
    elif status is not None:
        for column in CANCELLATION_COLUMNS:
            if order.given(column.name):
                report(column, f"only allowed when status is cancelled (status is {status})")
    total = sum(item["item_quantity"] * item["item_unit_price"] for item in order.items)
    if total > MAX_TOTAL_CENTS:
        report(ITEMS, f"order total {_money(total)} is more than the largest possible, {_money(MAX_TOTAL_CENTS)}")


# --- Reading the file ------------------------------------------------------------------------

class FileProblem(Exception):
    """The file as a whole cannot be imported: one issue, no parsing."""

    def __init__(self, reason: str, line: int = 1):
        super().__init__(reason)
        self.issue = ImportIssue(line, "", reason)


def read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise FileProblem(
                f"the file is {size / 1024 / 1024:.1f} MB, more than the limit of "
                f"{MAX_FILE_BYTES // 1024 // 1024} MB: split the export into smaller files"
            )
        data = path.read_bytes()
    except OSError as error:
        raise FileProblem(f"cannot read the file: {error.strerror or error}")
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise FileProblem(
            f"not UTF-8 text (byte 0x{data[error.start]:02x} on this line): save the export as UTF-8", line
        )
    if not content.strip():
        raise FileProblem("the file is empty")
    return content


# --- CSV -------------------------------------------------------------------------------------

def parse_csv(content: str) -> Tuple[List[ParsedOrder], List[ImportIssue]]:
    issues: List[ImportIssue] = []
    first_line = content.split("\n", 1)[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [name.strip().lower() for name in next(reader)]
        _check_header(header)
        orders: Dict[str, ParsedOrder] = {}
        first_rows: Dict[str, Tuple[int, Dict[str, str]]] = {}  # order number -> line and raw values
        for line, values in _records(reader):
            row = _row(header, values, line, issues)
            if row is None:
                continue
            key = row.get("order_number", "").strip() or f"line {line}"  # rows without a number stand alone

            def report(column: Column, reason: str, line: int = line) -> None:
                issues.append(ImportIssue(line, column.name, reason))

            if key not in orders:
                order_values, invalid = parse_columns(ORDER_LEVEL_COLUMNS, lambda c: row.get(c.name), report)
                orders[key] = ParsedOrder(order_values, invalid, report)
                first_rows[key] = (line, row)
            else:
                _check_agreement(row, *first_rows[key], report)
            item, invalid = parse_columns(ITEM_COLUMNS, lambda c: row.get(c.name), report)
            if not invalid:
                orders[key].items.append(item)
    except csv.Error as error:
        return [], [ImportIssue(reader.line_num or 1, "", f"not valid CSV: {error}")]
    except FileProblem as problem:
        return [], [problem.issue]
    if not orders and not issues:
        return [], [ImportIssue(1, "", "no orders: the file has a header but no rows")]
    for order in orders.values():
        check_order(order)
    issues.sort(key=lambda issue: issue.line)  # the order-wide checks come last; the sort is stable
    return list(orders.values()), issues


def _check_header(header: List[str]) -> None:
    duplicates = sorted({name for name in header if name and header.count(name) > 1})
    if duplicates:
        raise FileProblem(f"column{'s' if len(duplicates) > 1 else ''} {', '.join(duplicates)} appear more than once")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise FileProblem(f"missing required column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")


def _records(reader) -> Iterator[Tuple[int, List[str]]]:
    """The data records with the line each starts on (a quoted value may span lines); blank lines skipped."""
    count = 0
    while True:
        line = reader.line_num + 1
        try:
            values = next(reader, None)
        except csv.Error as error:  # reported where the broken row starts, not where the reader gave up
            raise FileProblem(f"not valid CSV: {error} (in the row that starts on this line)", line)
        if values is None:
            return
        if not any(value.strip() for value in values):
            continue
        count += 1
        if count > MAX_ROWS:
            raise FileProblem(f"more than {MAX_ROWS:,} rows: split the export into smaller files")
        yield line, values


def _row(header: List[str], values: List[str], line: int, issues: List[ImportIssue]) -> Optional[Dict[str, str]]:
    if len(values) != len(header):
        issues.append(ImportIssue(
            line, "", f"has {len(values)} values but the header has {len(header)} columns "
                      "(is a value with a comma missing its quotes?)"
        ))
        return None
    return dict(zip(header, values))


def _check_agreement(row: Dict[str, str], first_line: int, first_row: Dict[str, str], report: Report) -> None:
    """Every row of an order repeats the order's values; a difference is an error on the later row."""
    for column in ORDER_LEVEL_COLUMNS:
        value, expected = row.get(column.name, "").strip(), first_row.get(column.name, "").strip()
        if value != expected:
            report(column, f"'{_short(value)}' differs from '{_short(expected)}' on line {first_line}, "
                           f"the first row of order {first_row['order_number'].strip()}")


# --- JSON ------------------------------------------------------------------------------------

def parse_json(content: str) -> Tuple[List[ParsedOrder], List[ImportIssue]]:
    try:
        data = json.loads(content, parse_float=Decimal)
    except json.JSONDecodeError as error:
        return [], [ImportIssue(error.lineno, "", f"not valid JSON: {error.msg} (column {error.colno})")]
    if not isinstance(data, list):
        return [], [ImportIssue(1, "", "must be a list of orders: [{...}, {...}]")]
    if not data:
        return [], [ImportIssue(1, "", "no orders: the list is empty")]
    rows = sum(_item_count(entry) for entry in data)
    if rows > MAX_ROWS:
        return [], [ImportIssue(1, "", f"more than {MAX_ROWS:,} items: split the export into smaller files")]
    issues: List[ImportIssue] = []
    orders: List[ParsedOrder] = []
    seen: Dict[str, str] = {}  # order number -> path of the order that has it
    for index, entry in enumerate(data):
        path = f"order[{index}]"
        order = _parse_json_order(entry, path, issues)
        if order is None:
            continue
        if order.number in seen:
            order.report(COLUMN["order_number"], f"{order.number} is also the number of {seen[order.number]}")
        elif order.number:
            seen[order.number] = path
        check_order(order)
        orders.append(order)
    return orders, issues


def _parse_json_order(entry: Any, path: str, issues: List[ImportIssue]) -> Optional[ParsedOrder]:
    if not isinstance(entry, dict):
        issues.append(ImportIssue(path, "", "must be an object"))
        return None

    def report(column: Column, reason: str) -> None:
        issues.append(ImportIssue(f"{path}.{column.group}" if column.group else path, column.json_key, reason))

    objects = {"": entry}
    for group in ("shipment", "cancellation"):
        value = entry.get(group)
        if value is not None and not isinstance(value, dict):
            issues.append(ImportIssue(path, group, "must be an object"))
            value = None
        objects[group] = value or {}
    values, invalid = parse_columns(
        ORDER_LEVEL_COLUMNS, lambda column: _json_scalar(objects[column.group].get(column.json_key)), report
    )
    order = ParsedOrder(values, invalid, report)
    items = entry.get("items")
    if not isinstance(items, list) or not items:
        issues.append(ImportIssue(path, "items", "required: a list of at least one item"))
        items = []
    for position, item in enumerate(items):
        item_path = f"{path}.items[{position}]"
        if not isinstance(item, dict):
            issues.append(ImportIssue(item_path, "", "must be an object"))
            continue

        def report_item(column: Column, reason: str, item_path: str = item_path) -> None:
            issues.append(ImportIssue(item_path, column.json_key, reason))

        parsed, invalid_item = parse_columns(
            ITEM_COLUMNS, lambda column: _json_scalar(item.get(column.json_key)), report_item
        )
        if not invalid_item:
            order.items.append(parsed)
    return order


def _item_count(entry: Any) -> int:
    """How many CSV rows the order would have: one per item, at least one."""
    items = entry.get("items") if isinstance(entry, dict) else None
    return max(1, len(items)) if isinstance(items, list) else 1


def _json_scalar(value: Any) -> Optional[str]:
    """A JSON value as the text the validators check."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise Invalid(f"must be text or a number, not {str(value).lower()}")
    if isinstance(value, (int, Decimal)):
        return str(value)
    raise Invalid(f"must be text or a number, not {'a list' if isinstance(value, list) else 'an object'}")


# --- Writing ---------------------------------------------------------------------------------

PARSERS = {".csv": parse_csv, ".json": parse_json}


def import_orders(sessions: sessionmaker, shop_id: int, path: Path) -> ImportReport:
    """Import the orders in `path` (.csv or .json) into shop `shop_id`, all or nothing.

    Data problems are returned in the report, never raised; when there is any,
    the database is not touched. Raises NotFound when the shop does not exist.
    """
    path = Path(path)
    report = ImportReport(path.name)
    parse = PARSERS.get(path.suffix.lower())
    try:
        if parse is None:
            raise FileProblem(f"unsupported file type '{path.suffix}': export the orders as .csv or .json")
        orders, report.errors = parse(read_text(path))
    except FileProblem as problem:
        report.errors = [problem.issue]
    if report.errors:
        return report
    with transaction(sessions) as session:
        if session.get(Shop, shop_id) is None:
            raise NotFound(f"shop {shop_id} does not exist")
        report.created, report.updated = _write(session, shop_id, orders)
    return report


def _write(session: Session, shop_id: int, orders: List[ParsedOrder]) -> Tuple[int, int]:
    customers = _upsert_customers(session, shop_id, orders)
    existing = {
        order.number: order
        for chunk in _chunks([order.number for order in orders])
        for order in session.execute(
            select(Order)
            .where(Order.shop_id == shop_id, Order.number.in_(chunk))
            .options(
                selectinload(Order.items),
                selectinload(Order.shipment).selectinload(Shipment.events),
                selectinload(Order.cancellation),
            )
        ).scalars()
    }
    for parsed in orders:
        order = existing.get(parsed.number)
        if order is None:
            order = Order(shop_id=shop_id, number=parsed.number)
        _fill_order(order, parsed, customers[parsed.values["customer_id"]])
        session.add(order)
    updated = len(existing)
    return len(orders) - updated, updated


def _upsert_customers(session: Session, shop_id: int, orders: List[ParsedOrder]) -> Dict[str, Customer]:
    """The customers of the orders, by external id, created or updated from their newest order in the file."""
    newest: Dict[str, Dict[str, Any]] = {}
    for order in orders:
        values = order.values
        current = newest.get(values["customer_id"])
        if current is None or values["created_at"] > current["created_at"]:
            newest[values["customer_id"]] = values
    customers = {
        customer.external_id: customer
        for chunk in _chunks(list(newest))
        for customer in session.execute(
            select(Customer).where(Customer.shop_id == shop_id, Customer.external_id.in_(chunk))
        ).scalars()
    }
    for external_id, values in newest.items():
        customer = customers.get(external_id)
        if customer is None:
            customer = customers[external_id] = Customer(shop_id=shop_id, external_id=external_id)
            session.add(customer)
        customer.name = values["customer_name"]
        customer.email = values["customer_email"]
        if values["customer_phone"] is not None:  # an export without the phone keeps the one we have
            customer.phone = values["customer_phone"]
    return customers


def _fill_order(order: Order, parsed: ParsedOrder, customer: Customer) -> None:
    values = parsed.values
    order.customer = customer
    for name in ("status", "logistics", "created_at", "paid_at", "ready_to_ship_at", "currency", "shipping_address"):
        setattr(order, name, values[name])
    order.items = [
        OrderItem(
            sku=item["item_sku"], name=item["item_name"],
            quantity=item["item_quantity"], unit_price_cents=item["item_unit_price"],
        )
        for item in parsed.items
    ]
    order.total_cents = sum(item.quantity * item.unit_price_cents for item in order.items)
    _fill_shipment(order, values)
    _fill_cancellation(order, values)


def _fill_shipment(order: Order, values: Dict[str, Any]) -> None:
    """The file's shipment replaces the order's; the same parcel keeps its tracking events."""
    if values["tracking_number"] is None:
        order.shipment = None
        return
    shipment = order.shipment
    if shipment is None:
        shipment = order.shipment = Shipment()
    elif (shipment.carrier, shipment.tracking_number) != (values["carrier"], values["tracking_number"]):
        shipment.events = []  # another parcel: the old one's tracking does not apply
        shipment.problem = None
    for name in ("carrier", "tracking_number", "shipped_at", "estimated_delivery", "delivered_at"):
        setattr(shipment, name, values[name])


def _fill_cancellation(order: Order, values: Dict[str, Any]) -> None:
    """A cancelled order gets the file's cancellation; otherwise only a buyer's pending request stays."""
    cancellation = order.cancellation
    if values["status"] != CANCELLED:
        if cancellation is not None and cancellation.cancelled_at is not None:
            order.cancellation = None
        return
    cancelled_at = values["cancelled_at"] or (cancellation and cancellation.cancelled_at) or utcnow()
    if cancellation is None:
        cancellation = order.cancellation = Cancellation(requested_at=cancelled_at)
    cancellation.type = values["cancellation_type"]
    cancellation.reason = values["cancellation_reason"]
    cancellation.cancelled_at = cancelled_at


def _chunks(values: List[str], size: int = 500) -> Iterator[List[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]
