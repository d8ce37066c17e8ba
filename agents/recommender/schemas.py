"""Plain records the recommender's pure cores take and return (no ORM, no I/O)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class Interaction:
    """One purchase line: a customer bought `qty` of `item_id` at `ts`."""

    customer_id: str
    item_id: str
    ts: datetime
    qty: float = 1.0


@dataclass(frozen=True, slots=True)
class ProductRecord:
    """What ranking needs to know about a product card. `stock=None` means unknown (treated as in stock)."""

    sku: str
    category: str = ""
    price: float | None = None
    stock: int | None = None
    repurchase_cycle_days: int | None = None
    title: str = ""
    active: bool = True


class ReasonCode(enum.StrEnum):
    bought_together = "bought_together"  # co-occurrence with something the customer bought
    similar_item = "similar_item"  # content similarity (cold or sparse items)
    with_context = "with_context"  # goes with what is in the cart / on the page
    category_bestseller = "category_bestseller"  # popular in a category the customer buys
    bestseller = "bestseller"  # shop-wide popularity fallback
    repurchase_due = "repurchase_due"  # a consumable the customer buys is running out


@dataclass(frozen=True, slots=True)
class Recommendation:
    sku: str
    score: float
    reason_code: ReasonCode
    reason: str
    title: str = ""
    category: str = ""
    because_of: str | None = None  # the SKU behind the reason, when there is one


@dataclass(frozen=True, slots=True)
class Reminder:
    customer_id: str
    sku: str
    due_date: date
    last_bought: date
    times_bought: int
    title: str = ""
    reason: str = ""
