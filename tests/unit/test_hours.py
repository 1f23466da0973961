"""Working hours and when the bot answers, at their edges."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.shop.hours import (
    WorkingHours,
    WorkingHoursError,
    bot_answers,
    describe_opening,
    is_open,
    next_opening,
    parse_working_hours,
)

BERLIN = ZoneInfo("Europe/Berlin")
JUST_BEFORE = timedelta(microseconds=1)

# November 2026: Monday the 23rd to Sunday the 29th; Berlin is on UTC+1.
SHOP_YAML = """
timezone: Europe/Berlin
bot_mode: outside_working_hours
agent_reply_timeout_minutes: 3
weekly:
  monday: ["09:00-17:00"]
  tuesday: ["09:00-12:30", "13:30-17:00"]
  wednesday: ["09:00-17:00"]
  thursday: ["09:00-24:00"]
  friday: ["09:00-24:00"]
  saturday: ["00:00-02:00", "10:00-14:00"]
  sunday: []
exceptions:
  2026-12-25: []                # Christmas, a Friday: closed
  2026-11-29: ["08:00-22:00"]   # campaign Sunday
"""


def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def hours_of(*pairs) -> tuple:
    """Intervals from (start, end) pairs in hours: hours_of((9, 12.5)) is 09:00-12:30."""
    return tuple((timedelta(hours=start), timedelta(hours=end)) for start, end in pairs)


def parse(text: str) -> WorkingHours:
    return parse_working_hours(yaml.safe_load(text), "shop.yml")


@pytest.fixture
def shop() -> WorkingHours:
    return parse(SHOP_YAML)


def test_parses_the_documented_shape(shop):
    assert shop.timezone == "Europe/Berlin"
    assert shop.zone == BERLIN
    assert shop.weekly[1] == hours_of((9, 12.5), (13.5, 17))
    assert shop.weekly[3] == hours_of((9, 24))
    assert shop.weekly[6] == ()
    assert shop.exceptions == {date(2026, 12, 25): (), date(2026, 11, 29): hours_of((8, 22))}
    assert shop.bot_mode == "outside_working_hours"
    assert shop.agent_reply_timeout == timedelta(minutes=3)


def test_a_missing_section_or_key_takes_the_defaults():
    defaults = parse_working_hours(None, "shop.yml")
    assert defaults == parse_working_hours({}, "shop.yml") == WorkingHours()
    assert defaults.timezone == "UTC"
    assert defaults.bot_mode == "outside_working_hours"
    assert defaults.agent_reply_timeout == timedelta(minutes=3)
    assert defaults.weekly == (hours_of((9, 17)),) * 5 + ((), ())


def test_a_weekday_left_out_is_closed():
    assert parse("weekly: {monday: ['09:00-17:00']}").weekly[1:] == ((),) * 6


def test_unquoted_off_is_the_off_mode():
    assert parse("bot_mode: off").bot_mode == "off"


def test_quoted_exception_dates_are_dates_too():
    assert parse("exceptions: {'2026-12-25': []}").exceptions == {date(2026, 12, 25): ()}


@pytest.mark.parametrize(
    "at, expected",
    [
        (berlin(2026, 11, 23, 9, 0), True),  # exactly at the start
        (berlin(2026, 11, 23, 9, 0) - JUST_BEFORE, False),
        (berlin(2026, 11, 23, 17, 0) - JUST_BEFORE, True),
        (berlin(2026, 11, 23, 17, 0), False),  # exactly at the end
        (berlin(2026, 11, 24, 12, 30), False),  # lunch break
        (berlin(2026, 11, 24, 13, 30), True),
        (berlin(2026, 11, 27, 0, 0) - JUST_BEFORE, True),  # Thursday until 24:00
        (berlin(2026, 11, 27, 0, 0), False),  # and Friday does not start at midnight
        (berlin(2026, 11, 28, 0, 0), True),  # Friday 24:00 runs on into Saturday 00:00
        (berlin(2026, 11, 28, 2, 0), False),
        (berlin(2026, 11, 22, 12, 0), False),  # an ordinary Sunday
        (berlin(2026, 11, 29, 8, 0) - JUST_BEFORE, False),  # the campaign Sunday
        (berlin(2026, 11, 29, 8, 0), True),
        (berlin(2026, 11, 29, 22, 0), False),
        (berlin(2026, 12, 24, 12, 0), True),
        (berlin(2026, 12, 25, 12, 0), False),  # Christmas, a Friday
    ],
)
def test_is_open_at_the_edges(shop, at, expected):
    assert is_open(shop, at) is expected


def test_the_same_instant_is_judged_in_each_shops_own_time_zone():
    instant = datetime(2026, 11, 23, 8, 30, tzinfo=timezone.utc)
    assert is_open(WorkingHours(timezone="Europe/Berlin"), instant)  # 09:30 in Berlin
    assert not is_open(WorkingHours(timezone="America/New_York"), instant)  # 03:30 in New York
    assert is_open(WorkingHours(timezone="Europe/Berlin"), instant.astimezone(ZoneInfo("Asia/Tokyo")))


def test_a_naive_time_is_refused_rather_than_read_in_the_servers_zone(shop):
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(shop, datetime(2026, 11, 23, 10, 0))


def test_next_opening_while_open_is_now_in_the_shops_zone(shop):
    at = datetime(2026, 11, 27, 22, 59, tzinfo=timezone.utc)  # Friday 23:59 in Berlin
    opening = next_opening(shop, at)
    assert opening == at
    assert opening.tzinfo is BERLIN


@pytest.mark.parametrize(
    "at, expected",
    [
        (berlin(2026, 11, 23, 17, 0), berlin(2026, 11, 24, 9, 0)),
        (berlin(2026, 11, 24, 12, 45), berlin(2026, 11, 24, 13, 30)),
        (berlin(2026, 11, 28, 2, 0), berlin(2026, 11, 28, 10, 0)),
        (berlin(2026, 11, 28, 14, 0), berlin(2026, 11, 29, 8, 0)),  # the campaign Sunday
    ],
)
def test_next_opening_when_closed(shop, at, expected):
    assert next_opening(shop, at) == expected


def test_next_opening_skips_a_holiday_and_the_weekend():
    hours = WorkingHours(timezone="Europe/Berlin", exceptions={date(2026, 12, 25): ()})
    assert next_opening(hours, berlin(2026, 12, 24, 17, 0)) == berlin(2026, 12, 28, 9, 0)


def test_next_opening_looks_ahead_at_most_366_days():
    never = WorkingHours(weekly=((),) * 7)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert next_opening(never, start) is None
    in_a_year = WorkingHours(weekly=((),) * 7, exceptions={date(2027, 1, 2): hours_of((9, 17))})
    assert next_opening(in_a_year, start) == datetime(2027, 1, 2, 9, 0, tzinfo=timezone.utc)
    beyond = WorkingHours(weekly=((),) * 7, exceptions={date(2027, 1, 3): hours_of((9, 17))})
    assert next_opening(beyond, start) is None


def test_a_time_skipped_by_spring_forward_moves_later_by_the_skip():
    # Berlin jumps from 02:00 to 03:00 on 29 March 2026, so 02:30 is read as 03:30 summer time.
    hours = WorkingHours(timezone="Europe/Berlin", exceptions={date(2026, 3, 29): hours_of((2.5, 5))})
    opening = next_opening(hours, berlin(2026, 3, 28, 20, 0))
    assert opening == datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc)
    assert (opening.hour, opening.minute, opening.utcoffset()) == (3, 30, timedelta(hours=2))
    assert not is_open(hours, opening - JUST_BEFORE)
    assert is_open(hours, opening)


def test_a_time_repeated_by_fall_back_means_its_first_occurrence():
    # Berlin goes back from 03:00 to 02:00 on 25 October 2026: 02:15 happens twice.
    hours = WorkingHours(timezone="Europe/Berlin", exceptions={date(2026, 10, 25): hours_of((0, 2.5))})
    first_0215 = datetime(2026, 10, 25, 0, 15, tzinfo=timezone.utc)
    second_0215 = datetime(2026, 10, 25, 1, 15, tzinfo=timezone.utc)
    assert first_0215.astimezone(BERLIN).strftime("%H:%M") == second_0215.astimezone(BERLIN).strftime("%H:%M")
    assert is_open(hours, first_0215)
    assert not is_open(hours, second_0215)
    assert next_opening(hours, second_0215) == berlin(2026, 10, 26, 9, 0)


NOW = berlin(2026, 11, 25, 10, 0)  # a Wednesday


@pytest.mark.parametrize(
    "opening, now, expected",
    [
        (NOW, NOW, "now"),
        (NOW - JUST_BEFORE, NOW, "now"),
        (berlin(2026, 11, 25, 14, 0), NOW, "today at 14:00"),
        (berlin(2026, 11, 26, 9, 0), NOW, "tomorrow at 09:00"),
        (berlin(2026, 11, 30, 9, 0), NOW, "on Monday at 09:00"),
        (berlin(2026, 12, 1, 9, 0), NOW, "on Tuesday at 09:00"),  # 6 days ahead
        (berlin(2026, 12, 2, 9, 0), NOW, "on 2 December at 09:00"),  # 7 days ahead
        (berlin(2026, 12, 25, 9, 0), NOW, "on 25 December at 09:00"),
        # 23:30 UTC on the 23rd is already the 24th in Berlin.
        (berlin(2026, 11, 24, 9, 0), datetime(2026, 11, 23, 23, 30, tzinfo=timezone.utc), "today at 09:00"),
    ],
)
def test_describe_opening(opening, now, expected):
    assert describe_opening(opening, now) == expected


@pytest.mark.parametrize(
    "opening, expected",
    [
        (berlin(2026, 11, 26, 9, 0), "besok pukul 09:00"),
        (berlin(2026, 11, 30, 9, 0), "hari Senin pukul 09:00"),
        (berlin(2026, 12, 25, 9, 0), "tanggal 25 Desember pukul 09:00"),
    ],
)
def test_describe_opening_in_indonesian(opening, expected):
    assert describe_opening(opening, NOW, "id") == expected


OPEN = berlin(2026, 11, 23, 10, 0)
CLOSED = berlin(2026, 11, 23, 20, 0)


@pytest.mark.parametrize(
    "mode, at, waited, expected",
    [
        ("always_on", OPEN, timedelta(0), True),
        ("always_on", CLOSED, timedelta(0), True),
        ("off", OPEN, timedelta(hours=1), False),
        ("off", CLOSED, timedelta(0), False),
        ("outside_working_hours", CLOSED, timedelta(0), True),
        ("outside_working_hours", OPEN, timedelta(0), False),
        ("outside_working_hours", OPEN, timedelta(minutes=3) - JUST_BEFORE, False),
        ("outside_working_hours", OPEN, timedelta(minutes=3), True),  # no agent replied in time
    ],
)
def test_bot_answers(mode, at, waited, expected):
    hours = WorkingHours(timezone="Europe/Berlin", bot_mode=mode)
    assert bot_answers(hours, at, waited) is expected


def test_bot_answers_at_once_with_a_zero_timeout():
    hours = parse("{timezone: Europe/Berlin, agent_reply_timeout_minutes: 0}")
    assert bot_answers(hours, OPEN)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[monday]", "`working_hours` must be a mapping"),
        ("{timzone: UTC}", "unknown keys in `working_hours`: timzone; known: timezone, bot_mode,"),
        ("timezone: Mars/Olympus", "`working_hours.timezone` 'Mars/Olympus' is not a known time zone"),
        ("timezone: 1", "`working_hours.timezone` 1 is not a known time zone"),
        ("bot_mode: sometimes", "`working_hours.bot_mode` 'sometimes' must be one of outside_working_hours, always_on, off"),
        ("bot_mode: on", "`working_hours.bot_mode` True must be one of"),  # YAML 1.1 reads `on` as True
        ("agent_reply_timeout_minutes: -1", "`working_hours.agent_reply_timeout_minutes` must be a number of 0 or more, not -1"),
        ("agent_reply_timeout_minutes: soon", "`working_hours.agent_reply_timeout_minutes` must be a number of 0 or more"),
        ("weekly: [monday]", "`working_hours.weekly` must map weekdays to lists of intervals"),
        ("weekly: {mon: [], Funday: []}", "unknown weekdays in `working_hours.weekly`: Funday, mon; use monday,"),
        ("weekly: {monday: '09:00-17:00'}", '`working_hours.weekly.monday` must be a list of intervals like ["09:00-17:00"]'),
        ("weekly: {monday: ['9 to 5']}", "`working_hours.weekly.monday` entry '9 to 5' is not an interval like \"09:00-17:00\""),
        ("weekly: {monday: [9:00]}", "entry 540 is not an interval like \"09:00-17:00\" (quote it in YAML)"),
        ("weekly: {monday: ['09:00-25:00']}", "`working_hours.weekly.monday` entry '09:00-25:00' has a time outside 00:00-24:00"),
        ("weekly: {monday: ['09:60-17:00']}", "entry '09:60-17:00' has a time outside 00:00-24:00"),
        ("weekly: {monday: ['24:00-24:00']}", "entry '24:00-24:00' has a time outside 00:00-24:00"),
        ("weekly: {monday: ['09:00-24:30']}", "entry '09:00-24:30' has a time outside 00:00-24:00"),
        ("weekly: {monday: ['22:00-02:00']}", "`working_hours.weekly.monday` entry '22:00-02:00' must end after it starts; split"),
        ("weekly: {monday: ['09:00-09:00']}", "entry '09:00-09:00' must end after it starts"),
        ("weekly: {friday: ['13:00-18:00', '09:00-13:30']}", "`working_hours.weekly.friday` has overlapping intervals"),
        ("exceptions: [2026-12-25]", "`working_hours.exceptions` must map dates to lists of intervals"),
        ("exceptions: {christmas: []}", "`working_hours.exceptions` key 'christmas' is not a date; write dates like 2026-12-25"),
        ("exceptions: {2026-12-25T10:00:00Z: []}", "`working_hours.exceptions` key '2026-12-25 10:00:00+00:00' is not a date"),
        ("exceptions: {2026-12-25: ['08:00-12:00', '11:00-14:00']}", "`working_hours.exceptions.2026-12-25` has overlapping"),
    ],
)
def test_parse_errors_name_the_file_and_the_key(text, message):
    with pytest.raises(WorkingHoursError) as raised:
        parse(text)
    assert message in str(raised.value)
    assert str(raised.value).startswith("shop.yml: ")


def test_overlapping_intervals_are_named_in_order():
    with pytest.raises(WorkingHoursError, match="overlapping intervals 09:00-13:30 and 13:00-18:00"):
        parse("weekly: {friday: ['13:00-18:00', '09:00-13:30']}")


def test_adjacent_intervals_do_not_overlap():
    assert len(parse("weekly: {monday: ['09:00-12:00', '12:00-17:00']}").weekly[0]) == 2
