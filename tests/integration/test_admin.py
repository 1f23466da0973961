"""The seller's admin page over HTTP (aiohttp's test server, a real SQLite database and
a copy of the FAQ files). Rasa is not running here: the try-it box must say so."""
import re

import pytest

from bot.faq.store import load_faqs
from bot.web.app import create_app


@pytest.fixture
async def client(aiohttp_client, seller_files):
    return await aiohttp_client(create_app(seller_files))


async def log_in(client, username="seller", password="demo-seller") -> str:
    """Log in; the CSRF token of the session."""
    response = await client.post("/login", data={"username": username, "password": password}, allow_redirects=False)
    assert response.status == 303, await response.text()
    page = await (await client.get("/admin" if username == "seller" else "/login")).text()
    return re.search(r'name="csrf-token" content="([^"]*)"', page).group(1)


def version_of(page: str, faq_id: str) -> str:
    row = page[page.index(f'data-faq="{faq_id}"'):]
    return re.search(r'name="version" value="([0-9a-f]+)"', row).group(1)


async def test_admin_pages_need_a_seller_login(client):
    response = await client.get("/admin", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/login?next=/admin")
    assert (await client.post("/admin/welcome-text", data={"text": "x"})).status == 401
    assert (await client.get("/api/admin/training")).status == 401


async def test_wrong_password_and_wrong_role_are_refused(client):
    response = await client.post("/login", data={"username": "seller", "password": "nope"})
    assert response.status == 401 and "Wrong username or password" in await response.text()
    await log_in(client, "agent", "demo-agent")
    response = await client.get("/admin")
    assert response.status == 403 and "for the seller role" in await response.text()


async def test_passwords_are_stored_hashed(seller_files):
    from bot.shop import db

    engine = db.make_engine(seller_files.database_url)
    with db.make_session_factory(engine)() as session:
        stored = [user.password_hash for user in session.query(db.StaffUser)]
    engine.dispose()
    assert stored and all(h.startswith("scrypt$") and "demo-" not in h for h in stored)


async def test_forms_without_the_csrf_token_are_refused(client, seller_files):
    await log_in(client)
    page = await (await client.get("/admin")).text()
    response = await client.post(
        "/admin/faqs/return_policy/enabled", data={"enabled": "off", "version": version_of(page, "return_policy")},
    )
    assert response.status == 403 and "CSRF" in await response.text()
    assert next(f for f in load_faqs(seller_files.faq_dir) if f.id == "return_policy").enabled


async def test_search_lists_matching_faqs(client):
    await log_in(client)
    page = await (await client.get("/admin", params={"q": "refund"})).text()
    assert 'data-faq="refund_timing"' in page or 'data-faq="refund_methods"' in page or "refund" in page
    assert 'data-faq="payment_methods"' not in page
    page = await (await client.get("/admin", params={"category": "greetings"})).text()
    assert 'data-faq="working_hours"' in page and 'data-faq="return_policy"' not in page


async def test_create_edit_disable_delete_and_revert_over_http(client, seller_files):
    csrf = await log_in(client)
    form = {
        "csrf_token": csrf, "id": "gift_cards", "category": "pre-sale", "question": "Do you sell gift cards?",
        "similar": "gift card\nvoucher\ndo you have gift vouchers", "answer": "Yes, from 25 euros.", "enabled": "on",
    }
    response = await client.post("/admin/faqs/new", data=form)
    assert response.status == 200 and "FAQ gift_cards saved" in await response.text()
    assert "being retrained" in await response.text()  # a new FAQ needs the model to learn it

    page = await (await client.get("/admin")).text()
    response = await client.post("/admin/faqs/gift_cards/enabled", data={
        "csrf_token": csrf, "enabled": "off", "version": version_of(page, "gift_cards")})
    assert "disabled" in await response.text()
    assert not next(f for f in load_faqs(seller_files.faq_dir) if f.id == "gift_cards").enabled

    page = await (await client.get("/admin")).text()
    response = await client.post("/admin/faqs/gift_cards/delete", data={
        "csrf_token": csrf, "version": version_of(page, "gift_cards")})
    assert "deleted" in await response.text()
    assert all(f.id != "gift_cards" for f in load_faqs(seller_files.faq_dir))

    history = await (await client.get("/admin/history")).text()
    newest = re.search(r'data-revision="(\d+)"', history).group(1)
    response = await client.post(f"/admin/history/{newest}/revert", data={"csrf_token": csrf})
    assert "reverted" in await response.text()
    assert any(f.id == "gift_cards" for f in load_faqs(seller_files.faq_dir))


async def test_a_bad_edit_is_refused_and_the_form_keeps_what_was_typed(client, seller_files):
    csrf = await log_in(client)
    before = (seller_files.faq_dir / "after-sales.yml").read_text()
    page = await (await client.get("/admin/faqs/return_policy")).text()
    version = re.search(r'name="version" value="([0-9a-f]+)"', page).group(1)
    response = await client.post("/admin/faqs/return_policy", data={
        "csrf_token": csrf, "version": version, "category": "after-sales", "question": "Returns?",
        "similar": "one only", "answer": "My carefully written new answer", "enabled": "on"})
    text = await response.text()
    assert response.status == 400
    assert "after-sales.yml:" in text and "return_policy" in text and "at least 3 needed" in text
    assert "My carefully written new answer" in text
    assert (seller_files.faq_dir / "after-sales.yml").read_text() == before


async def test_the_seller_edits_the_indonesian_answer_on_the_faq_page(client, seller_files):
    csrf = await log_in(client)
    page = await (await client.get("/admin/faqs/return_policy")).text()
    assert 'name="answer_id"' in page and "Barang bisa dikembalikan" in page  # the demo FAQ's own
    version = re.search(r'name="version" value="([0-9a-f]+)"', page).group(1)
    response = await client.post("/admin/faqs/return_policy", data={
        "csrf_token": csrf, "version": version, "category": "after-sales", "question": "What is your return policy?",
        "similar": "can i return it\nreturn window\ndo you accept returns", "answer": "30 days.",
        "answer_id": "30 hari, Kak.", "enabled": "on"})
    assert response.status == 200
    faq = next(f for f in load_faqs(seller_files.faq_dir) if f.id == "return_policy")
    assert (faq.answer, faq.answer_id) == ("30 days.", "30 hari, Kak.")


async def test_two_sellers_editing_the_same_faq_the_second_is_refused(client, seller_files):
    csrf = await log_in(client)
    page = await (await client.get("/admin/faqs/return_policy")).text()
    opened = re.search(r'name="version" value="([0-9a-f]+)"', page).group(1)
    fields = {"csrf_token": csrf, "version": opened, "category": "after-sales", "question": "What is your return policy?",
              "similar": "can i return it\nreturn window\ndo you accept returns", "enabled": "on"}
    first = await client.post("/admin/faqs/return_policy", data={**fields, "answer": "Alice's answer"})
    assert first.status == 200
    second = await client.post("/admin/faqs/return_policy", data={**fields, "answer": "Bob's answer"})
    text = await second.text()
    assert second.status == 409 and "changed by someone else" in text and "Bob&#39;s answer" in text
    assert next(f for f in load_faqs(seller_files.faq_dir) if f.id == "return_policy").answer == "Alice's answer"


async def test_the_seller_writes_the_welcome_in_english_and_in_indonesian(client, seller_files):
    from bot.shop.settings import load_settings

    csrf = await log_in(client)
    page = await (await client.get("/admin")).text()
    versions = dict(re.findall(r'name="language" value="(\w+)">\s*<input type="hidden" name="version" value="([0-9a-f]+)"', page))
    assert set(versions) == {"en", "id"}
    response = await client.post("/admin/welcome-text", data={
        "csrf_token": csrf, "language": "id", "version": versions["id"], "text": "Halo, Kak! Ada yang bisa dibantu?"})
    assert response.status == 200 and "Halo, Kak! Ada yang bisa dibantu?" in await response.text()
    settings = load_settings(seller_files.shop_settings_file)
    assert settings.chat_welcome_id == "Halo, Kak! Ada yang bisa dibantu?" and settings.chat_welcome.startswith("Hi! Welcome")
    # The English form's version was not touched by the Indonesian edit; a stale Indonesian one is refused.
    stale = await client.post("/admin/welcome-text", data={"csrf_token": csrf, "language": "id", "version": versions["id"], "text": "Lagi"})
    assert stale.status == 409
    unknown = await client.post("/admin/welcome-text", data={"csrf_token": csrf, "language": "fr", "version": versions["en"], "text": "Salut"})
    assert unknown.status == 400 and load_settings(seller_files.shop_settings_file).chat_welcome.startswith("Hi! Welcome")


async def test_welcome_buttons_are_limited_to_five(client, seller_files):
    csrf = await log_in(client)
    ids = [faq.id for faq in load_faqs(seller_files.faq_dir)][:6]
    response = await client.post("/admin/welcome-faqs", data=[("csrf_token", csrf)] + [("welcome", i) for i in ids])
    assert response.status == 400 and "at most 5" in await response.text()
    response = await client.post("/admin/welcome-faqs", data=[("csrf_token", csrf)] + [("welcome", i) for i in ids[:2]])
    assert response.status == 200
    assert [f.id for f in load_faqs(seller_files.faq_dir) if f.welcome] == ids[:2]


async def test_try_it_says_when_the_assistant_is_down(client):
    await log_in(client)
    response = await client.get("/admin/try", params={"q": "how long does shipping take"})
    assert response.status == 503 and "not reachable" in await response.text()


async def test_training_status_is_reported(client):
    await log_in(client)
    status = await (await client.get("/api/admin/training")).json()
    assert status["state"] == "idle" and status["percent"] == 0


HOURS_FORM = {
    "bot_mode": "outside_working_hours", "timezone": "Europe/Berlin", "timeout": "5",
    "monday": "09:00-12:30, 13:30-18:00", "tuesday": "09:00-18:00", "wednesday": "", "thursday": "09:00-18:00",
    "friday": "09:00-18:00", "saturday": "closed", "sunday": "",
    "exceptions": "2026-12-25: closed\n2026-11-27: 08:00-22:00",
}


async def test_working_hours_are_edited_on_the_admin_page(client, seller_files):
    from datetime import date, timedelta

    from bot.shop.settings import load_settings

    csrf = await log_in(client)
    page = await (await client.get("/admin/hours")).text()
    assert 'value="Europe/Berlin"' in page and 'id="open-now"' in page
    response = await client.post("/admin/hours", data={**HOURS_FORM, "csrf_token": csrf})
    assert response.status == 200 and "Working hours saved" in await response.text()
    hours = load_settings(seller_files.shop_settings_file).working_hours
    assert hours.bot_mode == "outside_working_hours" and hours.agent_reply_timeout == timedelta(minutes=5)
    assert len(hours.weekly[0]) == 2 and hours.weekly[2] == () and hours.weekly[5] == ()
    assert hours.exceptions[date(2026, 12, 25)] == () and len(hours.exceptions[date(2026, 11, 27)]) == 1
    assert "# Self-shipped orders must be shipped" in seller_files.shop_settings_file.read_text()  # comments kept


async def test_bad_working_hours_are_refused_and_nothing_changes(client, seller_files):
    csrf = await log_in(client)
    before = seller_files.shop_settings_file.read_text()
    response = await client.post("/admin/hours", data={**HOURS_FORM, "timezone": "Mars/Olympus", "csrf_token": csrf})
    text = await response.text()
    assert response.status == 400 and "not a known time zone" in text and 'value="Mars/Olympus"' in text
    response = await client.post("/admin/hours", data={**HOURS_FORM, "monday": "18:00-09:00", "csrf_token": csrf})
    assert response.status == 400 and "must end after it starts" in await response.text()
    assert seller_files.shop_settings_file.read_text() == before


async def test_a_broken_shop_yml_keeps_the_last_good_settings_in_service(client, seller_files):
    """A seller's edit that breaks shop.yml by hand is logged; the pages go on with the settings before it."""
    from bot.shop.settings import SettingsError, load_settings

    await log_in(client)
    assert (await client.get("/admin/hours")).status == 200
    settings_file = seller_files.shop_settings_file
    settings_file.write_text(settings_file.read_text().replace("timezone: Europe/Berlin", "timezone: Mars/Olympus"))
    with pytest.raises(SettingsError):
        load_settings(settings_file)
    response = await client.get("/admin/hours")
    assert response.status == 200 and 'value="Europe/Berlin"' in await response.text()
    assert (await client.get("/admin")).status == 200  # the Chat Welcome text too
