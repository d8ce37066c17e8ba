"""The retail calendar of a Chinese private-domain shop, as demand multipliers (pure functions).

Weekends sell more; 618 and 双11 spike; the weeks before 春节 are a 年货 peak for food and gifts,
then couriers stop and orders almost vanish for about ten days; seasonal goods sell in season.
"""

from __future__ import annotations

from datetime import date, timedelta

from store.holidays import event_kind, spring_festival

# Monday..Sunday: private-domain shoppers order on weekend evenings.
WEEKDAY_FACTOR = (0.88, 0.9, 0.94, 0.98, 1.08, 1.3, 1.25)

# The calendar's windows (store.holidays) as demand multipliers.
_PROMO_FACTOR = {
    "618预热": 1.35,
    "618前夕": 2.0,
    "618当天": 3.2,
    "618后": 0.8,  # the hangover after the peak
    "双11预热": 1.4,
    "双11前夜": 2.2,
    "双11当天": 4.0,
    "双11后": 0.75,
    "双12": 1.8,
}
_SPRING_FACTOR = {"春节停运": 0.22, "春节后": 0.8}  # couriers stop; only a few pre-orders

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


def spring_festival_offset(day: date) -> int | None:
    """Days from the nearest 春节 (negative before), or None if more than 40 days away."""
    for year in (day.year, day.year + 1):
        offset = (day - spring_festival(year)).days
        if -40 <= offset <= 40:
            return offset
    return None


def promo_factor(day: date) -> float:
    """618, 双11 and 双12: a warm-up, then the peak on the day itself."""
    kind = event_kind(day)
    return _PROMO_FACTOR.get(kind, 1.0) if kind else 1.0


def is_promo_day(day: date) -> bool:
    return promo_factor(day) > 1.0


def spring_festival_factor(day: date, category: str | None = None) -> float:
    kind = event_kind(day)
    if kind == "春节年货":
        return 1.6 if category in NEW_YEAR_GOODS_CATEGORIES else 1.1
    return _SPRING_FACTOR.get(kind, 1.0) if kind else 1.0


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
