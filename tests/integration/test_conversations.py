"""Storefront conversations bound to the browser that started them, on a real SQLite database."""
import pytest

from bot.errors import Forbidden
from bot.shop import db
from bot.shop.conversations import Access, ConversationOwners


@pytest.fixture
def owners(config):
    engine = db.make_engine(config.database_url)
    sessions = db.make_session_factory(engine)
    with db.transaction(sessions) as session:
        session.add(db.Shop(slug="s", name="S", identity_secret="x"))
    with sessions() as session:
        shop_id = db.get_shop(session, "s").id
    yield ConversationOwners(sessions, shop_id)
    engine.dispose()


def test_a_browser_gets_a_key_with_its_first_message_and_only_it_may_go_on(owners):
    key = owners.claim("c1", Access(None, "10.0.0.1"), "web")
    assert len(key) >= 32
    assert owners.claim("c1", Access(key, "10.0.0.7"), "web") == key  # the same browser on another network
    with pytest.raises(Forbidden):
        owners.claim("c1", Access(None, "10.0.0.1"), "web")  # it showed its key: no key is no one
    with pytest.raises(Forbidden):
        owners.check("c1", Access("someone-elses-key", "10.0.0.1"))
    owners.check("c1", Access(key, "10.0.0.1"))


def test_a_client_without_cookies_is_known_by_its_address(owners):
    first = owners.claim("c2", Access(None, "10.0.0.2"), "web")
    second = owners.claim("c2", Access(None, "10.0.0.2"), "web")  # its key never shown: a new one
    assert second != first
    with pytest.raises(Forbidden):
        owners.check("c2", Access(None, "10.0.0.3"))
    with pytest.raises(Forbidden):
        owners.check("c2", Access(first, "10.0.0.2"))  # the old key no longer binds
    owners.claim("c2", Access(second, "10.0.0.9"), "web")  # the new one does, from anywhere
    with pytest.raises(Forbidden):
        owners.check("c2", Access(None, "10.0.0.2"))


def test_a_browser_with_a_key_binds_every_conversation_it_starts(owners):
    key = owners.claim("c3", Access(None, "10.0.0.4"), "web")
    assert owners.claim("c4", Access(key, "10.0.0.4"), "socketio") == key
    with pytest.raises(Forbidden):
        owners.check("c4", Access(None, "10.0.0.4"))  # started with a key: the key is needed


def test_an_unknown_conversation_has_nothing_to_refuse(owners):
    owners.check("never-started", Access(None, "10.0.0.5"))
