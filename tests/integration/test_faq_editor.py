"""FAQ edits from the admin page: validated, atomic, versioned, revertible."""
from dataclasses import replace

import pytest

from bot.errors import Conflict, InvalidInput, NotFound
from bot.faq.store import faq_version, load_faqs, text_version
from bot.faq.editor import CHAT_WELCOME, FaqEditor, faq_from_form
from bot.shop.context import ShopContext

FORM = {
    "category": "pre-sale", "question": "Do you sell gift cards?",
    "similar": "gift card\ncan i buy a voucher\ndo you have gift vouchers",
    "answer": "Yes: 25, 50 or 100 euros.", "buttons": "See gift cards | https://shop.example/gift", "enabled": "on",
}


@pytest.fixture
def editor(seller_files):
    with ShopContext(seller_files) as shop:
        yield FaqEditor(seller_files.faq_dir, shop)


def test_a_new_faq_is_written_to_its_category_file_and_needs_a_retrain(editor):
    result = editor.create(faq_from_form(FORM, "gift_cards"), "seller")
    assert result.retrain
    faq = next(f for f in load_faqs(editor.faq_dir) if f.id == "gift_cards")
    assert faq.category == "pre-sale" and faq.source.endswith("pre-sale.yml")
    assert faq.buttons[0].payload == "https://shop.example/gift"
    assert faq.buttons[0].title_in("id") == "See gift cards"  # no Indonesian title: the title
    assert [(r.subject, r.action, r.author) for r in editor.revisions()] == [("gift_cards", "create", "seller")]


def test_a_buttons_indonesian_title_is_saved_and_read_back(editor):
    editor.create(faq_from_form({**FORM, "buttons": "See gift cards | https://shop.example/gift | Lihat kartu hadiah"}, "gift_cards"), "seller")
    [button] = next(f for f in load_faqs(editor.faq_dir) if f.id == "gift_cards").buttons
    assert (button.title_in("en"), button.title_in("id")) == ("See gift cards", "Lihat kartu hadiah")
    with pytest.raises(InvalidInput):
        faq_from_form({**FORM, "buttons": "See | https://shop.example/gift | Lihat | more"}, "gift_cards")


def test_an_answer_edit_needs_no_retrain_but_a_question_edit_does(editor):
    faq = editor.get("return_policy")
    answer_only = editor.update(replace(faq, answer="30 days, free."), faq_version(faq), "seller")
    assert not answer_only.retrain
    faq = editor.get("return_policy")
    assert faq.answer == "30 days, free."
    assert editor.update(replace(faq, similar=faq.similar + ("can i send it back",)), faq_version(faq), "seller").retrain


def test_the_indonesian_answer_is_saved_read_back_and_needs_no_retrain(editor):
    result = editor.create(faq_from_form({**FORM, "answer_id": "Ya: 25, 50 atau 100 euro."}, "gift_cards"), "seller")
    faq = next(f for f in load_faqs(editor.faq_dir) if f.id == "gift_cards")
    assert result.retrain and faq.answer_id == "Ya: 25, 50 atau 100 euro." and faq.answer_in("id") == faq.answer_id
    assert faq.answer_in(None) == "Yes: 25, 50 or 100 euros."
    assert not editor.update(replace(faq, answer_id="Ya, kartu hadiah 25, 50 atau 100 euro."), faq_version(faq), "seller").retrain
    assert editor.get("gift_cards").answer_id == "Ya, kartu hadiah 25, 50 atau 100 euro."
    without = editor.update(replace(editor.get("gift_cards"), answer_id=""), faq_version(editor.get("gift_cards")), "seller")
    assert not without.retrain and editor.get("gift_cards").answer_in("id") == "Yes: 25, 50 or 100 euros."


def test_a_stale_version_is_refused_and_the_first_save_stays(editor):
    opened = editor.get("return_policy")
    editor.update(replace(opened, answer="First save."), faq_version(opened), "alice")
    with pytest.raises(Conflict, match="changed by someone else"):
        editor.update(replace(opened, answer="Second save."), faq_version(opened), "bob")
    assert editor.get("return_policy").answer == "First save."


def test_invalid_edits_are_refused_with_file_line_and_id_and_nothing_is_written(editor):
    before = {path.name: path.read_text() for path in editor.faq_dir.glob("*.yml")}
    faq = editor.get("return_policy")
    with pytest.raises(InvalidInput) as error:
        editor.update(replace(faq, similar=("only one",), answer=""), faq_version(faq), "seller")
    message = str(error.value)
    assert "after-sales.yml:" in message and "return_policy" in message
    assert "empty answer" in message and "at least 3 needed" in message
    assert {path.name: path.read_text() for path in editor.faq_dir.glob("*.yml")} == before
    assert not list(editor.faq_dir.glob("*.tmp")), "no temporary file is left behind"


def test_duplicate_ids_and_unknown_categories_are_refused(editor):
    with pytest.raises(Conflict, match="already exists"):
        editor.create(faq_from_form(FORM, "return_policy"), "seller")
    with pytest.raises(InvalidInput, match="unknown category"):
        editor.create(faq_from_form({**FORM, "category": "misc"}, "gift_cards"), "seller")


def test_a_sixth_welcome_faq_is_refused(editor):
    welcome = [faq.id for faq in editor.faqs() if faq.welcome]
    others = [faq.id for faq in editor.faqs() if not faq.welcome]
    with pytest.raises(InvalidInput, match="at most 5"):
        editor.set_welcome(welcome[:4] + others[:2], "seller")
    results = editor.set_welcome(others[:2], "seller")
    assert {faq.id for faq in editor.faqs() if faq.welcome} == set(others[:2])
    assert len(results) == len(set(welcome) | set(others[:2]))


def test_revert_restores_an_edit_a_delete_and_removes_a_creation(editor):
    faq = editor.get("return_policy")
    editor.update(replace(faq, answer="Changed."), faq_version(faq), "seller")
    [edit] = editor.revisions()
    editor.revert(edit.id, "seller")
    assert editor.get("return_policy") == faq

    editor.delete("return_policy", faq_version(faq), "seller")
    with pytest.raises(NotFound):
        editor.get("return_policy")
    assert editor.revert(editor.revisions()[0].id, "seller").retrain
    assert editor.get("return_policy").answer == faq.answer

    editor.create(faq_from_form(FORM, "gift_cards"), "seller")
    editor.revert(editor.revisions()[0].id, "seller")
    assert all(f.id != "gift_cards" for f in editor.faqs())


def test_revert_is_refused_when_the_faq_changed_since(editor):
    faq = editor.get("return_policy")
    editor.update(replace(faq, answer="One."), faq_version(faq), "seller")
    first = editor.revisions()[0]
    changed = editor.get("return_policy")
    editor.update(replace(changed, answer="Two."), faq_version(changed), "seller")
    with pytest.raises(Conflict, match="revert the later revisions first"):
        editor.revert(first.id, "seller")
    assert editor.get("return_policy").answer == "Two."


def test_the_welcome_text_is_saved_in_shop_yml_keeping_comments_and_can_be_reverted(editor):
    original = editor.chat_welcome()
    editor.set_chat_welcome("Hello from the shop!", text_version(original), "seller")
    text = editor.shop.settings_file.path.read_text()
    assert "Hello from the shop!" in text and "# Self-shipped orders must be shipped" in text
    with pytest.raises(Conflict):
        editor.set_chat_welcome("Stale", text_version(original), "seller")
    [revision] = [r for r in editor.revisions() if r.subject == CHAT_WELCOME]
    editor.revert(revision.id, "seller")
    assert editor.chat_welcome() == original
    # The Indonesian one is its own setting, with its own history.
    indonesian = editor.chat_welcome("id")
    editor.set_chat_welcome("Halo dari toko!", text_version(indonesian), "seller", "id")
    assert editor.shop.settings.chat_welcome_id == "Halo dari toko!" and editor.chat_welcome() == original
    [revision] = [r for r in editor.revisions() if r.subject == "chat_welcome_id"]
    editor.revert(revision.id, "seller")
    assert editor.chat_welcome("id") == indonesian


def test_broken_files_on_disk_block_edits_with_the_problem(editor):
    (editor.faq_dir / "other.yml").write_text("category: other\nfaqs: [oops\n")
    with pytest.raises(InvalidInput, match="other.yml:.*broken YAML"):
        editor.faqs()


def test_readers_never_see_a_half_written_file(editor):
    import threading
    import time

    import yaml

    target = editor.faq_dir / "after-sales.yml"
    failures, done = [], threading.Event()

    def read_continuously():
        while not done.is_set():
            try:
                assert yaml.safe_load(target.read_text())["faqs"]
            except Exception as error:  # a torn read shows as a YAML error or an empty list
                failures.append(repr(error))
            time.sleep(0.002)  # leave the writer some of the interpreter

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        for round_number in range(8):
            faq = editor.get("return_policy")
            editor.update(replace(faq, answer=f"Version {round_number}. " + "long text " * 300), faq_version(faq), "seller")
    finally:
        done.set()
        reader.join()
    assert failures == []
    assert editor.get("return_policy").answer.startswith("Version 7.")
