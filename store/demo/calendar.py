"""The retail calendar of a Chinese private-domain shop, as demand multipliers (pure functions).

Weekends sell more; 618 and 双11 spike; the weeks before 春节 are a 年货 peak for food and gifts,
then couriers stop and orders almost vanish for about ten days; seasonal goods sell in season.
"""

from __future__ import annotations

from datetime import date, timedelta

# 春节 (first day of the lunar year). Extend when the demo needs later years.
SPRING_FESTIVAL = {
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

# Monday..Sunday: private-domain shoppers order on weekend evenings.
WEEKDAY_FACTOR = (0.88, 0.9, 0.94, 0.98, 1.08, 1.3, 1.25)

# Gifts and 年货 before 春节.
NEW_YEAR_GOODS_CATEGORIES = frozenset({"食品生鲜", "健康养生"})

# SKU -> (months in season, factor outside the season). Fruit has no stock out of season.
SEASONAL_SKUS: dict[str, tuple[frozenset[int], float]] = {
    "SX-302": (frozenset({11, 12, 1, 2}), 0.0),  # 赣南脐橙
    "SX-303": (frozenset({4, 5, 6, 7, 8}), 0.0),  # 贵妃芒
    "SX-301": (frozenset({10, 11, 12, 1, 2, 3}), 0.5),  # 苹果: 新果季
    "MZ-205": (frozenset({4, 5, 6, 7, 8, 9}), 0.2),  # 防晒乳
    "FS-521": (frozenset({5, 6, 7, 8}), 0.05),  # 冰丝袖套
    "FS-522": (frozenset({4, 5, 6, 7, 8}), 0.1),  # 渔夫帽
    "FS-511": (frozenset({10, 11, 12, 1}), 0.05),  # 羽绒服
    "FS-512": (frozenset({9, 10, 11, 12, 1, 2}), 0.1),  # 摇粒绒
    "JJ-441": (frozenset({5, 6, 7}), 0.2),  # 除湿袋: 梅雨季
    "JK-622": (frozenset({12, 1, 2}), 0.3),  # 阿胶糕: 冬补、年礼
    "SP-362": (frozenset({10, 11, 12, 1, 2, 3}), 0.3),  # 红糖姜茶
}


def spring_festival(year: int) -> date:
    try:
        return SPRING_FESTIVAL[year]
    except KeyError:
        raise ValueError(f"no 春节 date for {year!r}; add it to SPRING_FESTIVAL") from None


def spring_festival_offset(day: date) -> int | None:
    """Days from the nearest 春节 (negative before), or None if more than 40 days away."""
    for year in (day.year, day.year + 1):
        offset = (day - spring_festival(year)).days
        if -40 <= offset <= 40:
            return offset
    return None


def promo_factor(day: date) -> float:
    """618, 双11 and 双12: a warm-up, then the peak on the day itself."""
    m, d = day.month, day.day
    if m == 6:
        if d == 18:
            return 3.2
        if 16 <= d <= 17:
            return 2.0
        if 1 <= d <= 15:
            return 1.35
        if d in (19, 20):
            return 0.8  # the hangover after the peak
    if m == 11:
        if d == 11:
            return 4.0
        if d == 10:
            return 2.2
        if 1 <= d <= 9:
            return 1.4
        if d in (12, 13):
            return 0.75
    if m == 12 and d == 12:
        return 1.8
    return 1.0


def is_promo_day(day: date) -> bool:
    return promo_factor(day) > 1.0


def spring_festival_factor(day: date, category: str | None = None) -> float:
    offset = spring_festival_offset(day)
    if offset is None:
        return 1.0
    if -3 <= offset <= 6:
        return 0.22  # couriers stop; only a few pre-orders
    if -22 <= offset <= -4:
        return 1.6 if category in NEW_YEAR_GOODS_CATEGORIES else 1.1
    if 7 <= offset <= 12:
        return 0.8
    return 1.0


def season_factor(sku: str, day: date) -> float:
    season = SEASONAL_SKUS.get(sku)
    if season is None:
        return 1.0
    months, off = season
    return 1.0 if day.month in months else off


def day_factor(day: date, category: str | None = None) -> float:
    """How busy a day is relative to an ordinary Thursday."""
    return WEEKDAY_FACTOR[day.weekday()] * promo_factor(day) * spring_festival_factor(day, category)


def days(start: date, end: date) -> list[date]:
    """Every day from start to end inclusive."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
