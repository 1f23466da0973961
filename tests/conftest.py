import os
import uuid

import pytest
import sqlalchemy

from bot.shop import db
from bot.config import Config

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'shop.db'}"


@pytest.fixture
def postgres_url():
    """A fresh schema in the local PostgreSQL, dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(POSTGRES_URL, future=True)
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def config(sqlite_url) -> Config:
    """Configuration for a test: its own SQLite database, and a Rasa port nothing listens on."""
    db.upgrade(sqlite_url)
    return Config(database_url=sqlite_url, rasa_port=1)


@pytest.fixture
def demo_shop(sqlite_url, monkeypatch):
    """A fresh database with the demo shop, used by the actions through DATABASE_URL."""
    from actions import desk
    from bot.shop import demo
    from bot.shop.settings import load_settings

    db.upgrade(sqlite_url)
    engine = db.make_engine(sqlite_url)
    demo.seed(db.make_session_factory(engine), load_settings(Config.from_env().shop_settings_file))
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    desk.database_sessions.cache_clear()
    yield sqlite_url
    desk.database_sessions.cache_clear()


@pytest.fixture
def seller_files(tmp_path, sqlite_url) -> Config:
    """A copy of the seller's editable files (FAQs, shop.yml) and a demo database, so that
    edits made by a test never touch the project's own files."""
    import shutil

    from bot.shop import demo
    from bot.shop.settings import load_settings

    project = Config.from_env()
    data_dir = tmp_path / "data"
    shutil.copytree(project.faq_dir, data_dir / "faq")
    shutil.copy(project.shop_settings_file, tmp_path / "shop.yml")
    db.upgrade(sqlite_url)
    engine = db.make_engine(sqlite_url)
    sessions = db.make_session_factory(engine)
    settings = load_settings(tmp_path / "shop.yml")
    demo.seed(sessions, settings)
    demo.seed_staff(sessions, settings)
    engine.dispose()
    return Config(database_url=sqlite_url, rasa_port=1, data_dir=data_dir, shop_settings_file=tmp_path / "shop.yml")


# --- the whole product, started once for the end-to-end tests --------------------------

# Conversations persist in the tracker store: new senders every run. Kept in the environment
# because this module is imported twice (as pytest's conftest and as tests.conftest).
RUN_ID = os.environ.setdefault("TEST_RUN_ID", uuid.uuid4().hex[:8])
PRODUCT_TOKEN = f"test-token-{RUN_ID}"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url, payload, headers=None):
    import json
    import urllib.request

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


def pytest_collection_modifyitems(items):
    """Tests marked `last` run after all others (the Ctrl-C test stops the shared product)."""
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)


def pytest_configure(config):
    config.addinivalue_line("markers", "last: run after every other test")


@pytest.fixture(scope="session")
def product_home(tmp_path_factory):
    """Copies of the seller's files (FAQs, shop.yml) and of the newest model, for the product
    under test: tests may edit them."""
    import shutil

    from bot.config import PROJECT_DIR

    home = tmp_path_factory.mktemp("product")
    shutil.copytree(PROJECT_DIR / "data", home / "data")
    shutil.copy(PROJECT_DIR / "shop.yml", home / "shop.yml")
    (home / "models").mkdir()
    newest = max((PROJECT_DIR / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    shutil.copy(newest, home / "models")
    return home


@pytest.fixture(scope="session")
def product(product_home):
    """`python -m bot run` on free ports, with its own database and the copies of `product_home`."""
    import signal
    import subprocess
    import sys
    import time

    from bot.config import PROJECT_DIR

    home = product_home
    ports = {"RASA_PORT": free_port(), "ACTIONS_PORT": free_port(), "WEB_PORT": free_port()}
    env = {
        **os.environ, **{k: str(v) for k, v in ports.items()}, "DATABASE_URL": f"sqlite:///{home / 'shop.db'}",
        "DATA_DIR": str(home / "data"), "SHOP_SETTINGS": str(home / "shop.yml"), "MODELS_DIR": str(home / "models"),
        "RASA_TOKEN": PRODUCT_TOKEN,
        # All other tests share the loopback address: room for them, and quick verification slow-downs (test_abuse.py).
        "CHAT_LIMIT_PER_ADDRESS": "500", "VERIFICATION_DELAY_SECONDS": "0.25",
    }
    subprocess.run([sys.executable, "-m", "bot", "db-setup"], env=env, cwd=PROJECT_DIR, check=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"], env=env, cwd=PROJECT_DIR,
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    output = []
    deadline = time.monotonic() + 240
    for line in process.stdout:
        output.append(line)
        if "Press Ctrl-C to stop." in line or time.monotonic() > deadline:
            break
    assert "Shop assistant is up" in "".join(output), "".join(output)
    children = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()]
    yield process, ports, "".join(output)
    if process.poll() is None:  # the Ctrl-C test did not run: stop it the same way
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    for pgid in children:  # never leave servers behind, whatever happened
        if process_group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
