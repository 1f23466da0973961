"""shop.yml's reload rule (bot/shop/settings.py SettingsFile): re-read when the file changes,
the last valid version kept when a change is broken, an error only if none was ever valid;
the chat widget's look (`widget:`)."""
import logging
import os
import re
import shutil

import pytest

from bot.config import Config
from bot.shop import settings as settings_module
from bot.shop.settings import SettingsError, SettingsFile


@pytest.fixture
def shop_yml(tmp_path):
    path = tmp_path / "shop.yml"
    shutil.copy(Config.from_env().shop_settings_file, path)
    return path


@pytest.fixture
def reads(monkeypatch):
    """The files load_settings reads, in order."""
    read = []
    original = settings_module.load_settings

    def counting(path):
        read.append(path)
        return original(path)

    monkeypatch.setattr(settings_module, "load_settings", counting)
    return read


def test_an_unchanged_file_is_read_once(shop_yml, reads):
    settings_file = SettingsFile(shop_yml)
    first = settings_file.current()
    assert settings_file.current() is first and settings_file.current() is first
    assert len(reads) == 1


def test_a_changed_file_is_read_again(shop_yml, reads):
    settings_file = SettingsFile(shop_yml)
    assert settings_file.current().return_window_days == 15
    shop_yml.write_text(shop_yml.read_text().replace("return_window_days: 15", "return_window_days: 30"))
    assert settings_file.current().return_window_days == 30
    assert len(reads) == 2


def test_a_change_of_the_same_size_within_one_clock_tick_is_seen(shop_yml):
    """A rename over the file (how every write replaces it) gives it a new inode, whatever its
    modification time and size."""
    settings_file = SettingsFile(shop_yml)
    assert settings_file.current().return_window_days == 15
    stat = shop_yml.stat()
    replacement = shop_yml.with_name("replacement.yml")
    replacement.write_text(shop_yml.read_text().replace("return_window_days: 15", "return_window_days: 16"))
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(replacement, shop_yml)
    assert settings_file.current().return_window_days == 16


def test_a_broken_change_keeps_the_last_valid_settings_and_is_logged_once(shop_yml, caplog):
    settings_file = SettingsFile(shop_yml)
    good = settings_file.current()
    shop_yml.write_text("shop: demo\nbuyer_cancellation: whenever\n")
    with caplog.at_level(logging.ERROR, logger="bot.shop.settings"):
        assert settings_file.current() is good
        assert settings_file.current() is good
    [record] = caplog.records
    assert "buyer_cancellation" in record.getMessage() and "keeping the last valid settings" in record.getMessage()
    shop_yml.write_text(shop_yml.read_text().replace("whenever", "instant"))  # fixed: in service at once
    assert settings_file.current().buyer_cancellation == "instant"


def test_a_file_that_was_never_valid_is_an_error_until_it_is(shop_yml):
    shop_yml.write_text("handoff: [")
    settings_file = SettingsFile(shop_yml)
    with pytest.raises(SettingsError, match="cannot read shop settings"):
        settings_file.current()
    with pytest.raises(SettingsError):
        settings_file.current()
    shop_yml.write_text("shop: demo\n")
    assert settings_file.current().shop == "demo"


def test_a_missing_file_keeps_the_last_valid_settings(shop_yml):
    settings_file = SettingsFile(shop_yml)
    good = settings_file.current()
    shop_yml.unlink()
    assert settings_file.current() is good
    with pytest.raises(SettingsError, match="cannot read"):
        SettingsFile(shop_yml).current()


def test_a_write_is_seen_by_the_next_read_and_keeps_comments(shop_yml):
    settings_file = SettingsFile(shop_yml)
    assert settings_file.current().chat_welcome != "Welcome in!"
    settings_file.write("chat_welcome", "Welcome in!")
    assert settings_file.current().chat_welcome == "Welcome in!"
    assert SettingsFile(shop_yml).current().chat_welcome == "Welcome in!"  # another process too
    assert "# Self-shipped orders must be shipped" in shop_yml.read_text()


def test_a_refused_write_changes_nothing_and_names_the_real_file(shop_yml):
    settings_file = SettingsFile(shop_yml)
    before = shop_yml.read_text()
    with pytest.raises(SettingsError) as refused:
        settings_file.write("buyer_cancellation", "whenever")
    assert str(refused.value).startswith(f"{shop_yml}: `buyer_cancellation`")
    assert shop_yml.read_text() == before and settings_file.current().buyer_cancellation == "request"
    assert [path.name for path in shop_yml.parent.iterdir()] == ["shop.yml"]  # no temporary file left


# --- the chat widget's look (`widget:`) ---

def with_widget(shop_yml, section: str):
    """shop.yml with its `widget:` section replaced by `section` (YAML text, "" for none)."""
    text = shop_yml.read_text()
    start = text.index("widget:\n")
    end = text.index("\n\n", start)
    shop_yml.write_text(text[:start] + section + text[end:])
    return shop_yml


def test_the_widget_look_is_read_from_shop_yml(shop_yml):
    from bot.shop.settings import WidgetLook, load_settings

    assert load_settings(shop_yml).widget == WidgetLook("Demo Shop help", "#2c5cc5", "right")
    with_widget(shop_yml, 'widget:\n  title: "  Ask   us "\n  colour: "#AB12CD"\n  position: left')
    assert load_settings(shop_yml).widget == WidgetLook("Ask us", "#ab12cd", "left")


@pytest.mark.parametrize("section", ["", "widget:", "widget: {}"])
def test_without_a_widget_section_the_defaults_apply(shop_yml, section):
    from bot.shop.settings import WidgetLook, load_settings

    assert load_settings(with_widget(shop_yml, section)).widget == WidgetLook("Chat with us", "#2c5cc5", "right")


@pytest.mark.parametrize("section, message", [
    ("widget: blue", "`widget` must be a mapping"),
    ("widget:\n  colour: #2c5cc5", "write it in quotes"),  # an unquoted # starts a YAML comment
    ('widget:\n  colour: "blue"', "`widget.colour` must be a colour written as #rrggbb"),
    ('widget:\n  colour: "#2c5cc"', "`widget.colour` must be a colour written as #rrggbb"),
    ("widget:\n  color: red", "unknown `widget` settings ['color']"),
    ("widget:\n  position: top", "`widget.position` must be one of right, left"),
    ("widget:\n  title: ''", "`widget.title` must not be empty"),
    ("widget:\n  title: 42", "`widget.title` must be a text"),
    ("widget:\n  title: " + "x" * 61, "`widget.title` is longer than 60 characters"),
])
def test_a_bad_widget_section_is_refused(shop_yml, section, message):
    from bot.shop.settings import load_settings

    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(with_widget(shop_yml, section))


def test_writing_the_widget_look_keeps_the_comments_around_it(shop_yml):
    settings_file = SettingsFile(shop_yml)
    settings_file.write("widget", {"title": "Help", "colour": "#00aa00", "position": "left"})
    assert settings_file.current().widget.as_json() == {"title": "Help", "colour": "#00aa00", "position": "left"}
    text = shop_yml.read_text()
    # Above it, and the next setting's, which ruamel keeps inside the section before it.
    assert "# The storefront chat widget's look" in text and "\n\n# When a person answers the shop chat." in text


def test_a_bad_widget_look_is_not_written(shop_yml):
    settings_file = SettingsFile(shop_yml)
    before = shop_yml.read_text()
    with pytest.raises(SettingsError, match=f"{re.escape(str(shop_yml))}: `widget.colour`"):
        settings_file.write("widget", {"title": "Help", "colour": "green", "position": "left"})
    assert shop_yml.read_text() == before and settings_file.current().widget.colour == "#2c5cc5"
