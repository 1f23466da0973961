"""The marketplace's business rules, as pure functions of plain values.

Deadlines, lateness, what a buyer may still change, return eligibility and
approval rounds, auto-approval and after-sales handling time. No database, no
clock: callers pass `now`. The values they speak of are in vocabulary.py.
"""
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Iterable, Optional, Sequence, Tuple

from bot.shop.vocabulary import DECIDED_BY_PLATFORM, DECIDED_BY_SELLER_RULE, PENDING_PAYMENT, READY_TO_SHIP, REJECTED

# Lateness of a self-shipped order against its shipping deadline.
ON_TIME, AT_RISK, LATE, SHIPPED_ON_TIME, SHIPPED_LATE = "on_time", "at_risk", "late", "shipped_on_time", "shipped_late"

NOT_DELIVERED, WINDOW_CLOSED, ELIGIBLE = "not_delivered", "window_closed", "eligible"


@dataclass(frozen=True)
class AutoApprovalRule:
    enabled: bool = False
    max_amount_cents: int = 0
    reasons: Tuple[str, ...] = ()
    max_days_since_delivery: int = 0


def shipping_deadline(created_at: datetime, deadline_days: int) -> datetime:
    """Self-shipped orders must be "In Delivery" within `deadline_days` calendar days of creation."""
    return created_at + timedelta(days=deadline_days)


def lateness(
    created_at: datetime, shipped_at: Optional[datetime], now: datetime, deadline_days: int, at_risk_days: int
) -> str:
    """ON_TIME, AT_RISK or LATE for an unshipped order; SHIPPED_ON_TIME or SHIPPED_LATE once shipped.

    The deadline itself is still on time; an order is late only after it.
    """
    deadline = shipping_deadline(created_at, deadline_days)
    if shipped_at is not None:
        return SHIPPED_ON_TIME if shipped_at <= deadline else SHIPPED_LATE
    if now > deadline:
        return LATE
    if now >= deadline - timedelta(days=at_risk_days):
        return AT_RISK
    return ON_TIME


# Until an order ships, the buyer may still cancel it and send it elsewhere.
_NOT_SHIPPED = (PENDING_PAYMENT, READY_TO_SHIP)


def buyer_may_cancel(status: str) -> bool:
    """Whether the buyer may cancel an order in this status (or ask the seller to): until it ships."""
    return status in _NOT_SHIPPED


def buyer_may_change_address(status: str) -> bool:
    """Whether the buyer may ask for the order to go to another address: until it ships."""
    return status in _NOT_SHIPPED


def return_eligibility(delivered_at: Optional[datetime], now: datetime, window_days: int) -> Tuple[str, Optional[datetime]]:
    """(ELIGIBLE | NOT_DELIVERED | WINDOW_CLOSED, end of the return window)."""
    if delivered_at is None:
        return NOT_DELIVERED, None
    window_end = delivered_at + timedelta(days=window_days)
    return (ELIGIBLE if now <= window_end else WINDOW_CLOSED), window_end


def seller_auto_approves(
    rule: AutoApprovalRule, amount_cents: int, reason: str, delivered_at: Optional[datetime], requested_at: datetime
) -> bool:
    """Whether the seller's auto-approval rule approves a return request at once."""
    if not rule.enabled or delivered_at is None:
        return False
    return (
        amount_cents <= rule.max_amount_cents
        and reason in rule.reasons
        and requested_at - delivered_at <= timedelta(days=rule.max_days_since_delivery)
    )


# An after-sales request is decided in at most two rounds: the buyer may dispute a rejection once.
MAX_APPROVAL_ROUNDS = 2


def may_reopen_return(status: str, round_number: int) -> bool:
    """Whether the buyer may dispute an after-sales request in this status and round: only a
    rejection, and only before the last round."""
    return status == REJECTED and round_number < MAX_APPROVAL_ROUNDS


def round_requested_at(requested_at: datetime, request_times: Iterable[datetime]) -> datetime:
    """When a request's current approval round started: the buyer's latest request in its
    history (a dispute starts the next round), or `requested_at` when the history has none."""
    return max(request_times, default=requested_at)


def platform_auto_approval_at(ready_to_ship_at: Optional[datetime], requested_at: datetime, hours: int) -> datetime:
    """When the marketplace approves an unanswered refund request by itself.

    The clock runs from the order turning Ready To Ship; a request made later
    than that gets its full `hours` from the request.
    """
    start = max(ready_to_ship_at, requested_at) if ready_to_ship_at else requested_at
    return start + timedelta(hours=hours)


@dataclass(frozen=True)
class DecisionRound:
    """One approval round of an after-sales request."""

    requested_at: datetime
    decided_at: Optional[datetime]
    decided_by: Optional[str]  # one of vocabulary.DECIDERS, or None (undecided)


SELLER_RULE_MINUTES = 1.0


def handling_time_minutes(requests: Iterable[Tuple[DecisionRound, ...]], now: datetime, days: int = 60) -> Optional[float]:
    """After-Sales Handling Time: mean minutes from request to the seller's decision.

    Each request has up to two rounds; its time is the sum of the rounds the
    seller decided (a round still open adds nothing yet). A seller
    auto-approval counts as 1 minute. Requests in which the platform decided a
    round are excluded, and so are requests with no decided round. Requests
    made more than `days` ago do not count. None when nothing counts.
    """
    since = now - timedelta(days=days)
    totals = []
    for rounds in requests:
        rounds = rounds[:MAX_APPROVAL_ROUNDS]
        if not rounds or rounds[0].requested_at < since or any(r.decided_by == DECIDED_BY_PLATFORM for r in rounds):
            continue
        decided = [r for r in rounds if r.decided_at is not None]
        if not decided:
            continue
        totals.append(sum(
            SELLER_RULE_MINUTES if r.decided_by == DECIDED_BY_SELLER_RULE
            else (r.decided_at - r.requested_at).total_seconds() / 60
            for r in decided
        ))
    return sum(totals) / len(totals) if totals else None


# How soon an agent should answer a waiting shopper, for ordering the queue.
AGENT_REPLY_TARGET = timedelta(minutes=30)


def ticket_due_at(
    waiting_since: Optional[datetime], deadline_at: Optional[datetime], reply_target: timedelta = AGENT_REPLY_TARGET
) -> Optional[datetime]:
    """When a ticket needs an agent at the latest: the marketplace deadline at stake, or the
    reply target for a shopper who is waiting, whichever comes first. The queue is sorted by it."""
    candidates = [moment for moment in (deadline_at, waiting_since and waiting_since + reply_target) if moment]
    return min(candidates) if candidates else None


@dataclass(frozen=True)
class VerificationLimits:
    """How many failed order verifications (order number + e-mail or phone) the bot takes.

    Per client (an address, or a conversation when no address is known), so that new
    conversations do not start afresh: a few in an hour (a shopper mistyping, or several
    shoppers behind one address, are not shut out for a day), and a day's total that keeps
    anyone from walking through the shop's order numbers; and per order from anyone, so that
    a prober with many addresses still gets few guesses at one order.
    """

    failures_per_client: int = 8
    client_window: timedelta = timedelta(hours=1)
    failures_per_client_per_day: int = 30
    client_day: timedelta = timedelta(hours=24)
    failures_per_order: int = 10
    order_window: timedelta = timedelta(hours=24)
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 8.0


def verification_locked(
    client_failures: Iterable[datetime], order_failures: Iterable[datetime], now: datetime, limits: VerificationLimits
) -> bool:
    """Whether contact checks are refused: the client failed `failures_per_client` times within
    `client_window` or `failures_per_client_per_day` times within `client_day`, or the order was
    failed `failures_per_order` times within `order_window`."""
    client_failures = list(client_failures)
    recent_client = sum(now - moment < limits.client_window for moment in client_failures)
    client_today = sum(now - moment < limits.client_day for moment in client_failures)
    recent_order = sum(now - moment < limits.order_window for moment in order_failures)
    return (
        recent_client >= limits.failures_per_client
        or client_today >= limits.failures_per_client_per_day
        or recent_order >= limits.failures_per_order
    )


def verification_delay(outcomes: Sequence[bool], limits: VerificationLimits) -> float:
    """Seconds to hold back the answer to a failed check, given the client's recent outcomes
    (oldest first, True for a match): the base after the first failure in a row, doubling with
    each further one, capped. A success ends the run."""
    in_a_row = 0
    for matched in reversed(outcomes):
        if matched:
            break
        in_a_row += 1
    if in_a_row == 0:
        return 0.0
    return min(limits.base_delay_seconds * 2 ** (in_a_row - 1), limits.max_delay_seconds)


def may_use_conversation(
    bound_key_hash: str, key_presented: bool, started_from: str, presented_key_hash: Optional[str], address: str
) -> bool:
    """Whether a request may read or write a storefront conversation: it shows the key of the
    browser that started it; or that browser never showed its key (a client that keeps no
    cookies) and the request comes from the address the conversation started from."""
    if presented_key_hash is not None:
        return hmac.compare_digest(presented_key_hash, bound_key_hash)
    return not key_presented and address == started_from


# --- How urgent a ticket in the agents' queue looks ----------------------------------------

URGENCY_RED, URGENCY_AMBER, URGENCY_NEUTRAL = "red", "amber", "neutral"


@dataclass(frozen=True)
class UrgencyWindows:
    """When a ticket turns amber or red in the agents' queue."""

    # A deadline this close (or already passed) is red.
    near: timedelta = timedelta(hours=2)
    # A shopper waiting this long for a person is amber: the queue's reply target.
    long_wait: timedelta = AGENT_REPLY_TARGET
    # The shop's reply deadline: a waiting shopper gets an answer within this long.
    reply_deadline: timedelta = timedelta(hours=12)


@dataclass(frozen=True)
class Urgency:
    level: str  # URGENCY_RED, URGENCY_AMBER or URGENCY_NEUTRAL
    reason: str  # in words: "ship by 14:00 — 1 h 20 min left", "shopper waiting 45 min"
    deadline_at: Optional[datetime] = None  # the deadline the reason speaks of, if any


def duration_words(delta: timedelta) -> str:
    """A duration as an agent reads it at a glance: "under 1 min", "45 min", "1 h 20 min", "2 days 3 h"."""
    minutes = int(abs(delta).total_seconds() // 60)
    if minutes < 1:
        return "under 1 min"
    days, hours, minutes = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} day{'s' if days > 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    return f"{minutes} min"


def _clock(moment: datetime, now: datetime, zone: tzinfo) -> str:
    """14:00 today (in the shop's time zone), "Tue 3 Dec 14:00" on another day."""
    local, today = moment.astimezone(zone), now.astimezone(zone)
    return f"{local:%H:%M}" if local.date() == today.date() else f"{local:%a} {local.day} {local:%b %H:%M}"


def ticket_urgency(
    now: datetime, marketplace_deadline: Optional[Tuple[datetime, str]], waiting_since: Optional[datetime],
    windows: UrgencyWindows = UrgencyWindows(), zone: tzinfo = timezone.utc,
) -> Urgency:
    """How urgent a ticket is, and why in words. Red only when a deadline is near: the
    marketplace deadline at stake (`(when, what)`, e.g. "ship by") or the shop's reply
    deadline for a waiting shopper, within `windows.near` or past. Amber when the shopper has
    waited `windows.long_wait` or longer. Otherwise neutral (still naming the next deadline)."""
    deadlines = []
    if marketplace_deadline is not None:
        deadlines.append(marketplace_deadline)
    if waiting_since is not None:
        deadlines.append((waiting_since + windows.reply_deadline, "reply by"))
    nearest = min(deadlines, key=lambda deadline: deadline[0], default=None)
    waited = now - waiting_since if waiting_since is not None else None
    if nearest is not None and nearest[0] - now <= windows.near:
        at, what = nearest
        left = f"{duration_words(at - now)} left" if at >= now else f"{duration_words(now - at)} overdue"
        return Urgency(URGENCY_RED, f"{what} {_clock(at, now, zone)} — {left}", at)
    if waited is not None and waited >= windows.long_wait:
        return Urgency(URGENCY_AMBER, f"shopper waiting {duration_words(waited)}", nearest[0] if nearest else None)
    if marketplace_deadline is not None:
        at, what = marketplace_deadline
        return Urgency(URGENCY_NEUTRAL, f"{what} {_clock(at, now, zone)} — {duration_words(at - now)} left", at)
    if waited is not None:
        return Urgency(URGENCY_NEUTRAL, f"shopper waiting {duration_words(waited)}")
    return Urgency(URGENCY_NEUTRAL, "nobody waiting")


# What an agent may do with a ticket, by its state and who holds it (the console's buttons).
# The states are db.WAITING and db.CLAIMED (db.RESOLVED allows nothing).
CLAIM, REPLY, RELEASE, RESOLVE = "claim", "reply", "release", "resolve"


def ticket_actions(status: str, holder: Optional[str], viewer: Optional[str]) -> Tuple[str, ...]:
    """Waiting: claim. Claimed by the viewer: reply, release, resolve. Claimed by someone else,
    or resolved: nothing."""
    if status == "waiting":
        return (CLAIM,)
    if status == "claimed" and viewer is not None and holder == viewer:
        return (REPLY, RELEASE, RESOLVE)
    return ()


# --- The figures the marketplace judges a seller by (the dashboard: bot/shop/report.py) -----

# The marketplace requires a Late Delivery Rate under this share; from it on, it may impose an
# Order Volume Limit.
LATE_DELIVERY_LIMIT_PERCENT = 10


def shipping_outcome(
    created_at: datetime, shipped_at: Optional[datetime], stopped_at: Optional[datetime], now: datetime, deadline_days: int,
) -> Optional[Tuple[datetime, bool]]:
    """When a self-shipped order's shipping deadline was settled, and whether the order was late.

    Judged by `lateness`: shipped by the deadline (the deadline itself included) is on time and
    settled when it shipped; shipped after the deadline, or still unshipped once it has passed, is
    late and settled at the deadline. `stopped_at` is when the order stopped needing shipping (a
    cancellation before shipping): one cancelled after its deadline was late, one cancelled by
    then is never due. None while nothing is settled yet (the deadline is ahead) or never due.
    """
    end = now if stopped_at is None else min(now, stopped_at)
    shipped = shipped_at if shipped_at is not None and shipped_at <= now else None
    state = lateness(created_at, shipped, end, deadline_days, at_risk_days=0)
    if state == SHIPPED_ON_TIME:
        return shipped, False
    if state in (SHIPPED_LATE, LATE):
        return shipping_deadline(created_at, deadline_days), True
    return None


def order_volume_limit_risk(late: int, due: int) -> bool:
    """Whether `late` of `due` settled orders breaks the marketplace's rule "Late Delivery Rate
    under 10%": exactly 10% breaks it too (compared in whole numbers, no rounding)."""
    return due > 0 and late * 100 >= LATE_DELIVERY_LIMIT_PERCENT * due


def decision_minutes(decision: DecisionRound) -> Optional[float]:
    """The seller's handling time of one approval round, as `handling_time_minutes` counts it:
    1 minute for the seller's auto-approval rule, the time from request to decision for the
    seller; None for a round the platform decided or nobody has decided yet."""
    if decision.decided_at is None or decision.decided_by == DECIDED_BY_PLATFORM:
        return None
    if decision.decided_by == DECIDED_BY_SELLER_RULE:
        return SELLER_RULE_MINUTES
    return (decision.decided_at - decision.requested_at).total_seconds() / 60
