"""Rate limits: at most `limit` events per key within any `window` seconds (a sliding window).

In memory, per web service process (a restart forgets the counts); the clock is injected
so that the arithmetic is tested without waiting.
"""
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Deque, Dict, Iterable, Tuple

from bot.config import Config
from bot.errors import TooManyRequests

CHAT_WINDOW_SECONDS = 60.0
LOGIN_WINDOW_SECONDS = 15 * 60.0


class SlidingWindow:
    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        # Per key, the times of its latest `limit` events: older ones cannot matter any more.
        self._events: Dict[str, Deque[float]] = {}
        self._sweep_at = 1024

    def wait(self, key: str) -> float:
        """Seconds until `key` may have one more event; 0 when it may now."""
        events = self._events.get(key)
        if events is None or len(events) < self.limit:
            return 0.0
        return max(0.0, events[0] + self.window - self.clock())

    def record(self, key: str) -> None:
        now = self.clock()
        self._events.setdefault(key, deque(maxlen=self.limit)).append(now)
        if len(self._events) >= self._sweep_at:
            self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        """Drop keys with no event within the window, so memory follows the active keys only."""
        self._events = {key: events for key, events in self._events.items() if events[-1] > now - self.window}
        self._sweep_at = max(1024, 2 * len(self._events))


def admit(checks: Iterable[Tuple[SlidingWindow, str]], message: str) -> None:
    """Record one event for each (limit, key); if any key is at its limit, record none and raise
    TooManyRequests with `message` (its `{seconds}` filled in with the wait)."""
    checks = list(checks)
    refuse_if_limited(checks, message)
    for limit, key in checks:
        limit.record(key)


def refuse_if_limited(checks: Iterable[Tuple[SlidingWindow, str]], message: str) -> None:
    """TooManyRequests if any (limit, key) is at its limit, without recording anything."""
    wait = max((limit.wait(key) for limit, key in checks), default=0.0)
    if wait > 0:
        raise TooManyRequests(message.format(seconds=math.ceil(wait), minutes=math.ceil(wait / 60)), wait)


@dataclass
class WebLimits:
    """The web service's limits: shopper messages per minute, failed staff logins per 15 minutes."""

    chat_per_sender: SlidingWindow
    chat_per_address: SlidingWindow
    login_failures_per_username: SlidingWindow
    login_failures_per_address: SlidingWindow

    @classmethod
    def from_config(cls, config: Config, clock: Callable[[], float] = time.monotonic) -> "WebLimits":
        return cls(
            SlidingWindow(config.chat_limit_per_sender, CHAT_WINDOW_SECONDS, clock),
            SlidingWindow(config.chat_limit_per_address, CHAT_WINDOW_SECONDS, clock),
            SlidingWindow(config.login_failures_per_username, LOGIN_WINDOW_SECONDS, clock),
            SlidingWindow(config.login_failures_per_address, LOGIN_WINDOW_SECONDS, clock),
        )
