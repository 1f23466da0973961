"""Talking to the product under test (the `product` fixture) over HTTP, as the storefront
chat, a seller or an agent does."""
import json
import os
import random
import socket
import time
import urllib.request
import uuid

import requests

# Conversations persist in the tracker store: new senders every run. Kept in the environment,
# which the product's child processes inherit.
RUN_ID = os.environ.setdefault("TEST_RUN_ID", uuid.uuid4().hex[:8])
PRODUCT_TOKEN = f"test-token-{RUN_ID}"


# The servers' ports are picked below the kernel's ephemeral range (32768-60999 on Linux): a
# port that `bind(0)` handed out can become the source port of an outgoing connection (to
# PostgreSQL, Redis, the action server) before the server, still loading, binds it.
LISTEN_PORTS = range(20000, 32768)


def free_ports(count: int = 1) -> int:
    """The first of `count` consecutive ports nothing listens on, outside the ephemeral range."""
    while True:
        first = random.randrange(LISTEN_PORTS.start, LISTEN_PORTS.stop - count)
        sockets = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()


def post(url, payload, headers=None):
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def process_group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


class Web:
    """The web service over HTTP, as the storefront chat, a seller or an agent uses it."""

    def __init__(self, ports):
        self.url = f"http://127.0.0.1:{ports['WEB_PORT']}"

    def chat(self, sender, message, after=None, metadata=None, headers=None):
        body = {"sender": f"{sender}-{RUN_ID}", "message": message, **({"after": after} if after is not None else {})}
        if metadata is not None:
            body["metadata"] = metadata
        response = requests.post(f"{self.url}/api/chat", json=body, headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def updates(self, sender, after):
        response = requests.get(f"{self.url}/api/chat/updates", params={"sender": f"{sender}-{RUN_ID}", "after": after}, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def staff(self, username, password):
        session = requests.Session()
        response = session.post(f"{self.url}/login", data={"username": username, "password": password}, allow_redirects=False)
        assert response.status_code == 303, response.text
        session.headers["X-CSRF-Token"] = session.get(f"{self.url}/api/me").json()["csrf_token"]
        return session


def texts(body):
    return " ".join(reply.get("text") or "" for reply in body["replies"])


def wait_for(check, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"not within {seconds} s")


def queue_ticket(agent, web, sender):
    tickets = agent.get(f"{web.url}/api/agent/tickets").json()["tickets"]
    return next((t for t in tickets if t["sender"] == f"{sender}-{RUN_ID}"), None)


def log_in_to_console(page, web, username, password):
    """The agent console in a browser page, logged in and live."""
    from playwright.sync_api import expect

    page.goto(f"{web.url}/agent")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Log in')")
    expect(page.locator("#live")).to_have_text("live", timeout=15_000)


def hand_over(web, sender, *messages):
    """A shopper conversation over HTTP that ends with asking for a person; its ticket."""
    web.chat(sender, "/session_start")
    for message in messages:
        web.chat(sender, message)
    body = web.chat(sender, "can I talk to a real person please")
    assert body["handoff"] and body["handoff"]["status"] == "waiting", body
    agent = web.staff("agent", "demo-agent")
    return wait_for(lambda: queue_ticket(agent, web, sender)), body["cursor"]


def queue_row(page, ticket):
    """A ticket's row in the agent console's queue."""
    return page.locator(f"[data-ticket-id='{ticket['id']}']")


def start_product(env, *options, timeout=240):
    """`python -m bot run [options]` with `env`, until it says it is up: (process, its output,
    the process groups of its servers)."""
    import subprocess
    import sys

    from bot.config import PROJECT_DIR

    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", *options], env=env, cwd=PROJECT_DIR,
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    output = []
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        output.append(line)
        if "Press Ctrl-C to stop." in line or time.monotonic() > deadline:
            break
    children = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()]
    return process, "".join(output), children


def stop_product(process, children, timeout=30):
    """Stop it as Ctrl-C does (unless a test did), and never leave its servers behind."""
    import signal
    import subprocess

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    for pgid in children:
        if process_group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
