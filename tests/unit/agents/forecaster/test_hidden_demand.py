"""Hidden demand: stock questions in chats on stockout days raise the censored history."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from agents.forecaster import hidden_demand as hd
from agents.forecaster.panel import SalesPanel, densify
from agents.forecaster.schemas import SalesRow

START = date(2025, 11, 1)
TITLES = {"ST-771": "清居 316不锈钢保温杯 500ml", "MB-101": "小鹿贝贝 轻薄透气纸尿裤 M码 64片"}


def _panel() -> SalesPanel:
    rows = []
    for i in range(30):
        day = START + timedelta(days=i)
        out = i >= 25  # ST-771 sold out for the last five days
        rows.append(SalesRow("ST-771", day, 0.0 if out else 2.0, on_hand=0 if out else 10))
        rows.append(SalesRow("MB-101", day, 1.0, on_hand=5))
    return densify(rows)


def test_stock_questions() -> None:
    for text in (
        "保温杯有货吗",
        "ST771什么时候到货呀",
        "保温杯 还有吗",
        "补货了吗？保温杯",
        "请问啥时候有货",
    ):
        assert hd.is_stock_question(text), text
    for text in ("保温杯多少钱", "发什么快递", "纸尿裤好用吗"):
        assert not hd.is_stock_question(text), text


def test_match_by_code_then_title() -> None:
    assert hd.match_skus("st-771 有货吗", TITLES) == ["ST-771"]
    assert hd.match_skus("那个保温杯有货吗", TITLES) == ["ST-771"]
    assert hd.match_skus("纸尿裤还有吗", TITLES) == ["MB-101"]
    assert hd.match_skus("有货吗", TITLES) == []


def test_asks_on_stockout_days_count_distinct_customers() -> None:
    panel = _panel()
    day = START + timedelta(days=26)
    asks = [
        hd.Ask(1, day, "保温杯有货吗"),
        hd.Ask(1, day, "保温杯什么时候到货"),  # same customer, same day: one signal
        hd.Ask(2, day, "ST-771 还有吗"),
        hd.Ask(3, START + timedelta(days=3), "保温杯有货吗"),  # in stock that day: not hidden demand
        hd.Ask(4, day, "纸尿裤有货吗"),  # MB-101 was never out
        hd.Ask(5, day, "保温杯多少钱"),  # not a stock question
    ]
    counts = hd.signals(asks, TITLES, hd.censored_days(panel))
    assert counts == {("ST-771", day): 2}


def test_correct_raises_the_censored_days_with_asks_only() -> None:
    panel = _panel()
    day = START + timedelta(days=26)
    report = hd.correct(panel, {("ST-771", day): 2, ("ST-771", START + timedelta(days=2)): 4})
    row, col = panel.skus.index("ST-771"), panel.day_index(day)
    assert report.panel.qty[row, col] == 2.0 + 2  # baseline (2 a day in stock) + two askers
    assert not report.panel.censored[row, col]
    assert report.added_units == 2.0 and report.signals == {("ST-771", day): 2}  # in-stock day ignored
    others = [c for c in range(25, 30) if c != col]
    assert report.panel.censored[row, others].all()  # days without asks stay censored
    assert np.array_equal(panel.qty[row], _panel().qty[row])  # the input is not mutated


def test_cap_per_day() -> None:
    panel = _panel()
    day = START + timedelta(days=27)
    report = hd.correct(panel, {("ST-771", day): 40}, cap=5)
    assert report.panel.qty[panel.skus.index("ST-771"), panel.day_index(day)] == 2.0 + 5


def test_mark_stockouts_after_the_last_sale() -> None:
    rows = [SalesRow("A", START + timedelta(days=i), 1.0 if i < 20 else 0.0) for i in range(30)]
    rows += [SalesRow("B", START + timedelta(days=i), 1.0) for i in range(30)]
    marked = hd.mark_stockouts(densify(rows), ["A", "missing"])
    a = marked.skus.index("A")
    assert marked.censored[a, 20:].all() and not marked.censored[a, :20].any()
    assert not marked.censored[marked.skus.index("B")].any()
