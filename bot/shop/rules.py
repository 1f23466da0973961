"""The marketplace's business rules, as pure functions of plain values.

Deadlines, lateness, cancellation and return eligibility, auto-approval and
after-sales handling time. No database, no clock: callers pass `now`.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Optional, Sequence, Tuple

# Lateness of a self-shipped order against its shipping deadline.
ON_TIME, AT_RISK, LATE, SHIPPED_ON_TIME, SHIPPED_LATE = "on_time", "at_risk", "late", "shipped_on_time", "shipped_late"

NOT_DELIVERED, WINDOW_CLOSED, ELIGIBLE = "not_delivered", "window_closed", "eligible"

RETURN_REASONS = ("damaged", "wrong_item", "not_as_described", "missing_parts", "size_fit", "changed_mind", "other")


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


def late_delivery_rate(lateness_values: Iterable[str]) -> float:
    """Late Delivery Rate of self-shipped orders: late ones among those already due.

    An order is due once shipped or once its deadline has passed; orders still
    ON_TIME or AT_RISK are not counted yet. The marketplace may impose an
    Order Volume Limit from 10%.
    """
    due = [value for value in lateness_values if value in (SHIPPED_ON_TIME, SHIPPED_LATE, LATE)]
    if not due:
        return 0.0
    return sum(value != SHIPPED_ON_TIME for value in due) / len(due)


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
    decided_by: Optional[str]  # "seller", "seller_rule", "platform" or None (undecided)


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
        rounds = rounds[:2]
        if not rounds or rounds[0].requested_at < since or any(r.decided_by == "platform" for r in rounds):
            continue
        decided = [r for r in rounds if r.decided_at is not None]
        if not decided:
            continue
        totals.append(
            sum(
                SELLER_RULE_MINUTES if r.decided_by == "seller_rule" else (r.decided_at - r.requested_at).total_seconds() / 60
                for r in decided
            )
        )
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
    conversations do not start afresh; and per order from anyone, so that a prober with
    many addresses still gets few guesses at one order.
    """

    failures_per_client: int = 5
    client_window: timedelta = timedelta(hours=24)
    failures_per_order: int = 10
    order_window: timedelta = timedelta(hours=24)
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 8.0


def verification_locked(
    client_failures: Iterable[datetime], order_failures: Iterable[datetime], now: datetime, limits: VerificationLimits
) -> bool:
    """Whether contact checks are refused: the client failed `failures_per_client` times within
    `client_window`, or the order was failed `failures_per_order` times within `order_window`."""
    recent_client = sum(now - moment < limits.client_window for moment in client_failures)
    recent_order = sum(now - moment < limits.order_window for moment in order_failures)
    return recent_client >= limits.failures_per_client or recent_order >= limits.failures_per_order


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
