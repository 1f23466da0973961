"""The seller dashboard on real databases: its query functions on a SQLite shop database with
rows built here (exact numbers) and on the demo shop, a hand-built SQLite tracker store, the
admin page and its CSV over aiohttp's test client, and `python -m bot report`."""
import csv
import io
import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.config import Config
from bot.shop import db, report
from bot.shop.context import ShopContext
from bot.shop.db import (
    AfterSalesEvent, AfterSalesRequest, Cancellation, Customer, Order, Shipment, Shop, Ticket, UnansweredMessage, transaction,
)
from bot.shop.vocabulary import (
    APPROVED, AUTOMATIC, BUYER, BY_SELLER, CANCELLED, DECIDED_BY_PLATFORM, DECIDED_BY_SELLER, DECIDED_BY_SELLER_RULE,
    DELIVERED, IN_DELIVERY, PLATFORM_LOGISTICS, READY_TO_SHIP, REJECTED, REQUESTED, SELF_SHIPPING,
)
from bot.web.app import create_app

NOW = datetime.now(timezone.utc).replace(microsecond=0)
DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)


# --- A shop database built here ---------------------------------------------------------------------------

def add_order(session, shop, customer, number, created, logistics=SELF_SHIPPING, status=READY_TO_SHIP, shipped=None, **extra):
    order = Order(
        shop_id=shop.id, customer_id=customer.id, number=number, status=status, logistics=logistics, created_at=created,
        paid_at=created + MINUTE, ready_to_ship_at=created + MINUTE, total_cents=2000, shipping_address="1 High St",
    )
    if shipped is not None:
        order.shipment = Shipment(carrier="DPD", tracking_number=f"T{number}", shipped_at=shipped)
    for name, value in extra.items():
        setattr(order, name, value)
    session.add(order)
    return order


def add_request(order, requested, steps, status, decided_at=None, decided_by=None, round_=1):
    order.after_sales.append(AfterSalesRequest(
        kind="return_and_refund", reason="damaged", status=status, amount_cents=2000, requested_at=requested,
        round=round_, decided_at=decided_at, decided_by=decided_by,
        history=[AfterSalesEvent(occurred_at=when, status=s, actor=actor, round=r) for when, s, actor, r in steps],
    ))


@pytest.fixture
def shop(config):
    """The shop `demo` (as shop.yml names it) with orders, requests, tickets and unanswered messages."""
    with ShopContext(config) as context:
        with transaction(context.sessions) as session:
            shop = Shop(slug="demo", name="Test Shop", identity_secret="x", created_at=NOW - 400 * DAY)
            session.add(shop)
            session.flush()
            customer = Customer(shop_id=shop.id, external_id="c1", name="Emma", email="emma@example.com")
            session.add(customer)
            session.flush()
            # Late Delivery Rate (deadline 12 days, shop.yml):
            add_order(session, shop, customer, "200001", NOW - 20 * DAY, status=DELIVERED, shipped=NOW - 8 * DAY)  # at the deadline: on time
            add_order(session, shop, customer, "200002", NOW - 20 * DAY, status=IN_DELIVERY, shipped=NOW - 7 * DAY)  # a day late
            add_order(session, shop, customer, "200003", NOW - 13 * DAY)  # not shipped, deadline a day ago: late
            add_order(session, shop, customer, "200004", NOW - 11 * DAY)  # deadline in 24 h: at risk
            add_order(session, shop, customer, "200005", NOW - 5 * DAY)  # 7 days left
            add_order(session, shop, customer, "200006", NOW - 20 * DAY, logistics=PLATFORM_LOGISTICS, status=DELIVERED, shipped=NOW - 2 * DAY)
            cancelled = add_order(session, shop, customer, "200007", NOW - 15 * DAY, status=CANCELLED)  # cancelled unshipped after its deadline
            cancelled.cancellation = Cancellation(type=AUTOMATIC, reason="Not shipped within 12 days", requested_at=NOW - 2 * DAY, cancelled_at=NOW - 2 * DAY)
            by_seller = add_order(session, shop, customer, "200008", NOW - 4 * DAY, status=CANCELLED)  # cancelled before its deadline
            by_seller.cancellation = Cancellation(type=BY_SELLER, reason="Out of stock", requested_at=NOW - 3 * DAY, cancelled_at=NOW - 3 * DAY)
            # After-sales (on delivered order 200001):
            delivered = session.query(Order).filter_by(number="200001").one()
            t = NOW - 10 * DAY
            add_request(delivered, t, [  # two rounds: 120 + 30 min
                (t, REQUESTED, BUYER, 1), (t + 2 * HOUR, REJECTED, DECIDED_BY_SELLER, 1),
                (t + DAY, REQUESTED, BUYER, 2), (t + DAY + 30 * MINUTE, APPROVED, DECIDED_BY_SELLER, 2),
            ], APPROVED, t + DAY + 30 * MINUTE, DECIDED_BY_SELLER, 2)
            add_request(delivered, t, [(t, REQUESTED, BUYER, 1), (t, APPROVED, DECIDED_BY_SELLER_RULE, 1)], APPROVED, t, DECIDED_BY_SELLER_RULE)  # 1 min
            add_request(delivered, t, [(t, REQUESTED, BUYER, 1), (t + 24 * HOUR, APPROVED, DECIDED_BY_PLATFORM, 1)], APPROVED, t + 24 * HOUR, DECIDED_BY_PLATFORM)
            waiting = session.query(Order).filter_by(number="200002").one()
            add_request(waiting, NOW - 3 * HOUR, [(NOW - 3 * HOUR, REQUESTED, BUYER, 1)], REQUESTED)  # auto-approved in 21 h
            # Tickets and unanswered messages.
            session.add(Ticket(shop_id=shop.id, sender_id="chat-agent", status="claimed", reason="asked_for_human",
                               created_at=NOW - 5 * HOUR + MINUTE, updated_at=NOW))
            for i, (text, sender) in enumerate([
                ("do you sell gift cards", "u1"), ("can I buy a gift card", "u2"), ("are gift vouchers available", "u3"),
                ("where is my parcel", "u4"), ("an old one", "u5"),
            ]):
                session.add(UnansweredMessage(
                    shop_id=shop.id, sender_id=sender, text=text, closest_faqs="payment_methods",
                    created_at=NOW - (40 if text == "an old one" else 1 + i) * HOUR * (24 if text == "an old one" else 1),
                ))
            session.add(UnansweredMessage(shop_id=shop.id, sender_id="u6", text="dismissed one", created_at=NOW - HOUR, dismissed=True))
        yield context


# --- A hand-built tracker store ---------------------------------------------------------------------------

RASA_EVENTS_TABLE = """CREATE TABLE events (
    id INTEGER NOT NULL, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) NOT NULL, timestamp FLOAT,
    intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT, PRIMARY KEY (id))"""


def tracker_rows(now):
    """Three conversations: a FAQ answer only, an order answer, a handoff an agent answered after 5 h."""
    def event(sender, when, kind, **data):
        name = data.get("name")
        intent = (data.get("parse_data") or {}).get("intent", {}).get("name")
        return (sender, kind, when.timestamp(), intent, name, json.dumps({"event": kind, "timestamp": when.timestamp(), **data}))

    t = now - 5 * HOUR
    return [
        event("chat-faq", t, "action", name="action_session_start"),
        event("chat-faq", t, "bot", text="Welcome!", metadata={}),
        event("chat-faq", t + MINUTE, "user", text="do you ship abroad", parse_data={"intent": {"name": "faq"}, "entities": []}),
        event("chat-faq", t + MINUTE, "action", name="action_answer_faq"),
        event("chat-faq", t + MINUTE + timedelta(seconds=1), "bot", text="Yes.", metadata={}),
        event("chat-order", t, "user", text="where is order 200002", parse_data={"intent": {"name": "track_shipment"}, "entities": [{"entity": "order_id"}]}),
        event("chat-order", t, "action", name="order_lookup_form"),
        event("chat-order", t + timedelta(seconds=2), "bot", text="Your e-mail?", metadata={"utter_action": "utter_ask_order_contact"}),
        event("chat-order", t, "slot", name="order_number", value="200002"),  # not read
        event("chat-agent", t, "user", text="a person please", parse_data={"intent": {"name": "talk_to_human"}, "entities": []}),
        event("chat-agent", t + timedelta(seconds=1), "action", name="action_handoff"),
        event("chat-agent", t + timedelta(seconds=1), "bot", text="A person will reply.", metadata={"utter_action": "utter_handoff_now"}),
        event("chat-agent", t + timedelta(seconds=1), "pause"),
        event("chat-agent", t + 5 * HOUR + timedelta(seconds=1), "bot", text="Hi, Alex here.", metadata={"agent": "Alex"}),
        event("u4", NOW - 4 * HOUR, "user", text="where is my parcel", parse_data={"intent": {"name": "nlu_fallback"},
              "intent_ranking": [{"name": "nlu_fallback"}, {"name": "faq"}], "entities": []}),
        event("chat-old", now - 40 * DAY, "user", text="hi", parse_data={"intent": {"name": "greet"}, "entities": []}),
    ]


@pytest.fixture
def tracker_file(tmp_path):
    path = tmp_path / "tracker.db"
    connection = sqlite3.connect(path)
    connection.execute(RASA_EVENTS_TABLE)
    connection.executemany(
        "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) VALUES (?, ?, ?, ?, ?, ?)",
        tracker_rows(NOW),
    )
    connection.commit()
    connection.close()
    return path


# --- The query functions -----------------------------------------------------------------------------------

def test_orders_and_their_late_delivery_rate_from_the_database(shop):
    with shop.sessions() as session:
        orders = report.load_orders(session, shop.shop_id, NOW - 90 * DAY)
    assert len(orders) == 8
    section = report.late_delivery(orders, NOW, 30, deadline_days=12)
    # Settled: 200001 on time (shipped at its deadline), 200002 late, 200003 late (unshipped), 200007 late
    # (cancelled unshipped after its deadline); not 200006 (the marketplace ships), not 200008 (cancelled in time).
    assert section.rate == report.Share(3, 4) and section.limit_reached
    assert [(o.number, o.late) for o in section.at_risk] == [("200003", True), ("200004", False)]
    cancelled = report.cancellations(orders, NOW, 30)
    # 8 orders placed in the last 30 days; 1 automatic, 1 by the seller.
    assert cancelled.placed == 8
    assert {t.type: t.share.count for t in cancelled.by_type} == {"by_seller": 1, "automatic": 1, "logistics_obstacle": 0, "by_buyer": 0}


def test_after_sales_requests_from_the_database(shop):
    with shop.sessions() as session:
        requests = report.load_after_sales(session, shop.shop_id, NOW - 60 * DAY)
    assert [len(r.rounds) for r in requests] == [2, 1, 1, 1]
    section = report.after_sales(requests, NOW, platform_hours=24)
    # (120 + 30) and 1 minute: (150 + 1) / 2 = 75.5 min; the platform's approval is left out.
    assert section.average_minutes == pytest.approx(75.5)
    assert (section.counted, section.two_rounds, section.platform_excluded, section.undecided) == (2, 1, 1, 1)
    # Waiting since 3 h ago, Ready To Ship 20 days ago: the platform approves it in 21 h.
    assert [(a.order_number, a.left(NOW)) for a in section.awaiting] == [("200002", 21 * HOUR)]


def test_tickets_and_unanswered_messages_from_the_database(shop):
    with shop.sessions() as session:
        tickets = report.load_tickets(session, shop.shop_id, NOW - DAY)
        messages = report.load_unanswered(session, shop.shop_id, NOW - 30 * DAY)
    assert [t.sender_id for t in tickets] == ["chat-agent"]
    # Newest first; the dismissed one and the one from 40 days ago are not there.
    assert [m.text for m in messages] == ["do you sell gift cards", "can I buy a gift card", "are gift vouchers available", "where is my parcel"]
    assert messages[0].closest_faqs == ("payment_methods",)


def test_the_tracker_store_is_read_read_only(tracker_file):
    engine = report.open_tracker_store(f"sqlite:///{tracker_file}")
    try:
        events = report.load_tracker_events(engine, NOW - 30 * DAY)
        with engine.connect() as connection, pytest.raises(Exception, match="readonly"):
            connection.exec_driver_sql("DELETE FROM events")
    finally:
        engine.dispose()
    # The slot event is not read, nor the event from 40 days ago.
    assert len(events) == 14 and {e.type_name for e in events} == {"action", "bot", "user", "pause"}
    assert events[2].data["text"] == "do you ship abroad"


def test_a_missing_tracker_store_is_no_data(shop, tmp_path):
    with pytest.raises(FileNotFoundError):
        report.open_tracker_store(f"sqlite:///{tmp_path / 'nothing.db'}")
    # The report still comes: the chat says it has no data, the unanswered messages use the keyword check.
    found = report.build_report(shop, 30, now=NOW, tracker_url=f"sqlite:///{tmp_path / 'nothing.db'}")
    assert not found.chat.available and found.chat.conversations == 0 and found.chat.handed_off.rate is None
    assert "no data: the tracker store cannot be read" in report.as_text(found)
    assert [g.order_question for g in found.unanswered] == [False, True]


def test_the_tracker_store_url_comes_from_the_environment_or_endpoints_yml(tmp_path):
    assert report.tracker_store_url(tmp_path, {"TRACKER_STORE_URL": "sqlite:////x/t.db"}) == "sqlite:////x/t.db"
    (tmp_path / "endpoints.yml").write_text("tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: var/tracker.db\n")
    assert report.tracker_store_url(tmp_path, {}) == f"sqlite:///{tmp_path / 'var' / 'tracker.db'}"
    (tmp_path / "endpoints.yml").write_text(
        "tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: db.example\n  port: 5432\n  db: rasa\n"
        "  username: rasa\n  password: ${TRACKER_PASSWORD}\n"
    )
    assert report.tracker_store_url(tmp_path, {"TRACKER_PASSWORD": "s3cret"}) == "postgresql://rasa:s3cret@db.example:5432/rasa"
    (tmp_path / "endpoints.yml").write_text("tracker_store:\n  type: redis\n")
    assert report.tracker_store_url(tmp_path, {}) is None
    # The project's own endpoints.yml: var/tracker.db in the project.
    assert report.tracker_store_url(Config.from_env().project_dir, {}).endswith("/var/tracker.db")


def test_the_whole_report_of_a_shop(shop, tracker_file):
    found = report.build_report(shop, 30, now=NOW, tracker_url=f"sqlite:///{tracker_file}")
    assert found.late_delivery.rate == report.Share(3, 4)
    chats = found.chat
    # chat-faq (a FAQ only: left out of the response rate), chat-order (answered in 2 s), chat-agent (handed off,
    # ticket and pause; the agent replied 5 h after the handoff), u4 (no reply yet, 4 h old); chat-old is from 40 days ago.
    assert chats.available and chats.conversations == 4
    assert chats.handed_off == report.Share(1, 4)
    assert chats.left_out == 1
    # Counted within 12 h: chat-order (2 s), chat-agent (the handoff notice is automatic; the agent after 5 h);
    # u4 is too young to count. 2 of 2.
    assert chats.answered_within[0].share == report.Share(2, 2)
    # Handed off at the pause (t + 1 s; the ticket came at t + 1 min), the agent replied at t + 5 h + 1 s: 5 h.
    assert chats.agent_first_response.mean_seconds == pytest.approx(5 * 3600)
    # The unanswered messages grouped by meaning (all-MiniLM-L6-v2): the three about gift cards together; "where is
    # my parcel" is an order question (the tracker kept its reading, and "my parcel" also says so).
    groups = found.unanswered
    assert [(g.count, g.order_question) for g in groups] == [(3, False), (1, True)]
    assert set(groups[0].examples) == {"do you sell gift cards", "can I buy a gift card", "are gift vouchers available"}


def test_the_demo_shop_report(demo_context, tracker_file):
    found = report.build_report(demo_context, 30, tracker_url=f"sqlite:///{tracker_file}")
    late = found.late_delivery
    # The showcase orders: 100003 is late (14 days, not shipped), 100002 at risk (10 days): both listed, late first.
    numbers = [o.number for o in late.at_risk]
    assert "100003" in numbers and "100002" in numbers and numbers.index("100003") < numbers.index("100002")
    assert late.rate.base > 0 and found.cancellations.placed > 0
    assert all(t.share.count > 0 for t in found.cancellations.by_type)
    assert found.after_sales.counted > 0 and found.after_sales.platform_excluded > 0
    assert any(a.order_number == "100011" for a in found.after_sales.awaiting)  # its return request waits
    assert "LATE DELIVERY RATE" in report.as_text(found)


# --- The admin page and its CSV -----------------------------------------------------------------------------

@pytest.fixture
async def client(aiohttp_client, seller_files, tracker_file, monkeypatch):
    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{tracker_file}")
    with ShopContext(seller_files) as context, transaction(context.sessions) as session:
        for text in ("do you sell gift cards", "can I buy a gift card", "where is my parcel 100245"):
            db.record_unanswered(session, context.shop_id, "u1", text, ["payment_methods"])
    return await aiohttp_client(create_app(seller_files))


async def log_in(client, username="seller", password="demo-seller"):
    response = await client.post("/login", data={"username": username, "password": password}, allow_redirects=False)
    assert response.status == 303


async def test_the_dashboard_needs_a_seller_login(client):
    response = await client.get("/admin/report", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/login?next=/admin/report")
    assert (await client.get("/admin/report.csv?table=chat", allow_redirects=False)).status == 303
    await log_in(client, "agent", "demo-agent")
    assert (await client.get("/admin/report")).status == 403
    assert (await client.get("/admin/report.csv?table=chat")).status == 403


async def test_the_dashboard_page(client):
    await log_in(client)
    response = await client.get("/admin/report?days=30")
    assert response.status == 200
    page = await response.text()
    for section in ("late-delivery", "cancellations", "after-sales", "chat", "unanswered"):
        assert f'<section id="{section}"' in page
    assert page.count('<svg class="chart"') == 4 and "<desc" in page
    assert 'href="/admin/report?days=30" aria-current="page"' in page and 'href="/admin/report?days=90"' in page
    assert "Order Volume Limit" in page  # the demo shop's rate is over the limit
    assert "100002" in page and "100003" in page  # the showcase orders at risk
    assert 'href="/admin/report.csv?table=orders_at_risk&amp;days=30"' in page
    assert '<a href="/admin/report">Performance</a>' in page  # the nav link
    # The gift-card group links to the FAQ editor prefilled; the order question is marked, no link.
    link = re.search(r'<a href="(/admin/faqs/new\?[^"]+)">New FAQ from these</a>', page).group(1).replace("&amp;", "&")
    assert sorted(parse_qs(urlsplit(link).query)["question"]) == ["can I buy a gift card", "do you sell gift cards"]
    assert "order question" in page
    form = await (await client.get(link)).text()
    assert 'name="question" value="do you sell gift cards"' in form or 'name="question" value="can I buy a gift card"' in form
    assert re.search(r'<textarea name="similar"[^>]*>(can I buy a gift card|do you sell gift cards)</textarea>', form)


async def test_the_period_can_be_chosen_and_must_be_sensible(client):
    await log_in(client)
    page = await (await client.get("/admin/report?days=7")).text()
    assert 'href="/admin/report?days=7" aria-current="page"' in page and "The last 7 days" in page
    for bad in ("0", "1000", "abc"):
        response = await client.get(f"/admin/report?days={bad}")
        assert response.status == 400


async def test_every_table_downloads_as_csv(client):
    await log_in(client)
    for name, (_, title) in report.TABLES.items():
        response = await client.get(f"/admin/report.csv?table={name}&days=30")
        assert response.status == 200, name
        assert response.content_type == "text/csv"
        assert f'filename="{name}-30d-' in response.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(await response.text())))
        assert rows[0] and all(len(row) == len(rows[0]) for row in rows), name
    chat = list(csv.reader(io.StringIO(await (await client.get("/admin/report.csv?table=chat&days=30")).text())))
    assert ["conversations", "4", ""] in chat
    assert (await client.get("/admin/report.csv?table=nothing&days=30")).status == 400


# --- The command ------------------------------------------------------------------------------------------

def run_cli(capsys, *args):
    from bot.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["report", *args])
    return exit_info.value.code, capsys.readouterr()


def test_the_report_command_prints_text_and_json(demo_shop, tracker_file, monkeypatch, capsys):
    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{tracker_file}")
    code, output = run_cli(capsys, "--days", "30")
    assert code == 0
    for heading in ("LATE DELIVERY RATE", "CANCELLATIONS", "AFTER-SALES HANDLING TIME", "CHAT", "UNANSWERED QUESTIONS"):
        assert heading in output.out
    assert "100003" in output.out and "Restock" in output.out
    code, output = run_cli(capsys, "--days", "7", "--json")
    assert code == 0
    document = json.loads(output.out)
    assert document["days"] == 7 and document["chat"]["conversations"] == 4
    assert set(document) >= {"late_delivery", "cancellations", "after_sales", "chat", "unanswered"}
    assert document["late_delivery"]["limit_percent"] == 10
    code, output = run_cli(capsys, "--days", "0")
    assert code == 1 and "1 to 365 days" in output.err
