"""The web service with aiohttp's test client, on a real SQLite database with the demo
shop. The Rasa URL points at a closed port, which is exactly the "assistant down" case."""
import pytest

from bot.web.app import create_app


@pytest.fixture
async def client(aiohttp_client, seller_files):
    return await aiohttp_client(create_app(seller_files))


async def test_the_demo_storefront_is_served(client):
    response = await client.get("/")
    assert response.status == 200
    assert "Shop assistant" in await response.text()


async def test_health_reports_each_part(client):
    response = await client.get("/health")
    assert response.status == 200
    assert await response.json() == {"web": "ok", "database": "ok", "rasa": "down"}


async def test_oversized_message_is_refused_with_a_clear_error(client):
    response = await client.post("/api/chat", json={"sender": "s1", "message": "x" * 10_000})
    assert response.status == 400
    assert "10000 characters" in (await response.json())["error"]


@pytest.mark.parametrize(
    "body, fragment",
    [({"sender": "s1"}, "`message`"), ({"sender": "", "message": "hi"}, "`sender`"), ([1, 2], "JSON object")],
)
async def test_malformed_requests_are_refused(client, body, fragment):
    response = await client.post("/api/chat", json=body)
    assert response.status == 400
    assert fragment in (await response.json())["error"]


async def test_body_that_is_not_json(client):
    response = await client.post("/api/chat", data="hello", headers={"Content-Type": "application/json"})
    assert response.status == 400


async def test_request_over_the_size_limit(client):
    response = await client.post("/api/chat", data="x" * 100_000)
    assert response.status == 413


async def test_assistant_down_is_a_503_not_a_crash(client):
    response = await client.post("/api/chat", json={"sender": "s1", "message": "hi"})
    assert response.status == 503
    assert "not reachable" in (await response.json())["error"]


async def test_unknown_api_path_is_json_404(client):
    response = await client.get("/api/nothing")
    assert response.status == 404
    assert "error" in await response.json()


async def test_metadata_must_be_an_object(client):
    response = await client.post("/api/chat", json={"sender": "s1", "message": "hi", "metadata": "cust-emma"})
    assert response.status == 400
    assert "`metadata`" in (await response.json())["error"]


async def test_a_closed_database_is_a_clear_503(aiohttp_client, seller_files):
    from dataclasses import replace

    client = await aiohttp_client(create_app(replace(seller_files, database_url="sqlite:////nonexistent/dir/shop.db")))
    response = await client.post("/api/chat", json={"sender": "s1", "message": "hi"})
    assert response.status == 503
    assert "database is not reachable" in (await response.json())["error"]


async def test_the_agent_console_and_logout_over_http(client, seller_files):
    from tests.integration.test_admin import log_in

    await log_in(client, "agent", "demo-agent")
    me = await (await client.get("/api/me")).json()
    assert me["role"] == "agent"
    assert await (await client.get("/api/agent/tickets")).json() == {"tickets": []}
    stream = await client.get("/api/agent/stream")
    assert await stream.content.readline() == b"event: tickets\n"
    stream.close()
    ticket = await client.get("/api/agent/tickets/1")
    assert ticket.status == 404
    suggestions = await client.post("/api/recommendations", json={"message": "hi"}, headers={"X-CSRF-Token": me["csrf_token"]})
    assert suggestions.status == 503  # Rasa is down here
    response = await client.post("/logout", headers={"X-CSRF-Token": me["csrf_token"]}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"
    assert (await client.get("/api/me")).status == 401


async def test_the_agents_queue_over_http_sorts_by_todays_deadlines_and_shows_each_agent_their_buttons(client):
    from datetime import timedelta

    from sqlalchemy import select

    from bot.shop import db
    from bot.shop.tickets import TicketDesk
    from bot.web.resources import SHOP
    from tests.integration.test_admin import log_in

    shop = client.server.app[SHOP]
    tickets = TicketDesk(shop.sessions, shop.shop_id)
    now = db.utcnow()
    with db.transaction(shop.sessions) as session:  # 100002 (self-shipped, not shipped) must ship in 10 minutes
        order = session.execute(select(db.Order).where(db.Order.number == "100002")).scalar_one()
        order.created_at = now - timedelta(days=shop.settings.self_shipping_deadline_days) + timedelta(minutes=10)
        kim = session.execute(select(db.StaffUser).where(db.StaffUser.username == "agent2")).scalar_one()
    # Recorded days ago with the deadline of then; the queue must judge by today's.
    late = tickets.open("late-order", "asked_for_human", {"order": "100002"}, deadline=(now + timedelta(days=5), "must ship"), now=now)
    waiting = tickets.open("waiting", "asked_for_human", {"order": None}, now=now - timedelta(minutes=10))
    tickets.claim(waiting.id, kim)
    await log_in(client, "agent", "demo-agent")
    queue = (await (await client.get("/api/agent/tickets")).json())["tickets"]
    assert [t["id"] for t in queue] == [late.id, waiting.id]
    first, second = queue
    assert first["shopper_name"] == "Emma Hartley" and first["order_details"]["status"] == "ready_to_ship"
    assert first["urgency"]["level"] == "red" and first["urgency"]["reason"].startswith("ship by")
    assert first["urgency"]["reason"].endswith("left") and first["actions"] == ["claim"]
    assert (second["agent"], second["actions"], second["mine"]) == ("Kim", [], False)
    assert second["shopper_name"].startswith("Shopper ")


async def test_a_store_on_another_site_may_call_the_chat_api_and_nothing_else(client):
    preflight = await client.options("/api/chat", headers={
        "Origin": "https://store.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-chat-key",
    })
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "X-Chat-Key" in preflight.headers["Access-Control-Allow-Headers"]
    refused = await client.post("/api/chat", json={"sender": "s1", "message": "x" * 10_000}, headers={"Origin": "https://store.example"})
    assert refused.status == 400 and refused.headers["Access-Control-Allow-Origin"] == "*"  # errors are readable too
    admin = await client.get("/admin", headers={"Origin": "https://store.example"}, allow_redirects=False)
    assert "Access-Control-Allow-Origin" not in admin.headers
