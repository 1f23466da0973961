"""The seller's performance dashboard: the numbers the marketplace judges a shop by, early
enough to act on them, for a chosen period (the last `days` days up to `now`).

Three layers:

* rows: plain dataclasses (`OrderRow`, `AfterSalesRow`, `TrackerEvent`, `TicketRow`,
  `UnansweredRow`) as the query functions load them;
* pure functions computing each section from rows and `now` (`late_delivery`,
  `cancellations`, `after_sales`, `chat`, `unanswered_groups`), on the business rules of
  bot/shop/rules.py;
* the query functions (`load_*`) and `build_report`, which runs them for one shop: the shop
  database for orders, after-sales requests, tickets and unanswered messages; the Rasa tracker
  store (read only, its `events` table) for the chats.

How each figure reads the marketplace's rules (developers' guide, "Marketplace rules"):

* Late Delivery Rate: self-shipped, paid orders only (the marketplace's own logistics is not
  judged by the seller's deadline, as bot/shop/orders.py tells shoppers). An order counts on
  the day its deadline was settled (`rules.shipping_outcome`): shipped by the deadline (the
  deadline itself is on time) or late (shipped after it, or still unshipped when it passed).
  Rate = late / settled; at 10% or more (the rule is "under 10%") the marketplace may impose an
  Order Volume Limit. The daily trend is that rate over the `days` days ending each day.
* Cancellations: the orders placed in the period and how many of them were cancelled, by type;
  a buyer's request the seller has not accepted yet is no cancellation.
* After-Sales Handling Time: always the marketplace's last 60 days (`rules.handling_time_minutes`).
* Chat: one conversation is one Rasa session with at least one shopper message; see `chat`.
"""
import json
import logging
import os
import re
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import numpy as np
import yaml
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, or_, select
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, selectinload

from bot.errors import InvalidInput
from bot.rasa import events as tracker_events
from bot.shop import rules
from bot.shop.db import AfterSalesRequest, Cancellation, Order, Shipment, Ticket, UnansweredMessage
from bot.shop.hours import WorkingHours, is_open
from bot.shop.orders import ANSWER_METHODS
from bot.shop.vocabulary import (
    APPROVED, AUTOMATIC, BUYER, BY_BUYER, BY_SELLER, CANCELLATION_TYPE_TEXT, CANCELLATION_TYPES, DECIDERS, KIND_TEXT, LOGISTICS_OBSTACLE,
    READY_TO_SHIP, REJECTED, REQUESTED, SELF_SHIPPING, WITHDRAWN, normalise_order_number,
)

log = logging.getLogger(__name__)

DEFAULT_DAYS = 30
PERIOD_CHOICES = (7, 30, 60, 90)
MAX_DAYS = 365
HANDLING_TIME_DAYS = 60  # the marketplace's window for the After-Sales Handling Time, whatever the period
AT_RISK_WINDOW = timedelta(hours=48)  # an unshipped order whose deadline is this close is listed first
RESPONSE_WINDOWS_HOURS = (12, 24)  # the marketplaces' chat response rate: answered within these

SECTIONS = ("late_delivery", "cancellations", "after_sales", "chat", "unanswered")

# --- What to do about each cancellation type (its display text: vocabulary) ---

CANCELLATION_ADVICE = {
    BY_SELLER: "Restock: keep stock levels up to date so that you never sell what you cannot send.",
    AUTOMATIC: "Ship sooner: hand self-shipped orders to the carrier well before the deadline "
               "(unpaid orders are cancelled after 24 hours; there is nothing to do about those).",
    LOGISTICS_OBSTACLE: "Follow up with the carrier: claim for lost or damaged parcels and pack fragile items better.",
    BY_BUYER: "Nothing to do as a rule; if buyers often change their mind, make the listings clearer "
              "(sizes, photos, delivery times).",
}

# --- Rows: what the query functions load --------------------------------------------------------------


@dataclass(frozen=True)
class OrderRow:
    number: str
    logistics: str  # vocabulary.LOGISTICS
    status: str  # vocabulary.ORDER_STATUSES
    created_at: datetime
    paid_at: Optional[datetime] = None
    shipped_at: Optional[datetime] = None
    cancellation_type: Optional[str] = None  # vocabulary.CANCELLATION_TYPES
    cancelled_at: Optional[datetime] = None  # None: not cancelled (or a buyer's request still waiting)


@dataclass(frozen=True)
class HistoryEntry:
    """One entry of an after-sales request's status history (db.AfterSalesEvent)."""

    occurred_at: datetime
    status: str
    actor: str
    round: int = 1


@dataclass(frozen=True)
class AfterSalesRow:
    request_id: int
    order_number: str
    kind: str
    status: str
    requested_at: datetime
    ready_to_ship_at: Optional[datetime]
    rounds: Tuple[rules.DecisionRound, ...]
    round_started_at: datetime  # when its current approval round started (the buyer's latest request)


@dataclass(frozen=True)
class TrackerEvent:
    """A row of the Rasa SQL tracker store's `events` table; `data` is the event itself."""

    sender_id: str
    type_name: str
    timestamp: float
    intent_name: Optional[str] = None
    action_name: Optional[str] = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TicketRow:
    sender_id: str
    created_at: datetime
    reason: str
    resolved_by: Optional[str] = None  # an agent's username, or "bot"


@dataclass(frozen=True)
class UnansweredRow:
    id: int
    sender_id: str
    text: str
    created_at: datetime
    closest_faqs: Tuple[str, ...] = ()


@dataclass(frozen=True)
class StoredParse:
    """What the tracker store kept of the NLU's reading of a message."""

    top_intent: Optional[str]  # the likeliest intent other than `nlu_fallback`
    entities: Tuple[str, ...] = ()  # entity names found in it


# --- Small shared values --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    """`count` of `base`; no rate ("no data") when the base is empty."""

    count: int
    base: int

    @property
    def rate(self) -> Optional[float]:
        return self.count / self.base if self.base else None


def percent(share: Share) -> str:
    rate = share.rate
    return "no data" if rate is None else f"{rate * 100:.1f}%"


def duration_text(seconds: Optional[float]) -> str:
    """"no data", "0.4 s", "42 s", "12 min", "3.5 h", "2.1 days"."""
    if seconds is None:
        return "no data"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _days_of_period(now: datetime, days: int, zone: ZoneInfo) -> List[date]:
    """The period's calendar days in the shop's time zone, oldest first; the last is today."""
    today = now.astimezone(zone).date()
    return [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def _end_of(day: date, zone: ZoneInfo, now: datetime) -> datetime:
    """The end of a local day (its next midnight), or `now` for today."""
    midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(timezone.utc)
    return min(midnight, now)


def _local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


# --- Late Delivery Rate ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayRate:
    day: date
    settled: int  # orders whose deadline was settled that day
    late: int  # of them late
    window: Share  # the Late Delivery Rate over the period's length ending that day


@dataclass(frozen=True)
class AtRiskOrder:
    number: str
    created_at: datetime
    deadline: datetime
    late: bool  # the deadline has passed already (it counts as late once settled)

    def left(self, now: datetime) -> timedelta:
        return self.deadline - now


@dataclass(frozen=True)
class LateDelivery:
    deadline_days: int
    rate: Share  # late of settled
    limit_reached: bool  # at or above 10%: the marketplace may impose an Order Volume Limit
    daily: Tuple[DayRate, ...]
    at_risk: Tuple[AtRiskOrder, ...]  # not shipped, deadline within 48 h or passed; soonest first


def _judged_by_deadline(order: OrderRow) -> bool:
    """Self-shipped and paid: only those must be In Delivery by the self-shipping deadline."""
    return order.logistics == SELF_SHIPPING and order.paid_at is not None


def shipping_outcomes(orders: Iterable[OrderRow], now: datetime, deadline_days: int) -> List[Tuple[datetime, bool]]:
    """(settled at, late) of every order whose deadline is settled by `now` (rules.shipping_outcome)."""
    outcomes = []
    for order in orders:
        if not _judged_by_deadline(order):
            continue
        stopped_at = order.cancelled_at if order.shipped_at is None else None
        outcome = rules.shipping_outcome(order.created_at, order.shipped_at, stopped_at, now, deadline_days)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _window_share(outcomes: Sequence[Tuple[datetime, bool]], start: datetime, end: datetime) -> Share:
    inside = [late for settled_at, late in outcomes if start < settled_at <= end]
    return Share(sum(inside), len(inside))


def orders_at_risk(orders: Iterable[OrderRow], now: datetime, deadline_days: int) -> List[AtRiskOrder]:
    """Self-shipped paid orders still waiting to ship whose deadline is within 48 hours, or past."""
    at_risk_days = AT_RISK_WINDOW / timedelta(days=1)
    listed = []
    for order in orders:
        if not _judged_by_deadline(order) or order.shipped_at is not None or order.status != READY_TO_SHIP:
            continue
        state = rules.lateness(order.created_at, None, now, deadline_days, at_risk_days)
        if state in (rules.AT_RISK, rules.LATE):
            deadline = rules.shipping_deadline(order.created_at, deadline_days)
            listed.append(AtRiskOrder(order.number, order.created_at, deadline, state == rules.LATE))
    return sorted(listed, key=lambda order: (order.deadline, order.number))


def late_delivery(
    orders: Sequence[OrderRow], now: datetime, days: int, deadline_days: int, zone: ZoneInfo = ZoneInfo("UTC"),
) -> LateDelivery:
    outcomes = shipping_outcomes(orders, now, deadline_days)
    period = timedelta(days=days)
    rate = _window_share(outcomes, now - period, now)
    daily = []
    for day in _days_of_period(now, days, zone):
        end = _end_of(day, zone, now)
        start_of_day = datetime.combine(day, time(), tzinfo=zone).astimezone(timezone.utc)
        that_day = _window_share(outcomes, start_of_day, end)
        daily.append(DayRate(day, that_day.base, that_day.count, _window_share(outcomes, end - period, end)))
    return LateDelivery(
        deadline_days=deadline_days, rate=rate, limit_reached=rules.order_volume_limit_risk(rate.count, rate.base),
        daily=tuple(daily), at_risk=tuple(orders_at_risk(orders, now, deadline_days)),
    )


# --- Cancellations --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CancellationType:
    type: str
    label: str
    share: Share  # cancelled this way, of the orders placed in the period
    advice: str


@dataclass(frozen=True)
class DayCancellations:
    day: date
    placed: int
    cancelled: int  # of the orders placed that day


@dataclass(frozen=True)
class Cancellations:
    placed: int
    total: Share
    by_type: Tuple[CancellationType, ...]
    daily: Tuple[DayCancellations, ...]


def cancellations(orders: Sequence[OrderRow], now: datetime, days: int, zone: ZoneInfo = ZoneInfo("UTC")) -> Cancellations:
    """The orders placed in the period, and which of them were cancelled, by type."""
    start = now - timedelta(days=days)
    placed = [order for order in orders if start < order.created_at <= now]
    cancelled = [order for order in placed if order.cancelled_at is not None and order.cancelled_at <= now]
    counts = Counter(order.cancellation_type for order in cancelled)
    by_type = tuple(
        CancellationType(kind, CANCELLATION_TYPE_TEXT[kind], Share(counts[kind], len(placed)), CANCELLATION_ADVICE[kind])
        for kind in CANCELLATION_TYPES
    )
    placed_by_day = Counter(_local_day(order.created_at, zone) for order in placed)
    cancelled_by_day = Counter(_local_day(order.created_at, zone) for order in cancelled)
    daily = tuple(
        DayCancellations(day, placed_by_day[day], cancelled_by_day[day]) for day in _days_of_period(now, days, zone)
    )
    return Cancellations(len(placed), Share(len(cancelled), len(placed)), by_type, daily)


# --- After-Sales Handling Time --------------------------------------------------------------------------

# The distribution's buckets: (label, upper bound in minutes, inclusive).
HANDLING_BUCKETS = (
    ("up to 1 h", 60.0), ("1 to 6 h", 360.0), ("6 to 12 h", 720.0), ("12 to 24 h", 1440.0), ("over 24 h", float("inf")),
)


def decision_rounds(
    requested_at: datetime, decided_at: Optional[datetime], decided_by: Optional[str], history: Sequence[HistoryEntry],
) -> Tuple[rules.DecisionRound, ...]:
    """A request's approval rounds (at most two) from its status history: each round starts with
    the buyer's request and ends with the first approval or rejection in it, by whoever decided.
    Without any history, the request's own fields make one round."""
    if not history:
        return (rules.DecisionRound(requested_at, decided_at, decided_by if decided_at else None),)
    rounds = []
    for number in sorted({entry.round for entry in history})[: rules.MAX_APPROVAL_ROUNDS]:
        entries = sorted((e for e in history if e.round == number), key=lambda e: e.occurred_at)
        asked = next((e.occurred_at for e in entries if e.status == REQUESTED and e.actor == BUYER), None)
        if asked is None:
            asked = requested_at if number == 1 else entries[0].occurred_at
        decision = next((e for e in entries if e.status in (APPROVED, REJECTED) and e.actor in DECIDERS), None)
        rounds.append(rules.DecisionRound(asked, decision.occurred_at if decision else None, decision.actor if decision else None))
    return tuple(rounds)


@dataclass(frozen=True)
class AwaitingSeller:
    request_id: int
    order_number: str
    kind: str
    asked_at: datetime  # the start of its current round
    auto_approves_at: datetime  # when the platform approves it if the seller has not answered

    def left(self, now: datetime) -> timedelta:
        return self.auto_approves_at - now


@dataclass(frozen=True)
class AfterSales:
    days: int
    average_minutes: Optional[float]  # rules.handling_time_minutes: the marketplace's figure
    counted: int  # requests in it
    two_rounds: int  # of them, decided in two rounds
    round_average_minutes: Tuple[Optional[float], Optional[float]]  # per approval round (1, 2)
    platform_excluded: int  # requests in the window the platform decided (left out)
    undecided: int  # requests in the window nobody has decided yet (left out)
    buckets: Tuple[Tuple[str, int], ...]
    awaiting: Tuple[AwaitingSeller, ...]  # waiting for the seller, soonest auto-approval first
    daily: Tuple[Tuple[date, Optional[float]], ...]  # average minutes of the requests made each day


def _bucket(minutes: float) -> str:
    return next(label for label, upper in HANDLING_BUCKETS if minutes <= upper)


def _mean(values: Sequence[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def after_sales(
    requests: Sequence[AfterSalesRow], now: datetime, platform_hours: int, zone: ZoneInfo = ZoneInfo("UTC"),
    days: int = HANDLING_TIME_DAYS,
) -> AfterSales:
    since = now - timedelta(days=days)
    in_window = [r for r in requests if r.rounds and r.rounds[0].requested_at >= since]
    counted: List[Tuple[AfterSalesRow, float]] = []
    platform = undecided = 0
    for request in in_window:
        minutes = rules.handling_time_minutes([request.rounds], now, days)  # this request alone
        if minutes is not None:
            counted.append((request, minutes))
        elif any(r.decided_by == rules.DECIDED_BY_PLATFORM for r in request.rounds[: rules.MAX_APPROVAL_ROUNDS]):
            platform += 1
        elif request.status != WITHDRAWN:  # (one the buyer took back waits for nobody)
            undecided += 1
    per_round = tuple(
        _mean([m for request, _ in counted if len(request.rounds) > i
               for m in [rules.decision_minutes(request.rounds[i])] if m is not None])
        for i in range(rules.MAX_APPROVAL_ROUNDS)
    )
    bucket_counts = Counter(_bucket(minutes) for _, minutes in counted)
    awaiting = sorted(
        (
            AwaitingSeller(
                r.request_id, r.order_number, r.kind, r.round_started_at,
                rules.platform_auto_approval_at(r.ready_to_ship_at, r.round_started_at, platform_hours),
            )
            for r in requests if r.status == REQUESTED
        ),
        key=lambda waiting: (waiting.auto_approves_at, waiting.request_id),
    )
    by_day: Dict[date, List[float]] = {}
    for request, minutes in counted:
        by_day.setdefault(_local_day(request.rounds[0].requested_at, zone), []).append(minutes)
    daily = tuple((day, _mean(by_day.get(day, []))) for day in _days_of_period(now, days, zone))
    return AfterSales(
        days=days,
        average_minutes=rules.handling_time_minutes([r.rounds for r in requests], now, days),
        counted=len(counted),
        two_rounds=sum(len([x for x in request.rounds if x.decided_at]) == 2 for request, _ in counted),
        round_average_minutes=per_round,
        platform_excluded=platform,
        undecided=undecided,
        buckets=tuple((label, bucket_counts[label]) for label, _ in HANDLING_BUCKETS),
        awaiting=tuple(awaiting),
        daily=daily,
    )


# --- Chat -----------------------------------------------------------------------------------------------
#
# A conversation is one Rasa session (a new one starts at each `action_session_start`) with at
# least one shopper message; it belongs to the day of its first shopper message. Its replies are
# the bot events after that message, each of one kind:
#   agent      an agent's reply (a bot event with `metadata.agent`)
#   automatic  not an answer: the Chat Welcome (`action_session_start`), the handoff notices
#              ("a person will reply ...", `action_handoff` and `utter_handoff_*`), the closing
#              message when an agent gives the chat back (after a `resume`)
#   faq        a FAQ answer (`action_answer_faq`, its "other questions" buttons included)
#   not_sure   the bot's "I'm not sure" reply (`utter_not_sure`): the fallback
#   bot        any other reply of the bot (order answers, questions it asks, greetings, ...)
#
# A conversation is handed off when the bot paused it for a person (a `pause` event: the handoff
# action pauses only once the ticket is open, and only while the team is in) or it has a ticket
# that no bot resolved (a working-hours ticket the bot answered after the agents' timeout is no
# handoff). It was handed off at the earliest of those.
#
# The response rate, as marketplaces count it: a conversation is *answered only by automatic
# replies and FAQs* when it has at least one reply, every reply is `automatic` or `faq`, and it
# was not handed off (a handed-off one waits for a person: it always counts). Those are left out.
# Every other conversation counts; it was answered within 12 h when its first `bot`, `not_sure`
# or `agent` reply came within 12 h of the first shopper message. One that has no such reply yet
# counts only once the 12 h have passed (as not answered in time); the same for 24 h.

AGENT, AUTOMATIC_REPLY, FAQ, NOT_SURE, BOT = "agent", "automatic", "faq", "not_sure", "bot"
RESPONDING_KINDS = (BOT, NOT_SURE, AGENT)  # what answers a chat for the response rate
AUTOMATIC_PRODUCERS = ("action_session_start", "action_handoff", "resume")
NOT_SURE_RESPONSE = "utter_not_sure"
HANDOFF_RESPONSE_PREFIX = "utter_handoff"
FAQ_ACTION = "action_answer_faq"
BOT_RESOLVED = "bot"  # Ticket.resolved_by when the bot answered after the agents' timeout


def reply_kind(event: TrackerEvent, producer: Optional[str]) -> str:
    """The kind of a bot event (see above), `producer` being the action (or `resume`) before it."""
    metadata = event.data.get("metadata") or {}
    if metadata.get("agent"):
        return AGENT
    response = metadata.get("utter_action") or ""
    if response == NOT_SURE_RESPONSE:
        return NOT_SURE
    if producer in AUTOMATIC_PRODUCERS or response.startswith(HANDOFF_RESPONSE_PREFIX):
        return AUTOMATIC_REPLY
    if producer == FAQ_ACTION:
        return FAQ
    return BOT


@dataclass(frozen=True)
class Conversation:
    sender_id: str
    first_message_at: datetime
    shopper_messages: int
    not_sure_messages: int  # shopper messages that got the "not sure" reply
    replies: Tuple[Tuple[datetime, str], ...]  # (when, kind) after the first shopper message
    handoff_at: Optional[datetime]  # None: not handed off

    @property
    def handed_off(self) -> bool:
        return self.handoff_at is not None

    def first_reply_at(self, kinds: Sequence[str], after: Optional[datetime] = None) -> Optional[datetime]:
        after = after or self.first_message_at
        return next((at for at, kind in self.replies if kind in kinds and at >= after), None)

    @property
    def answered_only_automatically(self) -> bool:
        """Answered only by automatic replies and FAQs: left out of the response rate."""
        return (
            not self.handed_off and bool(self.replies)
            and all(kind in (AUTOMATIC_REPLY, FAQ) for _, kind in self.replies)
        )

    @property
    def ends_in_fallback(self) -> bool:
        answers = [kind for _, kind in self.replies if kind != AUTOMATIC_REPLY]
        return bool(answers) and answers[-1] == NOT_SURE

    @property
    def resolved_by_bot(self) -> bool:
        """The bot answered it alone: a reply of the bot, no handoff, and not ending "not sure"."""
        bot_answers = [kind for _, kind in self.replies if kind in (BOT, FAQ, NOT_SURE)]
        return bool(bot_answers) and not self.handed_off and not self.ends_in_fallback


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc)


def _is_message(event: TrackerEvent) -> bool:
    return bool(event.data.get("text") or (event.data.get("data") or {}).get("buttons"))


def conversations(events: Iterable[TrackerEvent], tickets: Iterable[TicketRow] = ()) -> List[Conversation]:
    """The conversations in tracker events (in the store's order), with the shop's tickets."""
    by_sender: Dict[str, List[List[TrackerEvent]]] = {}
    for event in events:
        sessions = by_sender.setdefault(event.sender_id, [[]])
        starts_session = event.type_name == "action" and event.action_name == "action_session_start"
        if starts_session and any(_is_shopper(e) for e in sessions[-1]):
            sessions.append([])
        sessions[-1].append(event)
    tickets_of: Dict[str, List[TicketRow]] = {}
    for ticket in tickets:
        if ticket.resolved_by != BOT_RESOLVED:
            tickets_of.setdefault(ticket.sender_id, []).append(ticket)
    found = []
    for sender, sessions in by_sender.items():
        for index, session in enumerate(sessions):
            begins = session[0].timestamp
            ends = sessions[index + 1][0].timestamp if index + 1 < len(sessions) else float("inf")
            ticket_times = [t.created_at for t in tickets_of.get(sender, []) if begins <= t.created_at.timestamp() < ends]
            conversation = _conversation(sender, session, ticket_times)
            if conversation is not None:
                found.append(conversation)
    return found


def _is_shopper(event: TrackerEvent) -> bool:
    """Something the shopper wrote or tapped (not the chat page's session start)."""
    text = event.data.get("text")
    return event.type_name == "user" and bool(text) and text != tracker_events.SESSION_START_TEXT


def _conversation(sender: str, events: Sequence[TrackerEvent], ticket_times: Sequence[datetime]) -> Optional[Conversation]:
    first = next((e for e in events if _is_shopper(e)), None)
    if first is None:
        return None
    producer: Optional[str] = None
    replies: List[Tuple[datetime, str]] = []
    handoffs = list(ticket_times)
    messages = not_sure = 0
    waiting_message = False  # the latest shopper message has had no "not sure" reply yet
    for event in events:
        if event.type_name == "action":
            producer = event.action_name
        elif event.type_name == "resume":
            producer = "resume"
        elif event.type_name == "pause":
            handoffs.append(_utc(event.timestamp))
        elif _is_shopper(event):
            messages += 1
            waiting_message = True
        elif event.type_name == "bot" and event.timestamp >= first.timestamp and _is_message(event):
            kind = reply_kind(event, producer)
            replies.append((_utc(event.timestamp), kind))
            if kind == NOT_SURE and waiting_message:
                not_sure += 1
                waiting_message = False
    return Conversation(
        sender_id=sender, first_message_at=_utc(first.timestamp), shopper_messages=messages,
        not_sure_messages=not_sure, replies=tuple(replies), handoff_at=min(handoffs) if handoffs else None,
    )


@dataclass(frozen=True)
class Durations:
    count: int
    mean_seconds: Optional[float]
    median_seconds: Optional[float]


def durations(seconds: Sequence[float]) -> Durations:
    if not seconds:
        return Durations(0, None, None)
    return Durations(len(seconds), sum(seconds) / len(seconds), statistics.median(seconds))


@dataclass(frozen=True)
class DayChats:
    day: date
    conversations: int
    handed_off: int
    outside_hours: int


@dataclass(frozen=True)
class ResponseRate:
    hours: int
    share: Share  # answered within `hours`, of the conversations that count


@dataclass(frozen=True)
class Chat:
    available: bool  # whether the tracker store could be read
    source: str  # where the conversations come from
    conversations: int
    resolved_by_bot: Share
    handed_off: Share
    fallback: Share  # shopper messages answered "not sure", of all shopper messages
    bot_first_response: Durations
    agent_first_response: Durations  # from the handoff to the first agent reply
    waiting_for_agent: int  # handed off, no agent reply yet
    left_out: int  # answered only by automatic replies and FAQs
    answered_within: Tuple[ResponseRate, ...]  # the response rate within 12 h and within 24 h
    outside_hours: Share
    daily: Tuple[DayChats, ...]


def response_share(chats: Sequence[Conversation], now: datetime, hours: int) -> Share:
    """The marketplaces' chat response rate within `hours` (see the comment above `AGENT`)."""
    window = timedelta(hours=hours)
    answered = base = 0
    for conversation in chats:
        if conversation.answered_only_automatically:
            continue
        first = conversation.first_reply_at(RESPONDING_KINDS)
        in_time = first is not None and first - conversation.first_message_at <= window
        if in_time or now - conversation.first_message_at >= window:
            base += 1
            answered += in_time
    return Share(answered, base)


def chat(
    events: Sequence[TrackerEvent], tickets: Sequence[TicketRow], now: datetime, days: int,
    hours: WorkingHours = WorkingHours(), source: str = "", available: bool = True,
) -> Chat:
    zone = hours.zone
    start = now - timedelta(days=days)
    chats = [c for c in conversations(events, tickets) if start < c.first_message_at <= now]
    total = len(chats)
    bot_times, agent_times = [], []
    waiting = 0
    for conversation in chats:
        bot_reply = conversation.first_reply_at((BOT, FAQ, NOT_SURE, AUTOMATIC_REPLY))
        if bot_reply is not None:
            bot_times.append((bot_reply - conversation.first_message_at).total_seconds())
        if conversation.handed_off:
            agent_reply = conversation.first_reply_at((AGENT,), after=conversation.handoff_at)
            if agent_reply is None:
                waiting += 1
            else:
                agent_times.append((agent_reply - conversation.handoff_at).total_seconds())
    outside = [not is_open(hours, c.first_message_at) for c in chats]
    by_day = {day: [0, 0, 0] for day in _days_of_period(now, days, zone)}
    for conversation, outside_hours in zip(chats, outside):
        counts = by_day.get(_local_day(conversation.first_message_at, zone))
        if counts is not None:
            counts[0] += 1
            counts[1] += conversation.handed_off
            counts[2] += outside_hours
    return Chat(
        available=available, source=source, conversations=total,
        resolved_by_bot=Share(sum(c.resolved_by_bot for c in chats), total),
        handed_off=Share(sum(c.handed_off for c in chats), total),
        fallback=Share(sum(c.not_sure_messages for c in chats), sum(c.shopper_messages for c in chats)),
        bot_first_response=durations(bot_times), agent_first_response=durations(agent_times),
        waiting_for_agent=waiting, left_out=sum(c.answered_only_automatically for c in chats),
        answered_within=tuple(ResponseRate(h, response_share(chats, now, h)) for h in RESPONSE_WINDOWS_HOURS),
        outside_hours=Share(sum(outside), total),
        daily=tuple(DayChats(day, *counts) for day, counts in by_day.items()),
    )


# --- Unanswered questions grouped by meaning ------------------------------------------------------------

GROUP_SIMILARITY = 0.5  # the least mean cosine similarity (all-MiniLM-L6-v2) within a group
MAX_EXAMPLES = 5
MAX_PREFILL = 10  # questions handed to the FAQ editor
MAX_UNANSWERED = 300
ORDER_INTENTS = tuple(ANSWER_METHODS)  # the order topics the bot answers from the order data
ORDER_ENTITIES = ("order_id", "tracking_number")
# Without a stored reading: a question about the shopper's own order names it ("my parcel") or
# gives its number.
_OWN_ORDER = re.compile(
    r"\b(?:my|our)\s+(?:\w+\s+)?(?:order|parcel|package|delivery|shipment|refund|return|tracking)s?\b", re.IGNORECASE,
)
_TOKENS = re.compile(r"#?\s*[A-Za-z0-9][A-Za-z0-9-]*")


def mentions_own_order(text: str) -> bool:
    """The keyword check for a message whose NLU reading was not kept: an order number
    (vocabulary.ORDER_NUMBER, with at least 5 digits so that years and sizes are not) or the
    shopper's own order, parcel, delivery, refund, return or tracking."""
    for token in _TOKENS.findall(text):
        number = normalise_order_number(token)
        if number and sum(char.isdigit() for char in number) >= 5:
            return True
    return _OWN_ORDER.search(text) is not None


def is_order_question(text: str, stored: Optional[StoredParse]) -> bool:
    """Whether an unanswered message is really about an order (for the order desk, not a FAQ).

    From the NLU's reading when the tracker kept it: an order number or tracking number found in
    it, or an order topic as its likeliest intent. The keyword check (`mentions_own_order`)
    decides when nothing was kept, and also when the reading shows no order: the bot was not
    sure of these messages, so their reading is weak evidence ("where is my parcel" read as a
    FAQ question is still about an order)."""
    if stored is not None and (set(stored.entities) & set(ORDER_ENTITIES) or stored.top_intent in ORDER_INTENTS):
        return True
    return mentions_own_order(text)


def stored_parses(events: Iterable[TrackerEvent]) -> Dict[Tuple[str, str], StoredParse]:
    """(sender, text) → what the NLU read in it, from the tracker's user events (the latest wins)."""
    found = {}
    for event in events:
        if event.type_name != "user" or not event.data.get("text"):
            continue
        parse = event.data.get("parse_data") or {}
        ranking = parse.get("intent_ranking") or [parse.get("intent") or {}]
        top = next((i.get("name") for i in ranking if i.get("name") and i.get("name") != "nlu_fallback"), None)
        entities = tuple(e.get("entity") for e in parse.get("entities") or [] if e.get("entity"))
        found[(event.sender_id, event.data["text"])] = StoredParse(top, entities)
    return found


def cluster(vectors: np.ndarray, threshold: float = GROUP_SIMILARITY) -> List[List[int]]:
    """Average-linkage agglomerative clustering on cosine similarity: the two groups whose mean
    pairwise similarity is highest merge, while it is at least `threshold`. Groups of row
    indices, largest first (then by their first row)."""
    count = len(vectors)
    if count == 0:
        return []
    vectors = np.asarray(vectors, dtype=float)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    sizes = np.ones(count)
    groups: List[Optional[List[int]]] = [[index] for index in range(count)]
    while count > 1:
        i, j = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
        if similarity[i, j] < threshold:
            break
        merged = (sizes[i] * similarity[i] + sizes[j] * similarity[j]) / (sizes[i] + sizes[j])
        similarity[i], similarity[:, i] = merged, merged
        similarity[j], similarity[:, j] = -np.inf, -np.inf
        similarity[i, i] = -np.inf
        sizes[i] += sizes[j]
        groups[i] = groups[i] + groups[j]
        groups[j] = None
        count -= 1
    found = [sorted(group) for group in groups if group is not None]
    return sorted(found, key=lambda group: (-len(group), group[0]))


@dataclass(frozen=True)
class UnansweredGroup:
    count: int
    examples: Tuple[str, ...]  # distinct texts, the most typical first
    questions: Tuple[str, ...]  # what the FAQ editor is prefilled with (empty for order questions)
    order_question: bool
    closest_faq: Optional[str]  # the FAQ the bot found nearest most often
    latest_at: datetime

    @property
    def faq_link(self) -> Optional[str]:
        """The FAQ editor prefilled with the group's questions (the first one as the question)."""
        if self.order_question or not self.questions:
            return None
        return "/admin/faqs/new?" + urlencode([("question", question) for question in self.questions])


def _distinct(texts: Iterable[str]) -> List[str]:
    seen: Set[str] = set()
    kept = []
    for text in texts:
        key = " ".join(text.lower().split())
        if key and key not in seen:
            seen.add(key)
            kept.append(" ".join(text.split()))
    return kept


def unanswered_groups(
    messages: Sequence[UnansweredRow], vectors: np.ndarray, stored: Mapping[Tuple[str, str], StoredParse] = {},
    threshold: float = GROUP_SIMILARITY,
) -> List[UnansweredGroup]:
    """The messages grouped by meaning (`vectors`: one unit-length row each), order questions
    apart from the rest so that no FAQ is offered for them; the largest groups first."""
    vectors = np.asarray(vectors, dtype=float)
    kinds = [is_order_question(m.text, stored.get((m.sender_id, m.text))) for m in messages]
    groups = []
    for order_question in (False, True):
        indices = [i for i, kind in enumerate(kinds) if kind == order_question]
        if not indices:
            continue
        subset = vectors[indices]
        for members in cluster(subset, threshold):
            rows = [indices[m] for m in members]
            inner = subset[members] @ subset[members].T
            typical = [rows[k] for k in np.argsort(-inner.mean(axis=1), kind="stable")]
            texts = _distinct(messages[i].text for i in typical)
            closest = Counter(faq for i in rows for faq in messages[i].closest_faqs[:1])
            groups.append(UnansweredGroup(
                count=len(rows), examples=tuple(texts[:MAX_EXAMPLES]),
                questions=() if order_question else tuple(texts[:MAX_PREFILL]), order_question=order_question,
                closest_faq=closest.most_common(1)[0][0] if closest else None,
                latest_at=max(messages[i].created_at for i in rows),
            ))
    return sorted(groups, key=lambda group: (-group.count, group.order_question, -group.latest_at.timestamp()))


# --- The report -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    shop: str
    now: datetime
    days: int
    timezone: str
    late_delivery: Optional[LateDelivery] = None
    cancellations: Optional[Cancellations] = None
    after_sales: Optional[AfterSales] = None
    chat: Optional[Chat] = None
    unanswered: Optional[Tuple[UnansweredGroup, ...]] = None


@dataclass(frozen=True)
class ReportTable:
    title: str
    section: str
    headers: Tuple[str, ...]
    rows: Tuple[Tuple[Any, ...], ...]


def local_time(moment: Optional[datetime], zone: ZoneInfo) -> str:
    return "" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def left_text(left: timedelta) -> str:
    seconds = left.total_seconds()
    return f"{duration_text(seconds)} left" if seconds >= 0 else f"{duration_text(-seconds)} overdue"


def _approval_left(left: timedelta) -> str:
    if left.total_seconds() >= 0:
        return left_text(left)
    return f"approved by the platform {duration_text(-left.total_seconds())} ago"


def _rate_cell(share: Share) -> str:
    return percent(share)


# Every table of the report: its name (the CSV's `table=`), the section it needs, its title.
TABLES = {
    "late_delivery_daily": ("late_delivery", "Late Delivery Rate by day"),
    "orders_at_risk": ("late_delivery", "Orders at risk (not shipped, deadline within 48 h or passed)"),
    "cancellations": ("cancellations", "Cancellations by type"),
    "cancellations_daily": ("cancellations", "Orders placed and cancelled by day"),
    "handling_time": ("after_sales", "After-Sales Handling Time: distribution"),
    "awaiting_seller": ("after_sales", "Requests awaiting the seller"),
    "chat": ("chat", "Chat figures"),
    "chat_daily": ("chat", "Conversations by day"),
    "unanswered": ("unanswered", "Unanswered questions by meaning"),
}


def table(report: Report, name: str) -> ReportTable:
    """One table of the report (KeyError for an unknown name)."""
    section, title = TABLES[name]
    zone = ZoneInfo(report.timezone)
    now = report.now
    late, cancelled, handling, chats = report.late_delivery, report.cancellations, report.after_sales, report.chat
    if name == "late_delivery_daily":
        headers = ("day", "settled", "late", f"rate over {report.days} days", "settled in window", "late in window")
        rows = [(d.day.isoformat(), d.settled, d.late, _rate_cell(d.window), d.window.base, d.window.count) for d in late.daily]
    elif name == "orders_at_risk":
        headers = ("order", "created", "deadline", "time left", "state")
        rows = [
            (o.number, local_time(o.created_at, zone), local_time(o.deadline, zone), left_text(o.left(now)),
             "late: not shipped by the deadline" if o.late else "at risk")
            for o in late.at_risk
        ]
    elif name == "cancellations":
        headers = ("type", "cancelled", "orders placed", "rate", "what to do")
        rows = [(t.label, t.share.count, t.share.base, _rate_cell(t.share), t.advice) for t in cancelled.by_type]
    elif name == "cancellations_daily":
        headers = ("day", "orders placed", "of them cancelled")
        rows = [(d.day.isoformat(), d.placed, d.cancelled) for d in cancelled.daily]
    elif name == "handling_time":
        headers = ("handling time", "requests")
        rows = list(handling.buckets)
    elif name == "awaiting_seller":
        headers = ("request", "order", "kind", "asked", "platform auto-approves", "time left")
        rows = [
            (a.request_id, a.order_number, KIND_TEXT.get(a.kind, a.kind), local_time(a.asked_at, zone),
             local_time(a.auto_approves_at, zone), _approval_left(a.left(now)))
            for a in handling.awaiting
        ]
    elif name == "chat":
        headers = ("figure", "value", "of")
        rows = [
            ("conversations", chats.conversations, ""),
            ("resolved by the bot alone", _rate_cell(chats.resolved_by_bot), chats.resolved_by_bot.base),
            ("handed to a person", _rate_cell(chats.handed_off), chats.handed_off.base),
            ("fallback rate (messages the bot was not sure about)", _rate_cell(chats.fallback), chats.fallback.base),
            ("bot's first response, median", duration_text(chats.bot_first_response.median_seconds), chats.bot_first_response.count),
            ("bot's first response, mean", duration_text(chats.bot_first_response.mean_seconds), chats.bot_first_response.count),
            ("agents' first response, median", duration_text(chats.agent_first_response.median_seconds), chats.agent_first_response.count),
            ("agents' first response, mean", duration_text(chats.agent_first_response.mean_seconds), chats.agent_first_response.count),
            ("handed off, no agent reply yet", chats.waiting_for_agent, chats.handed_off.count),
            *[(f"answered within {r.hours} h (response rate)", _rate_cell(r.share), r.share.base) for r in chats.answered_within],
            ("left out: answered only by automatic replies and FAQs", chats.left_out, chats.conversations),
            ("started outside working hours", _rate_cell(chats.outside_hours), chats.outside_hours.base),
        ]
    elif name == "chat_daily":
        headers = ("day", "conversations", "handed off", "outside working hours")
        rows = [(d.day.isoformat(), d.conversations, d.handed_off, d.outside_hours) for d in chats.daily]
    else:  # unanswered
        headers = ("messages", "kind", "examples", "closest FAQ", "new FAQ")
        rows = [
            (g.count, "order question: the order desk answers these" if g.order_question else "FAQ candidate",
             " | ".join(g.examples), g.closest_faq or "", g.faq_link or "")
            for g in report.unanswered
        ]
    return ReportTable(title, section, headers, tuple(tuple(row) for row in rows))


def _jsonable(value: Any) -> Any:
    if is_dataclass(value):
        value = asdict(value)
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    return value


def as_json(report: Report) -> Dict[str, Any]:
    """The report as JSON values: every figure, each rate with its count and base."""
    document = _jsonable(report)
    for path, share in _shares(report):
        target = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]]["rate"] = share.rate
    if report.late_delivery is not None:
        document["late_delivery"]["limit_percent"] = rules.LATE_DELIVERY_LIMIT_PERCENT
        for order, item in zip(report.late_delivery.at_risk, document["late_delivery"]["at_risk"]):
            item["hours_left"] = round(order.left(report.now).total_seconds() / 3600, 2)
    if report.after_sales is not None:
        for waiting, item in zip(report.after_sales.awaiting, document["after_sales"]["awaiting"]):
            item["hours_left"] = round(waiting.left(report.now).total_seconds() / 3600, 2)
    if report.unanswered is not None:
        for group, item in zip(report.unanswered, document["unanswered"]):
            item["faq_link"] = group.faq_link
    return document


def _shares(report: Report) -> Iterable[Tuple[Tuple[Any, ...], Share]]:
    """Where each Share sits in the JSON document, so that its rate is written beside it."""
    if report.late_delivery:
        yield ("late_delivery", "rate"), report.late_delivery.rate
        for i, day in enumerate(report.late_delivery.daily):
            yield ("late_delivery", "daily", i, "window"), day.window
    if report.cancellations:
        yield ("cancellations", "total"), report.cancellations.total
        for i, kind in enumerate(report.cancellations.by_type):
            yield ("cancellations", "by_type", i, "share"), kind.share
    if report.chat:
        for name in ("resolved_by_bot", "handed_off", "fallback", "outside_hours"):
            yield ("chat", name), getattr(report.chat, name)
        for i, response in enumerate(report.chat.answered_within):
            yield ("chat", "answered_within", i, "share"), response.share


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], limit: Optional[int] = None) -> List[str]:
    shown = list(rows)[:limit] if limit else list(rows)
    cells = [[str(h) for h in headers]] + [[str(cell) for cell in row] for row in shown]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  " + "  ".join("-" * width for width in widths))
    if limit and len(rows) > limit:
        lines.append(f"  ... and {len(rows) - limit} more (CSV: the whole table)")
    return lines


def as_text(report: Report) -> str:
    """The report as plain text with tables, for the command line."""
    zone = ZoneInfo(report.timezone)
    lines = [f"{report.shop}: performance over the last {report.days} days (to {local_time(report.now, zone)} {report.timezone})", ""]
    late = report.late_delivery
    if late is not None:
        lines.append(f"LATE DELIVERY RATE (self-shipped orders; deadline {late.deadline_days} calendar days after creation,")
        lines.append("shipped at the deadline itself is on time)")
        verdict = (
            f"AT OR ABOVE THE MARKETPLACE'S {rules.LATE_DELIVERY_LIMIT_PERCENT}% LIMIT: it may impose an Order Volume Limit"
            if late.limit_reached else f"under the marketplace's {rules.LATE_DELIVERY_LIMIT_PERCENT}% limit"
        )
        lines.append(f"  {percent(late.rate)}: {late.rate.count} late of {late.rate.base} settled; " + (verdict if late.rate.base else "nothing settled yet"))
        lines.append(f"  Orders at risk: {len(late.at_risk)}")
        if late.at_risk:
            lines += _text_table(*_table_parts(report, "orders_at_risk"))
        lines.append("")
    if report.cancellations is not None:
        c = report.cancellations
        lines.append(f"CANCELLATIONS (of the {c.placed} orders placed in the period): {c.total.count}, {percent(c.total)}")
        lines += _text_table(*_table_parts(report, "cancellations"))
        lines.append("")
    handling = report.after_sales
    if handling is not None:
        lines.append(f"AFTER-SALES HANDLING TIME (the marketplace's last {handling.days} days; seller auto-approval = 1 min,")
        lines.append("platform auto-approvals left out)")
        lines.append(
            f"  average {duration_text(handling.average_minutes * 60 if handling.average_minutes is not None else None)}"
            f" over {handling.counted} requests ({handling.two_rounds} decided in two rounds); round 1 "
            f"{duration_text(_seconds(handling.round_average_minutes[0]))}, round 2 {duration_text(_seconds(handling.round_average_minutes[1]))};"
            f" left out: {handling.platform_excluded} auto-approved by the platform, {handling.undecided} undecided"
        )
        lines += _text_table(*_table_parts(report, "handling_time"))
        lines.append(f"  Awaiting the seller: {len(handling.awaiting)}")
        if handling.awaiting:
            lines += _text_table(*_table_parts(report, "awaiting_seller"))
        lines.append("")
    if report.chat is not None:
        lines.append(f"CHAT ({report.chat.source})")
        if not report.chat.available:
            lines.append("  no data: the tracker store cannot be read")
        lines += _text_table(*_table_parts(report, "chat"))
        lines.append("")
    if report.unanswered is not None:
        lines.append(f"UNANSWERED QUESTIONS BY MEANING: {sum(g.count for g in report.unanswered)} messages in {len(report.unanswered)} groups")
        if report.unanswered:
            headers, rows = _table_parts(report, "unanswered")
            lines += _text_table(headers[:4], [row[:4] for row in rows], limit=15)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _seconds(minutes: Optional[float]) -> Optional[float]:
    return None if minutes is None else minutes * 60


def _table_parts(report: Report, name: str) -> Tuple[Tuple[str, ...], Tuple[Tuple[Any, ...], ...]]:
    found = table(report, name)
    return found.headers, found.rows


# --- Queries: the rows from the shop database -----------------------------------------------------------


def load_orders(session: Session, shop_id: int, since: datetime) -> List[OrderRow]:
    """The shop's orders placed since `since`, and every older one still waiting to ship."""
    query = (
        select(
            Order.number, Order.logistics, Order.status, Order.created_at, Order.paid_at, Shipment.shipped_at,
            Cancellation.type, Cancellation.cancelled_at,
        )
        .outerjoin(Shipment, Shipment.order_id == Order.id)
        .outerjoin(Cancellation, Cancellation.order_id == Order.id)
        .where(Order.shop_id == shop_id, or_(Order.created_at >= since, Order.status == READY_TO_SHIP))
        .order_by(Order.created_at, Order.id)
    )
    return [OrderRow(*row) for row in session.execute(query)]


def load_after_sales(session: Session, shop_id: int, since: datetime) -> List[AfterSalesRow]:
    """The shop's after-sales requests made since `since`, and every one still waiting for the seller."""
    query = (
        select(AfterSalesRequest, Order.number, Order.ready_to_ship_at)
        .join(Order, AfterSalesRequest.order_id == Order.id)
        .where(Order.shop_id == shop_id, or_(AfterSalesRequest.requested_at >= since, AfterSalesRequest.status == REQUESTED))
        .options(selectinload(AfterSalesRequest.history))
        .order_by(AfterSalesRequest.id)
    )
    rows = []
    for request, number, ready_to_ship_at in session.execute(query):
        history = [HistoryEntry(e.occurred_at, e.status, e.actor, e.round) for e in request.history]
        round_started_at = rules.round_requested_at(
            request.requested_at, [e.occurred_at for e in history if e.status == REQUESTED]
        )
        rows.append(AfterSalesRow(
            request.id, number, request.kind, request.status, request.requested_at, ready_to_ship_at,
            decision_rounds(request.requested_at, request.decided_at, request.decided_by, history), round_started_at,
        ))
    return rows


def load_tickets(session: Session, shop_id: int, since: datetime) -> List[TicketRow]:
    query = select(Ticket.sender_id, Ticket.created_at, Ticket.reason, Ticket.resolved_by).where(
        Ticket.shop_id == shop_id, Ticket.created_at >= since,
    )
    return [TicketRow(*row) for row in session.execute(query)]


def load_unanswered(session: Session, shop_id: int, since: datetime, limit: int = MAX_UNANSWERED) -> List[UnansweredRow]:
    """The messages not dismissed since `since`, the newest `limit` of them."""
    query = (
        select(UnansweredMessage)
        .where(UnansweredMessage.shop_id == shop_id, UnansweredMessage.dismissed.is_(False), UnansweredMessage.created_at >= since)
        .order_by(UnansweredMessage.created_at.desc(), UnansweredMessage.id.desc()).limit(limit)
    )
    return [
        UnansweredRow(m.id, m.sender_id, m.text, m.created_at, tuple(f for f in m.closest_faqs.split(",") if f))
        for m in session.execute(query).scalars()
    ]


# --- Queries: the Rasa tracker store (read only) --------------------------------------------------------

TRACKER_STORE_URL_VARIABLE = "TRACKER_STORE_URL"
_EVENTS = Table(
    "events", MetaData(),
    Column("id", Integer, primary_key=True), Column("sender_id", String), Column("type_name", String),
    Column("timestamp", Float), Column("intent_name", String), Column("action_name", String), Column("data", Text),
)
_EVENT_TYPES = ("user", "bot", "action", "pause", "resume")  # all the chat figures read
_VARIABLE = re.compile(r"\$\{([^}]+)\}")
# A conversation's first events (its session start, the welcome) may come a little before its
# first shopper message: events are read from this long before the period.
TRACKER_MARGIN = timedelta(days=2)


# Our SQL tracker store (bot/rasa/tracker_store.py), named by its class path in endpoints.yml.
SQL_TRACKER_STORE = "bot.rasa.tracker_store.CachedSQLTrackerStore"


def tracker_store_url(project_dir: Path, environ: Mapping[str, str] = os.environ) -> Optional[str]:
    """Where Rasa keeps the conversations: $TRACKER_STORE_URL, else the SQL tracker store of
    endpoints.yml (a relative SQLite path is relative to the project, where Rasa runs). None
    when Rasa keeps them elsewhere (no SQL tracker store)."""
    if environ.get(TRACKER_STORE_URL_VARIABLE):
        return environ[TRACKER_STORE_URL_VARIABLE]
    try:
        endpoints = yaml.safe_load((Path(project_dir) / "endpoints.yml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    store = endpoints.get("tracker_store") or {}
    if str(store.get("type", "")).upper() != "SQL" and store.get("type") != SQL_TRACKER_STORE:
        return None

    def value(key: str, default: Any = None) -> Any:
        raw = store.get(key, default)
        return _VARIABLE.sub(lambda m: environ.get(m.group(1), ""), raw) if isinstance(raw, str) else raw

    dialect, database = value("dialect", "sqlite"), value("db", "rasa.db")
    if dialect == "sqlite":
        path = Path(database)
        return f"sqlite:///{path if path.is_absolute() else Path(project_dir) / path}"
    port = value("port")
    return URL.create(
        dialect, username=value("username"), password=value("password"), host=value("url"),
        port=int(port) if port else None, database=database,
    ).render_as_string(hide_password=False)


def open_tracker_store(url: str) -> Engine:
    """A read-only engine on the tracker store (SQLite opened with mode=ro). FileNotFoundError
    when a SQLite file does not exist: Rasa has not written a conversation yet."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        if not path.is_file():
            raise FileNotFoundError(path)
        return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true", future=True)
    return create_engine(url, future=True)


def load_tracker_events(engine: Engine, since: datetime) -> List[TrackerEvent]:
    """The events since `since` that the chat figures read, in the store's order."""
    query = (
        select(_EVENTS.c.sender_id, _EVENTS.c.type_name, _EVENTS.c.timestamp, _EVENTS.c.intent_name, _EVENTS.c.action_name, _EVENTS.c.data)
        .where(_EVENTS.c.timestamp >= since.timestamp(), _EVENTS.c.type_name.in_(_EVENT_TYPES))
        .order_by(_EVENTS.c.id)
    )
    found = []
    with engine.connect() as connection:
        for sender, type_name, timestamp, intent, action, data in connection.execute(query):
            try:
                event = json.loads(data) if data else {}
            except ValueError:
                event = {}
            found.append(TrackerEvent(sender, type_name, timestamp or 0.0, intent, action, event if isinstance(event, dict) else {}))
    return found


def _tracker_source(url: Optional[str]) -> str:
    if url is None:
        return "no SQL tracker store configured"
    if url.startswith("sqlite:///"):
        return f"tracker store {url[len('sqlite:///'):]}"
    try:
        from sqlalchemy.engine import make_url

        return f"tracker store {make_url(url).render_as_string(hide_password=True)}"
    except Exception:  # an unparsable URL: say nothing of it
        return "tracker store"


# --- Assembly -------------------------------------------------------------------------------------------


def default_encoder(texts: Sequence[str]) -> np.ndarray:
    """all-MiniLM-L6-v2, the encoder the bot's FAQ matcher reads meaning with."""
    from bot.nlu.sentence_encoder import sentence_encoder

    return sentence_encoder().encode(list(texts))


def build_report(
    shop, days: int = DEFAULT_DAYS, now: Optional[datetime] = None, tracker_url: Optional[str] = None,
    sections: Optional[Iterable[str]] = None, encode: Callable[[Sequence[str]], np.ndarray] = default_encoder,
) -> Report:
    """The report of `shop` (a bot.shop.context.ShopContext) over the last `days` days; only
    `sections` (all by default). `tracker_url`: the tracker store (default: tracker_store_url)."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"The period must be 1 to {MAX_DAYS} days, not {days}.")
    wanted = set(SECTIONS if sections is None else sections)
    now = now or datetime.now(timezone.utc)
    settings = shop.settings
    hours = settings.working_hours
    zone = hours.zone
    shop_id = shop.shop_id
    start = now - timedelta(days=days)
    parts: Dict[str, Any] = {}
    with shop.sessions() as session:
        if wanted & {"late_delivery", "cancellations"}:
            deadline_days = settings.self_shipping_deadline_days
            orders = load_orders(session, shop_id, now - timedelta(days=2 * days + deadline_days + 1))
            if "late_delivery" in wanted:
                parts["late_delivery"] = late_delivery(orders, now, days, deadline_days, zone)
            if "cancellations" in wanted:
                parts["cancellations"] = cancellations(orders, now, days, zone)
        if "after_sales" in wanted:
            requests = load_after_sales(session, shop_id, now - timedelta(days=HANDLING_TIME_DAYS))
            parts["after_sales"] = after_sales(requests, now, settings.platform_auto_approval_hours, zone)
        tickets = load_tickets(session, shop_id, start - TRACKER_MARGIN) if "chat" in wanted else []
        messages = load_unanswered(session, shop_id, start) if "unanswered" in wanted else []
    events: List[TrackerEvent] = []
    available = False
    if wanted & {"chat", "unanswered"}:
        url = tracker_url or tracker_store_url(shop.config.project_dir)
        if url is not None:
            try:
                engine = open_tracker_store(url)
                try:
                    events = load_tracker_events(engine, start - TRACKER_MARGIN)
                    available = True
                finally:
                    engine.dispose()
            except Exception as error:  # no tracker store yet, or not readable: the chat shows "no data"
                log.warning("cannot read the tracker store %s: %s", _tracker_source(url), error)
        if "chat" in wanted:
            parts["chat"] = chat(events, tickets, now, days, hours, _tracker_source(url), available)
    if "unanswered" in wanted:
        vectors = encode([m.text for m in messages]) if messages else np.zeros((0, 1))
        parts["unanswered"] = tuple(unanswered_groups(messages, vectors, stored_parses(events)))
    return Report(shop=settings.name, now=now, days=days, timezone=hours.timezone, **parts)
