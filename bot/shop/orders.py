"""The order desk: what the bot may say about a shopper's order, and the requests
it records for the seller. Actions call it; it returns Replies (a response name
from domain.yml and the values that fill it), so all wording stays in domain.yml.

Ownership is checked here: an order is shown only after `verify_contact` or
`verify_customer` has matched it, and a wrong pair looks exactly like an
unknown order number.
"""
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, List, Optional, Pattern, Tuple

from sqlalchemy.orm import Session

from bot.language import INDONESIAN
from bot.shop import db, rules
from bot.shop.db import AddressChangeRequest, AfterSalesEvent, AfterSalesRequest, Cancellation, Order, OrderItem
from bot.shop.context import ShopContext
from bot.shop.vocabulary import (
    APPROVED, BUYER, BY_BUYER, CANCEL_INSTANTLY, CANCELLED, DECIDED_BY_SELLER_RULE, DELIVERED, IN_DELIVERY, KIND_TEXT,
    KIND_TEXT_ID, NO_REFUND_NEEDED, PENDING_PAYMENT, PHRASE_PATTERNS_ID, PHRASES_ID, PLATFORM_APPROVED, READY_TO_SHIP,
    REASON_TEXT, REASON_TEXT_ID, REFUND_PAID, REFUND_PENDING, REFUNDED, REQUESTED, RETURN_AND_REFUND, SELF_SHIPPING,
    STATUS_TEXT, STATUS_TEXT_ID, WITHDRAWN,
)

log = logging.getLogger(__name__)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Reply:
    response: str
    values: Dict[str, Any] = field(default_factory=dict)


def normalise_contact(text: Optional[str]) -> Optional[str]:
    """An e-mail (lower-case) or a phone number (digits only, 7 to 15, with the country code
    if given: "+44 (0)7700 900456" and "0044 7700 900456" → "447700900456"); None otherwise."""
    text = (text or "").strip()
    if EMAIL.match(text):
        return text.lower()
    if not re.fullmatch(r"[\d\s()+.\-/]+", text):
        return None
    if text.startswith(("+", "00")):
        # International: "00" is "+"; a national trunk "0" written after the country code goes.
        text = re.sub(r"\(\s*0\s*\)", "", text)
    digits = re.sub(r"\D", "", text)
    if text.startswith("00"):
        digits = digits[2:]
    return digits if 7 <= len(digits) <= 15 else None


def _phone_matches(stored: Optional[str], given: str) -> bool:
    # Shoppers type national numbers ("07700 900123") for stored international
    # ones ("447700900123"): compare the last 9 digits.
    return bool(stored) and given.isdigit() and stored[-9:] == given[-9:]


def money(cents: int, currency: str) -> str:
    symbol = {"EUR": "€", "GBP": "£", "USD": "$"}.get(currency)
    amount = f"{cents / 100:,.2f}"
    return f"{symbol}{amount}" if symbol else f"{amount} {currency}"


@dataclass(frozen=True)
class Wording:
    """How the desk writes dates and names the vocabulary's values in the shopper's language
    (domain.yml's responses have a variation per language; these fill them)."""
    days: Tuple[str, ...]
    months: Tuple[str, ...]
    at: str
    no_scan_yet: str
    status: Dict[str, str]
    kind: Dict[str, str]
    reason: Dict[str, str]
    phrases: Dict[str, str] = field(default_factory=dict)
    phrase_patterns: Tuple[Tuple[Pattern, str], ...] = ()

    def phrase(self, text: str) -> str:
        """A carrier's, the marketplace's or the seller's words, in this language when known."""
        if text in self.phrases:
            return self.phrases[text]
        for pattern, replacement in self.phrase_patterns:
            if pattern.fullmatch(text):
                return pattern.sub(replacement, text)
        return text

    def day(self, moment) -> str:
        return f"{self.days[moment.weekday()]} {moment.day} {self.months[moment.month - 1]}"

    def when(self, moment: datetime) -> str:
        return f"{self.day(moment)} {self.at} {moment:%H:%M} UTC"

    def events(self, shipment) -> str:
        """The shipment's latest three scans (the carrier's own words)."""
        return "\n".join(
            f"• {self.when(event.occurred_at)}: {self.phrase(event.description)} ({event.location})" for event in shipment.events[-3:]
        ) or f"• {self.no_scan_yet}"


ENGLISH = Wording(
    days=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    months=("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    at="at", no_scan_yet="no scan yet", status=STATUS_TEXT, kind=KIND_TEXT, reason=REASON_TEXT,
)
WORDINGS = {
    INDONESIAN: Wording(
        days=("Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min"),
        months=("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"),
        at="pukul", no_scan_yet="belum ada pemindaian", status=STATUS_TEXT_ID, kind=KIND_TEXT_ID, reason=REASON_TEXT_ID,
        phrases=PHRASES_ID, phrase_patterns=PHRASE_PATTERNS_ID,
    ),
}


def _live_request(order: Order) -> Optional[AfterSalesRequest]:
    """The order's latest after-sales request, unless the buyer withdrew it (a new one may be asked for)."""
    latest = order.after_sales[-1] if order.after_sales else None
    return None if latest is None or latest.status == WITHDRAWN else latest


def _for_kind(response: str, kind: str) -> str:
    """An approval's reply says what happens next, which depends on the kind: a refund only
    needs no item back, a replacement ships instead of a refund."""
    return response if kind == RETURN_AND_REFUND else f"{response}_{kind}"


def items_text(order: Order) -> str:
    return ", ".join(f"{item.quantity}× {item.name}" for item in order.items)


# Order question topics (the intents that set `order_topic`) and the desk method answering each.
ANSWER_METHODS = {
    "order_status": "order_status",
    "track_shipment": "tracking",
    "late_delivery": "late_delivery",
    "cancellation_reason": "cancellation_reason",
    "refund_status": "refund_status",
    "cancel_order": "cancel_check",
    "change_address": "address_check",
    "return_request": "return_check",
    "keep_order": "withdraw_cancellation",
}
# An order question that no intent names, told by its words (actions/orders.py): a
# cancellation, or "I'll keep it", that names the return.
WITHDRAW_RETURN = "withdraw_return"


# How many of a signed-in customer's latest orders `orders_with_item` looks through.
ORDERS_SEARCHED = 50
# Words of a message that name no item ("which one is the order with ..."), in English and Indonesian.
NOT_ITEM_WORDS = frozenset("""
    that this these those with which what where when about order orders item items thing things stuff
    bought ordered purchase purchased package parcel delivery from last first second other another
    want need have know please just check help tell cancel return refund track status late size still
    black white grey gray navy blue green pink yellow brown clear small medium large running
    yang pesanan barang paket punya saya mana beli dibeli kemarin mau batal retur cek ukuran
    the and for you can how get any not but are was yes yet now why who one two its has had did got
    out off new old all our may per via day see let buy pay use way too own ada apa itu ini aja dan
    gak sih kak min gan dah deh kok tau
""".split())


# Indonesian words for things shops sell, with the English words item names use ("sepatu lari"
# names "Running trainers"): the shop's item names are in English.
INDONESIAN_ITEM_WORDS = {
    "sepatu": ("trainers", "shoes", "sneakers", "boots"), "sneaker": ("trainers", "sneakers"), "sandal": ("sandals",),
    "botol": ("bottle",), "tumbler": ("bottle", "tumbler"), "tas": ("bag", "tote", "backpack"), "ransel": ("backpack",),
    "dompet": ("wallet", "purse"), "lampu": ("lamp", "light"), "kaos": ("shirt", "tshirt"), "kaus": ("shirt", "tshirt"),
    "kemeja": ("shirt",), "celana": ("jeans", "trousers", "shorts", "pants"), "rok": ("skirt",), "gaun": ("dress",),
    "jaket": ("jacket", "hoodie"), "topi": ("cap", "hat"), "buku": ("book", "notebook"),
    "matras": ("mat",), "tikar": ("mat",), "headset": ("headphones", "headset"), "earphone": ("earphones", "headphones"),
    "casing": ("case",), "kabel": ("cable",), "gelas": ("glass", "mug", "cup"), "cangkir": ("cup", "mug"),
    "selimut": ("blanket",), "bantal": ("pillow", "cushion"), "handuk": ("towel",), "payung": ("umbrella",),
    "kacamata": ("glasses", "sunglasses"), "arloji": ("watch",),
}


def _item_words(text: str) -> List[str]:
    # "T-shirt" and "tshirt" are one word.
    return re.findall(r"[a-z0-9]+", text.lower().replace("-", ""))


def _kind_word(name: str) -> List[str]:
    """The word of an item's name that says what it is: the last before the first comma."""
    return _item_words(name.split(",")[0])[-1:]


def _same_word(word: str, named: str) -> bool:
    """"hoodie" names "hoodie", "trainer" names "trainers", "headphone" "headphones"."""
    return len(named) >= 4 and (named.startswith(word) or word.startswith(named))


def order_label(order: Order, shown: Optional[OrderItem] = None) -> str:
    """An order as a button names it, by its first item or the one `shown`: "#100011 · Zip
    hoodie, grey, M +1"."""
    items = sorted(order.items, key=lambda item: item.id)
    shown = shown or (items[0] if items else None)
    name = f" · {shown.name}" if shown else ""
    more = f" +{len(items) - 1}" if len(items) > 1 else ""
    return f"#{order.number}{name}{more}"[:80]


class OrderDesk:
    def __init__(
        self, shop: ShopContext, clock: Callable[[], datetime] = db.utcnow,
        limits: rules.VerificationLimits = rules.VerificationLimits(), language: Optional[str] = None,
    ):
        self.shop_id = shop.shop_id
        self.sessions = shop.sessions
        self.settings = shop.settings  # as they are now: a desk serves one request
        self.clock = clock
        self.limits = limits
        self.wording = WORDINGS.get(language or "", ENGLISH)  # the shopper's language (the `language` slot)

    # --- who may see what -------------------------------------------------

    def identity_secret(self) -> str:
        with self.sessions() as session:
            return session.get(db.Shop, self.shop_id).identity_secret

    def verify_contact(self, number: str, contact: str, client: str) -> bool:
        """Whether the order exists and the e-mail or phone is the one on it, asked by `client`
        (identity.client_of). Each try is recorded, each failure logged (without the contact);
        while the client or the order is locked out, nothing is checked."""
        now = self.clock()
        with db.transaction(self.sessions) as session:
            shop_id = self.shop_id
            if self._locked(session, shop_id, client, number, now):
                log.warning("order verification refused, locked out: client %s, order %s", client, number)
                return False
            order = db.get_order(session, shop_id, number)
            matched = order is not None and (
                contact == order.customer.email or _phone_matches(order.customer.phone, contact)
            )
            keep_since = now - max(self.limits.client_day, self.limits.order_window)
            db.record_verification_attempt(session, shop_id, client, number, matched, now, keep_since)
        if not matched:
            log.warning(
                "order verification failed: client %s, order %s, %s given", client, number, "e-mail" if "@" in contact else "phone"
            )
        return matched

    def verification_locked(self, client: str, number: Optional[str] = None) -> bool:
        """Whether contact checks are refused for this client, or for this order (rules.verification_locked)."""
        with self.sessions() as session:
            return self._locked(session, self.shop_id, client, number, self.clock())

    def failure_delay(self, client: str) -> float:
        """Seconds to hold back the answer to the client's latest failed check (rules.verification_delay)."""
        now = self.clock()
        with self.sessions() as session:
            # More failures in a row than this within the window lock the client out anyway.
            outcomes = db.latest_verification_outcomes(
                session, self.shop_id, client, now - self.limits.client_window, self.limits.failures_per_client + 1,
            )
        return rules.verification_delay(outcomes, self.limits)

    def _locked(self, session: Session, shop_id: int, client: str, number: Optional[str], now: datetime) -> bool:
        limits = self.limits
        by_client = db.verification_failure_times(session, shop_id, now - limits.client_day, client=client)
        on_order = db.verification_failure_times(session, shop_id, now - limits.order_window, order_number=number) if number else []
        return rules.verification_locked(by_client, on_order, now, limits)

    def verify_customer(self, number: str, customer_external_id: str) -> bool:
        with self.sessions() as session:
            customer = db.order_customer(session, self.shop_id, number)
            return customer is not None and customer.external_id == customer_external_id

    def same_customer(self, number: str, verified_number: str) -> bool:
        """Whether order `number` was placed by the customer of the already verified order. No
        try is recorded: it can only show a shopper their own orders, so it guesses nothing."""
        with self.sessions() as session:
            customer = db.order_customer(session, self.shop_id, number)
            return customer is not None and customer is db.order_customer(session, self.shop_id, verified_number)

    def statuses(self, numbers: List[str]) -> Dict[str, str]:
        """The statuses of orders this shopper was offered as buttons (their own), by number."""
        with self.sessions() as session:
            return db.order_statuses(session, self.shop_id, numbers)

    def recent_orders(self, customer_external_id: str) -> List[Tuple[str, str]]:
        """The customer's latest orders, newest first: (number, label as a button shows it)."""
        with self.sessions() as session:
            customer = db.get_customer(session, self.shop_id, customer_external_id)
            return [(order.number, order_label(order)) for order in db.recent_orders(session, customer.id)] if customer else []

    def orders_with_item(self, customer_external_id: str, text: str, by_kind: bool = False) -> List[Tuple[str, str]]:
        """The customer's orders (of the latest `ORDERS_SEARCHED`) with an item the text names
        ("the hoodie one"), newest first: (number, label naming that item). `by_kind`: only by
        the word that says what the item is ("bag" of "Canvas tote bag", "trainers" of
        "Running trainers, size 42"), not by the others ("canvas", "water")."""
        said = _item_words(text)
        words = {word for word in said if len(word) >= 4} - NOT_ITEM_WORDS
        # Matched whole only: a three-letter word ("bag", "cap"), and the Indonesian words' English.
        exact = {english for word in said for english in INDONESIAN_ITEM_WORDS.get(word, ())}
        exact |= {word for word in said if len(word) == 3 and word.isalpha()} - NOT_ITEM_WORDS
        if not words and not exact:
            return []
        with self.sessions() as session:
            customer = db.get_customer(session, self.shop_id, customer_external_id)
            orders = db.recent_orders(session, customer.id, limit=ORDERS_SEARCHED) if customer else []
            found = []
            for order in orders:
                item = next((item for item in order.items if any(
                    named in exact or any(_same_word(word, named) for word in words)
                    for named in (_kind_word(item.name) if by_kind else _item_words(item.name)))), None)
                if item is not None:
                    found.append((order.number, order_label(order, item)))
            return found

    # --- answers (the order number has been verified by the caller) -------

    def answer(self, topic: str, number: str) -> List[Reply]:
        """The answer to an order question of this topic (the `order_topic` slot).

        Topics that need a yes/no or more details end with the question that asks for them.
        """
        if topic == WITHDRAW_RETURN:
            return self.withdraw_return(number)
        return getattr(self, ANSWER_METHODS[topic])(number)

    def _load(self, session: Session, number: str) -> Order:
        order = db.get_order(session, self.shop_id, number)
        if order is None:
            raise LookupError(f"order {number} vanished")
        return order

    def _base(self, order: Order) -> Dict[str, Any]:
        values = {
            "order_number": order.number,
            "items": items_text(order),
            "total": money(order.total_cents, order.currency),
            "status_text": self.wording.status[order.status],
            "created_on": self.wording.day(order.created_at),
            "return_window_days": self.settings.return_window_days,
            "deadline_days": self.settings.self_shipping_deadline_days,
        }
        values["ship_by"] = self.wording.day(rules.shipping_deadline(order.created_at, self.settings.self_shipping_deadline_days))
        shipment = order.shipment
        if shipment is not None:
            values.update(carrier=shipment.carrier, tracking_number=shipment.tracking_number)
            if shipment.estimated_delivery:
                values["estimated_delivery"] = self.wording.day(shipment.estimated_delivery)
            if shipment.delivered_at:
                values["delivered_on"] = self.wording.day(shipment.delivered_at)
                values["return_until"] = self.wording.day(shipment.delivered_at + timedelta(days=self.settings.return_window_days))
        return values

    def order_status(self, number: str) -> List[Reply]:
        with self.sessions() as session:
            order = self._load(session, number)
            values = self._base(order)
            problem = self._parcel_problem(order, values)
            if problem:
                return problem
            if order.status == IN_DELIVERY and "estimated_delivery" not in values:
                return [Reply("utter_order_status_in_delivery_no_estimate", values)]
            if self._unshipped_past_deadline(order):
                return [Reply("utter_late_not_shipped_late", values)]  # not "it ships by ..."
            if order.status == DELIVERED:
                return self._delivered_status(order, values)
            replies = [Reply(f"utter_order_status_{order.status}", values)]
            if order.cancellation is not None:
                # Cancelled: why, and the refund. Not yet: the buyer's request waiting for the seller.
                replies += self._cancellation_replies(order, values)
            return replies

    def _delivered_status(self, order: Order, values: Dict[str, Any]) -> List[Reply]:
        """Delivered, and what the shopper may still do: a return request's state when there is
        one, else until when a return can be asked for, or that the window has closed."""
        if _live_request(order) is not None:
            return [Reply("utter_order_status_delivered_on", values), *self._after_sales_replies(order, values)]
        delivered_at = order.shipment.delivered_at if order.shipment else None
        state, _ = rules.return_eligibility(delivered_at, self.clock(), self.settings.return_window_days)
        return [Reply("utter_return_window_closed" if state == rules.WINDOW_CLOSED else "utter_order_status_delivered", values)]

    def _unshipped_past_deadline(self, order: Order) -> bool:
        return order.status == READY_TO_SHIP and order.logistics == SELF_SHIPPING and rules.lateness(
            order.created_at, None, self.clock(), self.settings.self_shipping_deadline_days, self.settings.at_risk_days
        ) == rules.LATE

    def _parcel_problem(self, order: Order, values: Dict[str, Any]) -> List[Reply]:
        """A parcel lost or damaged on the way of an order not cancelled yet: whatever the
        shopper asked (its status, a return, a cancellation), that is the answer."""
        shipment = order.shipment
        if order.status == CANCELLED or shipment is None or not shipment.problem:
            return []
        return [Reply(f"utter_tracking_parcel_{shipment.problem}", {**values, "events": self.wording.events(shipment)})]

    def tracking(self, number: str) -> List[Reply]:
        with self.sessions() as session:
            order = self._load(session, number)
            values = self._base(order)
            shipment = order.shipment
            if order.status == CANCELLED and (shipment is None or not shipment.problem):
                return [Reply("utter_tracking_cancelled", values)]
            if order.status == PENDING_PAYMENT:
                return [Reply("utter_order_status_pending_payment", values)]  # nothing to ship before it is paid
            if shipment is None:
                late = self._unshipped_past_deadline(order)
                replies = [Reply("utter_late_not_shipped_late" if late else "utter_tracking_not_shipped", values)]
                # (a buyer's cancellation request waiting for the seller: said too)
                return replies + (self._cancellation_replies(order, values) if order.cancellation else [])
            values["events"] = self.wording.events(shipment)
            if shipment.problem:
                return [Reply(f"utter_tracking_parcel_{shipment.problem}", values)]
            if shipment.delivered_at:
                return [Reply("utter_tracking_delivered", values)]
            return [Reply("utter_tracking" if shipment.estimated_delivery else "utter_tracking_no_estimate", values)]

    def late_delivery(self, number: str) -> List[Reply]:
        with self.sessions() as session:
            order = self._load(session, number)
            values = self._base(order)
            now = self.clock()
            shipment = order.shipment
            if order.status == CANCELLED:
                return self._cancellation_replies(order, values)
            if order.status == DELIVERED:
                return [Reply("utter_late_but_delivered", values)]
            problem = self._parcel_problem(order, values)
            if problem:
                return problem
            if order.status == IN_DELIVERY:
                if not shipment.estimated_delivery:
                    return [Reply("utter_late_in_transit_no_estimate", values)]
                if shipment.estimated_delivery < now.date():
                    return [Reply("utter_late_in_transit_overdue", values)]
                return [Reply("utter_late_in_transit_on_time", values)]
            if order.status == PENDING_PAYMENT:
                return [Reply("utter_order_status_pending_payment", values)]
            if order.logistics != SELF_SHIPPING:
                return [Reply("utter_late_platform_pickup", values)]  # the 12-day rule is for self-shipping
            state = rules.lateness(
                order.created_at, None, now, self.settings.self_shipping_deadline_days, self.settings.at_risk_days
            )
            return [Reply(f"utter_late_not_shipped_{state}", values)]

    def _cancellation_replies(self, order: Order, values: Dict[str, Any]) -> List[Reply]:
        cancellation = order.cancellation
        if cancellation is None:
            return [Reply("utter_cancellation_not_cancelled", values)]
        values = {**values, "reason": self.wording.phrase(cancellation.reason), "requested_on": self.wording.day(cancellation.requested_at)}
        if cancellation.cancelled_at is None:
            return [Reply("utter_cancellation_request_pending", values)]
        values["cancelled_on"] = self.wording.day(cancellation.cancelled_at)
        replies = [Reply(f"utter_cancellation_reason_{cancellation.type}", values)]
        if cancellation.refund_state == REFUND_PAID:
            replies.append(Reply("utter_refund_paid", {**values, "refunded_on": self.wording.day(cancellation.refunded_at)}))
        elif cancellation.refund_state == REFUND_PENDING:
            replies.append(Reply("utter_refund_pending", values))
        else:
            replies.append(Reply("utter_refund_not_needed", values))
        return replies

    def cancellation_reason(self, number: str) -> List[Reply]:
        with self.sessions() as session:
            order = self._load(session, number)
            values = self._base(order)
            if order.cancellation is None and order.after_sales:
                # "why was it rejected?" about a return: the return's decision is the answer.
                return self._after_sales_replies(order, values)
            return self._cancellation_replies(order, values)

    def _cancel_answer(self, order: Order, values: Dict[str, Any]) -> List[Reply]:
        """`utter_ask_confirm_cancel` when the buyer may cancel; else why not."""
        if order.cancellation is not None:
            return self._cancellation_replies(order, values)
        problem = self._parcel_problem(order, values)
        if problem:
            return problem
        if rules.buyer_may_cancel(order.status):
            return [Reply("utter_ask_confirm_cancel", values)]
        return [Reply(f"utter_cannot_cancel_{order.status}", values)]

    def cancel_check(self, number: str) -> List[Reply]:
        with self.sessions() as session:
            order = self._load(session, number)
            return self._cancel_answer(order, self._base(order))

    def cancel(self, number: str) -> List[Reply]:
        """Cancel, or ask the seller to, as shop.yml says."""
        with db.transaction(self.sessions) as session:
            order = self._load(session, number)
            values = self._base(order)
            answer = self._cancel_answer(order, values)  # re-checked inside the transaction
            if answer[-1].response != "utter_ask_confirm_cancel":
                return answer
            now = self.clock()
            instant = self.settings.buyer_cancellation == CANCEL_INSTANTLY
            paid = order.paid_at is not None
            order.cancellation = Cancellation(
                type=BY_BUYER, reason="Requested by the buyer in the shop chat", requested_at=now,
                cancelled_at=now if instant else None, refund_state=REFUND_PENDING if paid else NO_REFUND_NEEDED,
            )
            if instant:
                order.status = CANCELLED
                return [Reply("utter_cancelled_now" if paid else "utter_cancelled_now_unpaid", values)]
            return [Reply("utter_cancellation_requested" if paid else "utter_cancellation_requested_unpaid", values)]

    def withdraw_cancellation(self, number: str) -> List[Reply]:
        """Take back the buyer's cancellation request while the seller has not decided it: the
        order goes ahead. A decided cancellation is final."""
        with db.transaction(self.sessions) as session:
            order = self._load(session, number)
            values = self._base(order)
            cancellation = order.cancellation
            if cancellation is None:
                return [Reply("utter_order_not_being_cancelled", values)]
            if cancellation.cancelled_at is not None:
                return [Reply("utter_cancellation_final", {**values, "cancelled_on": self.wording.day(cancellation.cancelled_at)})]
            order.cancellation = None  # (delete-orphan: the request is gone)
            return [Reply("utter_cancellation_withdrawn", values)]

    def address_check(self, number: str) -> List[Reply]:
        with self.sessions() as session:
            order = self._load(session, number)
            values = self._base(order)
            if rules.buyer_may_change_address(order.status):
                return [Reply("utter_ask_new_address", values)]
            return [Reply(f"utter_cannot_change_address_{order.status}", values)]

    def change_address(self, number: str, new_address: str) -> List[Reply]:
        with db.transaction(self.sessions) as session:
            order = self._load(session, number)
            values = {**self._base(order), "new_address": new_address}
            if not rules.buyer_may_change_address(order.status):
                return [Reply(f"utter_cannot_change_address_{order.status}", values)]
            order.address_changes.append(AddressChangeRequest(new_address=new_address, requested_at=self.clock()))
            return [Reply("utter_address_change_requested", values)]

    def _return_answer(self, order: Order, values: Dict[str, Any], now: datetime) -> List[Reply]:
        """`utter_ask_return_kind` when a return can be requested; else why not."""
        last_request = _live_request(order)
        if last_request is not None and not rules.may_reopen_return(last_request.status, last_request.round):
            return self._after_sales_replies(order, values)
        delivered_at = order.shipment.delivered_at if order.shipment else None
        state, _ = rules.return_eligibility(delivered_at, now, self.settings.return_window_days)
        if state == rules.ELIGIBLE and last_request is not None:
            # A declined request may be disputed once: say so before asking again.
            declined = {**values, "kind_text": self.wording.kind.get(last_request.kind, last_request.kind)}
            declined["decided_on"] = self.wording.day(last_request.decided_at or last_request.requested_at)
            return [Reply("utter_return_declined_ask_again", declined), Reply("utter_ask_return_kind", values)]
        if state == rules.ELIGIBLE:
            return [Reply("utter_ask_return_kind", values)]
        if state == rules.NOT_DELIVERED and order.status == CANCELLED:
            return self._cancellation_replies(order, values)
        problem = self._parcel_problem(order, values) if state == rules.NOT_DELIVERED else []
        if problem:
            return problem
        return [Reply(f"utter_return_{state}", values)]

    def return_check(self, number: str) -> List[Reply]:
        with self.sessions() as session:
            order = self._load(session, number)
            return self._return_answer(order, self._base(order), self.clock())

    def request_return(self, number: str, kind: str, reason: str) -> List[Reply]:
        with db.transaction(self.sessions) as session:
            order = self._load(session, number)
            values = self._base(order)
            now = self.clock()
            answer = self._return_answer(order, values, now)  # re-checked inside the transaction
            if answer[-1].response != "utter_ask_return_kind":
                return answer
            delivered_at = order.shipment.delivered_at
            values.update(kind_text=self.wording.kind[kind], reason_text=self.wording.reason[reason])
            values["auto_approval_at"] = self.wording.when(
                rules.platform_auto_approval_at(order.ready_to_ship_at, now, self.settings.platform_auto_approval_hours)
            )
            request = _live_request(order)
            if request is not None:
                # The buyer disputes the rejection: the request's next and last approval round,
                # which no seller rule decides.
                request.round, request.status = request.round + 1, REQUESTED
                request.decided_at = request.decided_by = None
                request.history.append(AfterSalesEvent(occurred_at=now, status=REQUESTED, actor=BUYER, round=request.round))
                return [Reply("utter_return_second_round", values)]
            request = AfterSalesRequest(
                kind=kind, reason=reason, status=REQUESTED, amount_cents=order.total_cents, requested_at=now
            )
            request.history.append(AfterSalesEvent(occurred_at=now, status=REQUESTED, actor=BUYER))
            order.after_sales.append(request)
            if rules.seller_auto_approves(self.settings.return_auto_approval, order.total_cents, reason, delivered_at, now):
                request.status, request.decided_at, request.decided_by = APPROVED, now, DECIDED_BY_SELLER_RULE
                request.history.append(AfterSalesEvent(occurred_at=now, status=APPROVED, actor=DECIDED_BY_SELLER_RULE))
                return [Reply(_for_kind("utter_return_auto_approved", kind), values)]
            return [Reply("utter_return_requested", values)]

    def return_pending(self, number: str) -> bool:
        """Whether the order's return request waits for the seller (the buyer may withdraw it)."""
        with self.sessions() as session:
            request = _live_request(self._load(session, number))
            return request is not None and request.status == REQUESTED

    def withdraw_return(self, number: str) -> List[Reply]:
        """Take back the buyer's return request while the seller has not decided it: the buyer
        keeps the item, and may ask again while the return window is open. One decided (or
        approved by the marketplace's deadline) is for a person to undo."""
        with db.transaction(self.sessions) as session:
            order = self._load(session, number)
            values = self._base(order)
            request = _live_request(order)
            if request is None:
                return [Reply("utter_no_return_to_withdraw", values)]
            if request.status != REQUESTED or self.clock() > self._platform_auto_approval_at(order, request):
                return [*self._after_sales_replies(order, values), Reply("utter_return_not_withdrawable", values)]
            request.status = WITHDRAWN
            request.history.append(AfterSalesEvent(occurred_at=self.clock(), status=WITHDRAWN, actor=BUYER, round=request.round))
            delivered_at = order.shipment.delivered_at if order.shipment else None
            state, _ = rules.return_eligibility(delivered_at, self.clock(), self.settings.return_window_days)
            return [Reply("utter_return_withdrawn" if state == rules.ELIGIBLE else "utter_return_withdrawn_window_closed", values)]

    def _after_sales_replies(self, order: Order, values: Dict[str, Any]) -> List[Reply]:
        """The order's after-sales request as it stands: a withdrawn one only while no other followed."""
        replies = []
        for request in [r for r in order.after_sales if r.status != WITHDRAWN] or order.after_sales[-1:]:
            request_values = {
                **values,
                "kind_text": self.wording.kind.get(request.kind, request.kind),
                "reason_text": self.wording.reason.get(request.reason, request.reason),
                "requested_on": self.wording.day(request.requested_at),
                "amount": money(request.amount_cents, order.currency),
            }
            if request.decided_at:
                request_values["decided_on"] = self.wording.day(request.decided_at)
            status = request.status
            if status == REQUESTED:
                deadline = self._platform_auto_approval_at(order, request)
                request_values["auto_approval_at"] = self.wording.when(deadline)
                if self.clock() > deadline:
                    status = PLATFORM_APPROVED  # the marketplace's rule has decided it, whatever our data says
            if status == WITHDRAWN:
                withdrawn_at = max((e.occurred_at for e in request.history if e.status == WITHDRAWN), default=request.requested_at)
                request_values["withdrawn_on"] = self.wording.day(withdrawn_at)
            if request.status == REFUNDED:
                request_values["refunded_on"] = self.wording.day(request.refunded_at or request.decided_at)
            response = f"utter_after_sales_{status}"
            replies.append(Reply(_for_kind(response, request.kind) if status == APPROVED else response, request_values))
        return replies

    def _platform_auto_approval_at(self, order: Order, request: AfterSalesRequest) -> datetime:
        """When the marketplace approves the request by itself if the seller has not answered
        in its current round."""
        asked_at = rules.round_requested_at(
            request.requested_at, [event.occurred_at for event in request.history if event.status == REQUESTED]
        )
        return rules.platform_auto_approval_at(order.ready_to_ship_at, asked_at, self.settings.platform_auto_approval_hours)

    def marketplace_deadline(self, number: str) -> Optional[Tuple[datetime, str]]:
        """The marketplace deadline at stake for this order, for the agents' queue: a refund
        request the platform will auto-approve, or a self-shipped order's shipping deadline."""
        with self.sessions() as session:
            order = self._load(session, number)
            pending = [request for request in order.after_sales if request.status == REQUESTED]
            if pending:
                return self._platform_auto_approval_at(order, pending[-1]), "refund request: the marketplace auto-approves it"
            if order.logistics == SELF_SHIPPING and order.status == READY_TO_SHIP:
                at = rules.shipping_deadline(order.created_at, self.settings.self_shipping_deadline_days)
                return at, "must ship (In Delivery) by the marketplace deadline"
        return None

    def refund_status(self, number: str) -> List[Reply]:
        with self.sessions() as session:
            order = self._load(session, number)
            values = self._base(order)
            if order.after_sales:
                return self._after_sales_replies(order, values)
            if order.cancellation is not None:
                return self._cancellation_replies(order, values)
            problem = self._parcel_problem(order, values)
            if problem:
                return problem
            # No request yet: what would get the shopper's money back (cancelling, returning).
            if order.paid_at is not None and rules.buyer_may_cancel(order.status):
                return [Reply("utter_no_refund_before_shipping", values)]
            delivered_at = order.shipment.delivered_at if order.shipment else None
            if rules.return_eligibility(delivered_at, self.clock(), self.settings.return_window_days)[0] == rules.ELIGIBLE:
                return [Reply("utter_no_after_sales_request_delivered", values)]
            return [Reply("utter_no_after_sales_request", values)]
