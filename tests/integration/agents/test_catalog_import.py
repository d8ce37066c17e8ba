"""The product import against a real database: one transaction (a failure half-way writes
nothing), an idempotent re-import that touches nothing, and an indexing failure after the commit
that keeps the catalog and says so."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from agents.knowledge import catalog_import
from agents.knowledge.service import SyncReport
from agents.runtime import Runtime
from store.models import Product
from store.repositories.catalog import ProductRepository
from tests.conftest import ShopKeys

pytestmark = pytest.mark.integration

FILE = (
    "sku,title,category,price,stock,variant,variant_sku\n"
    "CI-1,清居 玻璃杯,家居日用,25,7,透明,TM\n"
    "CI-1,,,25,,,\n"
    "CI-2,清居 茶盘,家居日用,59,3,,\n"
)


def _products(rt: Runtime, shop_id: int) -> dict[str, Product]:
    with rt.sessions() as s:
        return {p.sku: p for p in ProductRepository(s).list(shop_id, active_only=False)}


def _no_index(calls: list[int]) -> Any:
    def sync(runtime: Runtime, shop_id: int, **_: object) -> SyncReport:
        calls.append(shop_id)
        return SyncReport(products=0, indexed=0, unchanged=0, removed=0, seconds=0.0)

    return sync


def test_a_failure_half_way_writes_nothing(
    runtime: Runtime, shop_a: ShopKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(catalog_import, "sync_products", _no_index(calls))
    original = ProductRepository.create

    def create_then_fail(self: ProductRepository, shop_id: int, sku: str, values: Any) -> Product:
        if sku == "CI-2":
            raise RuntimeError("disk full")
        return original(self, shop_id, sku, values)

    monkeypatch.setattr(ProductRepository, "create", create_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        catalog_import.import_products(runtime, shop_a.shop_id, "p.csv", FILE.encode())
    assert _products(runtime, shop_a.shop_id) == {} and calls == []


def test_reimport_is_idempotent_and_variants_sum_into_stock(
    runtime: Runtime, shop_a: ShopKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(catalog_import, "sync_products", _no_index(calls))
    first = catalog_import.import_products(runtime, shop_a.shop_id, "p.csv", FILE.encode())
    assert (first.created, first.updated, first.unchanged, len(calls)) == (2, 0, 0, 1)
    cup = _products(runtime, shop_a.shop_id)["CI-1"]
    assert (cup.price, cup.floor_price, cup.stock) == (Decimal("25.00"), Decimal("25.00"), 7)
    assert cup.variants == [{"name": "透明", "sku_suffix": "TM", "price": "25.00", "stock": 7}]

    again = catalog_import.import_products(runtime, shop_a.shop_id, "p.csv", FILE.encode())
    assert (again.created, again.updated, again.unchanged, again.index, len(calls)) == (0, 0, 2, None, 1)


def test_an_index_failure_after_the_commit_keeps_the_catalog_and_says_so(
    runtime: Runtime, shop_a: ShopKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(runtime: Runtime, shop_id: int, **_: object) -> SyncReport:
        raise RuntimeError("chroma down")

    monkeypatch.setattr(catalog_import, "sync_products", broken)
    report = catalog_import.import_products(runtime, shop_a.shop_id, "p.csv", FILE.encode())
    assert report.created == 2 and report.index is None
    assert report.index_error is not None and "sync-products" in report.index_error
    assert "chroma down" in report.index_error
    assert set(_products(runtime, shop_a.shop_id)) == {"CI-1", "CI-2"}
