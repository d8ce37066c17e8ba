from __future__ import annotations

from datetime import date

import pytest

from store import holidays
from store.errors import DateOutOfRange, InvalidInput

# The hand tables this module replaced (agents/forecaster/holidays.py to 2030, store/demo/calendar.py
# to 2032): the lunar calendar must give every one of them back.
FORMER_TABLE = {
    2020: date(2020, 1, 25),
    2021: date(2021, 2, 12),
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
    2031: date(2031, 1, 23),
    2032: date(2032, 2, 11),
}


def test_spring_festival_matches_the_former_tables() -> None:
    assert {year: holidays.spring_festival(year) for year in FORMER_TABLE} == FORMER_TABLE


@pytest.mark.parametrize(
    ("year", "day"),
    [
        (1901, date(1901, 2, 19)),  # the first year covered
        (1985, date(1985, 2, 20)),  # the latest a 春节 can fall
        (2033, date(2033, 1, 31)),
        (2040, date(2040, 2, 12)),
        (2045, date(2045, 2, 17)),
        (2050, date(2050, 1, 23)),
        (2099, date(2099, 1, 21)),  # the last year covered
    ],
)
def test_spring_festival_beyond_the_former_tables(year: int, day: date) -> None:
    assert holidays.spring_festival(year) == day


def test_every_spring_festival_falls_between_21_january_and_20_february() -> None:
    # `calendar` relies on this bound to decide which years' lunar dates a date range needs.
    days = [holidays.spring_festival(year) for year in range(holidays.FIRST_YEAR, holidays.LAST_YEAR + 1)]
    assert min((d.month, d.day) for d in days) == (1, 21)
    assert max((d.month, d.day) for d in days) == (2, 20)


@pytest.mark.parametrize("year", [1900, 2100, 2500])
def test_a_year_outside_the_calendar_is_refused_loudly(year: int) -> None:
    with pytest.raises(DateOutOfRange, match=f"1901–2099 年，无法推算 {year} 年的春节") as caught:
        holidays.spring_festival(year)
    assert caught.value.year == year
    assert caught.value.code == "date_out_of_range"
    assert caught.value.status == 400
    assert isinstance(caught.value, InvalidInput)


def test_calendar_needs_next_years_festival_only_when_its_windows_can_reach_the_range() -> None:
    # 春节 2100 is outside the calendar; its 年货 window could start on 30 December 2099.
    assert holidays.calendar(date(2099, 6, 1), date(2099, 12, 29))[-1].kind == "双12"
    with pytest.raises(DateOutOfRange):
        holidays.calendar(date(2099, 6, 1), date(2099, 12, 30))
    with pytest.raises(DateOutOfRange):
        holidays.event_kind(date(1900, 2, 1))
    assert holidays.event_kind(date(1900, 6, 18)) == "618当天"  # needs no lunar date


def test_calendar_windows() -> None:
    windows = holidays.calendar(date(2025, 11, 1), date(2025, 11, 30))
    assert [(w.kind, w.start, w.end) for w in windows] == [
        ("双11预热", date(2025, 11, 1), date(2025, 11, 9)),
        ("双11前夜", date(2025, 11, 10), date(2025, 11, 10)),
        ("双11当天", date(2025, 11, 11), date(2025, 11, 11)),
        ("双11后", date(2025, 11, 12), date(2025, 11, 13)),
    ]
    spring = holidays.calendar(date(2025, 1, 1), date(2025, 2, 28))
    assert [(w.kind, w.start, w.end) for w in spring] == [
        ("春节年货", date(2025, 1, 7), date(2025, 1, 25)),
        ("春节停运", date(2025, 1, 26), date(2025, 2, 4)),
        ("春节后", date(2025, 2, 5), date(2025, 2, 10)),
    ]


def test_spring_windows_past_the_former_tables() -> None:
    stop = [w for w in holidays.calendar(date(2030, 12, 1), date(2045, 3, 31)) if w.kind == "春节停运"]
    assert len(stop) == 15  # 2031 … 2045, none skipped
    assert (stop[0].start, stop[0].end) == (date(2031, 1, 20), date(2031, 1, 29))
    assert (stop[-1].start, stop[-1].end) == (date(2045, 2, 14), date(2045, 2, 23))
    # A 春节 in late January puts its 年货 window into the December before.
    assert holidays.event_kind(date(2032, 12, 31)) is None
    assert holidays.event_kind(date(2060, 12, 30)) == "春节年货"  # 春节 2061 is 21 January


def test_event_kind() -> None:
    assert holidays.event_kind(date(2031, 6, 18)) == "618当天"
    assert holidays.event_kind(date(2031, 6, 21)) is None
    assert holidays.event_kind(date(2045, 2, 17)) == "春节停运"
    assert holidays.event_kind(date(2045, 3, 1)) == "春节后"
    assert holidays.event_kind(date(2045, 3, 2)) is None
    assert set(holidays.EVENT_KINDS) == {
        *(k for k, *_ in holidays.SPRING_WINDOWS),
        *(k for k, *_ in holidays.FIXED_WINDOWS),
    }
