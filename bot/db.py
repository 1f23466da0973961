"""The data layer: SQLAlchemy models and the small query functions that use them.

`DATABASE_URL` selects the database (SQLite by default, PostgreSQL in
production). The schema is owned by the Alembic migrations in
bot/migrations/; `upgrade` applies them.
"""
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Optional

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Column, DateTime, Integer, String, create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, declarative_base, sessionmaker

Base = declarative_base()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Shop(Base):
    __tablename__ = "shops"

    id = Column(Integer, primary_key=True)
    slug = Column(String(64), nullable=False, unique=True)
    name = Column(String(200), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


def make_engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite:///"):
        Path(database_url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(database_url, future=True, connect_args={"timeout": 15})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):
            # WAL lets the action server read while the web service writes.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA foreign_keys=ON")

        return engine
    return create_engine(database_url, future=True, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, future=True, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker) -> Iterator[Session]:
    """A session whose work is committed together, or not at all."""
    with sessions.begin() as session:
        yield session


def upgrade(database_url: str, revision: str = "head") -> None:
    """Create or upgrade the schema with the Alembic migrations."""
    alembic_config = AlembicConfig()
    alembic_config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    alembic_config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    make_engine(database_url).dispose()  # creates the SQLite folder
    command.upgrade(alembic_config, revision)


def get_shop(session: Session, slug: str) -> Optional[Shop]:
    return session.execute(select(Shop).where(Shop.slug == slug)).scalar_one_or_none()
