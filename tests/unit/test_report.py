"""The seller dashboard's formulas (bot/shop/report.py) on hand-built rows, each answer worked
out by hand in the comments."""
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from bot.shop import report
from bot.shop.hours import WorkingHours
from bot.shop.report import (
    AfterSalesRow, HistoryEntry, OrderRow, Report, Share, StoredParse, TicketRow, TrackerEvent, UnansweredRow,
)
from bot.shop.rules import DecisionRound
from bot.shop.vocabulary import (
    APPROVED, AUTOMATIC, BUYER, BY_BUYER, BY_SELLER, CANCELLED, DECIDED_BY_PLATFORM, DECIDED_BY_SELLER,
    DECIDED_BY_SELLER_RULE, DELIVERED, IN_DELIVERY, LOGISTICS_OBSTACLE, PENDING_PAYMENT, PLATFORM_LOGISTICS,
    READY_TO_SHIP, REFUNDED, REJECTED, REQUESTED, SELF_SHIPPING, WITHDRAWN,
)

UTC = timezone.utc
DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)
NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)


def at(month, day, hour=12, minute=0, second=0):
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


# --- Late Delivery Rate -------------------------------------------------------------------------------

def self_shipped(number, created, shipped=None, status=None, cancelled=None, kind=None, paid=True, logistics=SELF_SHIPPING):
    status = status or (CANCELLED if cancelled else IN_DELIVERY if shipped else READY_TO_SHIP)
    return OrderRow(number, logistics, status, created, created + MINUTE if paid else None, shipped, kind, cancelled)


# Deadline: 12 calendar days after creation.
ORDERS = [
    self_shipped("A", at(11, 20), shipped=at(12, 2)),  # deadline Dec 2 12:00, shipped exactly then: on time, settled Dec 2
    self_shipped("B", at(11, 20), shipped=at(12, 2, 12, 1)),  # a minute after the deadline: late, settled at the deadline Dec 2
    self_shipped("C", at(11, 25)),  # deadline Dec 7, still not shipped: late, settled Dec 7; listed (late)
    self_shipped("D", at(11, 29)),  # deadline Dec 11 12:00, 24 h left: not settled; listed (at risk)
    self_shipped("D2", at(11, 30)),  # deadline Dec 12 12:00, exactly 48 h left: listed (at risk)
    self_shipped("E", at(12, 1)),  # deadline Dec 13, 3 days left: neither
    self_shipped("F", at(11, 20), shipped=at(12, 5), logistics=PLATFORM_LOGISTICS),  # the marketplace ships: not judged
    self_shipped("G", at(11, 21), cancelled=at(11, 22), kind=BY_BUYER),  # cancelled before its deadline: never due
    self_shipped("H", at(11, 22), cancelled=at(12, 5), kind=AUTOMATIC),  # deadline Dec 4, cancelled unshipped after: late, Dec 4
    self_shipped("I", at(11, 30), shipped=at(12, 1)),  # on time, settled Dec 1
    self_shipped("J", at(12, 9), paid=False, status=PENDING_PAYMENT),  # unpaid: not judged
    self_shipped("K", at(11, 28), shipped=at(12, 6)),  # deadline Dec 10, shipped Dec 6: on time, settled Dec 6
]


def test_late_delivery_rate_over_the_period():
    # 30 days: (Nov 10 12:00, Dec 10 12:00]. Settled: A on time, B late, C late, H late, I on time, K on time.
    # 3 late of 6 = 50%; at or above 10%: the Order Volume Limit warning.
    section = report.late_delivery(ORDERS, NOW, 30, deadline_days=12)
    assert (section.rate.count, section.rate.base) == (3, 6)
    assert section.rate.rate == pytest.approx(0.5)
    assert section.limit_reached is True
    # 7 days: (Dec 3 12:00, Dec 10 12:00]: H (Dec 4, late), K (Dec 6, on time), C (Dec 7, late): 2 of 3.
    week = report.late_delivery(ORDERS, NOW, 7, deadline_days=12)
    assert (week.rate.count, week.rate.base) == (2, 3)


def test_an_order_shipped_exactly_at_its_deadline_is_on_time():
    # rules.lateness: "the deadline itself is still on time; an order is late only after it".
    on_time = [self_shipped("A", at(11, 20), shipped=at(12, 2))]
    assert report.late_delivery(on_time, NOW, 30, 12).rate == Share(0, 1)
    a_second_late = [self_shipped("B", at(11, 20), shipped=at(12, 2, 12, 0, 1))]
    assert report.late_delivery(a_second_late, NOW, 30, 12).rate == Share(1, 1)


def test_the_deadline_comes_from_the_shops_setting():
    # With a 14-day deadline, B (shipped 12 days and 1 minute after creation) is on time.
    assert report.late_delivery(ORDERS[:2], NOW, 30, deadline_days=14).rate == Share(0, 2)


def test_the_daily_trend_is_the_rate_over_the_period_ending_each_day():
    week = report.late_delivery(ORDERS, NOW, 7, deadline_days=12)
    assert [day.day.isoformat() for day in week.daily] == [f"2026-12-{d:02d}" for d in range(4, 11)]
    dec4 = week.daily[0]
    # Settled on Dec 4: H (late). The window ending Dec 5 00:00 is (Nov 28 00:00, Dec 5 00:00]:
    # I (Dec 1, on time), A (Dec 2, on time), B (Dec 2, late), H (Dec 4, late): 2 of 4.
    assert (dec4.settled, dec4.late, dec4.window) == (1, 1, Share(2, 4))
    # The last day's window ends now: it is the period's figure.
    assert week.daily[-1].window == week.rate


def test_orders_at_risk_come_first_with_their_deadline():
    section = report.late_delivery(ORDERS, NOW, 30, 12)
    listed = [(o.number, o.deadline, o.late) for o in section.at_risk]
    # Soonest deadline first: C is already late; D has 24 h left; D2 exactly 48 h (still listed); E (3 days) not.
    assert listed == [("C", at(12, 7), True), ("D", at(12, 11), False), ("D2", at(12, 12), False)]
    assert section.at_risk[1].left(NOW) == 24 * HOUR
    assert report.left_text(section.at_risk[0].left(NOW)) == "3.0 days overdue"


@pytest.mark.parametrize(
    "late, due, reached",
    [(0, 0, False), (0, 10, False), (1, 11, False), (1, 10, True), (2, 10, True), (10, 100, True), (9, 100, False)],
)
def test_the_order_volume_limit_starts_at_10_percent(late, due, reached):
    # The marketplace's rule is "Late Delivery Rate under 10%": exactly 10% (1 of 10) breaks it; 1 of 11 (9.1%) does not.
    orders = [self_shipped(f"L{i}", at(11, 20), shipped=at(12, 2, 13) if i < late else at(12, 1)) for i in range(due)]
    section = report.late_delivery(orders, NOW, 30, 12)
    assert section.rate == Share(late, due)
    assert section.limit_reached is reached


# --- Cancellations --------------------------------------------------------------------------------------

def test_cancellations_by_type_of_the_orders_placed_in_the_period():
    placed = [
        self_shipped("1", at(12, 1), cancelled=at(12, 2), kind=BY_SELLER),
        self_shipped("2", at(12, 1), cancelled=at(12, 2), kind=AUTOMATIC),
        self_shipped("3", at(12, 2), cancelled=at(12, 3), kind=AUTOMATIC),
        self_shipped("4", at(12, 3), shipped=at(12, 4), cancelled=at(12, 6), kind=LOGISTICS_OBSTACLE),
        # A buyer's request the seller has not accepted: not cancelled (yet).
        OrderRow("5", SELF_SHIPPING, READY_TO_SHIP, at(12, 4), at(12, 4), None, BY_BUYER, None),
        self_shipped("6", at(12, 5), shipped=at(12, 6)),
        self_shipped("7", at(12, 6)),
        OrderRow("8", PLATFORM_LOGISTICS, DELIVERED, at(12, 8), at(12, 8), at(12, 9), None, None),
    ]
    before = self_shipped("0", at(11, 1), cancelled=at(12, 5), kind=BY_BUYER)  # placed before the period
    section = report.cancellations([before, *placed], NOW, 30)
    # 8 orders placed since Nov 10; cancelled: 1 by seller (1/8 = 12.5%), 2 automatic (25%), 1 logistics (12.5%), 0 by buyer.
    assert section.placed == 8 and section.total == Share(4, 8)
    assert [(t.type, t.share) for t in section.by_type] == [
        (BY_SELLER, Share(1, 8)), (AUTOMATIC, Share(2, 8)), (LOGISTICS_OBSTACLE, Share(1, 8)), (BY_BUYER, Share(0, 8)),
    ]
    assert [report.percent(t.share) for t in section.by_type] == ["12.5%", "25.0%", "12.5%", "0.0%"]
    # The advice per type comes from the one table of advice.
    assert [t.advice for t in section.by_type] == [report.CANCELLATION_ADVICE[t.type] for t in section.by_type]
    assert "Restock" in section.by_type[0].advice and "Ship sooner" in section.by_type[1].advice
    assert "carrier" in section.by_type[2].advice and "listings clearer" in section.by_type[3].advice
    # By the day they were placed: Dec 1 two placed, both cancelled.
    dec1 = next(d for d in section.daily if d.day.isoformat() == "2026-12-01")
    assert (dec1.placed, dec1.cancelled) == (2, 2)


# --- After-Sales Handling Time --------------------------------------------------------------------------

T = NOW - 10 * DAY  # Nov 30 12:00


def request(request_id, rounds, status=APPROVED, ready_to_ship_at=None, kind="return_and_refund"):
    rounds = tuple(DecisionRound(*r) for r in rounds)
    return AfterSalesRow(request_id, f"O{request_id}", kind, status, rounds[0].requested_at, ready_to_ship_at, rounds, rounds[-1].requested_at)


REQUESTS = [
    # Two rounds: rejected after 2 h (120 min), disputed a day later, approved after 30 min: 150 min.
    request(1, [(T, T + 2 * HOUR, DECIDED_BY_SELLER), (T + DAY, T + DAY + 30 * MINUTE, DECIDED_BY_SELLER)]),
    # The seller's auto-approval rule: 1 minute, however fast it really was.
    request(2, [(T, T, DECIDED_BY_SELLER_RULE)]),
    # Auto-approved by the platform: left out.
    request(3, [(T, T + 24 * HOUR, DECIDED_BY_PLATFORM)]),
    # The seller approved after 5 h: 300 min.
    request(4, [(T, T + 5 * HOUR, DECIDED_BY_SELLER)]),
    # Waiting: asked 2 h ago, Ready To Ship 3 days before: the platform approves it 24 h after the request.
    request(5, [(NOW - 2 * HOUR, None, None)], status=REQUESTED, ready_to_ship_at=NOW - 3 * DAY),
    # A refund request made before the order turned Ready To Ship (1 h ago): 24 h after Ready To Ship.
    request(6, [(NOW - 5 * HOUR, None, None)], status=REQUESTED, ready_to_ship_at=NOW - HOUR, kind="refund_only"),
    # Older than 60 days: outside the marketplace's window.
    request(7, [(NOW - 61 * DAY, NOW - 61 * DAY + HOUR, DECIDED_BY_SELLER)]),
]


def test_handling_time_sums_up_to_two_rounds_counts_the_rule_as_one_minute_and_leaves_the_platform_out():
    section = report.after_sales(REQUESTS, NOW, platform_hours=24)
    # Counted: 1 (150 min), 2 (1 min), 4 (300 min): (150 + 1 + 300) / 3 = 150.33 min.
    assert section.counted == 3
    assert section.average_minutes == pytest.approx(451 / 3)
    assert section.two_rounds == 1
    # Per round: round 1 is 120, 1 and 300 (421 / 3 = 140.33 min); round 2 only request 1's 30 min.
    assert section.round_average_minutes == (pytest.approx(421 / 3), pytest.approx(30))
    # Left out: 3 (platform), 5 and 6 (nobody decided yet); 7 is outside the 60 days altogether.
    assert (section.platform_excluded, section.undecided) == (1, 2)
    # 150 and 300 min are "1 to 6 h", 1 min is "up to 1 h".
    assert dict(section.buckets) == {"up to 1 h": 1, "1 to 6 h": 2, "6 to 12 h": 0, "12 to 24 h": 0, "over 24 h": 0}


def test_a_request_the_buyer_withdrew_waits_for_nobody_but_its_decided_round_still_counts():
    withdrawn = [
        # Taken back before anyone decided it: neither counted nor waiting for the seller.
        request(8, [(NOW - 3 * HOUR, None, None)], status=WITHDRAWN, ready_to_ship_at=NOW - 3 * DAY),
        # Rejected after 1 h, disputed, then taken back: the seller's first decision counts.
        request(9, [(T, T + HOUR, DECIDED_BY_SELLER), (T + DAY, None, None)], status=WITHDRAWN),
    ]
    section = report.after_sales(REQUESTS + withdrawn, NOW, platform_hours=24)
    assert (section.platform_excluded, section.undecided) == (1, 2)  # as without them
    assert section.counted == 4 and section.average_minutes == pytest.approx((451 + 60) / 4)
    assert [a.request_id for a in section.awaiting] == [5, 6]


def test_requests_awaiting_the_seller_with_the_time_left_before_the_platform_approves_them():
    section = report.after_sales(REQUESTS, NOW, platform_hours=24)
    # 5: asked 2 h ago, after Ready To Ship: approved 24 h after the request, 22 h from now.
    # 6: asked 5 h ago, before Ready To Ship (1 h ago): 24 h after Ready To Ship, 23 h from now.
    assert [(a.request_id, a.left(NOW)) for a in section.awaiting] == [(5, 22 * HOUR), (6, 23 * HOUR)]
    assert report.left_text(section.awaiting[0].left(NOW)) == "22.0 h left"


def test_the_rounds_come_from_the_requests_history():
    history = [
        HistoryEntry(T, REQUESTED, BUYER, 1),
        HistoryEntry(T + 2 * HOUR, REJECTED, DECIDED_BY_SELLER, 1),
        HistoryEntry(T + DAY, REQUESTED, BUYER, 2),
        HistoryEntry(T + DAY + 30 * MINUTE, APPROVED, DECIDED_BY_SELLER, 2),
        HistoryEntry(T + 2 * DAY, REFUNDED, DECIDED_BY_PLATFORM, 2),  # the refund is no decision
    ]
    assert report.decision_rounds(T, T + DAY + 30 * MINUTE, DECIDED_BY_SELLER, history) == (
        DecisionRound(T, T + 2 * HOUR, DECIDED_BY_SELLER), DecisionRound(T + DAY, T + DAY + 30 * MINUTE, DECIDED_BY_SELLER),
    )
    # The second round still open.
    assert report.decision_rounds(T, None, None, history[:3])[1] == DecisionRound(T + DAY, None, None)
    # No history: the request's own fields are its one round.
    assert report.decision_rounds(T, T + HOUR, DECIDED_BY_SELLER, []) == (DecisionRound(T, T + HOUR, DECIDED_BY_SELLER),)


# --- Chat -----------------------------------------------------------------------------------------------

CHAT_NOW = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)  # a Thursday; the shop is open Mon-Fri 9-17 UTC
HOURS = WorkingHours()


def ts(day, hour, minute=0, second=0):
    return datetime(2026, 12, day, hour, minute, second, tzinfo=UTC).timestamp()


def user(sender, when, text, intent="faq", entities=()):
    return TrackerEvent(sender, "user", when, intent, None, {
        "event": "user", "text": text,
        "parse_data": {"intent": {"name": intent}, "entities": [{"entity": e} for e in entities]},
    })


def bot(sender, when, text="...", response=None, agent=None):
    metadata = {**({"utter_action": response} if response else {}), **({"agent": agent} if agent else {})}
    return TrackerEvent(sender, "bot", when, None, None, {"event": "bot", "text": text, "metadata": metadata})


def action(sender, when, name):
    return TrackerEvent(sender, "action", when, None, name, {"event": "action", "name": name})


def marker(sender, when, kind):  # pause, resume
    return TrackerEvent(sender, kind, when, None, None, {"event": kind})


def session_start(sender, when):
    return [action(sender, when, "action_session_start"), bot(sender, when + 0.001, "Welcome!"), action(sender, when + 0.002, "action_listen")]


EVENTS = [
    # A: a FAQ answer only (Wed 10:00:05, answered in 1 s). Left out of the response rate; resolved by the bot.
    *session_start("A", ts(2, 10)),
    user("A", ts(2, 10, 0, 5), "do you ship abroad"), action("A", ts(2, 10, 0, 6), "action_answer_faq"),
    bot("A", ts(2, 10, 0, 6), "Yes, to all of the EU."),
    # B: an order question (Wed 11:00): asked for the contact after 2 s, answered. Resolved by the bot.
    user("B", ts(2, 11), "where is order 100245", "track_shipment", ["order_id"]),
    action("B", ts(2, 11, 0, 2), "order_lookup_form"), bot("B", ts(2, 11, 0, 2), "Your e-mail?", "utter_ask_order_contact"),
    user("B", ts(2, 11, 0, 30), "emma@example.com", "inform"),
    action("B", ts(2, 11, 0, 31), "action_answer_order_question"), bot("B", ts(2, 11, 0, 31), "On its way.", "utter_tracking"),
    # B2: the same shopper two hours later, a new session (Wed 13:00:10), answered in 1 s.
    *session_start("B", ts(2, 13)),
    user("B", ts(2, 13, 0, 10), "thanks", "thank"), action("B", ts(2, 13, 0, 11), "utter_noworries"),
    bot("B", ts(2, 13, 0, 11), "You're welcome!", "utter_noworries"),
    # C: outside working hours (Wed 20:00): "not sure" after 1 s, then a handoff; an agent 13 h later.
    user("C", ts(2, 20), "blah", "nlu_fallback"), action("C", ts(2, 20, 0, 1), "action_not_sure"),
    bot("C", ts(2, 20, 0, 1), "I'm not sure.", "utter_not_sure"),
    user("C", ts(2, 20, 1), "a person please", "talk_to_human"), action("C", ts(2, 20, 1, 1), "action_handoff"),
    bot("C", ts(2, 20, 1, 1), "A person will reply tomorrow at 09:00.", "utter_handoff_later"), marker("C", ts(2, 20, 1, 1), "pause"),
    bot("C", ts(3, 9, 1, 1), "Hello, Alex here.", agent="Alex"),
    # D: working hours (Wed 14:00), the message for the agents (ticket at 14:00:01); an agent 13 h later.
    action("D", ts(2, 14), "action_listen"), user("D", ts(2, 14), "can I get an invoice"),
    bot("D", ts(3, 3), "Here it is.", agent="Kim"),
    # E: only an automatic reply (the handoff failed: no ticket, no pause). Left out; not resolved.
    user("E", ts(2, 15), "talk to a person", "talk_to_human"), action("E", ts(2, 15, 0, 1), "action_handoff"),
    bot("E", ts(2, 15, 0, 1), "I can't reach a person right now.", "utter_handoff_unavailable"),
    # F: working hours (Wed 16:00); no agent within the timeout, the bot answered after 3 min 1 s.
    action("F", ts(2, 16), "action_listen"), user("F", ts(2, 16), "hello", "greet"),
    marker("F", ts(2, 16, 3), "resume"), action("F", ts(2, 16, 3, 1), "action_greet"),
    bot("F", ts(2, 16, 3, 1), "Hi! How can I help?", "utter_greet"),
    # G: waiting for an agent for 2 h (Thu 16:00): too young to count for 12 h or 24 h.
    action("G", ts(3, 16), "action_listen"), user("G", ts(3, 16), "is there a discount"),
    # H: waiting for an agent for 30 h (Wed 12:00): counts as not answered in time.
    action("H", ts(2, 12), "action_listen"), user("H", ts(2, 12), "do you sell gift cards"),
    # I: before the period.
    user("I", datetime(2026, 10, 20, 12, tzinfo=UTC).timestamp(), "hi", "greet"),
    bot("I", datetime(2026, 10, 20, 12, 0, 1, tzinfo=UTC).timestamp(), "Hi!", "utter_greet"),
]
TICKETS = [
    TicketRow("C", datetime.fromtimestamp(ts(2, 20, 1, 1), UTC), "asked_for_human", None),
    TicketRow("D", datetime.fromtimestamp(ts(2, 14, 0, 1), UTC), "working_hours", None),
    TicketRow("F", datetime.fromtimestamp(ts(2, 16, 0, 1), UTC), "working_hours", "bot"),  # the bot answered it: no handoff
    TicketRow("G", datetime.fromtimestamp(ts(3, 16, 0, 1), UTC), "working_hours", None),
    TicketRow("H", datetime.fromtimestamp(ts(2, 12, 0, 1), UTC), "working_hours", None),
]


@pytest.fixture(scope="module")
def chat_section():
    return report.chat(EVENTS, TICKETS, CHAT_NOW, 30, HOURS)


def test_conversations_are_sessions_with_a_shopper_message(chat_section):
    found = report.conversations(EVENTS, TICKETS)
    assert [c.sender_id for c in found] == ["A", "B", "B", "C", "D", "E", "F", "G", "H", "I"]
    # In the period: A, B, B2, C, D, E, F, G, H (I is from October).
    assert chat_section.conversations == 9


def test_handoffs_and_conversations_resolved_by_the_bot_alone(chat_section):
    # Handed off: C (paused), D, G, H (their tickets); F's ticket was resolved by the bot: 4 of 9.
    assert chat_section.handed_off == Share(4, 9)
    # Resolved by the bot alone: A, B, B2, F. Not C (ends in a handoff after "not sure"), D/G/H (a person),
    # E (only an automatic reply): 4 of 9.
    assert chat_section.resolved_by_bot == Share(4, 9)
    # Shopper messages: A 1, B 2, B2 1, C 2, D 1, E 1, F 1, G 1, H 1 = 11; "not sure" to one of them (C's "blah").
    assert chat_section.fallback == Share(1, 11)


def test_first_response_times_of_the_bot_and_of_the_agents(chat_section):
    # The bot: A 1 s, B 2 s, B2 1 s, C 1 s, E 1 s, F 181 s (D, G, H: no bot reply). Mean 187 / 6, median (1 + 1) / 2.
    bot_times = chat_section.bot_first_response
    assert (bot_times.count, bot_times.median_seconds) == (6, 1.0)
    assert bot_times.mean_seconds == pytest.approx(187 / 6, abs=0.01)
    # Agents, from the handoff: C 13 h (20:01:01 → 09:01:01), D 13 h - 1 s (ticket 14:00:01 → 03:00:00).
    agent_times = chat_section.agent_first_response
    assert agent_times.count == 2
    assert agent_times.mean_seconds == pytest.approx((46800 + 46799) / 2, abs=0.01)
    assert chat_section.waiting_for_agent == 2  # G and H


def test_the_response_rate_leaves_out_chats_answered_only_by_automatic_replies_and_faqs(chat_section):
    # Left out: A (FAQ only) and E (automatic only): 2.
    assert chat_section.left_out == 2
    within_12, within_24 = chat_section.answered_within
    # Count: B, B2, C, D, F, H (G is 2 h old and unanswered: not decided yet). Within 12 h: B (2 s), B2 (1 s),
    # C ("not sure" after 1 s), F (3 min): 4 of 6. D (agent after 13 h) and H (nobody) are not.
    assert (within_12.hours, within_12.share) == (12, Share(4, 6))
    # Within 24 h: D too: 5 of 6.
    assert (within_24.hours, within_24.share) == (24, Share(5, 6))


def test_conversations_outside_working_hours(chat_section):
    # Mon-Fri 9-17 UTC: only C (Wed 20:00) started outside.
    assert chat_section.outside_hours == Share(1, 9)
    wednesday = next(d for d in chat_section.daily if d.day.isoformat() == "2026-12-02")
    assert (wednesday.conversations, wednesday.handed_off, wednesday.outside_hours) == (8, 3, 1)


def conversation(*replies, handed_off=False):
    start = datetime(2026, 12, 2, 10, tzinfo=UTC)
    return report.Conversation(
        "s", start, 1, 0, tuple((start + (i + 1) * MINUTE, kind) for i, kind in enumerate(replies)),
        start if handed_off else None,
    )


@pytest.mark.parametrize(
    "replies, handed_off, left_out",
    [
        ((report.FAQ,), False, True),  # a FAQ answer only
        ((report.FAQ, report.FAQ, report.AUTOMATIC_REPLY), False, True),  # FAQs and an automatic reply only
        ((report.AUTOMATIC_REPLY,), False, True),  # an automatic reply only
        ((report.FAQ, report.BOT), False, False),  # the bot answered something else too: it counts
        ((report.FAQ, report.NOT_SURE), False, False),  # "not sure" is an answer of the bot
        ((report.FAQ, report.AGENT), False, False),
        ((report.FAQ, report.AUTOMATIC_REPLY), True, False),  # handed to a person: it always counts
        ((), False, False),  # no reply at all: it counts, as not answered
    ],
)
def test_answered_only_by_faq_is_every_reply_a_faq_or_automatic_and_no_handoff(replies, handed_off, left_out):
    assert conversation(*replies, handed_off=handed_off).answered_only_automatically is left_out


def test_a_faq_answer_does_not_answer_a_chat_for_the_response_rate():
    # A FAQ at once, the bot's own answer 13 h later: answered for the response rate only at 13 h.
    start = datetime(2026, 12, 2, 10, tzinfo=UTC)
    late = report.Conversation("s", start, 2, 0, ((start + MINUTE, report.FAQ), (start + 13 * HOUR, report.BOT)), None)
    assert report.response_share([late], CHAT_NOW, 12) == Share(0, 1)
    assert report.response_share([late], CHAT_NOW, 24) == Share(1, 1)


@pytest.mark.parametrize(
    "producer, metadata, kind",
    [
        ("action_session_start", {}, report.AUTOMATIC_REPLY),
        ("action_handoff", {"utter_action": "utter_handoff_now"}, report.AUTOMATIC_REPLY),
        ("resume", {}, report.AUTOMATIC_REPLY),  # the closing message when an agent gives the chat back
        ("action_answer_faq", {}, report.FAQ),
        ("action_answer_faq", {"utter_action": "utter_other_questions"}, report.FAQ),
        ("action_answer_faq", {"utter_action": "utter_not_sure"}, report.NOT_SURE),
        ("action_answer_faq", {"utter_action": "utter_handoff_later"}, report.AUTOMATIC_REPLY),
        ("action_listen", {"agent": "Alex"}, report.AGENT),
        ("action_answer_order_question", {"utter_action": "utter_tracking"}, report.BOT),
    ],
)
def test_reply_kinds(producer, metadata, kind):
    event = TrackerEvent("s", "bot", 0.0, None, None, {"event": "bot", "text": "x", "metadata": metadata})
    assert report.reply_kind(event, producer) == kind


# --- Unanswered questions -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, order",
    [
        ("where is my parcel", True),
        ("has my blue order shipped", True),
        ("what about 100245?", True),
        ("#100245 please", True),
        ("do you ship to Austria", False),
        ("how long do refunds take", False),  # a policy question: a FAQ
        ("the 2026 catalogue", False),  # a year is no order number
        ("size 42 in stock?", False),
    ],
)
def test_without_a_stored_reading_a_keyword_check_finds_order_questions(text, order):
    assert report.is_order_question(text, None) is order


def test_a_stored_reading_decides_whether_a_message_is_an_order_question():
    assert report.is_order_question("it never came", StoredParse("late_delivery")) is True  # an order intent
    assert report.is_order_question("this one 1002", StoredParse("faq", ("order_id",))) is True  # an order number
    # A reading without an order signal does not overrule the keyword check: the bot was not sure of it.
    assert report.is_order_question("where is my parcel", StoredParse("faq")) is True
    assert report.is_order_question("do you sell gift cards", StoredParse("faq")) is False
    parses = report.stored_parses([user("s", 1.0, "blah 100245", "nlu_fallback", ["order_id"])])
    assert parses == {("s", "blah 100245"): StoredParse(None, ("order_id",))}


def test_the_likeliest_intent_other_than_the_fallback_is_kept():
    event = TrackerEvent("s", "user", 1.0, "nlu_fallback", None, {"event": "user", "text": "parcel?", "parse_data": {
        "intent": {"name": "nlu_fallback"},
        "intent_ranking": [{"name": "nlu_fallback"}, {"name": "track_shipment"}, {"name": "faq"}], "entities": [],
    }})
    assert report.stored_parses([event])[("s", "parcel?")] == StoredParse("track_shipment", ())


def unit(x, y):
    vector = np.array([x, y], dtype=float)
    return vector / np.linalg.norm(vector)


# a = (1, 0), b ≈ (0.994, 0.110), c = (0, 1), d ≈ (0.110, 0.994), e = (0.8, 0.6).
# Cosines: a·b = 0.994, c·d = 0.994, e·a = 0.800, e·b = 0.861, e·c = 0.600, e·d = 0.685, a·c = 0.
VECTORS = np.stack([unit(1, 0), unit(9, 1), unit(0, 1), unit(1, 9), unit(0.8, 0.6)])


def test_average_linkage_clustering_on_cosine_similarity():
    # a+b and c+d merge first (0.994); then e with {a, b} at the mean (0.800 + 0.861) / 2 = 0.8305.
    assert report.cluster(VECTORS, 0.8) == [[0, 1, 4], [2, 3]]
    # Above 0.8305, e stays alone; {a, b} and {c, d} never merge (mean 0.110).
    assert report.cluster(VECTORS, 0.85) == [[0, 1], [2, 3], [4]]
    assert report.cluster(np.zeros((0, 2)), 0.5) == []


def test_unanswered_messages_grouped_with_order_questions_apart():
    when = datetime(2026, 12, 2, tzinfo=UTC)
    messages = [
        UnansweredRow(1, "s1", "do you sell gift cards", when, ("gift_wrapping",)),
        UnansweredRow(2, "s2", "gift card available?", when + HOUR, ("gift_wrapping", "payment")),
        UnansweredRow(3, "s3", "can I use a voucher", when + 2 * HOUR, ("payment",)),
        UnansweredRow(4, "s4", "where is my parcel", when, ()),  # nothing stored: the keyword check
        UnansweredRow(5, "s5", "it still isn't here", when, ()),
    ]
    stored = {("s5", "it still isn't here"): StoredParse("late_delivery")}
    # 1, 2, 3 close together; 4 and 5 close to 1 as well, but order questions are grouped apart.
    vectors = np.stack([unit(1, 0), unit(9, 1), unit(8, 2), unit(7, 3), unit(6, 4)])
    groups = report.unanswered_groups(messages, vectors, stored, threshold=0.9)
    assert [(g.count, g.order_question) for g in groups] == [(3, False), (2, True)]
    faq_group, order_group = groups
    # The most typical message first: b (9, 1) is nearest on average to the two others.
    assert faq_group.examples == ("gift card available?", "do you sell gift cards", "can I use a voucher")
    assert faq_group.closest_faq == "gift_wrapping"  # the nearest FAQ of 2 of the 3
    link = urlsplit(faq_group.faq_link)
    assert link.path == "/admin/faqs/new"
    assert parse_qs(link.query)["question"] == list(faq_group.examples)
    # Order questions are marked, and no FAQ is offered for them.
    assert order_group.faq_link is None and order_group.questions == ()


# --- Empty data: no division by zero, "no data" shown ------------------------------------------------------

def test_empty_data_gives_no_data_not_a_division_by_zero():
    late = report.late_delivery([], NOW, 30, 12)
    assert late.rate.rate is None and report.percent(late.rate) == "no data" and late.limit_reached is False
    cancelled = report.cancellations([], NOW, 30)
    assert cancelled.total.rate is None and all(t.share.rate is None for t in cancelled.by_type)
    handling = report.after_sales([], NOW, 24)
    assert handling.average_minutes is None and handling.round_average_minutes == (None, None)
    chats = report.chat([], [], NOW, 30)
    assert chats.conversations == 0 and chats.handed_off.rate is None
    assert chats.bot_first_response.mean_seconds is None
    assert all(r.share.rate is None for r in chats.answered_within)
    empty = Report("Shop", NOW, 30, "UTC", late, cancelled, handling, chats, ())
    text = report.as_text(empty)
    assert "no data" in text and "nothing settled yet" in text
    assert report.as_json(empty)["late_delivery"]["rate"] == {"count": 0, "base": 0, "rate": None}
    for name in report.TABLES:
        assert report.table(empty, name).headers


def test_duration_words():
    assert [report.duration_text(s) for s in (None, 0.4, 42, 600, 3 * 3600 + 1800, 2.5 * 86400)] == [
        "no data", "0.4 s", "42 s", "10 min", "3.5 h", "2.5 days",
    ]


# --- The charts -----------------------------------------------------------------------------------------

def test_a_chart_is_an_accessible_svg_image():
    from bot.web.report import chart

    days = [(NOW - i * DAY).date() for i in range(3, -1, -1)]
    svg = str(chart("c1", "Late <rate>", days, [0.05, None, 0.2, 0.1], kind="line",
                    value_text=lambda v: f"{v * 100:.0f}%", limit=(0.1, "10% limit")))
    # A visible caption, and the SVG's own title and description for screen readers.
    assert svg.startswith('<figure class="chart"><figcaption>Late &lt;rate&gt;</figcaption><svg class="chart" id="c1" role="img"')
    assert 'aria-labelledby="c1-title c1-desc"' in svg
    assert '<title id="c1-title">Late &lt;rate&gt;</title>' in svg  # text is escaped
    assert "highest 20% on 09 Dec, latest 10% on 10 Dec" in svg
    assert svg.count("<circle") == 3 and "10% limit" in svg and "7 Dec" in svg
    bars = str(chart("c2", "Chats", days, [1.0, 0.0, 3.0, 2.0]))
    assert bars.count("<rect") == 4 and "<title>Thu 10 Dec: 2</title>" in bars
    assert "no data in this period" in str(chart("c3", "Nothing", days, [None] * 4))
