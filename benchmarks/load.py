"""Loopback load on the shop assistant, side by side with a stock Rasa bot (`make benchmark-load`).

    .venv/bin/python benchmarks/load.py [--setups embedded,production,stock] [--shoppers 20,50]
                                        [--messages 20] [--rounds 3] [--time-limit 240] [--web-url URL]

It starts every set-up first, on free ports: the product with two Rasa servers (`python -m bot
run`, embedded: SQLite in a temporary folder; `python -m bot run --production`: PostgreSQL
databases shop_benchmark and shop_benchmark_tracker, dropped and created afresh, Redis) and the
stock bot. Then, `--rounds` times, for each number of shoppers, each set-up in turn runs that
many concurrent shoppers (the others idle); a set-up's figures are those of all its rounds
together. Each shopper is its own browser (one aiohttp.ClientSession, showing the browser key
its first answer gave, as the storefront widget does), sending `--messages` messages one after
another over the web service's /api/chat: the Chat Welcome (`/session_start`), FAQ questions,
order look-ups with the demo shop's order numbers and e-mails, and a handoff to a person as the
last message; like the storefront widget, each message carries the cursor of the answer before
(`after`). Every reply is checked against what that request must get (a phrase of the right
answer), and afterwards each conversation's history (GET /api/chat/history, read from Rasa's
tracker) must hold the shopper's messages exactly once each and in the order sent: a lost,
duplicated or reordered message fails the check.

The stock bot is `rasa init --no-prompt`, trained in a temporary folder (or `--stock-dir`, trained
once and reused), served with `rasa run` and driven over its REST webhook with the same shoppers
and message counts (its moodbot phrases). Throughput is messages per second over the rounds'
wall time; latency is each message's round trip. Bounded: rounds x shoppers x messages messages
a set-up, and each round stops at `--time-limit` seconds (unfinished shoppers are reported).
"""
import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable, Dict, List, Optional, Tuple

import aiohttp

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
from tests.e2e.shop_web import free_ports  # noqa: E402  (outside the kernel's ephemeral range)

PYTHON = sys.executable
TOKEN = "benchmark-token"
BENCH_DATABASE = "postgresql://postgres@127.0.0.1:5432/shop_benchmark"
BENCH_TRACKER = "postgresql://postgres@127.0.0.1:5432/shop_benchmark_tracker"

# (message, a phrase the reply must hold): a shopper's real flows over the demo shop.
SHOPPER_FLOW: List[Tuple[str, str]] = [
    ("/session_start", "Welcome to Demo Shop"),
    ("do you take paypal payments", "PayPal"),
    ("how long will shipping take", "dispatch"),
    ("where is my parcel for order 100004?", "e-mail address or phone number"),
    ("emma@example.com", "SPXGB0123456789"),
    ("can you wrap the order as a gift", "gift wrapping"),
    ("what are the delivery charges", "4.99"),
    ("why was my order 100007 cancelled", "e-mail address or phone number"),
    ("liam@example.com", "out of stock"),
    ("do you have a size guide", "size chart"),
    ("is there a guarantee", "12 months"),
    ("where is my refund for 100012", "was refunded on"),  # Liam's: already verified in this chat
    ("does it cost anything to cancel", "cancellation fee"),
    ("can i buy in bulk", "5% off"),
    ("what do you do with my data", "only see"),
    ("order status of 100015", "e-mail address or phone number"),
    ("noah@example.com", "waiting for payment"),
    ("where do i enter a promo code", "Voucher"),
    ("do you provide invoices", "receipt"),
    ("i want to talk to a person", "%HANDOFF%"),  # the last: the bot hands over and goes quiet
]
# The stock moodbot's phrases (rasa init's data). Its answers are not checked (the moodbot stays
# silent or misreads some of them): only that each message is in its tracker once, in order.
STOCK_FLOW: List[Tuple[str, str]] = [
    ("hi", ""), ("I am sad", ""), ("yes", ""), ("hello", ""), ("I am very happy", ""),
    ("are you a bot?", ""), ("good morning", ""), ("unhappy", ""), ("no", ""), ("bye", ""),
]


@dataclass
class Run:
    setup: str
    shoppers: int
    messages: int
    latencies: List[float] = field(default_factory=list)
    by_message: Dict[str, List[float]] = field(default_factory=dict)  # message text -> its latencies
    wall: float = 0.0
    wrong: List[str] = field(default_factory=list)  # replies that did not answer their request
    lost: int = 0  # no answer (an error, a time-out)
    order_errors: List[str] = field(default_factory=list)  # history not exactly the messages sent, in order
    unfinished: int = 0
    rounds: int = 0

    def record(self, text: str, started: float) -> None:
        """A message's round trip, from `started` (time.perf_counter()) until now."""
        seconds = time.perf_counter() - started
        self.latencies.append(seconds)
        self.by_message.setdefault(text, []).append(seconds)

    @property
    def sent(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.sent / self.wall if self.wall else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))] * 1000

    @property
    def intact(self) -> bool:
        return not (self.wrong or self.lost or self.order_errors or self.unfinished)


# --- the product ---

class Product:
    """`python -m bot run [--production]` on free ports, stopped like Ctrl-C."""

    def __init__(self, production: bool, home: Path):
        self.production, self.home = production, home
        rasa_port = free_ports(2)  # both set-ups run two Rasa servers (RASA_SERVERS' default)
        self.ports = {"RASA_PORT": rasa_port, "ACTIONS_PORT": free_ports(), "WEB_PORT": free_ports()}
        self.env = {
            **os.environ, **{k: str(v) for k, v in self.ports.items()}, "RASA_TOKEN": TOKEN,
            # One address for every simulated shopper, and 20 messages a conversation in well under a minute.
            "CHAT_LIMIT_PER_SENDER": "100000", "CHAT_LIMIT_PER_ADDRESS": "1000000",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        if production:
            self.env.update({
                "DATABASE_URL": BENCH_DATABASE, "TRACKER_STORE_URL": BENCH_TRACKER,
                "LOCK_STORE_URL": "redis://127.0.0.1:6379/2", "LOCK_STORE_KEY_PREFIX": "benchmark", "RASA_SERVERS": "2",
            })
        else:
            endpoints = home / "endpoints.yml"
            endpoints.write_text(
                "action_endpoint:\n  url: ${ACTION_ENDPOINT_URL}\n  enable_selective_domain: true\n"
                f"tracker_store:\n  type: bot.rasa.tracker_store.CachedSQLTrackerStore\n  dialect: sqlite\n  db: {home / 'tracker.db'}\n",
                encoding="utf-8",
            )
            self.env.update({"DATABASE_URL": f"sqlite:///{home / 'shop.db'}", "RASA_ENDPOINTS": str(endpoints)})
        self.process: Optional[subprocess.Popen] = None

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['WEB_PORT']}"

    def start(self, timeout: float = 300) -> None:
        if self.production:
            _drop_databases(BENCH_DATABASE, BENCH_TRACKER)
        else:
            subprocess.run([PYTHON, "-m", "bot", "db-setup"], env=self.env, cwd=PROJECT_DIR, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        command = [PYTHON, "-m", "bot", "run", *(["--production"] if self.production else [])]
        log = open(self.home / "product.log", "w")
        self.process = subprocess.Popen(command, env=self.env, cwd=PROJECT_DIR, stdout=subprocess.PIPE,
                                        stderr=log, text=True, start_new_session=True)
        deadline = time.monotonic() + timeout
        for line in self.process.stdout:
            if "Press Ctrl-C to stop." in line:
                return
            if time.monotonic() > deadline:
                break
        self.stop()
        tail = "".join((self.home / "product.log").read_text(errors="replace").splitlines(keepends=True)[-20:])
        raise SystemExit(f"the product did not start; the end of {self.home / 'product.log'} (kept):\n{tail}")

    def stop(self) -> None:
        stop_process_group(self.process, signal.SIGINT, timeout=40)  # Ctrl-C: `bot run` stops its children


def stop_process_group(process: Optional[subprocess.Popen], sig: int, timeout: float) -> None:
    """Stop a process we started in its own group: `sig`, then SIGKILL after `timeout` seconds."""
    if process and process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _drop_databases(*urls: str) -> None:
    import sqlalchemy
    from sqlalchemy.engine import make_url

    for url in urls:
        target = make_url(url)
        admin = sqlalchemy.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT", future=True)
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": target.database})
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{target.database}"'))
        admin.dispose()


class StockBot:
    """rasa init's moodbot, trained once in a folder, served with `rasa run` (REST webhook, HTTP API)."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_ports()
        self.process: Optional[subprocess.Popen] = None

    def train(self) -> None:
        if list((self.folder / "models").glob("*.tar.gz")):
            return
        print(f"training the stock bot (rasa init --no-prompt) in {self.folder} ...", flush=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        subprocess.run([PYTHON, "-m", "rasa", "init", "--no-prompt"], cwd=self.folder, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        print(f"  trained in {time.monotonic() - started:.0f} s", flush=True)

    def start(self, timeout: float = 240) -> None:
        self.train()
        self.process = subprocess.Popen(
            [PYTHON, "-m", "rasa", "run", "--enable-api", "--port", str(self.port), "--interface", "127.0.0.1"],
            cwd=self.folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        deadline = time.monotonic() + timeout

        async def ready() -> bool:
            async with aiohttp.ClientSession() as session:
                while time.monotonic() < deadline:
                    try:
                        async with session.get(f"{self.url}/status") as response:
                            if response.status == 200 and (await response.json()).get("model_id"):
                                return True
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.5)
            return False

        if not asyncio.run(ready()):
            self.stop()
            raise SystemExit("the stock bot did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_process_group(self.process, signal.SIGTERM, timeout=20)


# --- the shoppers ---

def _text(replies: List[dict]) -> str:
    return " ".join(reply.get("text") or "" for reply in replies)


async def shop_shopper(run: Run, web_url: str, index: int, messages: int) -> None:
    """One shopper over /api/chat, as the storefront widget talks; checks each reply, then the history."""
    flow = SHOPPER_FLOW[: messages - 1] + [SHOPPER_FLOW[-1]] if messages < len(SHOPPER_FLOW) else \
        SHOPPER_FLOW[:-1] + [SHOPPER_FLOW[1 + i % 18] for i in range(messages - len(SHOPPER_FLOW))] + [SHOPPER_FLOW[-1]]
    sender = f"load-{uuid.uuid4().hex[:8]}-{index}"
    sent: List[str] = []
    # As the widget does: each message asks for every reply since the last (the cursor), and
    # shows the browser key the first answer gave.
    cursor: Optional[float] = None
    headers: Dict[str, str] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        for text, expected in flow:
            started = time.perf_counter()
            message = {"sender": sender, "message": text, **({"after": cursor} if cursor is not None else {})}
            try:
                async with session.post(f"{web_url}/api/chat", json=message, headers=headers) as response:
                    body = await response.json()
                    status = response.status
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
                run.record(text, started)
                run.lost += 1
                run.wrong.append(f"{sender} {text!r}: {error!r}")
                continue
            run.record(text, started)
            if status != 200:
                run.lost += 1
                run.wrong.append(f"{sender} {text!r}: HTTP {status} {body}")
                continue
            sender = body.get("sender", sender)
            cursor = body.get("cursor", cursor)
            headers = {"X-Chat-Key": body["key"]} if body.get("key") else headers
            sent.append(text)
            answer = _text(body.get("replies") or [])
            if not answer.strip() and expected != "%HANDOFF%":
                run.lost += 1
                run.wrong.append(f"{sender} {text!r}: no reply")
                continue
            if expected == "%HANDOFF%":
                if not (body.get("handoff") or "person" in answer.lower() or "team" in answer.lower()):
                    run.wrong.append(f"{sender} {text!r}: no handoff ({answer[:120]!r})")
            elif expected.lower() not in answer.lower():
                run.wrong.append(f"{sender} {text!r}: expected {expected!r}, got {answer[:160]!r}")
        async with session.get(f"{web_url}/api/chat/history", params={"sender": sender}, headers=headers) as response:
            history = await response.json()
    said = [m["text"] for m in history.get("messages", []) if m.get("from") == "shopper"]
    expected_said = [t for t in sent if not t.startswith("/")]
    if [t for t in said if not t.startswith("/")] != expected_said:
        run.order_errors.append(f"{sender}: history {said} != sent {expected_said}")


async def stock_shopper(run: Run, url: str, index: int, messages: int) -> None:
    flow = [STOCK_FLOW[i % len(STOCK_FLOW)] for i in range(messages)]
    sender = f"stock-{uuid.uuid4().hex[:8]}-{index}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        for text, expected in flow:
            started = time.perf_counter()
            try:
                async with session.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}) as response:
                    replies = await response.json()
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
                run.record(text, started)
                run.lost += 1
                run.wrong.append(f"{sender} {text!r}: {error!r}")
                continue
            run.record(text, started)
            if not isinstance(replies, list):
                run.lost += 1
            elif expected.lower() not in _text(replies).lower():
                run.wrong.append(f"{sender} {text!r}: expected {expected!r}, got {_text(replies)[:100]!r}")
        async with session.get(f"{url}/conversations/{sender}/tracker") as response:
            tracker = await response.json()
    said = [e.get("text") for e in tracker.get("events", []) if e.get("event") == "user"]
    if said != [text for text, _ in flow]:
        run.order_errors.append(f"{sender}: tracker {said} != sent")


async def drive(run: Run, shopper, url: str, time_limit: float) -> Run:
    started = time.perf_counter()
    tasks = [asyncio.create_task(shopper(run, url, i, run.messages)) for i in range(run.shoppers)]
    done, pending = await asyncio.wait(tasks, timeout=time_limit)
    for task in pending:
        task.cancel()
    run.rounds += 1
    run.unfinished += len(pending)
    run.wall += time.perf_counter() - started  # (a run of several rounds: their sum)
    for task in done:
        if task.exception():
            run.wrong.append(repr(task.exception()))
    return run


async def warm_up(shopper, url: str) -> None:
    """One shopper's conversation before measuring (the first messages load lazily initialised parts)."""
    await shopper(Run("warm-up", 1, 4), url, 0, 4)


@dataclass
class Target:
    """A set-up to measure: its shopper, its URL, and how to stop it."""

    name: str
    shopper: Callable[..., Awaitable[None]]
    url: str
    stop: Callable[[], None] = lambda: None


# --- the report ---

def table(runs: List[Run], stock: Dict[int, Run]) -> str:
    lines = [
        "| set-up | shoppers x messages | messages/s | p50 ms | p95 ms | p99 ms | vs stock bot | lost / wrong / out of order / unfinished |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        base = stock.get(run.shoppers)
        ratio = f"{run.throughput / base.throughput:.2f}x" if base and base.throughput and run.setup != "stock bot" else "-"
        lines.append(
            f"| {run.setup} | {run.shoppers} x {run.messages}, {run.rounds} rounds ({run.sent} sent, {run.wall:.1f} s) | {run.throughput:.1f} | "
            f"{run.percentile(50):.0f} | {run.percentile(95):.0f} | {run.percentile(99):.0f} | {ratio} | "
            f"{run.lost} / {len(run.wrong) - run.lost} / {len(run.order_errors)} / {run.unfinished} |"
        )
    return "\n".join(lines)


def slowest_messages(runs: List[Run], count: int = 5) -> str:
    """Each run's slowest messages by their median round trip: what its p95 is made of."""
    lines = []
    for run in runs:
        medians = {text: sorted(seconds)[len(seconds) // 2] * 1000 for text, seconds in run.by_message.items()}
        slowest = sorted(medians.items(), key=lambda item: -item[1])[:count]
        lines.append(f"slowest messages, {run.setup} x{run.shoppers} (median ms): " + "; ".join(f"{text!r} {ms:.0f}" for text, ms in slowest))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setups", default="embedded,production,stock", help="comma-separated: embedded, production, stock")
    parser.add_argument("--shoppers", default="20,50", help="concurrent shoppers, comma-separated runs (default 20,50)")
    parser.add_argument("--messages", type=int, default=20, help="messages per shopper (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each set-up in turn (default 3)")
    parser.add_argument("--time-limit", type=float, default=240, help="seconds a round of one set-up may take (default 240)")
    parser.add_argument("--web-url", help="measure a product already running there instead of starting one (set-up 'running')")
    parser.add_argument("--stock-dir", help="train the stock bot here once and reuse it (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (the products' logs)")
    args = parser.parse_args(argv)
    setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    unknown = set(setups) - {"embedded", "production", "stock", "running"}
    if unknown:
        parser.error(f"unknown set-up {', '.join(sorted(unknown))}; known: embedded, production, stock (running: with --web-url)")
    counts = [int(n) for n in args.shoppers.split(",")]
    home = Path(tempfile.mkdtemp(prefix="shop-load-"))
    targets: List[Target] = []
    finished = False
    try:
        if args.web_url:
            targets.append(Target("running", shop_shopper, args.web_url))
        for setup in setups:
            if setup == "stock":
                bot = StockBot(Path(args.stock_dir) if args.stock_dir else home / "stock")
                bot.start()
                targets.append(Target("stock bot", stock_shopper, bot.url, bot.stop))
            elif setup in ("embedded", "production") and not args.web_url:
                (home / setup).mkdir()
                product = Product(setup == "production", home / setup)
                print(f"starting the {setup} set-up ...", flush=True)
                product.start()
                targets.append(Target(setup, shop_shopper, product.web_url, product.stop))
        for target in targets:
            asyncio.run(warm_up(target.shopper, target.url))
        # Every set-up is up from the start, idle while another is measured, and the rounds take
        # turns: a machine that speeds up or slows down during the benchmark (a shared host)
        # weighs on every set-up alike, not on whichever ran last.
        runs = {(target.name, count): Run(target.name, count, args.messages) for target in targets for count in counts}
        for round_number in range(1, args.rounds + 1):
            for count in counts:
                for target in targets:
                    run = runs[(target.name, count)]
                    sent_before, wall_before = run.sent, run.wall
                    asyncio.run(drive(run, target.shopper, target.url, args.time_limit))
                    print(
                        f"round {round_number}, {target.name}, {count} shoppers: "
                        f"{(run.sent - sent_before) / (run.wall - wall_before):.1f} msg/s", flush=True,
                    )
        finished = True
    finally:
        for target in targets:
            target.stop()
        if args.keep or not finished:
            print(f"logs kept in {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    stock = {count: runs[("stock bot", count)] for count in counts if ("stock bot", count) in runs}
    runs = list(runs.values())
    runs.sort(key=lambda r: (r.shoppers, r.setup))
    print()
    print(table(runs, stock))
    print()
    print(slowest_messages(runs))
    for run in runs:
        for problem in (run.wrong + run.order_errors)[:5]:
            print(f"  {run.setup} x{run.shoppers}: {problem}")
    if 20 in counts and stock.get(20):
        for run in runs:
            if run.shoppers == 20 and run.setup != "stock bot":
                goal = run.throughput >= 2 * stock[20].throughput and run.percentile(95) <= 300
                print(f"goal at 20 shoppers (>= 2x stock throughput, p95 <= 300 ms), {run.setup}: {'met' if goal else 'NOT met'}")
    return 0 if all(run.intact for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
