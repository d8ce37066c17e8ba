"""The `copy_calendar` job end to end against the database: stock cover from real order lines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from agents.copywriter import tasks
from agents.jobs import read_job, run_job, submit_job
from agents.runtime import Runtime
from store.models import Customer, JobStatus, Order, OrderItem, Product
from tests.conftest import ShopKeys

pytestmark = pytest.mark.integration

AS_OF = date(2026, 11, 20)


def _seed(runtime: Runtime, shop_id: int) -> None:
    with runtime.sessions() as s:
        stock = {"HOT-1": 10, "SLOW-1": 500, "MID-1": 120}
        products = {
            sku: Product(
                shop_id=shop_id,
                sku=sku,
                title=f"商品{sku}",
                category="家居日用",
                price=Decimal("50"),
                floor_price=Decimal("40"),
                stock=qty,
            )
            for sku, qty in stock.items()
        }
        s.add_all(products.values())
        customer = Customer(shop_id=shop_id, customer_ref="C1")
        s.add(customer)
        s.flush()

        def order(no: str, when: datetime, sku: str, qty: int, status: str = "completed") -> None:
            o = Order(
                shop_id=shop_id,
                order_no=no,
                customer_id=customer.id,
                status=status,
                total_amount=Decimal("50") * qty,
                created_at=when,
            )
            s.add(o)
            s.flush()
            s.add(
                OrderItem(
                    shop_id=shop_id,
                    order_id=o.id,
                    product_id=products[sku].id,
                    sku=sku,
                    qty=qty,
                    unit_price=Decimal("50"),
                )
            )

        noon = datetime(2026, 11, 20, 12, tzinfo=UTC)
        order("O1", noon, "HOT-1", 56)  # 2/day over 28 days: 5 days of cover → never promoted
        order("O2", noon - timedelta(days=27), "MID-1", 56)  # first day of the window: counted
        order("O3", noon - timedelta(days=40), "MID-1", 900)  # before the window: ignored
        order("O4", noon - timedelta(days=1), "MID-1", 500, status="cancelled")  # not demand
        order("O5", noon - timedelta(days=3), "SLOW-1", 28)  # 1/day: 500 days → overstocked
        order("O6", noon + timedelta(days=2), "SLOW-1", 900)  # after as_of: ignored
        s.commit()


def test_calendar_job_counts_the_window_and_holds_back_low_cover(runtime: Runtime, shop_a: ShopKeys) -> None:
    _seed(runtime, shop_a.shop_id)
    sent: list[tuple[str, str, int]] = []
    params = {
        "start_date": "2026-11-23",
        "days": 10,
        "per_day": 2,
        "promo_ratio_max": 0.3,
        "skus": None,
        "as_of": AS_OF.isoformat(),
    }
    job = submit_job(
        runtime, lambda *a: sent.append(a), shop_id=shop_a.shop_id, kind=tasks.KIND, params=params
    )
    assert sent == [(tasks.KIND, job.job_id, shop_a.shop_id)]
    assert run_job(runtime, job.job_id, shop_a.shop_id) is JobStatus.succeeded
    result = read_job(runtime, shop_a.shop_id, job.job_id).result
    assert result is not None
    assert result["as_of"] == "2026-11-20" and result["promo_ratio"] == 0.3
    items = result["items"]
    assert len(items) == 20 and sum(i["kind"] == "促销" for i in items) == 6
    assert {i["sku"] for i in items if i["kind"] == "促销"} == {"SLOW-1"}  # overstocked first
    assert {i["sku"] for i in items if i["kind"] == "种草"} == {"SLOW-1", "MID-1"}
    assert "HOT-1" not in {i["sku"] for i in items}
    assert result["held_back"] == [
        {
            "sku": "HOT-1",
            "title": "商品HOT-1",
            "cover_days": 5.0,
            "reason": "库存仅够卖 5.0 天 (< 7)，不做促销和种草",
        }
    ]
    covers = {i["sku"]: i["cover_days"] for i in items if i["sku"]}
    assert covers == {"SLOW-1": 500.0, "MID-1": 60.0}  # 120 / (56 / 28)


def test_unknown_sku_fails_the_job_with_a_reason(runtime: Runtime, shop_a: ShopKeys) -> None:
    params = {"start_date": "2026-11-23", "days": 3, "skus": ["NOPE"], "as_of": AS_OF.isoformat()}
    job = submit_job(runtime, lambda *a: None, shop_id=shop_a.shop_id, kind=tasks.KIND, params=params)
    assert run_job(runtime, job.job_id, shop_a.shop_id) is JobStatus.failed
    view = read_job(runtime, shop_a.shop_id, job.job_id)
    assert view.error is not None and "NOPE" in view.error
