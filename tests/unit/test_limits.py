"""The rate limiter's sliding window, on an injected clock."""
import pytest

from bot.config import Config
from bot.errors import TooManyRequests
from bot.web.limits import SlidingWindow, WebLimits, admit, refuse_if_limited


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_limit_holds_within_any_window_and_frees_up_as_it_slides():
    clock = Clock()
    window = SlidingWindow(3, 60, clock)
    for offset in (0, 10, 20):
        clock.now = 1000 + offset
        assert window.wait("a") == 0
        window.record("a")
    clock.now = 1030
    assert window.wait("a") == pytest.approx(30)  # the first event leaves the window at 1060
    assert window.wait("b") == 0  # keys are separate
    clock.now = 1060
    assert window.wait("a") == 0
    window.record("a")
    assert window.wait("a") == pytest.approx(10)  # now the one at 1010 is the oldest that counts


def test_admit_records_all_or_nothing():
    clock = Clock()
    per_sender, per_address = SlidingWindow(3, 60, clock), SlidingWindow(1, 60, clock)
    admit([(per_sender, "s"), (per_address, "ip")], "wait {seconds} s")
    clock.now += 15
    with pytest.raises(TooManyRequests) as refused:
        admit([(per_sender, "s"), (per_address, "ip")], "wait {seconds} s")
    assert str(refused.value) == "wait 45 s" and refused.value.retry_after == pytest.approx(45)
    # The refused request recorded nothing: the sender has one event, room for two more.
    admit([(per_sender, "s")], "wait {seconds} s")
    admit([(per_sender, "s")], "wait {seconds} s")
    with pytest.raises(TooManyRequests) as refused:
        refuse_if_limited([(per_sender, "s")], "wait {minutes} min")
    assert str(refused.value) == "wait 1 min"


def test_idle_keys_are_forgotten():
    clock = Clock()
    window = SlidingWindow(1, 60, clock)
    for n in range(1023):
        window.record(f"old-{n}")
    clock.now += 61
    window.record("new")  # the 1024th key sweeps the idle ones
    assert window.wait("new") == pytest.approx(60)
    assert len(window._events) == 1


def test_defaults_suit_real_shoppers_and_the_environment_sets_them():
    limits = WebLimits.from_config(Config(database_url="sqlite://"))
    assert (limits.chat_per_sender.limit, limits.chat_per_sender.window) == (20, 60)
    assert (limits.chat_per_address.limit, limits.login_failures_per_username.limit) == (60, 5)
    config = Config.from_env({"CHAT_LIMIT_PER_SENDER": "3", "LOGIN_FAILURES_PER_ADDRESS": "2"})
    assert (config.chat_limit_per_sender, config.login_failures_per_address, config.chat_limit_per_address) == (3, 2, 60)
