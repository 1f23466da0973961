"""A shop's working hours and when the bot answers, as pure functions of plain values.

Callers pass the current time; nothing here reads a clock, a file or the database.

Hours are wall-clock times in the shop's time zone. To turn them into real
instants, a wall-clock time is read the way zoneinfo reads it (fold=0):
- when clocks fall back, a time that occurs twice means its first occurrence,
  so a shop open "00:00-02:30" closes at the first 02:30 and stays closed;
- when clocks spring forward, a skipped time is read with the offset from before
  the jump, which moves it later by the length of the jump: in Berlin on the
  last Sunday of March, "02:30" becomes 03:30 summer time.
All comparisons are made in UTC, because Python compares two datetimes that
share a tzinfo by their wall clocks alone, which is wrong inside a fold.
"""
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterator, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

BOT_MODES = ("outside_working_hours", "always_on", "off")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Spelled out rather than strftime("%B"), which follows the process locale.
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
LOOKAHEAD_DAYS = 366
SECTION_KEYS = ("timezone", "bot_mode", "agent_reply_timeout_minutes", "weekly", "exceptions")

# (start, end) as the time since midnight, so that an end of "24:00" is simply 24 hours.
Interval = tuple[timedelta, timedelta]
NINE_TO_FIVE = ((timedelta(hours=9), timedelta(hours=17)),)

INTERVAL_PATTERN = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


class WorkingHoursError(ValueError):
    pass


@dataclass(frozen=True)
class WorkingHours:
    timezone: str = "UTC"
    # Monday first; each day's intervals are sorted and do not overlap.
    weekly: tuple[tuple[Interval, ...], ...] = (NINE_TO_FIVE,) * 5 + ((), ())
    # Replace the weekly hours on that date: () is closed all day (a public
    # holiday), other intervals are that day's hours (a campaign day).
    exceptions: Mapping[date, tuple[Interval, ...]] = field(default_factory=dict)
    bot_mode: str = "outside_working_hours"
    # How long a shopper waits for an agent during working hours before the bot answers.
    agent_reply_timeout: timedelta = timedelta(minutes=3)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        return self.exceptions.get(day, self.weekly[day.weekday()])


def parse_working_hours(document: dict | None, where: str) -> WorkingHours:
    """The `working_hours` section of a shop's YAML; `where` (e.g. the file) prefixes every error.

    A missing section or key takes the WorkingHours default.
    """
    if document is None:
        return WorkingHours()
    if not isinstance(document, dict):
        raise WorkingHoursError(f"{where}: `working_hours` must be a mapping")
    unknown = sorted(str(key) for key in document if key not in SECTION_KEYS)
    if unknown:
        raise WorkingHoursError(
            f"{where}: unknown keys in `working_hours`: {', '.join(unknown)}; known: {', '.join(SECTION_KEYS)}"
        )
    defaults = WorkingHours()
    return WorkingHours(
        timezone=_timezone(document.get("timezone", defaults.timezone), where),
        weekly=_weekly(document["weekly"], where) if "weekly" in document else defaults.weekly,
        exceptions=_exceptions(document.get("exceptions"), where),
        bot_mode=_bot_mode(document.get("bot_mode", defaults.bot_mode), where),
        agent_reply_timeout=(
            _timeout(document["agent_reply_timeout_minutes"], where)
            if "agent_reply_timeout_minutes" in document
            else defaults.agent_reply_timeout
        ),
    )


def _timezone(name: object, where: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise WorkingHoursError(
            f"{where}: `working_hours.timezone` {name!r} is not a known time zone (e.g. Europe/Berlin)"
        ) from None
    return name


def _bot_mode(mode: object, where: str) -> str:
    # YAML 1.1 reads an unquoted `off` as False.
    if mode is False:
        mode = "off"
    if mode not in BOT_MODES:
        raise WorkingHoursError(f"{where}: `working_hours.bot_mode` {mode!r} must be one of {', '.join(BOT_MODES)}")
    return mode


def _timeout(minutes: object, where: str) -> timedelta:
    if not isinstance(minutes, (int, float)) or isinstance(minutes, bool) or minutes < 0:
        raise WorkingHoursError(
            f"{where}: `working_hours.agent_reply_timeout_minutes` must be a number of 0 or more, not {minutes!r}"
        )
    return timedelta(minutes=minutes)


def _weekly(days: object, where: str) -> tuple[tuple[Interval, ...], ...]:
    if days is None:
        days = {}
    if not isinstance(days, dict):
        raise WorkingHoursError(f"{where}: `working_hours.weekly` must map weekdays to lists of intervals")
    unknown = sorted(str(day) for day in days if day not in WEEKDAYS)
    if unknown:
        raise WorkingHoursError(
            f"{where}: unknown weekdays in `working_hours.weekly`: {', '.join(unknown)}; use {', '.join(WEEKDAYS)}"
        )
    # A weekday left out is closed.
    return tuple(_intervals(days.get(day), f"working_hours.weekly.{day}", where) for day in WEEKDAYS)


def _exceptions(dates: object, where: str) -> dict[date, tuple[Interval, ...]]:
    if dates is None:
        return {}
    if not isinstance(dates, dict):
        raise WorkingHoursError(f"{where}: `working_hours.exceptions` must map dates to lists of intervals")
    exceptions = {}
    for key, intervals in dates.items():
        day = _date(key, where)
        exceptions[day] = _intervals(intervals, f"working_hours.exceptions.{day.isoformat()}", where)
    return exceptions


def _date(key: object, where: str) -> date:
    # Unquoted YAML dates arrive as date objects; quoted ones as ISO strings.
    if isinstance(key, date) and not isinstance(key, datetime):
        return key
    if isinstance(key, str):
        try:
            return date.fromisoformat(key)
        except ValueError:
            pass
    raise WorkingHoursError(
        f"{where}: `working_hours.exceptions` key '{key}' is not a date; write dates like 2026-12-25"
    )


def _intervals(entries: object, key: str, where: str) -> tuple[Interval, ...]:
    """A day's list of "HH:MM-HH:MM" strings, sorted by start; empty or missing means closed."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise WorkingHoursError(f'{where}: `{key}` must be a list of intervals like ["09:00-17:00"]')
    intervals = sorted(_interval(entry, key, where) for entry in entries)
    for earlier, later in zip(intervals, intervals[1:]):
        if later[0] < earlier[1]:
            raise WorkingHoursError(
                f"{where}: `{key}` has overlapping intervals {_format(earlier)} and {_format(later)}"
            )
    return tuple(intervals)


def _interval(entry: object, key: str, where: str) -> Interval:
    # YAML 1.1 reads an unquoted 9:00 as the number 540, hence the hint to quote.
    match = INTERVAL_PATTERN.fullmatch(entry) if isinstance(entry, str) else None
    if match is None:
        raise WorkingHoursError(
            f'{where}: `{key}` entry {entry!r} is not an interval like "09:00-17:00" (quote it in YAML)'
        )
    start_hour, start_minute, end_hour, end_minute = (int(number) for number in match.groups())
    if start_hour > 23 or start_minute > 59 or end_minute > 59 or end_hour > 24 or (end_hour == 24 and end_minute):
        raise WorkingHoursError(f"{where}: `{key}` entry {entry!r} has a time outside 00:00-24:00")
    start = timedelta(hours=start_hour, minutes=start_minute)
    end = timedelta(hours=end_hour, minutes=end_minute)
    if end <= start:
        raise WorkingHoursError(
            f"{where}: `{key}` entry {entry!r} must end after it starts; "
            f'split overnight hours at midnight ("22:00-24:00", then "00:00-02:00" the next day)'
        )
    return start, end


def _format(interval: Interval) -> str:
    return "-".join(_clock(since_midnight) for since_midnight in interval)


def format_intervals(intervals: tuple[Interval, ...]) -> list[str]:
    """Intervals as they are written in shop.yml: ["09:00-12:30", "13:30-17:00"]."""
    return [_format(interval) for interval in intervals]


def _clock(since_midnight: timedelta) -> str:
    hours, minutes = divmod(int(since_midnight.total_seconds()) // 60, 60)
    return f"{hours:02d}:{minutes:02d}"


def is_open(hours: WorkingHours, at: datetime) -> bool:
    """Whether an agent is on duty at `at` (timezone-aware, any zone); an interval's end is already closed."""
    instant = _as_utc(at)
    return any(start <= instant < end for start, end in _periods(hours, _yesterday(hours, at), days=3))


def next_opening(hours: WorkingHours, at: datetime) -> datetime | None:
    """The first moment at or after `at` that an agent is on duty, in the shop's zone.

    `at` itself when open now; None when closed for the next LOOKAHEAD_DAYS days.
    """
    instant = _as_utc(at)
    for start, end in _periods(hours, _yesterday(hours, at), days=LOOKAHEAD_DAYS + 2):
        if end > instant:
            return max(start, instant).astimezone(hours.zone)
    return None


def _as_utc(at: datetime) -> datetime:
    # A naive datetime would silently be read in the server's zone, not the shop's.
    if at.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, got {at!r}")
    return at.astimezone(timezone.utc)


def _yesterday(hours: WorkingHours, at: datetime) -> date:
    # Starting a day early catches late hours that a DST shift pushed past midnight.
    return at.astimezone(hours.zone).date() - timedelta(days=1)


def _periods(hours: WorkingHours, first_day: date, days: int) -> Iterator[tuple[datetime, datetime]]:
    """The open periods of `days` days from `first_day`, in order, as UTC instants."""
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        midnight = datetime.combine(day, time())
        for start, end in hours.intervals_on(day):
            yield _instant(midnight + start, hours.zone), _instant(midnight + end, hours.zone)


def _instant(wall_clock: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the clocks in `zone` show the naive `wall_clock`."""
    # fold=0 (the default): see the module docstring for what that means around DST.
    return wall_clock.replace(tzinfo=zone).astimezone(timezone.utc)


# describe_opening's words per language ("en" and "id", the marketplace's home language).
OPENING_WORDS = {
    "en": {"now": "now", "at": "at", "today": "today", "tomorrow": "tomorrow", "on": "on", "on_date": "on", "weekdays": WEEKDAYS, "months": MONTHS},
    "id": {
        "now": "sekarang", "at": "pukul", "today": "hari ini", "tomorrow": "besok", "on": "hari", "on_date": "tanggal",
        "weekdays": ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
        "months": (
            "Januari", "Februari", "Maret", "April", "Mei", "Juni",
            "Juli", "Agustus", "September", "Oktober", "November", "Desember",
        ),
    },
}


def describe_opening(opening: datetime, now: datetime, language: str | None = None) -> str:
    """When `opening` is, seen from `now`, in the opening's zone: "now", "today at 14:00",
    "tomorrow at 09:00", "on Monday at 09:00" (within 6 days) or "on 25 December at 09:00";
    in Indonesian for `language` "id" ("besok pukul 09:00")."""
    words = OPENING_WORDS.get(language or "en", OPENING_WORDS["en"])
    if _as_utc(opening) <= _as_utc(now):
        return words["now"]
    days_ahead = (opening.date() - now.astimezone(opening.tzinfo).date()).days
    at_time = f"{words['at']} {opening:%H:%M}"
    if days_ahead == 0:
        return f"{words['today']} {at_time}"
    if days_ahead == 1:
        return f"{words['tomorrow']} {at_time}"
    if days_ahead <= 6:
        return f"{words['on']} {words['weekdays'][opening.weekday()].capitalize()} {at_time}"
    return f"{words['on_date']} {opening.day} {words['months'][opening.month - 1]} {at_time}"


def bot_answers(hours: WorkingHours, at: datetime, waited: timedelta = timedelta(0)) -> bool:
    """Whether the bot answers a shopper at `at`, who has waited `waited` for an agent's reply.

    In outside_working_hours mode the bot answers when no agent is on duty, and
    also during working hours once the shopper has waited agent_reply_timeout.
    """
    if hours.bot_mode == "always_on":
        return True
    if hours.bot_mode == "off":
        return False
    return not is_open(hours, at) or waited >= hours.agent_reply_timeout
