"""The demo shop's static content: catalog.json, the policy documents and faq.csv.

These files are the source of truth other engineers' evals reference (SKUs, policy numbers),
so they are read as they are and never generated.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib.resources import files
from typing import Any

DEMO_DIR = files("store.demo")
CATALOG_PATH = DEMO_DIR / "catalog.json"
DOCS_DIR = DEMO_DIR / "docs"
FAQ_PATH = DEMO_DIR / "faq.csv"


@dataclass(frozen=True)
class DemoVariant:
    name: str
    sku_suffix: str
    price: Decimal
    stock: int


@dataclass(frozen=True)
class DemoProduct:
    sku: str
    title: str
    category: str
    subcategory: str
    brand: str
    description: str
    attributes: dict[str, str]
    variants: tuple[DemoVariant, ...]
    price: Decimal
    floor_price: Decimal
    unit_cost: Decimal
    stock: int
    lead_time_days: int
    moq: int
    case_pack: int
    repurchase_cycle_days: int | None
    # Relative demand weight the order generator draws with; not stored in the database.
    popularity: float


@dataclass(frozen=True)
class DemoDocument:
    source: str  # file name, the document's stable identity
    title: str
    doc_type: str  # "policy" | "faq"
    content: str

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.content.encode()).hexdigest()


@dataclass(frozen=True)
class FaqPair:
    question: str
    answer: str


def _product(raw: dict[str, Any]) -> DemoProduct:
    return DemoProduct(
        sku=raw["sku"],
        title=raw["title"],
        category=raw["category"],
        subcategory=raw["subcategory"],
        brand=raw["brand"],
        description=raw["description"],
        attributes=dict(raw["attributes"]),
        variants=tuple(
            DemoVariant(v["name"], v["sku_suffix"], Decimal(v["price"]), int(v["stock"]))
            for v in raw["variants"]
        ),
        price=Decimal(raw["price"]),
        floor_price=Decimal(raw["floor_price"]),
        unit_cost=Decimal(raw["unit_cost"]),
        stock=int(raw["stock"]),
        lead_time_days=int(raw["lead_time_days"]),
        moq=int(raw["moq"]),
        case_pack=int(raw["case_pack"]),
        repurchase_cycle_days=raw["repurchase_cycle_days"],
        popularity=float(raw["popularity"]),
    )


@cache
def load_catalog() -> tuple[DemoProduct, ...]:
    raw = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    return tuple(_product(p) for p in raw["products"])


@cache
def load_faq() -> tuple[FaqPair, ...]:
    reader = csv.DictReader(io.StringIO(FAQ_PATH.read_text(encoding="utf-8")))
    return tuple(FaqPair(row["question"], row["answer"]) for row in reader)


@cache
def load_documents() -> tuple[DemoDocument, ...]:
    """The policy documents (Markdown, titled by their `# ` heading) and the FAQ file, raw."""
    docs = []
    for path in sorted((p for p in DOCS_DIR.iterdir() if p.name.endswith(".md")), key=lambda p: p.name):
        content = path.read_text(encoding="utf-8")
        first = content.splitlines()[0] if content else ""
        title = first.removeprefix("# ").strip() if first.startswith("# ") else path.name.removesuffix(".md")
        docs.append(DemoDocument(source=path.name, title=title, doc_type="policy", content=content))
    docs.append(
        DemoDocument(
            source=FAQ_PATH.name,
            title="常见问题",
            doc_type="faq",
            content=FAQ_PATH.read_text(encoding="utf-8"),
        )
    )
    return tuple(docs)
