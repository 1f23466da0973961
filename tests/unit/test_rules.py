"""The business rules at their boundaries."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.shop import rules, vocabulary
from bot.shop.rules import AutoApprovalRule, DecisionRound

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def test_self_shipping_deadline_is_12_calendar_days_after_creation():
    assert rules.shipping_deadline(T0, 12) == datetime(2026, 11, 13, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "now, expected",
    [
        (T0, rules.ON_TIME),
        (T0 + 9 * DAY - timedelta(seconds=1), rules.ON_TIME),
        (T0 + 9 * DAY, rules.AT_RISK),  # 3 days before the deadline
        (T0 + 12 * DAY, rules.AT_RISK),  # the deadline itself is still on time
        (T0 + 12 * DAY + timedelta(seconds=1), rules.LATE),
    ],
)
def test_lateness_of_unshipped_orders(now, expected):
    assert rules.lateness(T0, None, now, deadline_days=12, at_risk_days=3) == expected


def test_lateness_of_shipped_orders_depends_on_the_ship_date_only():
    far_future = T0 + 100 * DAY
    assert rules.lateness(T0, T0 + 12 * DAY, far_future, 12, 3) == rules.SHIPPED_ON_TIME
    assert rules.lateness(T0, T0 + 12 * DAY + timedelta(minutes=1), far_future, 12, 3) == rules.SHIPPED_LATE


@pytest.mark.parametrize(
    "delivered_at, now, expected",
    [
        (None, T0, (rules.NOT_DELIVERED, None)),
        (T0, T0 + 15 * DAY, (rules.ELIGIBLE, T0 + 15 * DAY)),
        (T0, T0 + 15 * DAY + timedelta(seconds=1), (rules.WINDOW_CLOSED, T0 + 15 * DAY)),
    ],
)
def test_return_window(delivered_at, now, expected):
    assert rules.return_eligibility(delivered_at, now, 15) == expected


@pytest.mark.parametrize("status", vocabulary.ORDER_STATUSES)
def test_the_buyer_may_cancel_or_send_an_order_elsewhere_only_until_it_ships(status):
    not_shipped = status in (vocabulary.PENDING_PAYMENT, vocabulary.READY_TO_SHIP)
    assert rules.buyer_may_cancel(status) is not_shipped
    assert rules.buyer_may_change_address(status) is not_shipped


@pytest.mark.parametrize(
    "status, round_number, expected",
    [
        (vocabulary.REJECTED, 1, True),
        (vocabulary.REJECTED, 2, False),  # the second round is the last
        (vocabulary.REQUESTED, 1, False),
        (vocabulary.APPROVED, 1, False),
        (vocabulary.REFUNDED, 1, False),
    ],
)
def test_only_a_first_round_rejection_may_be_reopened(status, round_number, expected):
    assert rules.may_reopen_return(status, round_number) is expected


def test_the_current_round_starts_with_the_buyers_latest_request():
    assert rules.round_requested_at(T0, []) == T0
    assert rules.round_requested_at(T0, [T0]) == T0
    assert rules.round_requested_at(T0, [T0 + 3 * DAY, T0]) == T0 + 3 * DAY  # a dispute started round 2


RULE = AutoApprovalRule(enabled=True, max_amount_cents=3000, reasons=("damaged", "wrong_item"), max_days_since_delivery=7)


@pytest.mark.parametrize(
    "rule, amount, reason, requested_after, expected",
    [
        (RULE, 3000, "damaged", 7 * DAY, True),  # every limit is inclusive
        (RULE, 3001, "damaged", DAY, False),
        (RULE, 1000, "changed_mind", DAY, False),
        (RULE, 1000, "wrong_item", 7 * DAY + timedelta(seconds=1), False),
        (AutoApprovalRule(), 100, "damaged", DAY, False),  # disabled
    ],
)
def test_seller_auto_approval(rule, amount, reason, requested_after, expected):
    assert rules.seller_auto_approves(rule, amount, reason, T0, T0 + requested_after) is expected


def test_no_seller_auto_approval_before_delivery():
    assert rules.seller_auto_approves(RULE, 100, "damaged", None, T0) is False


def test_platform_auto_approval_runs_from_ready_to_ship_or_the_later_request():
    assert rules.platform_auto_approval_at(T0, T0 - DAY, 24) == T0 + DAY
    assert rules.platform_auto_approval_at(T0, T0 + 2 * DAY, 24) == T0 + 3 * DAY
    assert rules.platform_auto_approval_at(None, T0, 24) == T0 + DAY


def rounds(*spec):
    return tuple(DecisionRound(T0 + start, T0 + end if end is not None else None, by) for start, end, by in spec)


def test_handling_time_sums_rounds_counts_rule_as_one_minute_and_skips_platform():
    now = T0 + 10 * DAY
    requests = [
        rounds((timedelta(0), timedelta(hours=2), "seller")),  # 120 min
        rounds((timedelta(0), timedelta(hours=1), "seller"), (timedelta(hours=5), timedelta(hours=6), "seller")),  # 120
        rounds((timedelta(0), timedelta(0), "seller_rule")),  # 1 min
        rounds((timedelta(0), timedelta(hours=24), "platform")),  # excluded
        rounds((timedelta(0), timedelta(hours=1), "seller"), (timedelta(hours=2), timedelta(hours=26), "platform")),  # excluded
        rounds((timedelta(0), None, None)),  # undecided: excluded
        rounds((timedelta(0), timedelta(minutes=30), "seller"), (timedelta(hours=1), None, None)),  # round 2 open: 30
    ]
    assert rules.handling_time_minutes(requests, now) == pytest.approx((120 + 120 + 1 + 30) / 4)


def test_handling_time_window_is_60_days():
    now = T0 + 61 * DAY
    inside = rounds((DAY + timedelta(minutes=1), DAY + timedelta(minutes=31), "seller"))
    outside = rounds((timedelta(0), timedelta(hours=5), "seller"))
    assert rules.handling_time_minutes([inside, outside], now) == pytest.approx(30)
    assert rules.handling_time_minutes([outside], now) is None


def test_a_ticket_is_due_at_the_earlier_of_its_deadline_and_the_reply_target():
    from bot.shop.rules import AGENT_REPLY_TARGET, ticket_due_at

    start = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    assert ticket_due_at(None, None) is None
    assert ticket_due_at(start, None) == start + AGENT_REPLY_TARGET
    assert ticket_due_at(start, start + timedelta(minutes=5)) == start + timedelta(minutes=5)
    assert ticket_due_at(None, start) == start


# --- order verification: lockout and slow-down -------------------------------------------

LIMITS = rules.VerificationLimits()


def test_a_client_is_locked_out_after_eight_failures_in_an_hour():
    failures = [T0 + timedelta(minutes=5 * m) for m in range(8)]
    assert rules.verification_locked(failures[:7], [], T0 + timedelta(minutes=40), LIMITS) is False
    assert rules.verification_locked(failures, [], T0 + timedelta(minutes=40), LIMITS) is True
    # An hour after the first failure, it no longer counts.
    assert rules.verification_locked(failures, [], T0 + timedelta(minutes=61), LIMITS) is False


def test_a_client_is_locked_out_for_the_day_after_thirty_failures_in_24_hours():
    failures = [T0 + timedelta(minutes=40 * m) for m in range(30)]  # never 8 in one hour
    assert rules.verification_locked(failures[:29], [], T0 + timedelta(hours=20), LIMITS) is False
    assert rules.verification_locked(failures, [], T0 + timedelta(hours=20), LIMITS) is True
    assert rules.verification_locked(failures, [], T0 + DAY + timedelta(minutes=1), LIMITS) is False


def test_an_order_is_locked_after_ten_failures_from_anyone():
    failures = [T0 + timedelta(minutes=m) for m in range(10)]
    assert rules.verification_locked([], failures[:9], T0 + timedelta(hours=1), LIMITS) is False
    assert rules.verification_locked([], failures, T0 + timedelta(hours=1), LIMITS) is True
    assert rules.verification_locked([], failures, T0 + DAY + timedelta(minutes=1), LIMITS) is False


@pytest.mark.parametrize(
    "outcomes, seconds",
    [
        ([], 0.0), ([True], 0.0), ([False], 1.0), ([False, False], 2.0), ([False] * 3, 4.0), ([False] * 4, 8.0),
        ([False] * 9, 8.0),  # capped
        ([False, False, False, True, False], 1.0),  # a success ends the run
    ],
)
def test_the_delay_doubles_with_each_failure_in_a_row_up_to_a_cap(outcomes, seconds):
    assert rules.verification_delay(outcomes, LIMITS) == seconds


def test_the_base_delay_is_configurable():
    assert rules.verification_delay([False, False], rules.VerificationLimits(base_delay_seconds=0.25)) == 0.5


# --- who may use a storefront conversation ---------------------------------------------

KEY, OTHER_KEY = "a" * 64, "b" * 64


@pytest.mark.parametrize(
    "key_presented, presented, address, allowed",
    [
        (True, KEY, "10.0.0.1", True),  # its browser, from anywhere
        (True, KEY, "10.9.9.9", True),
        (True, OTHER_KEY, "10.0.0.1", False),  # another browser, even from the same address
        (True, None, "10.0.0.1", False),  # no key, once its browser showed one
        (False, None, "10.0.0.1", True),  # a client that keeps no cookies, from its address
        (False, None, "10.0.0.2", False),  # ... but not from elsewhere
        (False, OTHER_KEY, "10.0.0.1", False),
        (False, KEY, "10.0.0.2", True),
    ],
)
def test_a_conversation_is_used_only_by_the_browser_that_started_it(key_presented, presented, address, allowed):
    assert rules.may_use_conversation(KEY, key_presented, "10.0.0.1", presented, address) is allowed


# --- how urgent a ticket in the agents' queue looks ------------------------------------------

NOW = datetime(2026, 12, 2, 11, 40, tzinfo=timezone.utc)  # 12:40 in Berlin
BERLIN = ZoneInfo("Europe/Berlin")
SHIP = "ship by"


@pytest.mark.parametrize(
    "deadline_in, level, reason",
    [
        (timedelta(hours=1, minutes=20), rules.URGENCY_RED, "ship by 14:00 — 1 h 20 min left"),
        (timedelta(hours=2), rules.URGENCY_RED, "ship by 14:40 — 2 h left"),  # the window's edge is near
        (timedelta(hours=2, seconds=1), rules.URGENCY_NEUTRAL, "ship by 14:40 — 2 h left"),
        (timedelta(minutes=-20), rules.URGENCY_RED, "ship by 12:20 — 20 min overdue"),
        (timedelta(days=1, hours=3), rules.URGENCY_NEUTRAL, "ship by Thu 3 Dec 15:40 — 1 day 3 h left"),
    ],
)
def test_a_ticket_is_red_only_when_its_marketplace_deadline_is_near(deadline_in, level, reason):
    urgency = rules.ticket_urgency(NOW, (NOW + deadline_in, SHIP), None, zone=BERLIN)
    assert (urgency.level, urgency.reason) == (level, reason)
    assert urgency.deadline_at == NOW + deadline_in


@pytest.mark.parametrize(
    "waited, level, reason",
    [
        (None, rules.URGENCY_NEUTRAL, "nobody waiting"),
        (timedelta(minutes=29, seconds=59), rules.URGENCY_NEUTRAL, "shopper waiting 29 min"),
        (timedelta(minutes=30), rules.URGENCY_AMBER, "shopper waiting 30 min"),  # the reply target: amber, not red
        (timedelta(hours=9, minutes=59), rules.URGENCY_AMBER, "shopper waiting 9 h 59 min"),
        # The shop's reply deadline (12 h) is near from 10 h on.
        (timedelta(hours=10), rules.URGENCY_RED, "reply by 14:40 — 2 h left"),
        (timedelta(hours=13), rules.URGENCY_RED, "reply by 11:40 — 1 h overdue"),
    ],
)
def test_a_waiting_shopper_is_amber_after_the_reply_target_and_red_near_the_reply_deadline(waited, level, reason):
    since = NOW - waited if waited is not None else None
    urgency = rules.ticket_urgency(NOW, None, since, zone=BERLIN)
    assert (urgency.level, urgency.reason) == (level, reason)


def test_the_nearest_deadline_speaks_and_the_windows_are_configurable():
    far, soon = (NOW + timedelta(hours=5), SHIP), (NOW + timedelta(hours=3), SHIP)
    waited = NOW - timedelta(minutes=45)
    assert rules.ticket_urgency(NOW, far, waited).level == rules.URGENCY_AMBER
    wide = rules.UrgencyWindows(near=timedelta(hours=6))
    assert rules.ticket_urgency(NOW, far, waited, wide, BERLIN).reason == "ship by 17:40 — 5 h left"
    short_reply = rules.UrgencyWindows(reply_deadline=timedelta(hours=1), near=timedelta(minutes=30))
    assert rules.ticket_urgency(NOW, soon, waited, short_reply, BERLIN).reason == "reply by 12:55 — 15 min left"
    patient = rules.UrgencyWindows(long_wait=timedelta(hours=1))
    assert rules.ticket_urgency(NOW, None, waited, patient).level == rules.URGENCY_NEUTRAL


@pytest.mark.parametrize(
    "delta, words",
    [
        (timedelta(seconds=59), "under 1 min"), (timedelta(minutes=1), "1 min"), (timedelta(minutes=60), "1 h"),
        (timedelta(minutes=61), "1 h 1 min"), (timedelta(days=1), "1 day"), (timedelta(days=2, hours=5), "2 days 5 h"),
        (timedelta(minutes=-5), "5 min"),
    ],
)
def test_durations_in_words(delta, words):
    assert rules.duration_words(delta) == words


@pytest.mark.parametrize(
    "status, holder, viewer, actions",
    [
        ("waiting", None, "agent", ("claim",)),
        ("claimed", "agent", "agent", ("reply", "release", "resolve")),
        ("claimed", "agent2", "agent", ()),  # with someone else: no actions
        ("claimed", "agent", None, ()),
        ("resolved", "agent", "agent", ()),
    ],
)
def test_a_tickets_actions_follow_its_state_and_holder(status, holder, viewer, actions):
    assert rules.ticket_actions(status, holder, viewer) == actions


# --- the seller's performance figures (the dashboard) ---------------------------------------------

DEADLINE = T0 + 12 * DAY


@pytest.mark.parametrize(
    "shipped_at, stopped_at, now, outcome",
    [
        (DEADLINE, None, DEADLINE + DAY, (DEADLINE, False)),  # shipped at the deadline itself: on time
        (T0 + 3 * DAY, None, T0 + 4 * DAY, (T0 + 3 * DAY, False)),  # settled when it shipped, before the deadline
        (DEADLINE + timedelta(seconds=1), None, DEADLINE + DAY, (DEADLINE, True)),  # late: settled at the deadline
        (None, None, DEADLINE, None),  # not shipped, deadline not passed yet: nothing settled
        (None, None, DEADLINE + timedelta(seconds=1), (DEADLINE, True)),  # not shipped once it passed: late
        (DEADLINE + DAY, None, DEADLINE + timedelta(hours=1), (DEADLINE, True)),  # shipping later than now: unshipped now
        (None, DEADLINE, DEADLINE + DAY, None),  # cancelled at the deadline: never due
        (None, DEADLINE + timedelta(hours=1), DEADLINE + DAY, (DEADLINE, True)),  # cancelled after it: it was late
    ],
)
def test_shipping_outcome_settles_an_order_when_it_ships_in_time_or_misses_its_deadline(shipped_at, stopped_at, now, outcome):
    assert rules.shipping_outcome(T0, shipped_at, stopped_at, now, 12) == outcome


@pytest.mark.parametrize("late, due, breach", [(0, 0, False), (1, 11, False), (1, 10, True), (3, 20, True), (99, 1000, False)])
def test_a_late_delivery_rate_of_10_percent_breaks_the_under_10_percent_rule(late, due, breach):
    assert rules.order_volume_limit_risk(late, due) is breach


def test_decision_minutes_of_one_round():
    assert rules.decision_minutes(DecisionRound(T0, T0 + timedelta(hours=2), "seller")) == 120
    assert rules.decision_minutes(DecisionRound(T0, T0 + timedelta(hours=2), "seller_rule")) == 1
    assert rules.decision_minutes(DecisionRound(T0, T0 + DAY, "platform")) is None
    assert rules.decision_minutes(DecisionRound(T0, None, None)) is None
