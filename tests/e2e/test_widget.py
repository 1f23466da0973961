"""The storefront chat widget (bot/web/static/widget.js) on the demo storefront, in a real
browser (Debian's chromium driven by Playwright) against the running product: the welcome and
its FAQ buttons, an order look-up, a reload that brings the whole conversation back, a handoff
and an agent's reply arriving live (and the unread badge while the chat is closed), the
keyboard alone, a phone, a signed-in shopper, a lost connection and someone else's conversation.

The widget lives in an open shadow root; Playwright's CSS selectors reach into it. Its
elements: #sc-launcher (with #sc-badge), #sc-panel (role=dialog) holding #sc-title,
#sc-status (who answers), #sc-close, #sc-notice, #sc-log (role=log; `.msg` items with
data-from=bot|agent|shopper, `.who`, `.tag`, `time`, `.bubble`), #sc-typing, #sc-quick
(`.chip` quick replies), #sc-form with #sc-input and #sc-send."""
import re

import requests
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, SCREENSHOTS, screenshot
from tests.e2e.shop_web import RUN_ID, hand_over, log_in_to_console, queue_row, wait_for

DESKTOP = {"width": 1280, "height": 800}
ANSWER_SECONDS = 60_000  # ms: the bot's first answers after the product starts can be slow


def messages(page):
    """The conversation as the widget shows it: (from, text) for each message."""
    return [
        (item.get_attribute("data-from"), item.locator(".bubble").inner_text() if item.locator(".bubble").count() else "")
        for item in page.locator("#sc-log .msg").all()
    ]


def widget_sender(page) -> str:
    """The conversation id the widget keeps in localStorage."""
    return page.evaluate("Object.entries(localStorage).find(([k]) => k.endsWith(':sender'))[1]")


def ask(page, text, answer_part):
    """Type a message, press Enter, and wait for the answer that contains `answer_part`."""
    count = page.locator("#sc-log .msg-shopper").count()
    page.fill("#sc-input", text)
    page.press("#sc-input", "Enter")
    expect(page.locator("#sc-log .msg-shopper")).to_have_count(count + 1)
    expect(page.locator("#sc-log .msg-shopper").last.locator(".bubble")).to_have_text(text)
    expect(page.locator("#sc-log .msg:not(.msg-shopper)").last).to_contain_text(answer_part, timeout=ANSWER_SECONDS)
    expect(page.locator("#sc-input")).to_have_value("")


def open_widget(page, url):
    page.goto(url)
    launcher = page.locator("#sc-launcher")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    launcher.click()
    expect(page.locator("#sc-panel")).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#sc-input")).to_be_focused()  # focus moves into the panel


def expect_welcome(page):
    expect(page.locator("#sc-log .msg-bot").first.locator(".bubble")).to_contain_text("Welcome to Demo Shop", timeout=ANSWER_SECONDS)
    expect(page.locator("#sc-quick .chip").first).to_be_visible()


def screen(page, name):
    """What the screen shows (not the whole page below the chat), as results/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


WATCH_TYPING = """() => {
    const typing = document.querySelector('#shop-chat-widget').shadowRoot.getElementById('sc-typing');
    window.typingShown = false;
    new MutationObserver(() => { if (!typing.hidden) window.typingShown = true; }).observe(typing, {attributes: true});
}"""


def agent_session(web):
    return web.staff("agent", "demo-agent")


def ticket_of(agent, web, sender):
    tickets = agent.get(f"{web.url}/api/agent/tickets").json()["tickets"]
    return next((ticket for ticket in tickets if ticket["sender"] == sender), None)


def test_a_shopper_chats_reloads_asks_for_a_person_and_sees_the_agents_reply(browser, web):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        open_widget(page, f"{web.url}/")
        expect(page.locator("#sc-panel")).to_have_attribute("role", "dialog")
        expect(page.locator("#sc-panel")).to_have_attribute("aria-label", "Demo Shop help")
        expect(page.locator("#sc-title")).to_have_text("Demo Shop help")
        expect(page.locator("#sc-status")).to_have_text("Assistant")
        expect_welcome(page)
        welcome = requests.get(f"{web.url}/api/chat/widget", timeout=10).json()["welcome_faqs"]
        expect(page.locator("#sc-quick .chip")).to_have_text([faq["title"] for faq in welcome])
        first = page.locator("#sc-log .msg-bot").first
        expect(first.locator(".who")).to_have_text("Assistant")
        expect(first.locator(".tag")).to_have_text("bot")
        expect(first.locator("time")).to_have_text(re.compile(r"\d{1,2}:\d{2}"))
        screenshot(page, "widget-desktop-welcome")

        # A FAQ button: the shopper's message is its title, the answer follows, the chips go.
        chip = page.locator("#sc-quick .chip", has_text="return policy")
        chip.click()
        expect(page.locator("#sc-log .msg-shopper").last.locator(".bubble")).to_have_text("What is your return policy?")
        expect(page.locator("#sc-log .msg-bot").nth(1)).to_contain_text("within 15 days of delivery", timeout=ANSWER_SECONDS)
        expect(page.locator("#sc-quick")).to_be_hidden()

        # A showcase order, verified with its e-mail (README); the typing indicator while the bot answers.
        page.evaluate(WATCH_TYPING)
        ask(page, "where is my parcel for order 100004?", "e-mail address or phone number")
        assert page.evaluate("window.typingShown") is True
        expect(page.locator("#sc-typing")).to_be_hidden()
        ask(page, "emma@example.com", "SPXGB0123456789")
        screenshot(page, "widget-desktop-order")
        before = messages(page)
        assert [who for who, _ in before] == ["bot", "shopper", "bot", "shopper", "bot", "shopper", "bot"]

        # A reload: the whole conversation again, the shopper's own messages too, nothing twice;
        # the chat was open, so it opens again.
        sender = widget_sender(page)
        page.reload()
        expect(page.locator("#sc-panel")).to_be_visible()
        expect(page.locator("#sc-log")).to_contain_text("SPXGB0123456789", timeout=30_000)
        page.wait_for_timeout(4500)  # two polls: they must add nothing
        assert messages(page) == before
        assert widget_sender(page) == sender

        # A person: the header says the shopper waits for one.
        ask(page, "I want to talk to a person", "passing you to a person from our team")
        expect(page.locator("#sc-status")).to_have_text("Waiting for a person\u2026")
        ticket = wait_for(lambda: ticket_of(agent_session(web), web, sender))

        # The chat closed with Esc, focus back on the launcher; an agent claims and replies.
        page.keyboard.press("Escape")
        expect(page.locator("#sc-panel")).to_be_hidden()
        expect(page.locator("#sc-launcher")).to_be_focused()
        expect(page.locator("#sc-badge")).to_be_hidden()
        # In a second browser context an agent claims it in the console and types, while new
        # tickets arrive: the draft and the focus stay; then the reply goes out.
        console_context = browser.new_context(viewport=DESKTOP)
        console = console_context.new_page()
        log_in_to_console(console, web, "agent", "demo-agent")
        queue_row(console, ticket).click()
        console.click("button[data-action=claim]")
        expect(console.locator("#ticket [data-ticket-state]")).to_have_attribute("data-ticket-state", "claimed")
        reply = "Hello, this is Alex from the shop. Let me look at your parcel."
        console.click("textarea#reply")
        console.keyboard.type(reply[:20])
        newcomers = [hand_over(web, f"widget-newcomer-{n}")[0] for n in range(2)]
        for newcomer in newcomers:
            expect(queue_row(console, newcomer)).to_be_visible(timeout=15_000)
        assert console.evaluate("document.activeElement.id") == "reply"
        assert console.input_value("textarea#reply") == reply[:20]
        console.keyboard.type(reply[20:])
        console.click("button[data-action=reply]")
        expect(console.locator("#transcript")).to_contain_text(reply, timeout=15_000)
        screenshot(console, "widget-agent-console-desktop")
        console_context.close()
        agent = agent_session(web)

        # No reload: the closed widget's slower poll brings it, counted on the badge.
        expect(page.locator("#sc-badge")).to_have_text("1", timeout=20_000)
        expect(page.locator("#sc-launcher")).to_have_attribute("aria-label", re.compile("1 new message"))
        screenshot(page, "widget-desktop-unread")
        page.click("#sc-launcher")
        expect(page.locator("#sc-badge")).to_be_hidden()
        expect(page.locator("#sc-status")).to_have_text("Alex from our team")
        answer = page.locator("#sc-log .msg-agent").last
        expect(answer.locator(".bubble")).to_have_text(reply)
        expect(answer.locator(".who")).to_have_text("Alex")
        expect(answer.locator(".tag")).to_have_text("person")

        # The next agent reply arrives while the chat is open, within a poll or two.
        second = "It left the Bristol delivery office this morning: it is with you today."
        agent.post(f"{web.url}/api/agent/tickets/{ticket['id']}/reply", json={"text": second})
        expect(page.locator("#sc-log .msg-agent").last.locator(".bubble")).to_have_text(second, timeout=10_000)
        expect(page.locator("#sc-badge")).to_be_hidden()
        screenshot(page, "widget-desktop-agent-reply")
        assert agent.post(f"{web.url}/api/agent/tickets/{ticket['id']}/resolve").status_code == 200
        expect(page.locator("#sc-status")).to_have_text("Assistant", timeout=10_000)
        assert [who for who, _ in messages(page)].count("agent") == 2
    finally:
        context.close()


def test_the_widget_works_with_the_keyboard_alone(browser, web):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        page.goto(f"{web.url}/")
        expect(page.locator("#sc-launcher")).to_be_visible()
        # Tab through the store's page until the launcher has the focus.
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.shadowRoot?.activeElement?.id") == "sc-launcher":
                break
        expect(page.locator("#sc-launcher")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#sc-panel")).to_be_visible()
        expect(page.locator("#sc-input")).to_be_focused()
        expect_welcome(page)

        # Shift+Tab from the input reaches the quick replies; Enter taps one.
        page.keyboard.press("Shift+Tab")
        chip = page.locator("#sc-quick .chip").last
        expect(chip).to_be_focused()
        title = chip.inner_text()
        page.keyboard.press("Enter")
        expect(page.locator("#sc-log .msg-shopper").last.locator(".bubble")).to_have_text(title)
        expect(page.locator("#sc-input")).to_be_focused()  # the chips went; focus stays in the chat
        expect(page.locator("#sc-log .msg-bot")).to_have_count(2, timeout=ANSWER_SECONDS)

        # Typing and Enter send; Tab goes on to the send button.
        page.keyboard.type("thank you")
        page.keyboard.press("Tab")
        expect(page.locator("#sc-send")).to_be_focused()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")
        expect(page.locator("#sc-log .msg-shopper").last.locator(".bubble")).to_have_text("thank you")
        expect(page.locator("#sc-log .msg-bot")).to_have_count(3, timeout=ANSWER_SECONDS)

        # Every control has a name a screen reader says.
        expect(page.locator("#sc-log")).to_have_attribute("role", "log")
        expect(page.locator("#sc-log")).to_have_attribute("aria-live", "polite")
        expect(page.locator("#sc-close")).to_have_attribute("aria-label", "Close chat")
        expect(page.locator("#sc-send")).to_have_attribute("aria-label", "Send message")
        expect(page.get_by_label("Your message")).to_be_visible()
        screenshot(page, "widget-desktop-keyboard")

        page.keyboard.press("Escape")
        expect(page.locator("#sc-panel")).to_be_hidden()
        expect(page.locator("#sc-launcher")).to_be_focused()
        expect(page.locator("#sc-launcher")).to_have_attribute("aria-expanded", "false")
    finally:
        context.close()


def test_a_signed_in_shopper_on_a_phone(browser, web):
    """Full screen on a phone; the storefront's signed identity lets the bot show her orders,
    and her conversation ends for this browser when she signs out."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{web.url}/?customer=cust-emma")
        expect(page.locator("#signed-in")).to_contain_text("Emma Hartley")
        screenshot(page, "widget-phone-storefront")
        page.locator("#sc-launcher").tap()
        expect(page.locator("#sc-panel")).to_be_visible()
        box = page.locator("#sc-panel").bounding_box()
        assert [round(box[k]) for k in ("x", "y", "width", "height")] == [0, 0, PHONE["width"], PHONE["height"]]
        expect(page.locator("#sc-launcher")).to_be_hidden()  # the panel's close button takes its place
        assert page.evaluate("document.documentElement.style.overflow") == "hidden"  # the shop stays still behind it
        expect_welcome(page)
        screen(page, "widget-phone-welcome")
        ask(page, "where is my parcel for order 100004?", "SPXGB0123456789")  # no e-mail asked
        screen(page, "widget-phone-signed-in")
        page.locator("#sc-close").tap()
        expect(page.locator("#sc-panel")).to_be_hidden()
        expect(page.locator("#sc-launcher")).to_be_visible()
        assert page.evaluate("document.documentElement.style.overflow") == ""

        # Signed out: her conversation is not shown in this browser any more; a new one starts.
        page.goto(f"{web.url}/")
        page.locator("#sc-launcher").tap()
        expect_welcome(page)
        expect(page.locator("#sc-log .msg")).to_have_count(1)
        expect(page.locator("#sc-log")).not_to_contain_text("SPXGB0123456789")
    finally:
        context.close()


def test_a_lost_connection_keeps_the_message_and_recovers(browser, web):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        open_widget(page, f"{web.url}/")
        expect_welcome(page)
        context.set_offline(True)
        page.fill("#sc-input", "do you ship to austria")
        page.press("#sc-input", "Enter")
        expect(page.locator("#sc-notice")).to_contain_text("Not sent")
        expect(page.locator("#sc-notice")).to_contain_text("Reconnecting")
        expect(page.locator("#sc-input")).to_have_value("do you ship to austria")  # kept
        expect(page.locator("#sc-log .msg-shopper")).to_have_count(0)
        expect(page.locator("#sc-quick .chip").first).to_be_visible()  # the welcome's buttons are back
        expect(page.locator("#sc-status")).to_have_class(re.compile("offline"))
        screenshot(page, "widget-desktop-offline")

        context.set_offline(False)
        expect(page.locator("#sc-notice")).to_contain_text("Connected again", timeout=40_000)
        page.press("#sc-input", "Enter")
        expect(page.locator("#sc-log .msg-shopper")).to_have_count(1)
        expect(page.locator("#sc-log .msg-bot")).to_have_count(2, timeout=ANSWER_SECONDS)
        expect(page.locator("#sc-notice")).to_be_hidden()
        page.wait_for_timeout(4500)
        assert [who for who, _ in messages(page)] == ["bot", "shopper", "bot"]  # nothing twice
    finally:
        context.close()


def test_someone_elses_conversation_is_not_shown_and_a_new_one_starts(browser, web):
    """A conversation id from another browser (its key was shown): the history is refused (403)
    and the widget starts a conversation of its own."""
    other = requests.post(
        f"{web.url}/api/chat", json={"message": "my secret is 4242", "metadata": {}},
        headers={"X-Chat-Key": f"another-browser-{RUN_ID}"}, timeout=60,
    )
    assert other.status_code == 200, other.text
    theirs = other.json()["sender"]
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        page.goto(f"{web.url}/")
        page.evaluate(
            "(sender) => localStorage.setItem('shopChat:' + location.origin + ':sender', sender)", theirs,
        )
        page.reload()
        page.click("#sc-launcher")
        expect_welcome(page)
        expect(page.locator("#sc-notice")).to_contain_text("another browser")
        assert widget_sender(page) != theirs
        assert "4242" not in page.locator("#sc-log").inner_text()
    finally:
        context.close()


def test_texts_are_never_html_and_link_buttons_open_a_new_tab(browser, web):
    """The chat API answered by the test (Playwright routes): markup in a bot's or an agent's
    text is shown as text, a link button opens its page in a new tab and sends nothing, a
    `javascript:` link is no link, and a refused message (429) stays in the box."""
    import json

    markup = '<img src="x" onerror="window.pwned = 1"><b>bold?</b>'
    sent = []
    agent_replied = []

    def chat(route):
        body = json.loads(route.request.post_data or "{}")
        sent.append(body["message"])
        if body["message"] == "too fast":
            route.fulfill(status=429, headers={"Retry-After": "7"}, json={"error": "You're sending messages faster than we can answer them."})
            return
        route.fulfill(json={
            "sender": f"web-fake-{RUN_ID}", "key": "fake-key", "cursor": 1.0, "handoff": None, "replies": [{
                "from": "bot", "agent": None, "at": 1.0, "text": markup, "buttons": [
                    {"title": "Track it", "url": "https://parcels.example/track/1"},
                    {"title": "Sneaky", "url": "javascript:alert(1)"},
                    {"title": "Opening hours", "payload": '/faq{"faq_id": "working_hours"}'},
                ],
            }],
        })

    def updates(route):
        after = float(re.search(r"after=([0-9.]+)", route.request.url).group(1))
        replies = [] if after >= 2 or not agent_replied else [{"from": "agent", "agent": "<i>Alex</i>", "at": 2.0, "text": "<script>window.pwned = 2</script>", "buttons": []}]
        handoff = {"status": "claimed", "ticket": 1, "agent": "<i>Alex</i>"} if agent_replied else None
        route.fulfill(json={"replies": replies, "cursor": max(after, 2.0 if agent_replied else 1.0), "handoff": handoff})

    context = browser.new_context(viewport=DESKTOP)
    context.route("**/api/chat", chat)
    context.route("**/api/chat/updates?*", updates)
    context.route("https://parcels.example/**", lambda route: route.fulfill(body="<h1>Your parcel</h1>", content_type="text/html"))
    page = context.new_page()
    try:
        open_widget(page, f"{web.url}/")
        bot = page.locator("#sc-log .msg-bot").first
        expect(bot.locator(".bubble")).to_have_text(markup)
        link = bot.locator("a", has_text="Track it")
        expect(link).to_have_attribute("href", "https://parcels.example/track/1")
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", "noopener noreferrer")
        assert bot.locator("a").count() == 1  # no javascript: link
        expect(page.locator("#sc-quick .chip")).to_have_text(["Opening hours"])
        with context.expect_page() as opened:
            link.click()
        assert opened.value.url == "https://parcels.example/track/1"
        assert sent == ["/session_start"]  # a link sends nothing
        opened.value.close()
        page.bring_to_front()

        agent_replied.append(True)
        agent = page.locator("#sc-log .msg-agent").first
        expect(agent.locator(".bubble")).to_have_text("<script>window.pwned = 2</script>")
        expect(agent.locator(".who")).to_have_text("<i>Alex</i>")
        expect(page.locator("#sc-status")).to_have_text("<i>Alex</i> from our team")
        assert page.locator("#sc-log img, #sc-log b, #sc-log script, #sc-log i").count() == 0
        assert page.evaluate("window.pwned") is None

        page.fill("#sc-input", "too fast")
        page.press("#sc-input", "Enter")
        expect(page.locator("#sc-notice")).to_contain_text("faster than we can answer them")
        expect(page.locator("#sc-notice")).to_contain_text("try again in 7 s")
        expect(page.locator("#sc-input")).to_have_value("too fast")
        expect(page.locator("#sc-log .msg-shopper")).to_have_count(0)
    finally:
        context.close()


def test_the_seller_sets_the_look_and_the_storefront_shows_it(browser, web):
    seller = web.staff("seller", "demo-seller")
    original = requests.get(f"{web.url}/api/chat/widget", timeout=10).json()
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        page.goto(f"{web.url}/admin/widget")
        page.fill("input[name=username]", "seller")
        page.fill("input[name=password]", "demo-seller")
        page.click("button:has-text('Log in')")
        expect(page.locator("h1")).to_have_text("Chat widget")
        expect(page.locator("#script-tag")).to_have_text(f'<script src="{web.url}/widget.js" async></script>')
        page.fill("input[name=title]", "Ask Demo Shop")
        page.fill("#colour", "not a colour")
        page.click("button:has-text('Save the widget')")
        expect(page.locator(".error")).to_contain_text("#rrggbb")
        expect(page.locator("input[name=title]")).to_have_value("Ask Demo Shop")  # the seller's input stays
        page.fill("#colour", "#0a7d3b")
        page.check("input[name=position][value=left]")
        expect(page.locator("#preview-swatch")).to_have_css("background-color", "rgb(10, 125, 59)")
        page.click("button:has-text('Save the widget')")
        expect(page.locator(".notice")).to_contain_text("Chat widget saved")
        screenshot(page, "widget-admin-look")

        page.goto(f"{web.url}/")
        launcher = page.locator("#sc-launcher")
        expect(launcher).to_have_css("background-color", "rgb(10, 125, 59)")
        box = launcher.bounding_box()
        assert box["x"] < DESKTOP["width"] / 2  # bottom left
        launcher.click()
        expect(page.locator("#sc-title")).to_have_text("Ask Demo Shop")
        expect(page.locator("#sc-panel")).to_have_attribute("aria-label", "Ask Demo Shop")
        expect_welcome(page)
        screenshot(page, "widget-desktop-custom-look")
    finally:
        context.close()
        form = {"csrf_token": seller.headers["X-CSRF-Token"], **{k: original[k] for k in ("title", "colour", "position")}}
        assert seller.post(f"{web.url}/admin/widget", data=form).status_code == 200
