"""Product import: a merchant's CSV, XLSX or JSON file → the shop's catalog → its product cards.

    parse + validate the whole file          (catalog_parse, pure; ImportInvalid names
                                              file, line, field)         — nothing touched yet
    ONE transaction: read the stored SKUs, plan creates/updates, write them, commit
                                              (a product that cannot be stored → rollback)
    nothing changed → done, no index work     (an idempotent re-import)
    else sync_products: only the changed cards are re-embedded; the old card stays searchable
                        until its replacement is live

Prices and stock live in the store only; cards carry references, so a price change commits
and needs no re-indexing. If indexing fails after the commit, the catalog keeps the import and
the report says so (`index_error`); `sync-products` catches the cards up.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from agents.knowledge.catalog_parse import ImportPlan, parse_products, plan_import
from agents.knowledge.service import Progress, SyncReport, sync_products
from agents.runtime import Runtime
from store.db import session_scope
from store.models import Product
from store.repositories.catalog import WRITABLE_COLUMNS, ProductRepository

log = logging.getLogger("siyu.kb")

# What an import may change is exactly what the plan compares against.
SNAPSHOT_COLUMNS = WRITABLE_COLUMNS


@dataclass(frozen=True)
class ProductImportReport:
    file: str
    created: int
    updated: int
    unchanged: int
    created_skus: list[str]
    updated_skus: list[str]
    index: SyncReport | None  # None: nothing changed, the index was not touched
    seconds: float
    index_error: str | None = None
    unchanged_skus: list[str] = field(default_factory=list)


def snapshot(product: Product) -> dict[str, Any]:
    return {column: getattr(product, column) for column in SNAPSHOT_COLUMNS}


def import_products(
    runtime: Runtime, shop_id: int, name: str, data: bytes, *, progress: Progress | None = None
) -> ProductImportReport:
    """Upsert the file's products by SKU into the shop's catalog, all or nothing, then re-index
    the cards that changed."""
    started = time.perf_counter()
    records = parse_products(name, data)
    with session_scope(runtime.sessions) as session:
        repo = ProductRepository(session)
        stored = {p.sku: p for p in repo.by_skus(shop_id, [r.sku for r in records])}
        plan = plan_import(name, records, {sku: snapshot(p) for sku, p in stored.items()})
        _apply(repo, shop_id, plan, stored)
    index: SyncReport | None = None
    index_error: str | None = None
    if plan.changed_skus:
        try:
            index = sync_products(runtime, shop_id, progress=progress)
        except Exception as exc:  # the catalog is committed; say why the cards lag behind
            index_error = f"商品已导入，但索引商品卡片失败（可稍后运行 sync-products 重试）: {exc}"
            log.warning("kb.products.import_index_failed", extra={"shop_id": shop_id}, exc_info=True)
    report = ProductImportReport(
        file=name,
        created=len(plan.create),
        updated=len(plan.update),
        unchanged=len(plan.unchanged),
        created_skus=[c.sku for c in plan.create],
        updated_skus=[c.sku for c in plan.update],
        index=index,
        seconds=time.perf_counter() - started,
        index_error=index_error,
        unchanged_skus=list(plan.unchanged),
    )
    log.info(
        "kb.products.imported",
        extra={
            "shop_id": shop_id,
            "file": name,
            # `created` is a LogRecord attribute, hence the prefix.
            "products_created": report.created,
            "products_updated": report.updated,
            "products_unchanged": report.unchanged,
        },
    )
    return report


def _apply(repo: ProductRepository, shop_id: int, plan: ImportPlan, stored: dict[str, Product]) -> None:
    for change in plan.create:
        repo.create(shop_id, change.sku, change.values)
    for change in plan.update:
        repo.apply(stored[change.sku], change.values)


def as_dict(report: ProductImportReport) -> dict[str, Any]:
    """A job result: JSON-safe."""
    index = report.index
    return {
        "file": report.file,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "created_skus": report.created_skus,
        "updated_skus": report.updated_skus,
        "index": None
        if index is None
        else {
            "products": index.products,
            "indexed": index.indexed,
            "unchanged": index.unchanged,
            "removed": index.removed,
            "seconds": round(index.seconds, 3),
        },
        "index_error": report.index_error,
        "seconds": round(report.seconds, 3),
    }
