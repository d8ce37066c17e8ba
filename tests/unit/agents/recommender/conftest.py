from __future__ import annotations

from datetime import date, datetime, time

import pytest

from agents.recommender.schemas import Interaction, ProductRecord

DAY0 = date(2026, 6, 1)


def at(day: int) -> datetime:
    return datetime.combine(date.fromordinal(DAY0.toordinal() + day), time(12))


def make_products() -> list[ProductRecord]:
    return [
        ProductRecord("A", "母婴", 100.0, 10, 20, "轻薄纸尿裤M码"),
        ProductRecord("B", "母婴", 50.0, 10, None, "婴儿湿巾"),
        ProductRecord("C", "母婴", 80.0, 0, None, "玻璃奶瓶"),  # out of stock
        ProductRecord("D", "零食", 30.0, 5, None, "每日坚果"),
        ProductRecord("E", "零食", 35.0, 5, None, "冻干果干"),
        ProductRecord("F", "家居", 2000.0, 5, None, "扫地机器人"),
        ProductRecord("G", "零食", 32.0, 5, None, "新品坚果礼盒"),  # nobody bought it yet
    ]


def make_log() -> list[Interaction]:
    rows = [
        ("c1", "A", 1), ("c1", "B", 1), ("c1", "D", 10),
        ("c2", "A", 2), ("c2", "B", 2), ("c2", "E", 5),
        ("c3", "A", 3), ("c3", "C", 3),
        ("c4", "B", 4), ("c4", "D", 4),
        ("c5", "D", 6), ("c5", "E", 6),
        ("c6", "D", 7), ("c6", "F", 7),
        ("u", "A", 20),
    ]  # fmt: skip
    return [Interaction(c, s, at(d)) for c, s, d in rows]


@pytest.fixture
def products() -> list[ProductRecord]:
    return make_products()


@pytest.fixture
def log() -> list[Interaction]:
    return make_log()
