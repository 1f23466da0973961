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
