import pytest
import sqlalchemy

from bot.shop import db, demo
from bot.config import Config
from bot.shop.settings import load_settings


@pytest.mark.parametrize("url_fixture", ["sqlite_url", "postgres_url"])
def test_migrations_and_demo_seed_are_idempotent(request, url_fixture):
    url = request.getfixturevalue(url_fixture)
    db.upgrade(url)
    db.upgrade(url)  # a second run changes nothing
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    settings = load_settings(Config.from_env().shop_settings_file)
    assert demo.seed(sessions, settings).startswith("demo shop loaded: ")
    assert demo.seed(sessions, settings) == "demo shop already loaded"
    with sessions() as session:
        assert db.get_shop(session, "demo").name == "Demo Shop"
        assert session.execute(sqlalchemy.text("SELECT count(*) FROM shops")).scalar() == 1
    engine.dispose()


@pytest.mark.parametrize("url_fixture", ["sqlite_url", "postgres_url"])
def test_the_migrations_make_the_schema_the_models_describe(request, url_fixture):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    url = request.getfixturevalue(url_fixture)
    db.upgrade(url)
    engine = db.make_engine(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.Base.metadata)
    engine.dispose()
    assert differences == []


def test_an_open_ticket_is_found_by_the_index_of_its_shop_and_conversation(sqlite_url):
    db.upgrade(sqlite_url)
    engine = db.make_engine(sqlite_url)
    with engine.connect() as connection:
        plan = connection.execute(sqlalchemy.text(
            "EXPLAIN QUERY PLAN SELECT * FROM tickets WHERE shop_id = 1 AND sender_id = 'web-x' AND status != 'resolved'"
        )).fetchall()
    engine.dispose()
    assert "ix_tickets_shop_sender" in str(plan)


def test_the_lockout_reads_the_failures_by_their_index(sqlite_url):
    db.upgrade(sqlite_url)
    engine = db.make_engine(sqlite_url)
    with engine.connect() as connection:
        for column in ("client", "order_number"):
            plan = connection.execute(sqlalchemy.text(
                f"EXPLAIN QUERY PLAN SELECT created_at FROM verification_attempts WHERE shop_id = 1 "
                f"AND {column} = 'x' AND succeeded = 0 AND created_at >= '2026-01-01'"
            )).fetchall()
            assert f"(shop_id=? AND {column}=? AND succeeded=? AND created_at>?)" in str(plan)
    engine.dispose()


def test_postgresql_reads_run_without_a_transaction_and_writes_within_one(postgres_url):
    """A reading session's queries autocommit (no BEGIN/ROLLBACK round trips); `transaction()`
    is all or nothing."""
    db.upgrade(postgres_url)
    engine = db.make_engine(postgres_url)
    sessions = db.make_session_factory(engine)
    try:
        demo.seed(sessions, load_settings(Config.from_env().shop_settings_file))  # written by transaction()
        with sessions() as session:
            assert db.get_shop(session, "demo").name == "Demo Shop"
            assert session.connection().connection.dbapi_connection.autocommit is True
        with pytest.raises(RuntimeError):
            with db.transaction(sessions) as session:
                assert session.connection().connection.dbapi_connection.autocommit is False
                session.execute(sqlalchemy.text("UPDATE shops SET name = 'Half-written' WHERE slug = 'demo'"))
                raise RuntimeError("a failure half-way")
        with sessions() as session:
            assert db.get_shop(session, "demo").name == "Demo Shop"  # nothing of the failed transaction
    finally:
        engine.dispose()


def test_a_pooled_postgresql_connection_that_died_while_idle_is_replaced_before_use(postgres_url, monkeypatch):
    """The database dropped an idle connection (a restart, a firewall): the next query gets a
    live one, not the error."""
    engine = db.make_engine(postgres_url)
    sessions = db.make_session_factory(engine)
    try:
        with sessions() as session:
            backend = session.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar()
        with engine.connect() as admin:
            admin.execute(sqlalchemy.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # it has been idle long enough to be tested
        with sessions() as session:
            assert session.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar() != backend
    finally:
        engine.dispose()
