import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy

from bot.shop import db
from bot.config import Config

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


KINDS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items):
    """The quick kinds first (unit, integration, then e2e); tests marked `last` after all others
    (the Ctrl-C test stops the shared product)."""
    def order(item):
        kind = next((k for k in KINDS if f"/tests/{k}/" in str(item.path)), "e2e")
        return item.get_closest_marker("last") is not None, KINDS.index(kind)

    items.sort(key=order)


def pytest_configure(config):
    config.addinivalue_line("markers", "last: run after every other test")


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
def postgres_database():
    """The name of a database that does not exist yet on the local PostgreSQL; dropped afterwards."""
    admin = sqlalchemy.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
    except sqlalchemy.exc.OperationalError as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {error.orig}")
    name = f"test_tracker_{uuid.uuid4().hex[:10]}"
    yield admin.url, name
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name})
        connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture
def config(sqlite_url) -> Config:
    """Configuration for a test: its own SQLite database, and a Rasa port nothing listens on."""
    db.upgrade(sqlite_url)
    return Config(database_url=sqlite_url, rasa_port=1)


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory) -> Path:
    """The demo shop (orders, customers, staff logins) seeded once per test session; tests get
    copies of it (`demo_shop`, `seller_files`)."""
    from bot.shop import demo
    from bot.shop.context import ShopContext

    path = tmp_path_factory.mktemp("demo") / "shop.db"
    with ShopContext(Config(database_url=f"sqlite:///{path}", rasa_port=1)) as shop:
        demo.set_up(shop)
    return path


@pytest.fixture
def demo_shop(demo_database, tmp_path, monkeypatch):
    """A fresh copy of the demo shop's database, used by the actions through DATABASE_URL."""
    from actions import desk

    shutil.copy(demo_database, tmp_path / "shop.db")
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    desk.close_shop_context()
    yield url
    desk.close_shop_context()


@pytest.fixture
def demo_context(demo_shop):
    """The demo shop as a process holds it (bot/shop/context.py)."""
    from bot.shop.context import ShopContext

    with ShopContext(Config(database_url=demo_shop, rasa_port=1)) as shop:
        yield shop


@pytest.fixture
def seller_files(demo_database, tmp_path) -> Config:
    """Copies of the seller's editable files (FAQs, shop.yml) and of the demo database, so that
    edits made by a test never touch the project's own files."""
    project = Config.from_env()
    data_dir = tmp_path / "data"
    shutil.copytree(project.faq_dir, data_dir / "faq")
    shutil.copy(project.shop_settings_file, tmp_path / "shop.yml")
    shutil.copy(demo_database, tmp_path / "shop.db")
    return Config(
        database_url=f"sqlite:///{tmp_path / 'shop.db'}", rasa_port=1, data_dir=data_dir,
        shop_settings_file=tmp_path / "shop.yml",
    )


@pytest.fixture
def owners(seller_files):
    """Who owns each storefront conversation, in the `seller_files` database (bot/shop/conversations.py)."""
    from bot.shop.context import ShopContext
    from bot.shop.conversations import ConversationOwners

    with ShopContext(seller_files) as shop:
        yield ConversationOwners(shop.sessions, shop.shop_id)
