"""shop.yml's reload rule (bot/shop/settings.py SettingsFile): re-read when the file changes,
the last valid version kept when a change is broken, an error only if none was ever valid."""
import logging
import os
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
