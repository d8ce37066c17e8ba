"""Products of one shop: look-ups by SKU, category, id and code fragment."""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.errors import NotFound
from store.models import Product

_NOT_CODE = re.compile(r"[^0-9A-Za-z]")
# Columns an import may set; ids, shop, SKU and timestamps are never taken from a file.
WRITABLE_COLUMNS: tuple[str, ...] = (
    "title",
    "category",
    "subcategory",
    "brand",
    "description",
    "attributes",
    "variants",
    "price",
    "floor_price",
    "unit_cost",
    "stock",
    "lead_time_days",
    "moq",
    "case_pack",
    "repurchase_cycle_days",
    "active",
)
_WRITABLE = frozenset(WRITABLE_COLUMNS)


def normalize_code(text: str) -> str:
    """'st771', 'ST-771 ', 'ｓｔ－７７１' → 'ST771': how people type a SKU is not how it is stored."""
    return _NOT_CODE.sub("", unicodedata.normalize("NFKC", text)).upper()


class ProductRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get_by_sku(self, shop_id: int, sku: str) -> Product | None:
        return self.session.scalar(select(Product).where(Product.shop_id == shop_id, Product.sku == sku))

    def require_by_sku(self, shop_id: int, sku: str) -> Product:
        product = self.get_by_sku(shop_id, sku)
        if product is None:
            raise NotFound(f"商品 {sku!r} 不存在")
        return product

    def get(self, shop_id: int, product_id: int) -> Product:
        product = self.session.scalar(
            select(Product).where(Product.shop_id == shop_id, Product.id == product_id)
        )
        if product is None:
            raise NotFound(f"商品 {product_id!r} 不存在")
        return product

    def categories(self, shop_id: int) -> list[tuple[str, int]]:
        """(category, number of active products), most products first."""
        rows = self.session.execute(
            select(Product.category, func.count())
            .where(Product.shop_id == shop_id, Product.active.is_(True))
            .group_by(Product.category)
            .order_by(func.count().desc(), Product.category)
        )
        return [(category, count) for category, count in rows]

    def by_ids(self, shop_id: int, product_ids: Iterable[int]) -> list[Product]:
        ids = list(dict.fromkeys(product_ids))
        if not ids:
            return []
        found = self.session.scalars(select(Product).where(Product.shop_id == shop_id, Product.id.in_(ids)))
        by_id = {p.id: p for p in found}
        return [by_id[i] for i in ids if i in by_id]

    def by_skus(self, shop_id: int, skus: Iterable[str]) -> list[Product]:
        """In the order asked; unknown SKUs (or another shop's) are left out."""
        wanted = list(dict.fromkeys(skus))
        if not wanted:
            return []
        found = self.session.scalars(
            select(Product).where(Product.shop_id == shop_id, Product.sku.in_(wanted))
        )
        by_sku = {p.sku: p for p in found}
        return [by_sku[s] for s in wanted if s in by_sku]

    def search_code(self, shop_id: int, fragment: str, *, limit: int = 10) -> list[Product]:
        """Products whose SKU contains the fragment, ignoring case, dashes and full-width forms.

        An exact match comes first, then the shortest SKUs (the closest matches)."""
        code = normalize_code(fragment)
        if not code:
            return []
        stored = func.upper(func.replace(Product.sku, "-", ""))
        query = (
            select(Product)
            .where(Product.shop_id == shop_id, stored.contains(code, autoescape=True))
            .order_by((stored == code).desc(), func.length(Product.sku), Product.sku)
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def create(self, shop_id: int, sku: str, values: Mapping[str, Any]) -> Product:
        """A new product from an import; `values` are column values (see `agents.knowledge.catalog_parse`)."""
        product = Product(shop_id=shop_id, sku=sku)
        self.apply(product, values)
        self.session.add(product)
        return product

    def apply(self, product: Product, values: Mapping[str, Any]) -> None:
        """Set the given columns; JSON columns get new objects so the change is detected."""
        for column, value in values.items():
            if column not in _WRITABLE:
                raise ValueError(f"column {column!r} cannot be written by an import")
            setattr(product, column, copy.deepcopy(value) if isinstance(value, dict | list) else value)

    def count(self, shop_id: int, *, active_only: bool = False) -> int:
        query = select(func.count()).select_from(Product).where(Product.shop_id == shop_id)
        if active_only:
            query = query.where(Product.active.is_(True))
        return self.session.scalar(query) or 0

    # Last in the class: below this line `list` would name the method, not the builtin.
    def list(
        self,
        shop_id: int,
        *,
        category: str | None = None,
        active_only: bool = True,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Product]:
        query = select(Product).where(Product.shop_id == shop_id)
        if category is not None:
            query = query.where(Product.category == category)
        if active_only:
            query = query.where(Product.active.is_(True))
        query = query.order_by(Product.sku).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return list(self.session.scalars(query))
