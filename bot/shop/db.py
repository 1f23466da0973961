"""The data layer: SQLAlchemy models and the small query functions that use them.

`DATABASE_URL` selects the database (SQLite by default, PostgreSQL in
production). The schema is owned by the Alembic migrations in
bot/shop/migrations/; `upgrade` applies them.
"""
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import (
    Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, create_engine, delete, event,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, declarative_base, relationship, selectinload, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import TypeDecorator

from bot.shop.vocabulary import NO_REFUND_NEEDED, PLATFORM_LOGISTICS, REQUESTED

Base = declarative_base()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: use timezone-aware UTC datetimes")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Shop(Base):
    __tablename__ = "shops"

    id = Column(Integer, primary_key=True)
    slug = Column(String(64), nullable=False, unique=True)
    name = Column(String(200), nullable=False)
    # HMAC key the storefront signs shopper identities with (see bot/shop/identity.py).
    identity_secret = Column(String(128), nullable=False)
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("shop_id", "external_id"),)

    id = Column(Integer, primary_key=True)
    shop_id = Column(ForeignKey("shops.id"), nullable=False, index=True)
    external_id = Column(String(128), nullable=False)  # the storefront's customer id
    name = Column(String(200), nullable=False)
    email = Column(String(254), nullable=False, index=True)  # stored lower-case
    phone = Column(String(32), nullable=True)  # digits only, with country code

    orders = relationship("Order", back_populates="customer")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("shop_id", "number"),)

    id = Column(Integer, primary_key=True)
    shop_id = Column(ForeignKey("shops.id"), nullable=False, index=True)
    customer_id = Column(ForeignKey("customers.id"), nullable=False, index=True)
    number = Column(String(32), nullable=False)  # vocabulary.ORDER_NUMBER
    status = Column(String(20), nullable=False)  # vocabulary.ORDER_STATUSES
    logistics = Column(String(10), nullable=False, default=PLATFORM_LOGISTICS)  # vocabulary.LOGISTICS
    created_at = Column(UtcDateTime, nullable=False)
    paid_at = Column(UtcDateTime)
    ready_to_ship_at = Column(UtcDateTime)
    total_cents = Column(Integer, nullable=False)
    currency = Column(String(3), nullable=False, default="EUR")
    shipping_address = Column(Text, nullable=False)

    customer = relationship("Customer", back_populates="orders")
    items = relationship("OrderItem", back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.id")
    shipment = relationship("Shipment", back_populates="order", uselist=False, cascade="all, delete-orphan")
    cancellation = relationship("Cancellation", back_populates="order", uselist=False, cascade="all, delete-orphan")
    after_sales = relationship(
        "AfterSalesRequest", back_populates="order", cascade="all, delete-orphan", order_by="AfterSalesRequest.id"
    )
    address_changes = relationship("AddressChangeRequest", cascade="all, delete-orphan")


class OrderItem(Base):
    __tablename__ = "order_items"

    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("orders.id"), nullable=False, index=True)
    sku = Column(String(64), nullable=False)
    name = Column(String(200), nullable=False)
    quantity = Column(Integer, nullable=False)
    unit_price_cents = Column(Integer, nullable=False)

    order = relationship("Order", back_populates="items")


class Shipment(Base):
    __tablename__ = "shipments"

    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("orders.id"), nullable=False, unique=True)
    carrier = Column(String(64), nullable=False)
    tracking_number = Column(String(64), nullable=False, index=True)
    shipped_at = Column(UtcDateTime, nullable=False)
    estimated_delivery = Column(Date)
    delivered_at = Column(UtcDateTime)
    problem = Column(String(10))  # None or one of vocabulary.PARCEL_PROBLEMS

    order = relationship("Order", back_populates="shipment")
    events = relationship("TrackingEvent", cascade="all, delete-orphan", order_by="TrackingEvent.occurred_at")


class TrackingEvent(Base):
    __tablename__ = "tracking_events"

    id = Column(Integer, primary_key=True)
    shipment_id = Column(ForeignKey("shipments.id"), nullable=False, index=True)
    occurred_at = Column(UtcDateTime, nullable=False)
    location = Column(String(200), nullable=False)
    description = Column(String(300), nullable=False)


class Cancellation(Base):
    """A cancellation, or a buyer's request for one that the seller has not decided yet."""

    __tablename__ = "cancellations"

    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("orders.id"), nullable=False, unique=True)
    type = Column(String(20), nullable=False)  # vocabulary.CANCELLATION_TYPES
    reason = Column(String(300), nullable=False)
    requested_at = Column(UtcDateTime, nullable=False)
    cancelled_at = Column(UtcDateTime)  # None while a buyer's request waits for the seller
    refund_state = Column(String(12), nullable=False, default=NO_REFUND_NEEDED)  # vocabulary.CANCELLATION_REFUND_STATES
    refunded_at = Column(UtcDateTime)

    order = relationship("Order", back_populates="cancellation")


class AfterSalesRequest(Base):
    __tablename__ = "after_sales_requests"

    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("orders.id"), nullable=False, index=True)
    kind = Column(String(20), nullable=False)  # vocabulary.AFTER_SALES_KINDS
    reason = Column(String(300), nullable=False)  # vocabulary.RETURN_REASONS
    status = Column(String(12), nullable=False, default=REQUESTED)  # vocabulary.AFTER_SALES_STATUSES
    amount_cents = Column(Integer, nullable=False)
    requested_at = Column(UtcDateTime, nullable=False)
    # The approval rounds: round 2 starts when the buyer disputes a rejection.
    round = Column(Integer, nullable=False, default=1)
    decided_at = Column(UtcDateTime)
    decided_by = Column(String(12))  # vocabulary.DECIDERS
    refunded_at = Column(UtcDateTime)

    order = relationship("Order", back_populates="after_sales")
    history = relationship("AfterSalesEvent", cascade="all, delete-orphan", order_by="AfterSalesEvent.id")


class AfterSalesEvent(Base):
    """Status history of an after-sales request (handling time is computed from it)."""

    __tablename__ = "after_sales_events"

    id = Column(Integer, primary_key=True)
    request_id = Column(ForeignKey("after_sales_requests.id"), nullable=False, index=True)
    occurred_at = Column(UtcDateTime, nullable=False)
    status = Column(String(12), nullable=False)  # vocabulary.AFTER_SALES_STATUSES
    actor = Column(String(12), nullable=False)  # vocabulary.BUYER or one of vocabulary.DECIDERS
    round = Column(Integer, nullable=False, default=1)
    note = Column(String(300), nullable=False, default="")


class AddressChangeRequest(Base):
    __tablename__ = "address_change_requests"

    id = Column(Integer, primary_key=True)
    order_id = Column(ForeignKey("orders.id"), nullable=False, index=True)
    new_address = Column(Text, nullable=False)
    requested_at = Column(UtcDateTime, nullable=False)
    handled = Column(Boolean, nullable=False, default=False)


# Staff who log in to the web service: sellers run the admin page, agents the console.
SELLER, AGENT = "seller", "agent"
STAFF_ROLES = (SELLER, AGENT)


class StaffUser(Base):
    __tablename__ = "staff_users"
    __table_args__ = (UniqueConstraint("shop_id", "username"),)

    id = Column(Integer, primary_key=True)
    shop_id = Column(ForeignKey("shops.id"), nullable=False, index=True)
    username = Column(String(64), nullable=False)
    display_name = Column(String(100), nullable=False)
    role = Column(String(12), nullable=False)
    password_hash = Column(String(200), nullable=False)  # see bot/shop/accounts.py
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)


class LoginSession(Base):
    __tablename__ = "login_sessions"

    id = Column(Integer, primary_key=True)
    # Only a hash of the cookie's token is stored: a leaked table logs nobody in.
    token_hash = Column(String(64), nullable=False, unique=True)
    user_id = Column(ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    expires_at = Column(UtcDateTime, nullable=False)

    user = relationship(StaffUser, lazy="joined")


class FaqRevision(Base):
    """One change made on the admin page, with the state before and after (JSON), so it can be reverted."""

    __tablename__ = "faq_revisions"

    id = Column(Integer, primary_key=True)
    shop_id = Column(ForeignKey("shops.id"), nullable=False, index=True)
    subject = Column(String(80), nullable=False)  # a FAQ id, or "chat_welcome"
    action = Column(String(20), nullable=False)  # create, edit, enable, disable, delete, revert
    author = Column(String(64), nullable=False)
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)
    before = Column(Text, nullable=True)  # null: did not exist
    after = Column(Text, nullable=True)  # null: deleted


class UnansweredMessage(Base):
    """A shopper message the bot was not sure about, kept for the seller to turn into a FAQ."""

    __tablename__ = "unanswered_messages"

    id = Column(Integer, primary_key=True)
    shop_id = Column(ForeignKey("shops.id"), nullable=False, index=True)
    sender_id = Column(String(200), nullable=False)
    text = Column(Text, nullable=False)
    closest_faqs = Column(String(400), nullable=False, default="")  # comma-separated FAQ ids
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)
    dismissed = Column(Boolean, nullable=False, default=False)


# Handoff tickets: waiting in the queue, claimed by an agent, resolved.
WAITING, CLAIMED, RESOLVED = "waiting", "claimed", "resolved"


class Ticket(Base):
    """A conversation handed to the support agents (one open ticket per conversation at most)."""

    __tablename__ = "tickets"
    # A conversation's open ticket is looked up for every shopper message (migration 0007).
    __table_args__ = (Index("ix_tickets_shop_sender", "shop_id", "sender_id"),)

    id = Column(Integer, primary_key=True)
    shop_id = Column(ForeignKey("shops.id"), nullable=False, index=True)
    sender_id = Column(String(200), nullable=False)
    status = Column(String(12), nullable=False, default=WAITING)
    # asked_for_human, repeated_fallback, sensitive:<topic>, working_hours
    reason = Column(String(40), nullable=False)
    agent_id = Column(ForeignKey("staff_users.id"), nullable=True)
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)
    updated_at = Column(UtcDateTime, nullable=False, default=utcnow)  # the console's live updates follow it
    claimed_at = Column(UtcDateTime, nullable=True)
    resolved_at = Column(UtcDateTime, nullable=True)
    resolved_by = Column(String(64), nullable=True)  # an agent's username, or "bot"
    # The shopper's oldest message nobody has replied to yet (null: nobody is waiting).
    shopper_waiting_since = Column(UtcDateTime, nullable=True)
    last_agent_reply_at = Column(UtcDateTime, nullable=True)
    order_number = Column(String(32), nullable=True)
    # The marketplace deadline that makes this ticket urgent, if any (see OrderDesk.marketplace_deadline).
    deadline_at = Column(UtcDateTime, nullable=True)
    deadline_label = Column(String(120), nullable=True)
    summary = Column(Text, nullable=False, default="{}")  # JSON, see bot/shop/tickets.py

    agent = relationship(StaffUser, lazy="joined")


class VerificationAttempt(Base):
    """One try to prove an order is the shopper's with its number and e-mail or phone; the
    lockout and the slow-down count them (rules.verification_locked, rules.verification_delay).
    The contact itself is never stored."""

    __tablename__ = "verification_attempts"
    # The outcome before the time: the lockout reads failures only (migration 0008).
    __table_args__ = (
        Index("ix_verification_attempts_client", "shop_id", "client", "succeeded", "created_at"),
        Index("ix_verification_attempts_order", "shop_id", "order_number", "succeeded", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    shop_id = Column(ForeignKey("shops.id"), nullable=False)
    # Who tried: "address:<ip>" when the web service saw the address, else "sender:<conversation id>".
    client = Column(String(200), nullable=False)
    order_number = Column(String(32), nullable=False)  # as given, whether or not the order exists
    succeeded = Column(Boolean, nullable=False)
    created_at = Column(UtcDateTime, nullable=False)


class ChatConversation(Base):
    """A storefront conversation and the browser it belongs to: only that browser may read it
    or write to it (rules.may_use_conversation). The browser's key itself is never stored."""

    __tablename__ = "chat_conversations"

    sender_id = Column(String(128), primary_key=True)  # Rasa's conversation id
    shop_id = Column(ForeignKey("shops.id"), nullable=False, index=True)
    browser_key_hash = Column(String(64), nullable=False)
    # Whether the browser ever showed its key: until then, a client that keeps no cookies
    # (a server-side integration) is recognised by the address it started from.
    key_presented = Column(Boolean, nullable=False, default=False)
    started_from = Column(String(64), nullable=False)
    channel = Column(String(16), nullable=False)  # "web" (/api/chat) or "socketio" (rasa-webchat)
    started_at = Column(UtcDateTime, nullable=False)


def make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite:///"):
        Path(database_url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        # SQLAlchemy opens a new SQLite connection per session by default (NullPool): with the
        # pragmas below that was a fifth of the action server's CPU under load. Pooled instead.
        engine = create_engine(
            database_url, future=True, poolclass=QueuePool, connect_args={"timeout": 15, "check_same_thread": False},
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):
            # WAL lets the action server read while the web service writes; NORMAL: a commit
            # does not wait for the disk, which would stall the whole process (a power cut may
            # lose the latest commits, never the file).
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")

        return engine
    return _postgresql_engine(database_url)


# A pooled PostgreSQL connection unused for longer is tested before use (_postgresql_engine).
IDLE_PING_SECONDS = 5.0
WRITES = "writes"  # in a session factory's info: the engine that `transaction()` writes with


def _postgresql_engine(url, **options) -> Engine:
    engine = create_engine(url, future=True, **options)

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(connection, record, _proxy):
        # A connection idle for a while may have been dropped (a database restart, a firewall):
        # it is tested before use, and replaced if dead. Not on every checkout (pool_pre_ping):
        # under load that was a quarter of the round trips to the database, each blocking the
        # process's event loop. One that breaks in use invalidates the pool (SQLAlchemy's rule),
        # and that request gets the database's error.
        if time.monotonic() - record.info.get("checked_in", 0.0) > IDLE_PING_SECONDS:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
            except Exception as error:
                raise DisconnectionError(str(error)) from error

    @event.listens_for(engine, "checkin")
    def _note_checkin(_connection, record):
        record.info["checked_in"] = time.monotonic()

    return engine


def make_session_factory(engine: Engine) -> sessionmaker:
    """Sessions that read; `transaction()` writes. On PostgreSQL the reading sessions have a
    pool of their own whose queries each run on their own (autocommit): the same view of the
    data as in a READ COMMITTED transaction, without a BEGIN and a ROLLBACK round trip around
    them (a session reads once or twice)."""
    if engine.dialect.name == "sqlite":
        reads = engine
    else:
        reads = _postgresql_engine(engine.url, isolation_level="AUTOCOMMIT")
        event.listen(engine, "engine_disposed", lambda _engine: reads.dispose())
    return sessionmaker(reads, future=True, expire_on_commit=False, info={WRITES: engine})


@contextmanager
def transaction(sessions: sessionmaker) -> Iterator[Session]:
    """A session whose work is committed together, or not at all."""
    with sessions(bind=sessions.kw["info"][WRITES]) as session, session.begin():
        yield session


def upgrade(database_url: str, revision: str = "head") -> None:
    """Create or upgrade the schema with the Alembic migrations."""
    alembic_config = AlembicConfig()
    alembic_config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    alembic_config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    make_engine(database_url).dispose()  # creates the SQLite folder
    command.upgrade(alembic_config, revision)


def get_shop(session: Session, slug: str) -> Optional[Shop]:
    return session.execute(select(Shop).where(Shop.slug == slug)).scalar_one_or_none()


_ORDER_DETAILS = (
    selectinload(Order.items),
    selectinload(Order.customer),
    selectinload(Order.shipment).selectinload(Shipment.events),
    selectinload(Order.cancellation),
    selectinload(Order.after_sales).selectinload(AfterSalesRequest.history),
)


def get_order(session: Session, shop_id: int, number: str) -> Optional[Order]:
    """The order with everything the bot tells about it loaded."""
    query = select(Order).where(Order.shop_id == shop_id, Order.number == number).options(*_ORDER_DETAILS)
    return session.execute(query).scalar_one_or_none()


def order_statuses(session: Session, shop_id: int, numbers: List[str]) -> Dict[str, str]:
    """The statuses of these orders, by number (those that exist)."""
    query = select(Order.number, Order.status).where(Order.shop_id == shop_id, Order.number.in_(numbers))
    return dict(session.execute(query).all())


def order_customer(session: Session, shop_id: int, number: str) -> Optional[Customer]:
    """The customer who placed the order (one query, none of the order's details)."""
    query = select(Customer).join(Order, Order.customer_id == Customer.id).where(Order.shop_id == shop_id, Order.number == number)
    return session.execute(query).scalar_one_or_none()


def get_customer(session: Session, shop_id: int, external_id: str) -> Optional[Customer]:
    query = select(Customer).where(Customer.shop_id == shop_id, Customer.external_id == external_id)
    return session.execute(query).scalar_one_or_none()


def recent_orders(session: Session, customer_id: int, limit: int = 5) -> List[Order]:
    """The customer's latest orders, newest first, with their items."""
    query = (
        select(Order).where(Order.customer_id == customer_id).order_by(Order.created_at.desc()).limit(limit)
        .options(selectinload(Order.items))
    )
    return list(session.execute(query).scalars())


def record_unanswered(session: Session, shop_id: int, sender_id: str, text: str, closest_faq_ids: List[str]) -> None:
    session.add(UnansweredMessage(
        shop_id=shop_id, sender_id=sender_id[:200], text=text, closest_faqs=",".join(closest_faq_ids)[:400],
    ))


def unanswered_messages(session: Session, shop_id: int, limit: int = 200) -> List[UnansweredMessage]:
    query = (
        select(UnansweredMessage)
        .where(UnansweredMessage.shop_id == shop_id, UnansweredMessage.dismissed.is_(False))
        .order_by(UnansweredMessage.id.desc()).limit(limit)
    )
    return list(session.execute(query).scalars())


def record_verification_attempt(
    session: Session, shop_id: int, client: str, order_number: str, succeeded: bool, at: datetime, keep_since: datetime
) -> None:
    """Add an attempt, and forget those from before `keep_since` (no limit looks that far back)."""
    session.execute(delete(VerificationAttempt).where(
        VerificationAttempt.shop_id == shop_id, VerificationAttempt.created_at < keep_since,
    ))
    session.add(VerificationAttempt(
        shop_id=shop_id, client=client[:200], order_number=order_number[:32], succeeded=succeeded, created_at=at,
    ))


def verification_failure_times(
    session: Session, shop_id: int, since: datetime, client: Optional[str] = None, order_number: Optional[str] = None,
) -> List[datetime]:
    """When the failed attempts since `since` were made, by one client or on one order number
    (a busy address's successes, a proxy's, are many and count for nothing here)."""
    query = select(VerificationAttempt.created_at).where(
        VerificationAttempt.shop_id == shop_id, VerificationAttempt.created_at >= since, VerificationAttempt.succeeded.is_(False),
    )
    if client is not None:
        query = query.where(VerificationAttempt.client == client[:200])
    if order_number is not None:
        query = query.where(VerificationAttempt.order_number == order_number[:32])
    return list(session.execute(query).scalars())


def latest_verification_outcomes(session: Session, shop_id: int, client: str, since: datetime, limit: int) -> List[bool]:
    """Whether each of the client's latest `limit` attempts since `since` succeeded, oldest first."""
    query = select(VerificationAttempt.succeeded).where(
        VerificationAttempt.shop_id == shop_id, VerificationAttempt.client == client[:200], VerificationAttempt.created_at >= since,
    ).order_by(VerificationAttempt.created_at.desc(), VerificationAttempt.id.desc()).limit(limit)
    return list(reversed(session.execute(query).scalars().all()))
