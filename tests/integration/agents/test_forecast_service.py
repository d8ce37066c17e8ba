"""The forecaster against a real database: the demo shop's orders → forecasts and restock
suggestions; hidden demand from chats; the all-or-nothing sales import."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, select

from agents.forecaster import service
from agents.forecaster.errors import SalesCsvInvalid
from agents.runtime import Runtime
from store.demo import load_demo
from store.errors import NotFound
from store.models import Customer, Forecast, Order, OrderItem, Product, RestockSuggestion
from store.repositories.sales import CST, SalesRepository

pytestmark = pytest.mark.integration

END = date(2025, 11, 30)
SOLD_OUT = "MB-104"  # 小鹿贝贝 新生儿纸尿裤, stock 0 in the demo catalog


@pytest.fixture
def demo(runtime: Runtime, tmp_path: Path) -> int:
    return load_demo(runtime.sessions, end_date=END, keys_path=tmp_path / "keys.json", customers=200).shop_id


def test_run_writes_forecasts_and_suggestions_for_every_sku(runtime: Runtime, demo: int) -> None:
    with pytest.raises(NotFound, match="还没有销量预测结果"):
        service.suggestions(runtime, demo)
    summary = service.run_forecast(runtime, demo, run_id="run-1")
    assert summary["source"] == "orders" and summary["start"] == "2025-12-01"
    with runtime.sessions() as s:
        products = s.scalars(select(Product.sku).where(Product.shop_id == demo)).all()
        forecasts = s.scalars(select(Forecast).where(Forecast.shop_id == demo)).all()
        rows = s.scalars(select(RestockSuggestion).where(RestockSuggestion.shop_id == demo)).all()
    assert summary["skus"] == len(forecasts) > 0
    assert {r.sku for r in rows} == {f.sku for f in forecasts} & set(products)
    for f in forecasts:
        assert f.run_id == "run-1" and f.horizon_days == 28 and len(f.payload["mean"]) == 28
        assert min(f.payload["lo95"]) >= 0 and all(
            lo <= m <= hi
            for lo, m, hi in zip(f.payload["lo80"], f.payload["mean"], f.payload["hi80"], strict=True)
        )
    view = service.forecast_view(runtime, demo, "MB-101")
    assert view.dates[0] == date(2025, 12, 1) and len(view.dates) == len(view.mean) == len(view.bands["hi95"])
    assert view.history_dates[-1] == END and len(view.history) == len(view.history_dates)
    assert view.model and view.demand_class in ("smooth", "erratic", "intermittent", "lumpy", "inactive")
    with pytest.raises(NotFound, match="没有预测结果"):
        service.forecast_view(runtime, demo, "NO-SUCH")

    plain = service.suggestions(runtime, demo, horizon_days=14)
    priorities = [a.priority for a in plain.items]
    assert priorities == sorted(priorities), "most urgent first"
    assert all(a.explanation for a in plain.items)
    needed = [a for a in plain.items if a.order_qty > 0]
    assert needed and all(a.order_qty % a.case_pack == 0 and a.order_qty >= a.moq for a in needed)
    budget = Decimal("3000")
    funded = service.suggestions(runtime, demo, horizon_days=14, budget=budget)
    assert funded.budget is not None and funded.budget.spent <= budget
    assert funded.budget.spent == sum((line.cost for line in funded.budget.lines), Decimal("0"))
    # a longer review period never orders less
    longer = {a.sku: a.order_qty for a in service.suggestions(runtime, demo, horizon_days=28).items}
    assert all(longer[a.sku] >= a.order_qty for a in plain.items)

    service.run_forecast(runtime, demo, run_id="run-2")
    assert service.suggestions(runtime, demo).run_id == "run-2"


def _sold_out_recently(runtime: Runtime, shop_id: int) -> None:
    """The SKU is out of stock and has not sold in its last 14 days (its orders' lines removed)."""
    since = datetime.combine(END - timedelta(days=13), time(), CST)
    with runtime.sessions() as s:
        recent = select(Order.id).where(Order.shop_id == shop_id, Order.created_at >= since)
        s.execute(delete(OrderItem).where(OrderItem.sku == SOLD_OUT, OrderItem.order_id.in_(recent)))
        s.commit()


def _ask(runtime: Runtime, shop_id: int, n_customers: int, days: list[date]) -> None:
    with runtime.sessions() as s:
        customers = s.scalars(select(Customer.id).where(Customer.shop_id == shop_id).limit(n_customers)).all()
        repo = SalesRepository(s)
        for day in days:
            for i, customer in enumerate(customers):
                at = datetime.combine(day, time(10 + i % 8), CST)
                repo.add_customer_message(shop_id, customer, "新生儿纸尿裤有货吗？什么时候到货", at)
            repo.add_customer_message(shop_id, customers[0], "纸尿裤多少钱一包", at)  # not a stock ask
        s.commit()


def test_chats_about_a_sold_out_sku_raise_its_corrected_history(runtime: Runtime, demo: int) -> None:
    _sold_out_recently(runtime, demo)
    with runtime.sessions() as s:
        before = service.load_history(s, demo)
    row = before.panel.skus.index(SOLD_OUT)
    stockout = before.panel.censored[row]
    assert stockout[-14:].all(), "the days after the last sale of a sold-out SKU are censored"
    assert not before.signals and before.added_units == 0

    ask_days = [END - timedelta(days=2), END - timedelta(days=1), END]
    _ask(runtime, demo, 3, ask_days)
    with runtime.sessions() as s:
        after = service.load_history(s, demo)
    assert after.signals == {(SOLD_OUT, d): 3 for d in ask_days}
    assert after.added_units == 9
    cols = [after.panel.day_index(d) for d in ask_days]
    assert not after.panel.censored[row, cols].any()
    corrected_before = np.nansum(np.where(before.panel.censored[row], 0.0, before.panel.qty[row]))
    corrected_after = np.nansum(np.where(after.panel.censored[row], 0.0, after.panel.qty[row]))
    assert corrected_after >= corrected_before + 9
    # other SKUs are untouched
    other = after.panel.skus.index("MB-101")
    assert np.array_equal(np.nan_to_num(after.panel.qty[other]), np.nan_to_num(before.panel.qty[other]))

    summary = service.run_forecast(runtime, demo, run_id="with-chats")
    assert summary["hidden_demand_days"] == 3 and summary["hidden_demand_units"] == 9
    view = service.forecast_view(runtime, demo, SOLD_OUT)
    assert view.stockout[-1] is True and view.corrected[-1] is not None and view.corrected[-1] >= 3


CSV_OK = "sku,date,qty,on_hand\nA-1,2025-11-01,3,10\nA-1,2025-11-02,0,0\nB-2,2025-11-01,1,\n"


def test_import_is_all_or_nothing_and_upserts(runtime: Runtime, demo: int) -> None:
    bad = CSV_OK + "B-2,2025-11-31,1,\nB-2,2025-11-03,-1,\n"
    with pytest.raises(SalesCsvInvalid) as err:
        service.import_sales(runtime, demo, bad.encode(), "sales.csv")
    assert "sales.csv" in err.value.detail and "第 5 行" in err.value.detail and "'date'" in err.value.detail
    with runtime.sessions() as s:
        assert SalesRepository(s).count_records(demo) == 0

    first = service.import_sales(runtime, demo, CSV_OK.encode("gbk"), "销售.csv")
    assert (first.rows, first.inserted, first.updated, first.skus) == (3, 3, 0, 2)
    again = service.import_sales(runtime, demo, b"\xef\xbb\xbfsku,date,qty\nA-1,2025-11-02,5\n", "fix.csv")
    assert (again.inserted, again.updated) == (0, 1)
    with runtime.sessions() as s:
        records = SalesRepository(s).records(demo)
        history = service.load_history(s, demo)
    assert [(r.sku, r.day.day, r.qty) for r in records] == [("A-1", 1, 3.0), ("A-1", 2, 5.0), ("B-2", 1, 1.0)]
    assert history.source == "import" and history.panel.skus == ["A-1", "B-2"]


def test_imported_stockout_days_take_chat_signals_too(runtime: Runtime, demo: int) -> None:
    lines = ["sku,date,qty,on_hand"]
    for day in range(1, 31):
        out = day > 27
        lines.append(f"ST-771,2025-11-{day:02d},{0 if out else 2},{0 if out else 30}")
    service.import_sales(runtime, demo, "\n".join(lines).encode(), "cups.csv")
    _ask_about(runtime, demo, "保温杯什么时候补货呀", END)
    with runtime.sessions() as s:
        history = service.load_history(s, demo)
    assert history.source == "import" and history.signals == {("ST-771", END): 2}
    row, col = history.panel.skus.index("ST-771"), history.panel.day_index(END)
    assert history.panel.qty[row, col] == 2.0 + 2  # 2 a day when in stock, plus two askers
    assert history.panel.censored[row, col - 2 : col].all()  # no asks on those days


def _ask_about(runtime: Runtime, shop_id: int, text: str, day: date) -> None:
    with runtime.sessions() as s:
        customers = s.scalars(select(Customer.id).where(Customer.shop_id == shop_id).limit(2)).all()
        for customer in customers:
            SalesRepository(s).add_customer_message(
                shop_id, customer, text, datetime.combine(day, time(20), CST)
            )
        s.commit()


def test_nightly_respects_the_shop_setting(runtime: Runtime, demo: int) -> None:
    from store.repositories.shops import ShopRepository

    assert demo in service.nightly_shop_ids(runtime)
    with runtime.sessions() as s:
        ShopRepository(s).update_settings(demo, {"forecast": {"nightly_run": False}})
        s.commit()
    assert demo not in service.nightly_shop_ids(runtime)
