"""The retail calendar, the one source of holiday dates for the forecaster and the demo shop (pure).

春节 (the first day of the lunar year) comes from the lunar calendar (`lunar-python`), for every
year from 1901 to 2099; a year outside that range raises `DateOutOfRange` rather than being
skipped. 618, 双11 and 双12 are fixed solar dates. Each holiday is cut into windows of one kind
(a warm-up, the day itself, the hangover), which is what a demand multiplier attaches to.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, timedelta

from store.errors import DateOutOfRange

FIRST_YEAR, LAST_YEAR = 1901, 2099

# (kind, first offset, last offset) around 春节: 年货 stock-up, couriers stop, slow restart.
SPRING_WINDOWS: tuple[tuple[str, int, int], ...] = (
    ("春节年货", -22, -4),
    ("春节停运", -3, 6),
    ("春节后", 7, 12),
)
# (kind, month, first day, last day) of the fixed-date shopping festivals.
FIXED_WINDOWS: tuple[tuple[str, int, int, int], ...] = (
    ("618预热", 6, 1, 15),
    ("618前夕", 6, 16, 17),
    ("618当天", 6, 18, 18),
    ("618后", 6, 19, 20),
    ("双11预热", 11, 1, 9),
    ("双11前夜", 11, 10, 10),
    ("双11当天", 11, 11, 11),
    ("双11后", 11, 12, 13),
    ("双12", 12, 12, 12),
)
EVENT_KINDS: tuple[str, ...] = tuple(k for k, *_ in SPRING_WINDOWS) + tuple(k for k, *_ in FIXED_WINDOWS)

# 春节 always falls between 21 January and 20 February, so a year's 春节 windows lie within these
# bounds; a date range only needs the lunar calendar of the years whose windows can reach it.
_SPRING_EARLIEST = (1, 21)
_SPRING_LATEST = (2, 20)
_SPRING_LO = min(lo for _, lo, _ in SPRING_WINDOWS)
_SPRING_HI = max(hi for _, _, hi in SPRING_WINDOWS)


@dataclass(frozen=True)
class EventWindow:
    kind: str  # e.g. "双11当天"
    start: date
    end: date  # inclusive

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


@functools.cache
def spring_festival(year: int) -> date:
    """春节 of `year`; `DateOutOfRange` outside 1901–2099."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise DateOutOfRange(year, FIRST_YEAR, LAST_YEAR)
    # Imported here: loading the lunar tables costs more than most callers ever need.
    from lunar_python import Lunar

    solar = Lunar.fromYmd(year, 1, 1).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def _spring_years(start: date, end: date) -> range:
    """The years whose 春节 windows can overlap [start, end]."""
    first = (
        start.year
        if start <= date(start.year, *_SPRING_LATEST) + timedelta(days=_SPRING_HI)
        else start.year + 1
    )
    last = (
        end.year + 1
        if end >= date(end.year + 1, *_SPRING_EARLIEST) + timedelta(days=_SPRING_LO)
        else end.year
    )
    return range(first, last + 1)


def calendar(start: date, end: date) -> list[EventWindow]:
    """Every event window overlapping [start, end], in date order."""
    out: list[EventWindow] = []
    for year in _spring_years(start, end):
        day0 = spring_festival(year)
        for kind, lo, hi in SPRING_WINDOWS:
            out.append(EventWindow(kind, day0 + timedelta(days=lo), day0 + timedelta(days=hi)))
    for year in range(start.year, end.year + 1):
        for kind, month, first, last in FIXED_WINDOWS:
            out.append(EventWindow(kind, date(year, month, first), date(year, month, last)))
    return sorted((w for w in out if w.end >= start and w.start <= end), key=lambda w: w.start)


@functools.cache
def event_kind(day: date) -> str | None:
    """The kind of the window `day` falls in (windows never overlap), or None on an ordinary day."""
    windows = calendar(day, day)
    return windows[0].kind if windows else None
