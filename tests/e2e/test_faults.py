"""Faults in the production set-up, each process started on its own (as `bot run --production`
starts them: `bot.run.commands`) so that a test can stop and restart one: the action server killed
mid-conversation, a Rasa server restarted, the shop's database unreachable for a while (through
a TCP proxy in front of the local PostgreSQL that the test cuts and restores), a broken FAQ file
on disk."""
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from typing import Dict, List

import pytest
import requests

from bot.config import PROJECT_DIR, Config
from bot.shop.context import ShopContext
from bot.shop.tickets import BOT_TROUBLE, TicketDesk
from tests.e2e.shop_web import PRODUCT_TOKEN, free_ports, process_group_alive
from tests.e2e.test_production import REDIS_URL, _drop_databases, _services_or_skip


class TcpProxy:
    """127.0.0.1:<port> → the PostgreSQL server; `cut()` drops every connection and refuses new
    ones (the database is unreachable), `restore()` lets them through again."""

    def __init__(self, target_port: int = 5432):
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.sockets: List[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.open = False
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.sockets = []

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


class Deployment:
    """The production processes, each its own process group, restartable one by one."""

    def __init__(self, env: Dict[str, str], config: Config, logs):
        from bot.run import PRODUCTION_ENDPOINTS, commands

        self.env, self.config, self.logs = env, config, logs
        self.commands = commands(config, PRODUCTION_ENDPOINTS)
        self.processes: Dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        log = open(self.logs / f"{name}.log", "a")
        self.processes[name] = subprocess.Popen(
            self.commands[name], cwd=PROJECT_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def kill(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
            if process_group_alive(process.pid):
                os.killpg(process.pid, signal.SIGKILL)

    def wait_ready(self, name: str, timeout: float = 240) -> None:
        urls = {"actions": f"{self.config.actions_url}/health", "web": f"{self.config.web_url}/health"}
        for index, url in enumerate(self.config.rasa_urls):
            urls["rasa" if index == 0 else f"rasa-{index + 1}"] = f"{url}/status?token={PRODUCT_TOKEN}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.processes[name].poll() is None, f"{name} exited; see {self.logs / (name + '.log')}"
            try:
                response = requests.get(urls[name], timeout=2)
                if response.status_code == 200 and (name != "web" or response.json().get("database") == "ok"):
                    return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.5)
        raise AssertionError(f"{name} not ready after {timeout} s")


@pytest.fixture(scope="module")
def deployment(product_home, tmp_path_factory):
    from sqlalchemy.engine import make_url

    from bot.run import prepare_production, production_environment
    from tests.conftest import POSTGRES_URL

    _services_or_skip()
    suffix = uuid.uuid4().hex[:8]
    databases = (f"shop_faults_{suffix}", f"shop_faults_tracker_{suffix}")
    server = make_url(POSTGRES_URL)
    proxy = TcpProxy(server.port or 5432)
    home = product_home
    base = {
        **os.environ,
        "RASA_PORT": str(free_ports(2)), "ACTIONS_PORT": str(free_ports(1)),
        "WEB_PORT": str(free_ports(1)),
        # The shop's data through the proxy the tests cut; the conversations directly.
        "DATABASE_URL": str(server.set(database=databases[0], host="127.0.0.1", port=proxy.port)),
        "TRACKER_STORE_URL": str(server.set(database=databases[1])),
        "LOCK_STORE_URL": REDIS_URL, "LOCK_STORE_KEY_PREFIX": f"faults{suffix}", "RASA_SERVERS": "2",
        "DATA_DIR": str(home / "data"), "SHOP_SETTINGS": str(home / "shop.yml"), "MODELS_DIR": str(home / "models"),
        "RASA_TOKEN": PRODUCT_TOKEN, "CHAT_LIMIT_PER_ADDRESS": "1000", "VERIFICATION_DELAY_SECONDS": "0.25",
    }
    env = production_environment(base)
    config = Config.from_env(env)
    env.update({"SANIC_HOST": config.host, "ACTION_ENDPOINT_URL": f"{config.actions_url}/webhook"})
    prepare_production(env, PROJECT_DIR)
    logs = tmp_path_factory.mktemp("fault-logs")
    running = Deployment(env, config, logs)
    try:
        for name in running.commands:
            running.start(name)
        for name in running.commands:
            running.wait_ready(name)
        yield running, proxy
    finally:
        running.stop_all()
        proxy.close()
        _drop_databases(*databases)


def _chat(deployment: Deployment, session: requests.Session, sender, text):
    response = session.post(f"{deployment.config.web_url}/api/chat", json={"sender": sender, "message": text}, timeout=60)
    return response


def _text(response) -> str:
    return " ".join(reply.get("text") or "" for reply in response.json()["replies"])


def test_a_rasa_server_restarted_mid_conversation_loses_nothing(deployment):
    running, _ = deployment
    shopper = requests.Session()
    first = _chat(running, shopper, None, "where is my parcel for order 100004?")
    assert first.status_code == 200
    sender = first.json()["sender"]
    running.kill("rasa-2")  # one of the two servers goes away
    answer = _chat(running, shopper, sender, "emma@example.com")  # the other one takes it
    assert answer.status_code == 200 and "SPXGB0123456789" in _text(answer)
    running.start("rasa-2")
    running.wait_ready("rasa-2")
    for _ in range(2):  # both servers take a turn: the restarted one reads the same conversation
        answer = _chat(running, shopper, sender, "do you take paypal payments")
        assert answer.status_code == 200 and "PayPal" in _text(answer)
    history = shopper.get(f"{running.config.web_url}/api/chat/history", params={"sender": sender}, timeout=30).json()
    said = [m["text"] for m in history["messages"] if m["from"] == "shopper"]
    assert said[-4:] == ["where is my parcel for order 100004?", "emma@example.com",
                         "do you take paypal payments", "do you take paypal payments"]


def test_action_server_killed_mid_conversation_then_back(deployment):
    """Without the action server the shopper gets an apology and the team a ticket; once it is
    back the bot answers again (the ticket does not keep it quiet) and the order question goes on."""
    running, _ = deployment
    shopper = requests.Session()
    first = _chat(running, shopper, None, "where is my parcel for order 100004?")
    sender = first.json()["sender"]
    running.kill("actions")
    try:
        during = _chat(running, shopper, sender, "emma@example.com")
        assert during.status_code == 200, during.text
        assert "something went wrong on my side" in _text(during) and during.json()["handoff"] is None
        shop = ShopContext(Config.from_env(running.env))
        tickets = TicketDesk(shop.sessions, shop.shop_id)
        ticket = tickets.open_ticket_of(sender)
        assert ticket is not None and ticket.reason == BOT_TROUBLE
    finally:
        running.start("actions")
        running.wait_ready("actions")
    after = _chat(running, shopper, sender, "do you take paypal payments")
    assert after.status_code == 200 and "PayPal" in _text(after)
    again = _chat(running, shopper, sender, "where is my parcel for order 100004?")
    text = _text(again)
    assert "SPXGB0123456789" in text or "e-mail address or phone number" in text
    history = shopper.get(f"{running.config.web_url}/api/chat/history", params={"sender": sender}, timeout=30).json()
    assert any("something went wrong on my side" in m["text"] for m in history["messages"] if m["from"] == "bot")
    assert tickets.open_ticket_of(sender).id == ticket.id  # still there for the team to follow up
    shop.close()


def test_database_unreachable_for_a_while_then_recovered_without_a_restart(deployment):
    running, proxy = deployment
    shopper = requests.Session()
    sender = _chat(running, shopper, None, "do you take paypal payments").json()["sender"]
    proxy.cut()
    try:
        during = _chat(running, shopper, sender, "how long will shipping take")
        assert during.status_code in (200, 503), during.text
        if during.status_code == 503:  # a clear reply, in the chat's JSON, not a stack trace
            assert "database" in during.text.lower() or "try again" in during.text.lower()
        health = requests.get(f"{running.config.web_url}/health", timeout=30)
        assert health.status_code == 503
    finally:
        proxy.restore()
    deadline = time.monotonic() + 30
    while True:  # the pools reconnect by themselves: no process is restarted
        after = _chat(running, shopper, sender, "do you have a size guide")
        if after.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert after.status_code == 200 and "size chart" in _text(after)
    assert requests.get(f"{running.config.web_url}/health", timeout=30).status_code == 200
    assert all(p.poll() is None for p in running.processes.values())


def test_a_broken_faq_file_keeps_the_last_good_faqs_in_service(deployment):
    running, _ = deployment
    faq_file = running.config.faq_dir / "pre-sale.yml"
    good = faq_file.read_text(encoding="utf-8")
    shopper = requests.Session()
    sender = _chat(running, shopper, None, "do you take paypal payments").json()["sender"]
    try:
        faq_file.write_text("category: pre-sale\nfaqs:\n  - id: [broken\n", encoding="utf-8")
        answer = _chat(running, shopper, sender, "do you take paypal payments")
        assert answer.status_code == 200 and "PayPal" in _text(answer)
    finally:
        faq_file.write_text(good, encoding="utf-8")
