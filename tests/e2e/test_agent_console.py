"""The agents' console in a real browser against the running product: live updates that never
take the agent's draft or focus, honest urgency, buttons by state, suggestions that fit, and
the layout on a desktop, a tablet and a phone."""
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, screenshot
from tests.e2e.shop_web import RUN_ID, hand_over, log_in_to_console as log_in, queue_row as row, wait_for

DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}


def ticket_pane(page):
    return page.locator("#ticket")


def actions(page):
    return sorted(page.locator("#ticket button[data-action]").evaluate_all("nodes => nodes.map(n => n.dataset.action)"))


def test_live_updates_keep_the_draft_and_focus_and_the_reply_reaches_the_shopper(page, web):
    page.set_viewport_size(DESKTOP)
    log_in(page, web, "agent", "demo-agent")
    first, cursor = hand_over(web, "console-a", "do you ship to austria?")
    expect(row(page, first)).to_be_visible(timeout=15_000)  # no reload: the server-sent event brought it
    expect(row(page, first).locator("[data-ticket-state]")).to_have_attribute("data-ticket-state", "waiting")
    expect(row(page, first)).to_contain_text("Shopper ")  # nobody verified: "Shopper" and a short id

    row(page, first).click()
    expect(ticket_pane(page).locator("[data-ticket-state]")).to_have_text("Waiting")
    assert actions(page) == ["claim"]
    page.click("button[data-action=claim]")
    state = ticket_pane(page).locator("[data-ticket-state]")
    expect(state).to_have_attribute("data-ticket-state", "claimed")
    expect(state).to_have_text("Yours")
    assert actions(page) == ["release", "reply", "resolve"]

    # Suggestions fit: for the shipping question, never the way to a person; each with its
    # confidence and source; a click fills the composer and sends nothing.
    suggestions = page.locator("[data-suggestion]")
    expect(suggestions.first).to_be_visible(timeout=10_000)
    texts = suggestions.all_inner_texts()
    assert all("%" in text for text in texts) and any("FAQ:" in text for text in texts), texts
    assert not any("talk to a human" in text.lower() for text in texts), texts
    expect(page.locator("#suggestions-for")).to_contain_text("austria")

    # The agent types; meanwhile two more shoppers ask for a person and the queue updates live.
    page.click("textarea#reply")
    draft = "Hello! Yes, we ship to Austria: "
    page.keyboard.type(draft)
    second, _ = hand_over(web, "console-b")
    third, _ = hand_over(web, "console-c")
    expect(row(page, second)).to_be_visible(timeout=15_000)
    expect(row(page, third)).to_be_visible(timeout=15_000)
    assert page.evaluate("document.activeElement.id") == "reply"
    assert page.input_value("textarea#reply") == draft
    page.keyboard.type("2-4 days.")  # the caret is where the agent left it
    draft += "2-4 days."
    assert page.input_value("textarea#reply") == draft

    # The open ticket itself changes: the shopper writes again. The transcript grows in place,
    # the agent's draft and focus stay, and a transcript read further up stays where it is.
    transcript = page.locator("#transcript")
    transcript.evaluate("node => { node.style.maxHeight = '120px'; node.scrollTop = 0; }")  # room to scroll
    web.chat("console-a", "are you still there?")
    expect(transcript).to_contain_text("are you still there?", timeout=15_000)
    assert transcript.evaluate("node => node.scrollTop") == 0
    assert page.evaluate("document.activeElement.id") == "reply"
    assert page.input_value("textarea#reply") == draft
    transcript.evaluate("node => { node.scrollTop = node.scrollHeight; }")  # at the bottom: it follows
    web.chat("console-a", "and do you ship to switzerland too?")
    expect(transcript).to_contain_text("switzerland too?", timeout=15_000)
    assert transcript.evaluate("node => node.scrollHeight - node.scrollTop - node.clientHeight") < 24
    assert page.evaluate("document.activeElement.id") == "reply"
    assert page.input_value("textarea#reply") == draft

    # The draft is kept per ticket.
    row(page, second).click()
    expect(page.locator("#ticket-title")).to_contain_text(f"#{second['id']}")
    assert page.input_value("textarea#reply") == ""
    page.fill("textarea#reply", "a draft for the second shopper")
    row(page, first).click()
    expect(page.locator("#ticket-title")).to_contain_text(f"#{first['id']}")
    assert page.input_value("textarea#reply") == draft
    row(page, second).click()
    assert page.input_value("textarea#reply") == "a draft for the second shopper"  # at once, before it loads
    row(page, first).click()
    expect(page.locator("#transcript")).to_contain_text("austria")

    before = page.locator("#transcript .msg").count()
    suggestions.first.click()
    assert page.input_value("textarea#reply").startswith(draft) and len(page.input_value("textarea#reply")) > len(draft)
    assert page.locator("#transcript .msg").count() == before  # nothing was sent
    assert not web.updates("console-a", cursor)["replies"]
    screenshot(page, "agent-console-desktop")

    page.fill("textarea#reply", f"Hello, this is Alex from the shop ({RUN_ID}).")
    page.click("button[data-action=reply]")
    expect(page.locator("#transcript")).to_contain_text(f"Hello, this is Alex from the shop ({RUN_ID}).")
    expect(page.locator("textarea#reply")).to_have_value("")
    replies = wait_for(lambda: web.updates("console-a", cursor)["replies"])
    assert replies[0]["from"] == "agent" and replies[0]["text"] == f"Hello, this is Alex from the shop ({RUN_ID})."
    expect(page.locator("[data-suggestion]")).to_have_count(0)  # answered: nothing open to suggest for

    page.click("button[data-action=resolve]")
    expect(row(page, first)).to_have_count(0, timeout=15_000)
    expect(state).to_have_attribute("data-ticket-state", "resolved")
    assert actions(page) == []


def test_a_ticket_with_another_agent_shows_who_and_no_actions_until_released(page, web):
    page.set_viewport_size(DESKTOP)
    ticket, _ = hand_over(web, "console-kim")
    kim = web.staff("agent2", "demo-agent2")
    assert kim.post(f"{web.url}/api/agent/tickets/{ticket['id']}/claim").status_code == 200
    log_in(page, web, "agent", "demo-agent")
    expect(row(page, ticket).locator("[data-ticket-state]")).to_have_text("with Kim", timeout=15_000)
    row(page, ticket).click()
    expect(ticket_pane(page).locator("[data-ticket-state]")).to_have_text("with Kim")
    expect(page.locator("#actions")).to_have_text("with Kim")
    assert actions(page) == []
    expect(page.locator("textarea#reply")).to_have_attribute("readonly", "")
    # Kim lets go: the live update offers the claim, no reload.
    assert kim.post(f"{web.url}/api/agent/tickets/{ticket['id']}/release").status_code == 200
    expect(page.locator("#ticket button[data-action=claim]")).to_be_visible(timeout=15_000)
    assert actions(page) == ["claim"]


def test_the_queue_names_the_shopper_and_the_verified_order_and_is_not_red_without_a_near_deadline(page, web):
    page.set_viewport_size(DESKTOP)
    ticket, _ = hand_over(web, "console-emma", "my order 100002 is late", "emma@example.com")
    assert ticket["shopper_name"] == "Emma Hartley"
    assert ticket["order_details"]["number"] == "100002" and ticket["order_details"]["status"] == "ready_to_ship"
    # 100002 must ship within the 12-day deadline: two days away, no emergency yet.
    assert ticket["urgency"]["level"] != "red" and ticket["urgency"]["reason"].startswith("ship by")
    log_in(page, web, "agent", "demo-agent")
    item = row(page, ticket)
    expect(item).to_contain_text("Emma Hartley", timeout=15_000)
    expect(item).to_contain_text("#100002 · Ready to ship · €")
    expect(item).to_contain_text("ship by")
    assert "level-red" not in (item.get_attribute("class") or "")
    assert item.locator("time[title]").count() >= 1  # the absolute time on hover
    screenshot(page, "agent-console-queue")


def test_the_console_on_a_tablet_and_a_phone(page, web):
    ticket, _ = hand_over(web, "console-touch", "do you accept paypal?")
    page.set_viewport_size(TABLET)
    log_in(page, web, "agent", "demo-agent")
    row(page, ticket).click()
    expect(page.locator("button[data-action=claim]")).to_be_visible()
    queue_box = page.locator(".queue-pane").bounding_box()
    ticket_box = page.locator(".ticket-pane").bounding_box()
    assert queue_box["x"] + queue_box["width"] <= ticket_box["x"], "side by side on a tablet"
    assert page.locator("button[data-action=claim]").bounding_box()["height"] >= 44, "touch-sized"
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    page.click("button[data-action=claim]")
    expect(page.locator("button[data-action=reply]")).to_be_visible()
    screenshot(page, "agent-console-tablet")

    page.set_viewport_size(PHONE)
    expect(page.locator(".ticket-pane")).to_be_visible()  # the open ticket fills the phone
    expect(page.locator(".queue-pane")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for name in ("reply", "release", "resolve"):
        assert page.locator(f"button[data-action={name}]").bounding_box()["height"] >= 44
    page.fill("textarea#reply", "typed on a phone")
    screenshot(page, "agent-console-phone")
    page.click("#back")
    expect(page.locator(".queue-pane")).to_be_visible()
    expect(row(page, ticket)).to_be_visible()
    screenshot(page, "agent-console-phone-queue")
    row(page, ticket).click()
    assert page.input_value("textarea#reply") == "typed on a phone"
    page.click("button[data-action=resolve]")
    expect(ticket_pane(page).locator("[data-ticket-state]")).to_have_attribute("data-ticket-state", "resolved")
