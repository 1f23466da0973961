import os
import uuid

import pytest
import sqlalchemy

from bot import db
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
    from bot import demo
    from bot.settings import load_settings

    db.upgrade(sqlite_url)
    engine = db.make_engine(sqlite_url)
    demo.seed(db.make_session_factory(engine), load_settings(Config.from_env().shop_settings_file))
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    desk._sessions.cache_clear()
    yield sqlite_url
    desk._sessions.cache_clear()
