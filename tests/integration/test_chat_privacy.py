"""A storefront conversation is readable only by the browser that started it: the web service
with aiohttp's test client on the demo shop's database. Rasa is not running here (its port is
closed), so these check what is refused before anything reaches it; tests/e2e/test_dialogue.py
holds the conversations themselves."""
import pytest

from bot.errors import Forbidden
from bot.shop.conversations import Access
from bot.web.app import create_app


@pytest.fixture
async def client(aiohttp_client, seller_files):
    return await aiohttp_client(create_app(seller_files))


@pytest.mark.parametrize("path", ["/api/chat/updates?after=0&sender=", "/api/chat/history?sender="])
async def test_another_browsers_conversation_is_refused_whatever_it_knows(client, owners, path):
    key = owners.claim("emma-chat", Access(None, "10.1.1.1"), "web")
    owners.claim("emma-chat", Access(key, "10.1.1.1"), "web")  # her browser showed its key
    for headers in ({}, {"X-Chat-Key": "guessed"}, {"Cookie": "shop_chat_key=guessed"}):
        response = await client.get(path + "emma-chat", headers=headers)
        assert response.status == 403, headers
        assert "another browser" in (await response.json())["error"]


async def test_writing_into_another_browsers_conversation_is_refused(client, owners):
    owners.claim("liam-chat", Access("liams-key", "10.1.1.2"), "web")
    response = await client.post("/api/chat", json={"sender": "liam-chat", "message": "where is my order?"})
    assert response.status == 403
    response = await client.post(
        "/api/chat", json={"sender": "liam-chat", "message": "hi"}, headers={"X-Chat-Key": "not-liams"},
    )
    assert response.status == 403


async def test_the_first_message_binds_the_conversation_to_the_browser_even_if_the_assistant_is_down(client, owners):
    response = await client.post("/api/chat", json={"sender": "new-chat", "message": "hi"})
    assert response.status == 503  # Rasa down: the shopper is told, and the conversation is already theirs
    owners.check("new-chat", Access(None, "127.0.0.1"))  # a client without cookies, from its address
    with pytest.raises(Forbidden):
        owners.check("new-chat", Access(None, "10.9.9.9"))
