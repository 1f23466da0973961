"""The demo shop that `make setup` loads into a fresh database.

Two parts:

* Showcase orders 100001-100016 with fixed customers (cust-emma, cust-liam,
  cust-noah) and dates relative to `now`, one per situation the bot explains
  (see SHOWCASE). Their dates assume the default rules of shop.yml: a 12-day
  self-shipping deadline, 3 days "at risk", a 15-day return window.
* RANDOM_ORDERS further orders from FIRST_RANDOM_NUMBER upward over the last
  HISTORY_DAYS days, across RANDOM_CUSTOMERS customers, drawn from SCENARIOS so
  that every status, cancellation type and after-sales outcome occurs.

Everything comes from one random.Random(RANDOM_SEED), so the same `now` always
gives the same shop. Every date is timezone-aware UTC and none lies after `now`:
each life cycle is planned forwards and cut off at `now`, and the business rules
of bot/shop/rules.py decide what a request's history can be (the seller's
auto-approval rule, the platform's auto-approval after N hours).
"""
import os
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from itertools import product
from typing import Dict, List, Optional, Sequence, Tuple

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.shop import db
from bot.shop.accounts import create_user
from bot.shop.context import ShopContext
from bot.shop.db import (
    AfterSalesEvent, AfterSalesRequest, Cancellation, Customer, Order, OrderItem, Shipment, Shop, StaffUser,
    TrackingEvent, get_shop, transaction,
)
from bot.shop.rules import platform_auto_approval_at, seller_auto_approves
from bot.shop.settings import ShopSettings
from bot.shop.vocabulary import (
    APPROVED, AUTOMATIC, BUYER, BY_BUYER, BY_SELLER, CANCEL_INSTANTLY, CANCEL_ON_REQUEST, CANCELLED, CHANGED_MIND,
    DAMAGED, DECIDED_BY_PLATFORM, DECIDED_BY_SELLER, DECIDED_BY_SELLER_RULE, DELIVERED, IN_DELIVERY,
    LOGISTICS_OBSTACLE, MISSING_PARTS, NO_REFUND_NEEDED, NOT_AS_DESCRIBED, OTHER_REASON, PARCEL_DAMAGED,
    PARCEL_LOST, PARCEL_PROBLEMS, PENDING_PAYMENT, PLATFORM_LOGISTICS, READY_TO_SHIP, REFUND_ONLY, REFUND_PAID,
    REFUND_PENDING, REFUNDED, REJECTED, REPLACEMENT, REQUESTED, RETURN_AND_REFUND, RETURN_REASONS, SELF_SHIPPING,
    SIZE_FIT, WITHDRAWN, WRONG_ITEM,
)

# The key the demo storefront signs shopper identities with. A real shop sets its
# own secret in SHOP_IDENTITY_SECRET; this one is public.
DEMO_IDENTITY_SECRET = "demo-identity-secret"

RANDOM_SEED = 20261122
RANDOM_ORDERS = 340
RANDOM_CUSTOMERS = 60
FIRST_RANDOM_NUMBER = 100100
HISTORY_DAYS = 90
CURRENCY = "EUR"

PLATFORM_CARRIER = "SPX Express"
SELF_CARRIERS = ("Royal Mail", "DPD", "Evri")
SORTING_CENTRES = ("Coventry", "Milton Keynes", "Warrington", "Doncaster")
WAREHOUSE_TOWN = "Northampton"
LATE_SHIPPING_SHARE = 0.1  # of self-shipped parcels
PAYMENT_WINDOW = timedelta(hours=24)  # unpaid orders are cancelled after it


def days(n: float) -> timedelta:
    return timedelta(days=n)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price_cents: int


CATALOGUE = (
    Product("TSH-ORG-BLK-M", "Organic cotton T-shirt, black, M", 1990),
    Product("TSH-ORG-WHT-L", "Organic cotton T-shirt, white, L", 1990),
    Product("HOOD-GRY-M", "Zip hoodie, grey, M", 4490),
    Product("JEANS-SLIM-32", "Slim jeans, indigo, W32 L32", 5990),
    Product("SNK-RUN-42", "Running trainers, size 42", 7990),
    Product("SOCK-BMB-3PK", "Bamboo socks, 3-pack", 1290),
    Product("CAP-NAVY", "Baseball cap, navy", 1490),
    Product("BTL-STEEL-750", "Steel water bottle, 750 ml", 2490),
    Product("MUG-CER-350", "Ceramic mug, 350 ml", 1190),
    Product("BAG-TOTE", "Canvas tote bag", 1590),
    Product("HDPH-BT", "Wireless headphones", 5990),
    Product("SPK-MINI", "Mini Bluetooth speaker", 3490),
    Product("CHG-USBC-30W", "USB-C charger, 30 W", 1990),
    Product("CASE-PHONE", "Phone case, clear", 990),
    Product("LAMP-DESK-LED", "LED desk lamp", 3990),
    Product("CANDLE-CEDAR", "Soy candle, cedar", 1390),
    Product("NOTE-A5-DOT", "Dotted notebook, A5", 890),
    Product("PEN-GEL-12", "Gel pens, 12 colours", 790),
    Product("YOGA-MAT-6", "Yoga mat, 6 mm", 2990),
    Product("BACKPACK-20", "Backpack, 20 l", 4990),
)
PRODUCTS = {product.sku: product for product in CATALOGUE}


@dataclass(frozen=True)
class Person:
    external_id: str
    name: str
    email: str
    phone: str
    street: str
    city: str
    postcode: str

    @property
    def address(self) -> str:
        return f"{self.name}\n{self.street}\n{self.city} {self.postcode}\nUnited Kingdom"


SHOWCASE_PEOPLE = (
    Person("cust-emma", "Emma Hartley", "emma@example.com", "447700900123", "14 Willow Lane", "Bristol", "BS1 4DJ"),
    Person("cust-liam", "Liam Fletcher", "liam@example.com", "447700900456", "27 Harbour Street", "Leeds", "LS1 4AP"),
    Person(
        "cust-noah", "Noah Bennett", "noah@example.com", "447700900789", "Flat 3, 8 Mill Road", "Cambridge", "CB1 2AD"
    ),
)
FIRST_NAMES = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Grace", "Freya", "Sophie", "Chloe", "Ella", "Ruby",
    "Zara", "Anna", "Oliver", "George", "Arthur", "Leo", "Harry", "Oscar", "Jack", "Henry", "Charlie", "Thomas",
    "Samuel", "Adam", "Daniel", "Omar", "Max",
)
LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson", "Wright",
    "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke", "Khan",
    "Hughes", "Edwards", "Turner", "Murphy", "Kaur", "Ward", "Price", "Ali",
)
STREETS = (
    "High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue", "Queen Street", "Mill Lane",
    "Kings Road", "Orchard Close", "The Green", "Manor Way", "Elm Grove",
)
CITIES = (  # (town, postcode area)
    ("London", "E1"), ("London", "N7"), ("Manchester", "M4"), ("Birmingham", "B15"), ("Glasgow", "G12"),
    ("Liverpool", "L8"), ("Sheffield", "S10"), ("Nottingham", "NG7"), ("Cardiff", "CF10"), ("Edinburgh", "EH6"),
    ("Brighton", "BN2"), ("Oxford", "OX4"), ("York", "YO10"), ("Norwich", "NR2"), ("Exeter", "EX4"),
)

SELLER_CANCELLATION_REASONS = ("Out of stock", "Item discontinued", "Pricing error", "Cannot ship to this address")
BUYER_CANCELLATION_REASONS = (
    "Changed my mind", "Ordered by mistake", "Found a better price elsewhere", "Need a different size",
    "Delivery takes too long",
)
REJECTION_NOTES = (
    "Rejected: the item shows signs of use",
    "Rejected: the photos show no defect",
    "Rejected: the item was returned without its original packaging",
)
# The kinds of request a buyer makes for each reason.
KINDS_BY_REASON = {
    DAMAGED: (REFUND_ONLY, REPLACEMENT, RETURN_AND_REFUND),
    WRONG_ITEM: (REPLACEMENT, RETURN_AND_REFUND),
    MISSING_PARTS: (REFUND_ONLY, REPLACEMENT),
    NOT_AS_DESCRIBED: (RETURN_AND_REFUND, REFUND_ONLY),
    SIZE_FIT: (RETURN_AND_REFUND, REPLACEMENT),
    CHANGED_MIND: (RETURN_AND_REFUND,),
    OTHER_REASON: (RETURN_AND_REFUND,),
}

# Outcomes of a random after-sales request.
UNANSWERED, BY_RULE, SELLER_APPROVES, SELLER_REJECTS, PLATFORM_APPROVES, SECOND_ROUND, BUYER_WITHDRAWS = (
    "unanswered", "by_rule", "seller_approves", "seller_rejects", "platform_approves", "second_round", "buyer_withdraws",
)


# --- The showcase orders -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShowcaseCancellation:
    type: str
    reason: str
    requested: timedelta  # before now
    cancelled: timedelta  # before now
    refund_state: str


@dataclass(frozen=True)
class ShowcaseRequest:
    kind: str
    reason: str
    requested: timedelta  # before now
    steps: Tuple[Tuple[str, str, timedelta, str], ...] = ()  # (status, actor, after the request, note)


@dataclass(frozen=True)
class ShowcaseOrder:
    number: int
    customer: str
    status: str
    logistics: str
    created: timedelta  # before now
    items: Tuple[Tuple[str, int], ...]  # (sku, quantity)
    shipped: Optional[timedelta] = None  # before now
    delivered: Optional[timedelta] = None  # before now
    eta_days: Optional[int] = None  # estimated delivery, in days from today
    tracking_number: Optional[str] = None
    problem: Optional[str] = None  # PARCEL_LOST or PARCEL_DAMAGED, 30 hours after shipping
    cancellation: Optional[ShowcaseCancellation] = None
    request: Optional[ShowcaseRequest] = None


PLATFORM, SELF = PLATFORM_LOGISTICS, SELF_SHIPPING
SHOWCASE = (
    ShowcaseOrder(100001, "cust-emma", READY_TO_SHIP, SELF, days(2), (("TSH-ORG-BLK-M", 2), ("SOCK-BMB-3PK", 1))),
    ShowcaseOrder(100002, "cust-emma", READY_TO_SHIP, SELF, days(10), (("HOOD-GRY-M", 1),)),  # at risk
    ShowcaseOrder(100003, "cust-liam", READY_TO_SHIP, SELF, days(14), (("JEANS-SLIM-32", 1), ("CAP-NAVY", 1))),  # late
    ShowcaseOrder(
        100004, "cust-emma", IN_DELIVERY, PLATFORM, days(4), (("SNK-RUN-42", 1),),
        shipped=days(2), eta_days=2, tracking_number="SPXGB0123456789",
    ),
    ShowcaseOrder(
        100005, "cust-emma", DELIVERED, PLATFORM, days(7), (("BTL-STEEL-750", 1),),
        shipped=days(5), delivered=days(3), eta_days=-3,
    ),
    ShowcaseOrder(
        100006, "cust-liam", DELIVERED, PLATFORM, days(35), (("LAMP-DESK-LED", 1),),
        shipped=days(33), delivered=days(30), eta_days=-30,
    ),
    ShowcaseOrder(
        100007, "cust-liam", CANCELLED, PLATFORM, days(6), (("YOGA-MAT-6", 1), ("BAG-TOTE", 1)),
        cancellation=ShowcaseCancellation(BY_SELLER, "Out of stock", days(5), days(5), REFUND_PAID),
    ),
    ShowcaseOrder(  # cancelled 2 hours after its 12-day deadline
        100008, "cust-emma", CANCELLED, SELF, days(13), (("BACKPACK-20", 1),),
        cancellation=ShowcaseCancellation(
            AUTOMATIC, "Not shipped within {deadline} days", hours(22), hours(22), REFUND_PENDING
        ),
    ),
    ShowcaseOrder(
        100009, "cust-liam", CANCELLED, PLATFORM, days(12), (("SPK-MINI", 1), ("CHG-USBC-30W", 1)),
        shipped=days(10), eta_days=-7, problem=PARCEL_LOST,
        cancellation=ShowcaseCancellation(LOGISTICS_OBSTACLE, "Parcel lost in transit", days(4), days(4), REFUND_PAID),
    ),
    ShowcaseOrder(
        100010, "cust-emma", CANCELLED, PLATFORM, days(20), (("MUG-CER-350", 2),),
        cancellation=ShowcaseCancellation(
            BY_BUYER, "Changed my mind", days(20) - hours(1), days(20) - hours(3), REFUND_PAID
        ),
    ),
    ShowcaseOrder(
        100011, "cust-emma", DELIVERED, PLATFORM, days(7), (("TSH-ORG-WHT-L", 1), ("HOOD-GRY-M", 1)),
        shipped=days(4), delivered=days(2), eta_days=-2,
        request=ShowcaseRequest(RETURN_AND_REFUND, SIZE_FIT, hours(5)),
    ),
    ShowcaseOrder(
        100012, "cust-liam", DELIVERED, PLATFORM, days(15), (("HDPH-BT", 1),),
        shipped=days(13), delivered=days(10), eta_days=-10,
        request=ShowcaseRequest(REFUND_ONLY, DAMAGED, days(9), (
            (APPROVED, DECIDED_BY_SELLER, hours(3), "Approved by the seller"),
            (REFUNDED, DECIDED_BY_PLATFORM, hours(5), "Refund paid to the original payment method"),
        )),
    ),
    ShowcaseOrder(
        100013, "cust-liam", DELIVERED, SELF, days(13), (("JEANS-SLIM-32", 1),),
        shipped=days(11), delivered=days(8), eta_days=-8,
        request=ShowcaseRequest(RETURN_AND_REFUND, CHANGED_MIND, days(7), (
            (REJECTED, DECIDED_BY_SELLER, hours(6), "Rejected: the item shows signs of use"),
        )),
    ),
    ShowcaseOrder(  # overdue, and damaged on the way
        100014, "cust-emma", IN_DELIVERY, PLATFORM, days(8), (("LAMP-DESK-LED", 1), ("CANDLE-CEDAR", 1)),
        shipped=days(6), eta_days=-2, problem=PARCEL_DAMAGED,
    ),
    ShowcaseOrder(100015, "cust-noah", PENDING_PAYMENT, PLATFORM, hours(1), (("NOTE-A5-DOT", 1), ("PEN-GEL-12", 1))),
    ShowcaseOrder(
        100016, "cust-noah", IN_DELIVERY, PLATFORM, days(3), (("BAG-TOTE", 1), ("CASE-PHONE", 1)),
        shipped=days(1), eta_days=3,
    ),
)

# The random orders: (scenario method of _DemoShop, weight). Each occurs at least once.
SCENARIOS = (
    ("awaiting_payment", 3),
    ("awaiting_pickup", 4),
    ("unshipped_on_time", 5),
    ("unshipped_at_risk", 3),
    ("unshipped_late", 2),
    ("cancellation_requested", 2),  # only when buyers' cancellations wait for the seller
    ("in_transit_platform", 8),
    ("in_transit_self", 4),
    ("in_transit_with_problem", 3),
    ("delivered", 38),
    ("return_unanswered", 2),
    ("return_approved_by_rule", 3),
    ("return_approved_by_seller", 4),
    ("return_rejected", 2),
    ("return_approved_by_platform", 2),
    ("return_second_round", 2),
    ("return_withdrawn", 1),
    ("cancelled_by_seller", 3),
    ("cancelled_unshipped", 2),
    ("cancelled_unpaid", 2),
    ("cancelled_in_transit", 3),
    ("cancelled_by_buyer", 4),
)


def seed(sessions: sessionmaker, settings: ShopSettings, now: Optional[datetime] = None) -> str:
    """Load the demo shop `settings.shop` unless it exists; a one-line summary."""
    now = _utc(now or datetime.now(timezone.utc))
    with transaction(sessions) as session:
        if get_shop(session, settings.shop) is not None:
            return "demo shop already loaded"
        count = _DemoShop(session, settings, now).load()
    return f"demo shop loaded: {count} orders"


# Demo logins (README): one seller for the admin page, two agents for the console.
DEMO_STAFF = (
    ("seller", "demo-seller", "seller", "Sam"),
    ("agent", "demo-agent", "agent", "Alex"),
    ("agent2", "demo-agent2", "agent", "Kim"),
)


def set_up(shop: ShopContext) -> str:
    """Migrate the shop's database and load the demo shop and its staff logins (each a no-op
    when already done); a summary. A broken shop.yml stops it before the database changes."""
    settings = shop.settings
    db.upgrade(shop.config.database_url)
    return f"{seed(shop.sessions, settings)}\n{seed_staff(shop.sessions, settings)}"


def seed_staff(sessions: sessionmaker, settings: ShopSettings) -> str:
    """Create the demo logins unless the shop already has staff; a one-line summary."""
    with transaction(sessions) as session:
        shop = get_shop(session, settings.shop)
        if session.execute(select(StaffUser.id).where(StaffUser.shop_id == shop.id)).first() is not None:
            return "staff logins already exist"
        for username, password, role, display_name in DEMO_STAFF:
            create_user(session, shop.id, username, password, role, display_name)
    return f"demo logins created: {', '.join(f'{u} / {p}' for u, p, *_ in DEMO_STAFF)}"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: pass a timezone-aware `now`")
    return moment.astimezone(timezone.utc).replace(microsecond=0)


@dataclass(frozen=True)
class _Step:
    """One entry of an after-sales request's history."""

    status: str
    actor: str
    at: datetime
    round: int = 1
    note: str = ""


class _DemoShop:
    def __init__(self, session: Session, settings: ShopSettings, now: datetime):
        self.session = session
        self.settings = settings
        self.now = now
        self.rng = random.Random(RANDOM_SEED)
        self.tracking_numbers = set()
        self.customers: Dict[str, Customer] = {}  # by external id
        self.cities: Dict[int, str] = {}  # customer id -> town, for the tracking events
        self.shop: Optional[Shop] = None

    def load(self) -> int:
        self.shop = Shop(
            slug=self.settings.shop,
            name=self.settings.name,
            identity_secret=os.environ.get("SHOP_IDENTITY_SECRET") or DEMO_IDENTITY_SECRET,
            created_at=self.now - days(365),
        )
        self.session.add(self.shop)
        self.session.flush()  # the shop's id for its customers
        people = self._random_people()
        everyone = SHOWCASE_PEOPLE + tuple(people)
        self.session.add_all(self._customer(person) for person in everyone)
        self.session.flush()  # the customers' ids for their orders
        self.cities = {self.customers[person.external_id].id: person.city for person in everyone}

        orders = [self._showcase(spec) for spec in SHOWCASE]
        orders += self._random_orders(people)
        self.session.add_all(orders)
        return len(orders)

    # --- random values ------------------------------------------------------------------------------------------

    def _between(self, low: timedelta, high: timedelta) -> timedelta:
        """A random duration from `low` to `high`, in whole seconds."""
        low_s = int(low.total_seconds())
        return timedelta(seconds=self.rng.randint(low_s, max(low_s, int(high.total_seconds()))))

    def _moment(self, start: datetime, end: datetime) -> datetime:
        return start + self._between(timedelta(0), end - start)

    def _logistics(self) -> str:
        return self.rng.choices((PLATFORM_LOGISTICS, SELF_SHIPPING), (2, 1))[0]

    def _items(self, max_total_cents: Optional[int] = None) -> List[Tuple[Product, int]]:
        """1-3 products with quantities; one product within `max_total_cents` when given."""
        if max_total_cents is not None:
            cheap = [product for product in CATALOGUE if product.price_cents <= max_total_cents]
            if cheap:
                return [(self.rng.choice(cheap), 1)]
        count = self.rng.choices((1, 2, 3), (6, 3, 1))[0]
        return [(product, self.rng.choices((1, 2), (5, 1))[0]) for product in self.rng.sample(CATALOGUE, count)]

    def _tracking_number(self, carrier: str) -> str:
        while True:
            digits = "".join(self.rng.choice("0123456789") for _ in range(14))
            number = {
                PLATFORM_CARRIER: f"SPXGB{digits[:10]}",
                "Royal Mail": f"RM{digits[:9]}GB",
                "DPD": f"DPD{digits[:11]}",
                "Evri": f"H{self.rng.choice('ABCDEFGHJK')}{self.rng.choice('LMNPQRSTUV')}{digits[:13]}",
            }[carrier]
            if number not in self.tracking_numbers:
                self.tracking_numbers.add(number)
                return number

    # --- customers ----------------------------------------------------------------------------------------------

    def _random_people(self) -> List[Person]:
        names = self.rng.sample(list(product(FIRST_NAMES, LAST_NAMES)), RANDOM_CUSTOMERS)
        taken = {int(person.phone[-3:]) for person in SHOWCASE_PEOPLE}
        phones = self.rng.sample([n for n in range(100, 1000) if n not in taken], RANDOM_CUSTOMERS)
        people = []
        for index, ((first, last), phone) in enumerate(zip(names, phones), 1):
            city, area = self.rng.choice(CITIES)
            people.append(Person(
                external_id=f"cust-{index:04d}",
                name=f"{first} {last}",
                email=f"{first}.{last}{index}@example.com".lower(),
                phone=f"447700900{phone:03d}",  # Ofcom's numbers for drama: never a real line
                street=f"{self.rng.randint(1, 120)} {self.rng.choice(STREETS)}",
                city=city,
                postcode=f"{area} {self.rng.randint(1, 9)}{self.rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
                         f"{self.rng.choice('ABDEFGHJLNPQRSTUWXYZ')}",
            ))
        return people

    def _customer(self, person: Person) -> Customer:
        customer = Customer(
            shop_id=self.shop.id, external_id=person.external_id, name=person.name, email=person.email,
            phone=person.phone,
        )
        self.customers[person.external_id] = customer
        return customer

    # --- the building blocks of an order's life -------------------------------------------------------------------

    def _order(
        self, person: Person, created_at: datetime, logistics: str, items: Sequence[Tuple[Product, int]],
        paid_after: Optional[timedelta],
    ) -> Order:
        """A new order: Ready To Ship once paid `paid_after` its creation, else Pending Payment."""
        order = Order(
            shop_id=self.shop.id,
            customer_id=self.customers[person.external_id].id,
            status=PENDING_PAYMENT,
            logistics=logistics,
            created_at=created_at,
            total_cents=sum(product.price_cents * quantity for product, quantity in items),
            currency=CURRENCY,
            shipping_address=person.address,
            items=[
                OrderItem(sku=product.sku, name=product.name, quantity=quantity, unit_price_cents=product.price_cents)
                for product, quantity in items
            ],
        )
        if paid_after is not None:
            order.paid_at = order.ready_to_ship_at = created_at + paid_after
            order.status = READY_TO_SHIP
        return order

    def _placed(self, person: Person, age: timedelta, logistics: Optional[str] = None, paid: bool = True) -> Order:
        """A random order created `age` ago, paid within half an hour unless `paid` is false."""
        paid_after = self._between(minutes(1), minutes(30)) if paid else None
        return self._order(person, self.now - age, logistics or self._logistics(), self._items(), paid_after)

    def _handling(self, logistics: str, late: bool = False) -> timedelta:
        """Time from creation to shipping; `late` ships a self-shipped order after its deadline."""
        deadline = days(self.settings.self_shipping_deadline_days)
        if logistics == PLATFORM_LOGISTICS:
            return self._between(hours(6), days(2))
        if late:
            return self._between(deadline + hours(1), deadline + days(2))
        return self._between(hours(4), min(days(3), deadline))

    def _shipped_order(
        self, person: Person, logistics: str, shipped_at: datetime, handling: timedelta,
        items: Optional[Sequence[Tuple[Product, int]]] = None,
    ) -> Order:
        """A paid order created `handling` before it is shipped at `shipped_at`."""
        return self._order(
            person, shipped_at - handling, logistics, items or self._items(), self._between(minutes(1), minutes(30))
        )

    def _ship(
        self, order: Order, shipped_at: datetime, *, eta: Optional[date] = None,
        delivered_at: Optional[datetime] = None, problem: Optional[str] = None,
        problem_at: Optional[datetime] = None, tracking_number: Optional[str] = None,
    ) -> None:
        carrier = PLATFORM_CARRIER if order.logistics == PLATFORM_LOGISTICS else self.rng.choice(SELF_CARRIERS)
        order.shipment = Shipment(
            carrier=carrier,
            tracking_number=tracking_number or self._tracking_number(carrier),
            shipped_at=shipped_at,
            estimated_delivery=eta or (shipped_at + self._between(days(2), days(4))).date(),
            delivered_at=delivered_at,
            problem=problem,
        )
        order.shipment.events = self._tracking_events(order, problem_at)
        order.status = DELIVERED if delivered_at else IN_DELIVERY

    def _tracking_events(self, order: Order, problem_at: Optional[datetime]) -> List[TrackingEvent]:
        """The carrier's scans up to now: delivery, or the loss or damage at `problem_at`."""
        shipment, city = order.shipment, self.cities[order.customer_id]
        hub = f"{self.rng.choice(SORTING_CENTRES)} sorting centre"
        route = [
            (hours(0), f"{self.settings.name} warehouse, {WAREHOUSE_TOWN}", f"Picked up by {shipment.carrier}"),
            (hours(8), hub, "Arrived at sorting centre"),
            (hours(20), hub, "Departed sorting centre"),
            (hours(32), f"{city} delivery office", "Arrived at local delivery office"),
        ]
        end = min(problem_at or shipment.delivered_at or self.now, self.now)
        scans = [(shipment.shipped_at + after, where, what) for after, where, what in route]
        scans = [scan for scan in scans if scan[0] < end or (scan[0] == end and problem_at is None)]
        if shipment.delivered_at:
            out_at = shipment.delivered_at - self._between(hours(2), hours(6))
            scans += [(out_at, city, "Out for delivery"), (shipment.delivered_at, city, "Delivered")]
        if problem_at:
            what = {
                PARCEL_LOST: "Parcel missing: the carrier has opened an investigation",
                PARCEL_DAMAGED: "Parcel damaged in transit; the carrier has informed the seller",
            }[shipment.problem]
            scans.append((problem_at, scans[-1][1], what))
        return [TrackingEvent(occurred_at=at, location=where, description=what) for at, where, what in scans]

    def _cancel(
        self, order: Order, type_: str, reason: str, requested_at: datetime, cancelled_at: datetime,
        refund_state: Optional[str] = None, refunded_at: Optional[datetime] = None,
    ) -> None:
        """Cancel the order; a paid one is refunded within 2 days (refund pending until then)."""
        if order.paid_at is None:
            refund_state, refunded_at = NO_REFUND_NEEDED, None
        elif refund_state is None:
            refunded_at = cancelled_at + self._between(hours(1), days(2))
            refund_state = REFUND_PAID if refunded_at <= self.now else REFUND_PENDING
        order.cancellation = Cancellation(
            type=type_, reason=reason, requested_at=requested_at, cancelled_at=cancelled_at,
            refund_state=refund_state, refunded_at=refunded_at if refund_state == REFUND_PAID else None,
        )
        order.status = CANCELLED

    def _add_request(self, order: Order, kind: str, reason: str, steps: Sequence[_Step]) -> None:
        """An after-sales request with the history `steps` as far as it has happened by now."""
        steps = [step for step in steps if step.at <= self.now]
        current = steps[-1]
        decision = next(
            (step for step in reversed(steps) if step.status in (APPROVED, REJECTED) and step.round == current.round),
            None,
        )
        refund = next((step for step in steps if step.status == REFUNDED), None)
        order.after_sales.append(AfterSalesRequest(
            kind=kind, reason=reason, status=current.status, amount_cents=order.total_cents,
            requested_at=steps[0].at, round=current.round,
            decided_at=decision.at if decision else None, decided_by=decision.actor if decision else None,
            refunded_at=refund.at if refund else None,
            history=[
                AfterSalesEvent(
                    occurred_at=step.at, status=step.status, actor=step.actor, round=step.round, note=step.note
                )
                for step in steps
            ],
        ))

    # --- the showcase -------------------------------------------------------------------------------------------

    def _showcase(self, spec: ShowcaseOrder) -> Order:
        now = self.now
        person = next(person for person in SHOWCASE_PEOPLE if person.external_id == spec.customer)
        items = [(PRODUCTS[sku], quantity) for sku, quantity in spec.items]
        paid_after = None if spec.status == PENDING_PAYMENT else minutes(5)
        order = self._order(person, now - spec.created, spec.logistics, items, paid_after)
        order.number = str(spec.number)
        if spec.shipped is not None:
            shipped_at = now - spec.shipped
            self._ship(
                order, shipped_at,
                eta=now.date() + days(spec.eta_days) if spec.eta_days is not None else None,
                delivered_at=now - spec.delivered if spec.delivered is not None else None,
                problem=spec.problem, problem_at=shipped_at + hours(30) if spec.problem else None,
                tracking_number=spec.tracking_number,
            )
        if spec.cancellation:
            cancellation = spec.cancellation
            cancelled_at = now - cancellation.cancelled
            self._cancel(
                order, cancellation.type,
                cancellation.reason.format(deadline=self.settings.self_shipping_deadline_days),
                now - cancellation.requested, cancelled_at,
                cancellation.refund_state, cancelled_at + hours(2),
            )
        if spec.request:
            requested_at = now - spec.request.requested
            steps = [_Step(REQUESTED, BUYER, requested_at)]
            steps += [
                _Step(status, actor, requested_at + after, 1, note) for status, actor, after, note in spec.request.steps
            ]
            self._add_request(order, spec.request.kind, spec.request.reason, steps)
        assert order.status == spec.status, (spec.number, order.status)
        return order

    # --- the random orders --------------------------------------------------------------------------------------

    def _random_orders(self, people: Sequence[Person]) -> List[Order]:
        """RANDOM_ORDERS orders from SCENARIOS, numbered in the order they were placed."""
        scenarios = [
            (name, weight) for name, weight in SCENARIOS
            if name != "cancellation_requested" or self.settings.buyer_cancellation == CANCEL_ON_REQUEST
        ]
        names = [name for name, _ in scenarios]
        plan = names + self.rng.choices(names, [weight for _, weight in scenarios], k=RANDOM_ORDERS - len(names))
        orders = [getattr(self, f"_{name}")(self.rng.choice(people)) for name in plan]
        orders.sort(key=lambda order: order.created_at)
        for number, order in enumerate(orders, FIRST_RANDOM_NUMBER):
            order.number = str(number)
        return orders

    # Not shipped yet.

    def _awaiting_payment(self, person: Person) -> Order:
        return self._placed(person, self._between(minutes(5), hours(20)), paid=False)

    def _awaiting_pickup(self, person: Person) -> Order:
        return self._placed(person, self._between(hours(1), days(2)), PLATFORM_LOGISTICS)

    def _unshipped_on_time(self, person: Person) -> Order:
        on_time_until = days(self.settings.self_shipping_deadline_days - self.settings.at_risk_days)
        return self._placed(person, self._between(hours(1), on_time_until - hours(1)), SELF_SHIPPING)

    def _unshipped_at_risk(self, person: Person) -> Order:
        deadline, at_risk = self.settings.self_shipping_deadline_days, self.settings.at_risk_days
        age = self._between(days(deadline - at_risk) + hours(1), days(deadline) - hours(1))
        return self._placed(person, age, SELF_SHIPPING)

    def _unshipped_late(self, person: Person) -> Order:
        deadline = days(self.settings.self_shipping_deadline_days)
        return self._placed(person, self._between(deadline + hours(1), deadline + days(3)), SELF_SHIPPING)

    def _cancellation_requested(self, person: Person) -> Order:
        """The buyer asked to cancel; the seller has not decided yet."""
        order = self._placed(person, self._between(hours(2), days(2)))
        requested_at = self._moment(order.paid_at + minutes(10), self.now - minutes(5))
        order.cancellation = Cancellation(
            type=BY_BUYER, reason=self.rng.choice(BUYER_CANCELLATION_REASONS), requested_at=requested_at,
            refund_state=NO_REFUND_NEEDED,
        )
        return order

    # On the way.

    def _in_transit(self, person: Person, logistics: str) -> Order:
        shipped_at = self.now - self._between(hours(1), days(4))
        late = logistics == SELF_SHIPPING and self.rng.random() < LATE_SHIPPING_SHARE
        order = self._shipped_order(person, logistics, shipped_at, self._handling(logistics, late))
        self._ship(order, shipped_at)
        return order

    def _in_transit_platform(self, person: Person) -> Order:
        return self._in_transit(person, PLATFORM_LOGISTICS)

    def _in_transit_self(self, person: Person) -> Order:
        return self._in_transit(person, SELF_SHIPPING)

    def _in_transit_with_problem(self, person: Person) -> Order:
        """Lost or damaged on the way, and not cancelled (yet)."""
        logistics = self._logistics()
        shipped_at = self.now - self._between(days(3), days(8))
        order = self._shipped_order(person, logistics, shipped_at, self._handling(logistics))
        problem_at = shipped_at + self._between(hours(10), days(2))
        self._ship(order, shipped_at, problem=self.rng.choice(PARCEL_PROBLEMS), problem_at=problem_at)
        return order

    # Delivered, with or without an after-sales request.

    def _delivered(
        self, person: Person, delivered_at: Optional[datetime] = None,
        items: Optional[Sequence[Tuple[Product, int]]] = None,
    ) -> Order:
        logistics = self._logistics()
        late = logistics == SELF_SHIPPING and self.rng.random() < LATE_SHIPPING_SHARE
        handling = self._handling(logistics, late)
        transit = self._between(days(2), days(5))
        if delivered_at is None:
            delivered_at = self.now - self._between(hours(1), days(HISTORY_DAYS) - transit - handling - hours(1))
        order = self._shipped_order(person, logistics, delivered_at - transit, handling, items)
        self._ship(order, delivered_at - transit, delivered_at=delivered_at)
        return order

    def _return_unanswered(self, person: Person) -> Order:
        return self._delivered_with_request(person, UNANSWERED)

    def _return_approved_by_rule(self, person: Person) -> Order:
        return self._delivered_with_request(person, BY_RULE)

    def _return_approved_by_seller(self, person: Person) -> Order:
        return self._delivered_with_request(person, SELLER_APPROVES)

    def _return_rejected(self, person: Person) -> Order:
        return self._delivered_with_request(person, SELLER_REJECTS)

    def _return_approved_by_platform(self, person: Person) -> Order:
        return self._delivered_with_request(person, PLATFORM_APPROVES)

    def _return_second_round(self, person: Person) -> Order:
        return self._delivered_with_request(person, SECOND_ROUND)

    def _return_withdrawn(self, person: Person) -> Order:
        return self._delivered_with_request(person, BUYER_WITHDRAWS)

    def _delivered_with_request(self, person: Person, outcome: str) -> Order:
        """A delivered order with an after-sales request that ends (so far) in `outcome`."""
        settings, rule = self.settings, self.settings.return_auto_approval
        window = days(settings.return_window_days)
        platform_hours = hours(settings.platform_auto_approval_hours)
        items = None
        if outcome == UNANSWERED:
            requested_at = self.now - self._between(minutes(10), platform_hours - minutes(10))
            delay = self._between(hours(1), window)
        else:
            if outcome == BY_RULE:
                items = self._items(rule.max_amount_cents)
                delay = self._between(hours(1), min(window, days(rule.max_days_since_delivery)))
            else:
                delay = self._between(hours(1), window)
            # Room for the decision (and a second round) before now.
            follow_up = 2 * platform_hours + days(4)
            requested_at = self.now - follow_up - self._between(timedelta(0), days(40))
        order = self._delivered(person, requested_at - delay, items)

        reason = self._reason(order, requested_at, by_rule=outcome == BY_RULE)
        if reason is None:  # these settings cannot give this outcome: take the other side of the rule
            outcome = SELLER_APPROVES if outcome == BY_RULE else BY_RULE
            reason = self._reason(order, requested_at, by_rule=outcome == BY_RULE)
        kind = self.rng.choice(KINDS_BY_REASON[reason])
        steps = [_Step(REQUESTED, BUYER, requested_at)]
        steps += self._decision(order, kind, requested_at, outcome, 1)
        self._add_request(order, kind, reason, steps)
        return order

    def _reason(self, order: Order, requested_at: datetime, by_rule: bool) -> Optional[str]:
        """A return reason that the seller's auto-approval rule approves (by_rule) or not."""
        rule, delivered_at = self.settings.return_auto_approval, order.shipment.delivered_at
        reasons = [
            reason for reason in RETURN_REASONS
            if seller_auto_approves(rule, order.total_cents, reason, delivered_at, requested_at) == by_rule
        ]
        return self.rng.choice(reasons) if reasons else None

    def _decision(self, order: Order, kind: str, requested_at: datetime, outcome: str, round_: int) -> List[_Step]:
        """The steps after a request in round `round_`; the caller cuts them off at now."""
        platform_at = platform_auto_approval_at(
            order.ready_to_ship_at, requested_at, self.settings.platform_auto_approval_hours
        )
        if outcome == BY_RULE:
            return self._approved(kind, _Step(
                APPROVED, DECIDED_BY_SELLER_RULE, requested_at + minutes(1), round_,
                "Approved at once by the shop's return rule",
            ))
        if outcome == BUYER_WITHDRAWS:  # taken back before anyone decided it
            earliest = requested_at + minutes(10)
            withdrawn_at = self._moment(earliest, max(earliest, platform_at - minutes(10)))
            return [_Step(WITHDRAWN, BUYER, withdrawn_at, round_, "Withdrawn by the buyer")]
        if outcome in (UNANSWERED, PLATFORM_APPROVES):
            return self._approved(kind, _Step(
                APPROVED, DECIDED_BY_PLATFORM, platform_at, round_,
                f"Approved by the marketplace: no answer within {self.settings.platform_auto_approval_hours} hours",
            ))
        # The seller answers before the marketplace steps in.
        earliest = requested_at + minutes(10)
        decided_at = self._moment(earliest, max(earliest, platform_at - minutes(10)))
        if outcome == SELLER_APPROVES:
            approval = _Step(APPROVED, DECIDED_BY_SELLER, decided_at, round_, "Approved by the seller")
            return self._approved(kind, approval)
        rejection = _Step(REJECTED, DECIDED_BY_SELLER, decided_at, round_, self.rng.choice(REJECTION_NOTES))
        if outcome == SELLER_REJECTS:
            return [rejection]
        # SECOND_ROUND: the buyer disputes the rejection, and the request is decided again.
        disputed_at = decided_at + self._between(hours(2), days(3))
        dispute = _Step(REQUESTED, BUYER, disputed_at, 2, "The buyer disputed the rejection")
        second = self.rng.choice((SELLER_APPROVES, SELLER_REJECTS, PLATFORM_APPROVES))
        return [rejection, dispute] + self._decision(order, kind, disputed_at, second, 2)

    def _approved(self, kind: str, approval: _Step) -> List[_Step]:
        """An approval and the refund after it: at once for a refund, after the return for a return."""
        if kind == REPLACEMENT:
            return [approval]
        if kind == REFUND_ONLY:
            refunded_at = approval.at + self._between(hours(1), days(1))
            note = "Refund paid to the original payment method"
        else:
            refunded_at = approval.at + self._between(days(3), days(8))
            note = "Returned item received; refund paid"
        return [approval, _Step(REFUNDED, DECIDED_BY_PLATFORM, refunded_at, approval.round, note)]

    # Cancelled.

    def _cancelled_by_seller(self, person: Person) -> Order:
        order = self._placed(person, self._between(days(1), days(HISTORY_DAYS - 2)))
        cancelled_at = self._moment(order.paid_at + hours(1), min(self.now, order.paid_at + days(3)))
        self._cancel(order, BY_SELLER, self.rng.choice(SELLER_CANCELLATION_REASONS), cancelled_at, cancelled_at)
        return order

    def _cancelled_unshipped(self, person: Person) -> Order:
        """The marketplace cancelled a self-shipped order that missed its deadline."""
        deadline = self.settings.self_shipping_deadline_days
        order = self._placed(person, self._between(days(deadline + 2), days(HISTORY_DAYS - 2)), SELF_SHIPPING)
        cancelled_at = order.created_at + days(deadline) + self._between(hours(1), days(2))
        self._cancel(order, AUTOMATIC, f"Not shipped within {deadline} days", cancelled_at, cancelled_at)
        return order

    def _cancelled_unpaid(self, person: Person) -> Order:
        order = self._placed(person, self._between(days(2), days(HISTORY_DAYS - 2)), paid=False)
        cancelled_at = order.created_at + PAYMENT_WINDOW
        self._cancel(order, AUTOMATIC, "Not paid within 24 hours", cancelled_at, cancelled_at)
        return order

    def _cancelled_in_transit(self, person: Person) -> Order:
        """Lost or damaged on the way: the marketplace cancelled and refunded it."""
        logistics = self._logistics()
        shipped_at = self.now - self._between(days(5), days(HISTORY_DAYS - 5))
        order = self._shipped_order(person, logistics, shipped_at, self._handling(logistics))
        problem = self.rng.choice(PARCEL_PROBLEMS)
        problem_at = shipped_at + self._between(hours(10), days(2))
        self._ship(order, shipped_at, problem=problem, problem_at=problem_at)
        cancelled_at = problem_at + self._between(days(1), days(3))
        self._cancel(order, LOGISTICS_OBSTACLE, f"Parcel {problem} in transit", cancelled_at, cancelled_at)
        return order

    def _cancelled_by_buyer(self, person: Person) -> Order:
        """Cancelled before shipping: at once, or when the seller accepted the buyer's request."""
        order = self._placed(person, self._between(days(2), days(HISTORY_DAYS - 2)), paid=self.rng.random() < 0.8)
        requested_at = (order.paid_at or order.created_at) + self._between(minutes(5), days(1))
        instant = order.paid_at is None or self.settings.buyer_cancellation == CANCEL_INSTANTLY
        cancelled_at = requested_at if instant else requested_at + self._between(minutes(30), days(1))
        self._cancel(order, BY_BUYER, self.rng.choice(BUYER_CANCELLATION_REASONS), requested_at, cancelled_at)
        return order
