"""Conversations over the web service's /api/chat with the real product (`product` fixture):
order numbers and contacts given up front, several orders in one chat, forms that let go of
questions, addresses and phone numbers in common formats, and one opening message."""
import pytest
import requests
import yaml

from tests.e2e.shop_web import texts

ASK_NUMBER = "What's the order number?"
ASK_CONTACT = "what's the e-mail address or phone number you used for it?"
ASK_ADDRESS = "What's the full new delivery address"
ASK_REASON = "What's the reason?"



# --- orders given up front, and several orders in one chat ------------------------------------

def test_order_number_and_contact_in_the_first_message_are_answered_at_once(web):
    answer = texts(web.chat("up-front", "where is my order 100002? my email is emma@example.com"))
    assert "Order 100002" in answer
    assert ASK_NUMBER not in answer and ASK_CONTACT not in answer


def test_several_orders_in_one_chat_each_verified_by_its_own_contact(web):
    # The number in the first message: straight to the contact.
    first = texts(web.chat("orders", "where is order 100004?"))
    assert ASK_CONTACT in first and ASK_NUMBER not in first
    assert "SPX Express" in texts(web.chat("orders", "emma@example.com"))
    # Emma's e-mail matches order 100001 too: answered at once.
    second = texts(web.chat("orders", "and what about order 100001?"))
    assert "Order 100001" in second and ASK_CONTACT not in second
    # Liam's order: his contact is asked for, and his phone number verifies it.
    assert ASK_CONTACT in texts(web.chat("orders", "and what about order 100003?"))
    assert "order 100003 should have shipped" in texts(web.chat("orders", "+44 7700 900456"))  # (it is late)
    # Back to Emma's order: proven earlier in this chat, so answered at once.
    back = texts(web.chat("orders", "and order 100004?"))
    assert "Order 100004" in back and ASK_CONTACT not in back
    # Noah's order: asked for its own contact, which then shows it.
    assert ASK_CONTACT in texts(web.chat("orders", "and what about order 100016?"))
    assert "Order 100016" in texts(web.chat("orders", "noah@example.com"))


def test_a_bare_order_number_question_that_reads_as_out_of_scope_is_an_order_question(web):
    # "where is <number>" reads like "where is Paris" to the model: the order number decides.
    assert ASK_CONTACT in texts(web.chat("bare", "where is 100004"))
    assert "SPXGB0123456789" in texts(web.chat("bare", "emma@example.com"))


def test_the_question_carries_over_to_the_next_order(web):
    web.chat("carry", "I'd like to track the parcel of order 100004")
    assert "Latest updates" in texts(web.chat("carry", "emma@example.com"))
    # Still a tracking question: order 100001 has not shipped, so there is no tracking number.
    assert "no tracking number yet" in texts(web.chat("carry", "and what about order 100001?"))


# --- forms that let go ----------------------------------------------------------------------

def test_questions_while_the_bot_waits_are_answered_and_the_question_is_asked_again(web):
    assert ASK_NUMBER in texts(web.chat("aside", "where is my order"))
    faq = texts(web.chat("aside", "how long does delivery take?"))
    assert "working days" in faq and ASK_NUMBER in faq
    assert ASK_CONTACT in texts(web.chat("aside", "100004"))
    payment = texts(web.chat("aside", "which payment methods do you accept?"))
    assert "PayPal" in payment and ASK_CONTACT in payment
    # An e-mail reply naming the "address" is the contact, not a change of address.
    status = texts(web.chat("aside", "my email address is emma@example.com"))
    assert "Order 100004" in status and "SPX Express" in status  # its status or tracking
    assert ASK_ADDRESS not in status and "address can't be changed" not in status


def test_a_name_or_a_why_at_the_contact_question_hears_what_it_takes(web):
    assert ASK_CONTACT in texts(web.chat("name", "where is my order 100004"))
    for answer in ("my name is Emma Wilson", "why do you need that?"):
        reply = texts(web.chat("name", answer))
        assert "a name isn't enough" in reply and ASK_CONTACT in reply  # what it takes, then asked again
        assert "not something I can help with" not in reply
    assert "SPX Express" in texts(web.chat("name", "emma@example.com"))


def test_a_shopper_who_did_not_follow_an_answer_is_invited_to_say_what_is_unclear(web):
    web.chat("unclear", "can I still return order 100006?")
    assert "return window closed" in texts(web.chat("unclear", "liam@example.com"))
    [reply] = web.chat("unclear", "what do you mean?")["replies"]
    assert reply["text"].startswith("Sorry, I didn't put that clearly. Tell me which part is unclear")
    assert [button["payload"] for button in reply["buttons"]] == ["/talk_to_human"]  # no FAQs beside the point


def test_what_now_after_a_late_order_gets_the_choices(web):
    web.chat("what-now", "why hasn't my order 100003 shipped yet")
    assert "should have shipped" in texts(web.chat("what-now", "liam@example.com"))
    [reply] = web.chat("what-now", "so what can I do now?")["replies"]
    assert reply["text"].startswith("You have three options")
    assert [b["payload"] for b in reply["buttons"]] == ["/affirm", "/cancel_order", "/talk_to_human"]


def test_another_order_question_while_the_address_is_asked_switches_topic(web):
    web.chat("switch", "I need to change the delivery address of order 100001")
    assert ASK_ADDRESS in texts(web.chat("switch", "emma@example.com"))
    faq = texts(web.chat("switch", "do you ship internationally?"))
    assert ASK_ADDRESS in faq  # answered, then the address again
    status = texts(web.chat("switch", "actually, can you just tell me the status of the order?"))
    assert "Order 100001" in status and "is paid and being prepared" in status
    assert ASK_ADDRESS not in status and "I've sent the new address" not in status


def test_a_question_with_a_reason_word_files_no_return(web):
    web.chat("return", "I want to return order 100005")
    assert "What would you like?" in texts(web.chat("return", "emma@example.com"))
    assert ASK_REASON in texts(web.chat("return", "Return and refund"))
    for question in ("can I return it if it's the wrong size?", "what if it looks different from the photo?"):
        reply = texts(web.chat("return", question))
        assert "recorded your request" not in reply and "is approved" not in reply
        assert ASK_REASON in reply
    # Leaving without an answer files nothing either (and leaves order 100005 to other tests).
    assert "let's leave that" in texts(web.chat("return", "no, forget it"))


def test_cancellation_confirmed_and_declined_in_other_words(web):
    web.chat("cancel", "please cancel my order 100002")
    assert "Do you want me to cancel order 100002" in texts(web.chat("cancel", "emma@example.com"))
    assert "stays as it is" in texts(web.chat("cancel", "no, leave it as it is"))
    assert "Do you want me to cancel order 100002" in texts(web.chat("cancel", "hmm, cancel it after all"))
    requested = web.chat("cancel", "yes, go ahead and cancel it")
    assert "cancellation request" in texts(requested)
    assert {"title": "Keep my order", "payload": "/keep_order"} in requested["replies"][-1]["buttons"]
    # Changed their mind again: the request is taken back while the seller has not decided it.
    kept = texts(web.chat("cancel", "wait, i'd rather keep it, please don't cancel"))
    assert "withdrawn your cancellation request for order 100002" in kept
    assert "isn't being cancelled" in texts(web.chat("cancel", "Keep my order"))  # the button's title, typed late


def test_starting_over_forgets_the_question_and_the_verified_contact(web):
    web.chat("over", "where is my order 100004")
    assert "SPXGB0123456789" in texts(web.chat("over", "emma@example.com"))
    assert "What would you like?" in texts(web.chat("over", "I want to return order 100005"))  # a question pending
    over = web.chat("over", "never mind, can we start over")
    assert texts(over) == "Okay, let's start over. What can I help you with?"
    # Answered afresh, without a second welcome: the contact is asked for again.
    again = web.chat("over", "where is my order 100004")
    assert ASK_CONTACT in texts(again) and len(again["replies"]) == 1
    assert "mulai dari awal" in texts(web.chat("over-id", "kak mau mulai dari awal aja"))


def test_a_chat_reloaded_after_starting_over_shows_the_whole_chat(web):
    browser = requests.Session()
    sender = browser.post(f"{web.url}/api/chat", json={"message": "where is my order 100004"}, timeout=60).json()["sender"]
    browser.post(f"{web.url}/api/chat", json={"sender": sender, "message": "start over please"}, timeout=60)
    history = browser.get(f"{web.url}/api/chat/history", params={"sender": sender}, timeout=30).json()["messages"]
    assert [m["text"] for m in history if m["from"] == "shopper"] == ["where is my order 100004", "start over please"]
    assert history[-1]["text"] == "Okay, let's start over. What can I help you with?"


# --- addresses and phone numbers --------------------------------------------------------------

ADDRESSES = [
    "221B Baker Street, London NW1 6XE",
    "Hauptstraße 5, 10115 Berlin",
    "350 Fifth Avenue, New York, NY 10118",
    "12 rue de Rivoli, 75001 Paris",
    "Flat 4, 27 Harbour Street, Leeds LS1 4AP",
]


@pytest.mark.parametrize("sender, address_message", [
    ("address-after", "ok the new address is 7 Hill Rise, Leeds LS6 2QT"),
    ("address-after-plain", "7 Hill Rise, Leeds LS6 2QT"),
])
def test_an_address_given_after_another_orders_question_is_for_the_order_that_asked_for_it(web, sender, address_message):
    web.chat(sender, "I need to change the delivery address of order 100001")
    assert ASK_ADDRESS in texts(web.chat(sender, "emma@example.com"))
    assert "SPXGB0123456789" in texts(web.chat(sender, "actually where is my other order 100004 first?"))
    done = texts(web.chat(sender, address_message))
    assert "I've sent the new address for order 100001 to the seller: 7 Hill Rise, Leeds LS6 2QT" in done
    assert "100004" not in done


def test_addresses_in_european_uk_and_us_formats_are_accepted(web):
    web.chat("address", "I need to change the delivery address of order 100001")
    web.chat("address", "emma@example.com")
    for address in ADDRESSES:
        if address != ADDRESSES[0]:
            assert ASK_ADDRESS in texts(web.chat("address", "change the delivery address of order 100001 please"))
        assert f"I've sent the new address for order 100001 to the seller: {address}" in texts(web.chat("address", address))


@pytest.mark.parametrize("number, phone", [("100003", "+44 7700 900456"), ("100006", "0044 7700 900456")])
def test_phone_numbers_in_international_format_verify_the_order(web, number, phone):
    assert ASK_CONTACT in texts(web.chat(f"phone-{number}", f"what's the status of order {number}?"))
    assert f"order {number}" in texts(web.chat(f"phone-{number}", phone)).lower()  # (100003 is late: "I'm sorry: order ...")


# --- one opening message --------------------------------------------------------------------

def test_a_chat_that_opens_with_hi_gets_one_welcome_and_a_later_hello_a_greeting(web, product_home):
    body = web.chat("hi", "hi")
    [welcome] = body["replies"]
    assert welcome["text"] == yaml.safe_load((product_home / "shop.yml").read_text())["chat_welcome"]
    assert welcome["buttons"]
    web.chat("hi", "which payment methods do you accept?")
    later = web.chat("hi", "hello")
    assert len(later["replies"]) == 1 and "I'm the shop's assistant" in texts(later)


# --- the shopper's language -----------------------------------------------------------------

def test_a_chat_in_indonesian_is_welcomed_in_indonesian_and_answered_in_the_language_written(web, product_home):
    settings = yaml.safe_load((product_home / "shop.yml").read_text())
    body = web.chat("id-welcome", "halo kak, pesanan saya 100004 sudah sampai mana?")
    welcome, *rest = body["replies"]
    assert welcome["text"] == settings["chat_welcome_id"]
    assert "Bagaimana kebijakan retur di toko ini?" in [b["title"] for b in welcome["buttons"]]  # the FAQs' question_id
    assert "nomor HP" in texts({"replies": rest})
    assert "Pesanan 100004" in texts(web.chat("id-welcome", "emma@example.com"))
    # The shopper switches to English: so does the bot.
    assert "Order 100005" in texts(web.chat("id-welcome", "and where is my order 100005"))


def test_a_chat_opened_by_a_browser_that_prefers_indonesian_is_welcomed_in_indonesian(web, product_home):
    settings = yaml.safe_load((product_home / "shop.yml").read_text())
    body = web.chat("id-browser", "/session_start", headers={"Accept-Language": "id-ID,id;q=0.9,en-US;q=0.8"})
    assert [reply["text"] for reply in body["replies"]] == [settings["chat_welcome_id"]]
    # A tapped welcome button is answered in Indonesian too.
    tapped = next(b for b in body["replies"][0]["buttons"] if b["title"] == "Bagaimana kebijakan retur di toko ini?")
    assert texts(web.chat("id-browser", tapped["payload"])).startswith("Barang bisa dikembalikan dalam 15 hari")
    english = web.chat("en-browser", "/session_start", headers={"Accept-Language": "en-GB,en;q=0.9,id;q=0.5"})
    assert [reply["text"] for reply in english["replies"]] == [settings["chat_welcome"]]


# --- a signed-in shopper ---------------------------------------------------------------------

def test_a_signed_in_shopper_picks_an_order_by_its_item_and_is_told_when_a_number_is_not_theirs(web):
    import time

    from bot.shop.demo import DEMO_IDENTITY_SECRET
    from bot.shop.identity import signed_identity

    emma = signed_identity(DEMO_IDENTITY_SECRET, "cust-emma", int(time.time()) + 3600)
    asked = web.chat("item", "where is my order?", metadata=emma)
    assert "#100004 · Running trainers, size 42" in [b["title"] for b in asked["replies"][-1]["buttons"]]
    assert "SPXGB0123456789" in texts(web.chat("item", "the trainers", metadata=emma))
    # Two of her orders have the hoodie: she picks one of them.
    hoodie = web.chat("item", "and where is my hoodie order?", metadata=emma)
    assert "Several of your orders have that" in texts(hoodie)
    assert {b["payload"] for b in hoodie["replies"][-1]["buttons"]} == {"100002", "100011"}
    assert "Order 100002" in texts(web.chat("item", "100002", metadata=emma))
    refused = texts(web.chat("item", "and order 100003?", metadata=emma))
    assert "can't find order 100003 among the orders of your account" in refused and "Liam" not in refused
