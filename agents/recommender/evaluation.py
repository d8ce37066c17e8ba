"""Offline evaluation on any purchase log: reading it, splitting it, metrics and two baselines.

A basket is one customer on one day. Two splits:
- `last_basket_split`: hold out each customer's last basket (customers with >= 2 baskets);
  the recommendation is asked for on the day of that basket.
- `temporal_split`: train before a cutoff day, test on what each known customer bought in the
  following `horizon_days`; every recommendation is asked for on the cutoff day.

Repurchases count as hits: re-buying a consumable is most of a private-domain shop's sales,
and our model only shows an item it has already sold to a customer once it is due again.
The baselines are scored the same way (they may also show items the customer owns).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from agents.recommender import model as rec_model
from agents.recommender.schemas import Interaction, ProductRecord
from retrieval.beir import ndcg_at
from store.errors import InvalidInput
from store.uploads import table_rows

REQUIRED_COLUMNS = ("customer_id", "item_id", "timestamp")


# ---------------------------------------------------------------------- input
def parse_timestamp(value: str) -> datetime:
    """ISO date (`2026-03-01`) or datetime (`2026-03-01 10:00:00`, `2026-03-01T10:00:00+08:00`)."""
    text = value.strip()
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), datetime.min.time())
    return datetime.fromisoformat(text)


def read_interactions_csv(path: Path) -> list[Interaction]:
    """Read `customer_id,item_id,timestamp[,qty]`; any bad cell names its line and field."""
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"无法读取文件: {exc.strerror}", file=str(path)) from exc
    records = table_rows(raw, name)
    header_line, header = next(records, (1, []))
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InvalidInput(
            f"缺少列 {', '.join(missing)}；表头应为 customer_id,item_id,timestamp，"
            f"实际为 {','.join(header)!r}",
            file=name,
            line=header_line,
        )
    rows: list[Interaction] = []
    for line_no, cells in records:
        rec = dict(zip(header, cells, strict=False))
        cust, item = rec.get("customer_id", ""), rec.get("item_id", "")
        if not cust:
            raise InvalidInput("customer_id 为空", file=name, line=line_no, field="customer_id")
        if not item:
            raise InvalidInput("item_id 为空", file=name, line=line_no, field="item_id")
        stamp = rec.get("timestamp", "")
        try:
            ts = parse_timestamp(stamp)
        except ValueError:
            raise InvalidInput(
                f"时间 {stamp!r} 不是 ISO 日期或时间 (如 2026-03-01 或 2026-03-01 10:00:00)",
                file=name,
                line=line_no,
                field="timestamp",
            ) from None
        qty = 1.0
        if rec.get("qty"):
            try:
                qty = float(rec["qty"])
            except ValueError:
                qty = math.nan
            if not qty > 0:
                raise InvalidInput(f"数量 {rec['qty']!r} 必须是正数", file=name, line=line_no, field="qty")
        rows.append(Interaction(cust, item, ts, qty))
    if not rows:
        raise InvalidInput("文件没有数据行", file=name, line=2)
    return rows


# ---------------------------------------------------------------------- splits
@dataclass(frozen=True)
class Split:
    train: list[Interaction]
    test: dict[str, frozenset[str]]  # customer → items held out
    asked_on: dict[str, date]  # customer → the day the recommendation is asked for

    @property
    def fit_day(self) -> date:
        return max(r.ts.date() for r in self.train)


def last_basket_split(rows: Iterable[Interaction]) -> Split:
    days: dict[str, set[date]] = defaultdict(set)
    data = list(rows)
    for r in data:
        days[r.customer_id].add(r.ts.date())
    last = {c: max(d) for c, d in days.items() if len(d) >= 2}
    train, test = [], defaultdict(set)
    for r in data:
        if last.get(r.customer_id) == r.ts.date():
            test[r.customer_id].add(r.item_id)
        else:
            train.append(r)
    return Split(train, {c: frozenset(v) for c, v in sorted(test.items())}, dict(sorted(last.items())))


def validation_split(rows: Iterable[Interaction]) -> Split:
    """The last-basket split of the log without each customer's last basket: the second-to-last
    basket is held out. Weights are tuned here, so the last baskets stay unseen for the test."""
    data = list(rows)
    last: dict[str, date] = {}
    for r in data:
        day = r.ts.date()
        if day > last.get(r.customer_id, date.min):
            last[r.customer_id] = day
    return last_basket_split(r for r in data if r.ts.date() != last[r.customer_id])


def temporal_split(rows: Iterable[Interaction], cutoff: date, horizon_days: int) -> Split:
    end = cutoff + timedelta(days=horizon_days)
    train = [r for r in rows if r.ts.date() < cutoff]
    known = {r.customer_id for r in train}
    test: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if cutoff <= r.ts.date() < end and r.customer_id in known:
            test[r.customer_id].add(r.item_id)
    return Split(
        train, {c: frozenset(v) for c, v in sorted(test.items())}, dict.fromkeys(sorted(test), cutoff)
    )


# ---------------------------------------------------------------------- metrics
def hit_at_k(ranked: Sequence[str], relevant: frozenset[str], k: int) -> float:
    return 1.0 if any(s in relevant for s in ranked[:k]) else 0.0


def recall_at_k(ranked: Sequence[str], relevant: frozenset[str], k: int) -> float:
    return sum(1 for s in ranked[:k] if s in relevant) / len(relevant) if relevant else 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: frozenset[str], k: int) -> float:
    """Binary relevance: the graded NDCG of retrieval.beir with every bought item at grade 1."""
    return ndcg_at(ranked, dict.fromkeys(relevant, 1), k)


@dataclass(frozen=True)
class MetricRow:
    name: str
    customers: int
    hit: float
    ndcg: float
    recall: float
    coverage: float


Ranker = Callable[[str, date], list[str]]


def evaluate_ranker(name: str, ranker: Ranker, split: Split, k: int, catalog_size: int) -> MetricRow:
    hits = ndcgs = recalls = 0.0
    shown: set[str] = set()
    for cust, relevant in split.test.items():
        ranked = ranker(cust, split.asked_on[cust])[:k]
        shown.update(ranked)
        hits += hit_at_k(ranked, relevant, k)
        ndcgs += ndcg_at_k(ranked, relevant, k)
        recalls += recall_at_k(ranked, relevant, k)
    n = max(len(split.test), 1)
    return MetricRow(
        name, len(split.test), hits / n, ndcgs / n, recalls / n, len(shown) / max(catalog_size, 1)
    )


# ---------------------------------------------------------------------- baselines
class PopularityBaseline:
    """The k items bought by the most customers, the same for everyone."""

    def __init__(self, train: Iterable[Interaction]) -> None:
        buyers: dict[str, set[str]] = defaultdict(set)
        for r in train:
            buyers[r.item_id].add(r.customer_id)
        self.ranked = sorted(buyers, key=lambda s: (-len(buyers[s]), s))

    def recommend(self, customer_id: str, k: int) -> list[str]:
        return self.ranked[:k]


class ItemKNNBaseline:
    """Plain item-kNN: cosine between items on the binary customer × item matrix; a customer's
    score for an item is the summed similarity to what they bought. Cold customers get popularity."""

    def __init__(self, train: Iterable[Interaction]) -> None:
        data = list(train)
        self.items = sorted({r.item_id for r in data})
        customers = sorted({r.customer_id for r in data})
        self.item_index = {s: i for i, s in enumerate(self.items)}
        self.customer_index = {c: i for i, c in enumerate(customers)}
        u = np.array([self.customer_index[r.customer_id] for r in data], dtype=np.int64)
        i = np.array([self.item_index[r.item_id] for r in data], dtype=np.int64)
        b = sp.csr_matrix((np.ones(len(u)), (u, i)), shape=(len(customers), len(self.items)))
        b.data[:] = 1.0  # duplicates summed above; binary is what cosine is taken on
        self.binary = b
        norms = np.sqrt(np.asarray(b.sum(axis=0)).ravel())
        sim = (b.T @ b).tocsr().astype(float)
        sim.setdiag(0.0)
        sim.eliminate_zeros()
        inv = sp.diags(1.0 / np.maximum(norms, 1e-12))
        self.sim = (inv @ sim @ inv).tocsr()
        self.popular = PopularityBaseline(data)

    def recommend(self, customer_id: str, k: int) -> list[str]:
        u = self.customer_index.get(customer_id)
        if u is None:
            return self.popular.recommend(customer_id, k)
        scores = np.asarray((self.binary[u] @ self.sim).todense()).ravel()
        order = np.lexsort((np.arange(len(scores)), -scores))
        ranked = [self.items[j] for j in order[:k] if scores[j] > 0]
        if len(ranked) < k:
            ranked += [s for s in self.popular.recommend(customer_id, k + len(ranked)) if s not in ranked]
        return ranked[:k]


@dataclass(frozen=True)
class Comparison:
    rows: list[MetricRow]
    k: int
    customers: int
    train_rows: int
    catalog_size: int

    def row(self, name: str) -> MetricRow:
        return next(r for r in self.rows if r.name == name)


def compare(
    split: Split,
    k: int,
    *,
    products: Sequence[ProductRecord] = (),
    config: rec_model.ModelConfig | None = None,
) -> Comparison:
    """Ours, popularity and item-kNN on the same split, in the same run."""
    if not split.test:
        raise InvalidInput(
            "没有可评估的顾客：每位顾客至少需要 2 个购物篮 (同一顾客同一天算一个篮子)", field="interactions"
        )
    if k < 1:
        raise InvalidInput(f"k 至少为 1，收到 {k!r}", field="k")
    fitted = rec_model.fit(split.train, split.fit_day, products=products, config=config)
    catalog = fitted.n_items
    pop = PopularityBaseline(split.train)
    knn = ItemKNNBaseline(split.train)
    rows = [
        evaluate_ranker(
            "ours", lambda c, d: [r.sku for r in fitted.recommend(c, k, now=d)], split, k, catalog
        ),
        evaluate_ranker("popularity", lambda c, d: pop.recommend(c, k), split, k, catalog),
        evaluate_ranker("item-kNN", lambda c, d: knn.recommend(c, k), split, k, catalog),
    ]
    return Comparison(rows, k, len(split.test), len(split.train), catalog)
