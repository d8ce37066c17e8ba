"""The hybrid recommender (a pure core: rows in, a fitted model out; `now` always passed in).

- Item-to-item co-occurrence in the style of SAR: a customer × item affinity matrix with
  exponential time decay (half-life), and Jaccard similarity between items bought by the same
  customers, pruned to the top neighbours per item (scipy.sparse throughout).
- Content similarity from an item-embedding matrix (rows L2-normalised) for items with few
  buyers: new cards get neighbours before anyone has bought them together.
- Popularity (time-decayed) as the fallback and as "同类热销" within the customer's categories.

Filters and reranking (stock, repurchase cycle, price band, category MMR) live in `rank.py`.
Repurchase cycles come from the product card, else they are estimated from the log (median
gap between the same customer's purchases of the item), so a plain purchase log works too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

import numpy as np
import scipy.sparse as sp

from agents.recommender import rank
from agents.recommender.reasons import reason_text, short_title
from agents.recommender.schemas import (
    Interaction,
    ProductRecord,
    ReasonCode,
    Recommendation,
    Reminder,
)
from store.errors import InvalidInput


# Defaults were chosen on the demo shop's validation split (each customer's second-to-last basket,
# `evaluation.validation_split`), never on the last baskets the eval reports.
@dataclass(frozen=True, slots=True)
class ModelConfig:
    half_life_days: float = 120.0
    similarity: Literal["jaccard", "cosine", "lift", "conditional"] = "jaccard"
    neighbours: int = 50  # similar items kept per item
    min_cooccurrence: int = 1  # co-buyers needed before a pair counts
    sparse_support: int = 5  # items with fewer buyers get content neighbours
    content_weight: float = 0.5
    category_weight: float = 1.0  # 同类热销: popularity × the customer's share of that category
    popularity_weight: float = 0.01  # a small pull toward bestsellers; also the cold-start order
    context_weight: float = 2.0  # cart / product-page items count this × a strong history item
    min_cycle_observations: int = 3  # repeat purchases needed to estimate a repurchase cycle
    # Share of an item's buyers who bought it again, needed before it counts as a consumable:
    # a few people buying a second T-shirt or 保温杯 does not make it something that runs out.
    min_repeat_share: float = 0.2
    rank: rank.RankConfig = field(default_factory=rank.RankConfig)

    def __post_init__(self) -> None:
        if self.half_life_days <= 0:
            raise InvalidInput(
                f"half_life_days 必须大于 0，收到 {self.half_life_days!r}", field="half_life_days"
            )
        if self.neighbours < 1:
            raise InvalidInput(f"neighbours 至少为 1，收到 {self.neighbours!r}", field="neighbours")


def _day(ts: datetime | date) -> int:
    return (ts.date() if isinstance(ts, datetime) else ts).toordinal()


def _top_per_row(m: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """Keep the `n` largest entries of each row (ties: lower column first)."""
    m = m.tocsr()
    m.sort_indices()
    indptr, indices, data = m.indptr, m.indices, m.data
    keep = np.zeros(len(data), dtype=bool)
    for r in range(m.shape[0]):
        lo, hi = indptr[r], indptr[r + 1]
        if hi - lo <= n:
            keep[lo:hi] = True
        else:
            order = np.lexsort((indices[lo:hi], -data[lo:hi]))[:n]
            keep[lo + order] = True
    rows = np.repeat(np.arange(m.shape[0]), np.diff(indptr))
    return sp.csr_matrix((data[keep], (rows[keep], indices[keep])), shape=m.shape)


@dataclass
class RecommenderModel:
    """A fitted model. Build it with `fit`; refresh stock and prices with `with_products`."""

    config: ModelConfig
    items: list[str]
    item_index: dict[str, int]
    customer_index: dict[str, int]
    affinity: sp.csr_matrix  # customers × items, time-decayed
    sim_cooc: sp.csr_matrix  # items × items, diagonal removed
    sim_content: sp.csr_matrix
    popularity: np.ndarray  # max-normalised, time-decayed
    # Per (customer, item) purchase history, same sparsity as `affinity`, value + 1 to keep zeros.
    last_day: sp.csr_matrix
    last_qty: sp.csr_matrix
    times_bought: sp.csr_matrix
    cycle_days: np.ndarray  # NaN: no repurchase cycle (durable, or unknown)
    titles: list[str]
    categories: list[str]
    category_codes: np.ndarray
    prices: np.ndarray
    sellable: np.ndarray  # in stock and active
    fitted_at: datetime

    @property
    def n_items(self) -> int:
        return len(self.items)

    def with_products(self, products: Iterable[ProductRecord]) -> RecommenderModel:
        """A copy with refreshed product facts (stock, price, cycle) and no refit."""
        new = dataclasses.replace(self)
        _apply_products(new, list(products), estimated=self.cycle_days)
        return new

    # ------------------------------------------------------------------ scoring
    def _history(self, u: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.affinity.indptr[u], self.affinity.indptr[u + 1]
        return self.affinity.indices[lo:hi], self.affinity.data[lo:hi]

    def recommend(
        self,
        customer_id: str | None,
        k: int,
        now: datetime | date,
        context_items: Sequence[str] | None = None,
    ) -> list[Recommendation]:
        """Top `k` sellable items for a customer (unknown or None: a new visitor), optionally
        for a cart or product page (`context_items`). Each carries a reason code and a reason."""
        if k < 1:
            raise InvalidInput(f"k 至少为 1，收到 {k!r}", field="k")
        cfg, rcfg = self.config, self.config.rank
        today = _day(now)
        u = self.customer_index.get(customer_id) if customer_id is not None else None
        hist_items, hist_aff = (np.zeros(0, dtype=np.int32), np.zeros(0)) if u is None else self._history(u)
        ctx = np.array(
            sorted({self.item_index[s] for s in context_items or () if s in self.item_index}), dtype=np.int32
        )
        n = self.n_items

        # Raw scores: history and context through both similarity matrices.
        src_items = np.concatenate([hist_items, ctx]).astype(np.int32)
        ctx_w = cfg.context_weight * (float(hist_aff.max()) if hist_aff.size else 1.0)
        src_w = np.concatenate([hist_aff, np.full(len(ctx), ctx_w)])
        vec = sp.csr_matrix((src_w, (np.zeros(len(src_items), dtype=np.int32), src_items)), shape=(1, n))
        cooc = np.asarray((vec @ self.sim_cooc).todense()).ravel()
        content = cfg.content_weight * np.asarray((vec @ self.sim_content).todense()).ravel()
        cat_share = np.zeros(n)
        if hist_items.size:
            cats = self.category_codes[hist_items]
            share = np.bincount(cats, weights=hist_aff, minlength=int(self.category_codes.max()) + 1)
            share = share / share.sum()
            cat_share = share[self.category_codes]
        catpop = cfg.category_weight * self.popularity * cat_share
        base = cooc + content
        top_base = float(base.max()) if base.size else 0.0
        scale = top_base if top_base > 0 else 1.0
        pop = cfg.popularity_weight * scale * self.popularity
        catpop = catpop * scale
        total = base + catpop + pop

        # Filters: not sellable, in the cart, and the customer's own purchases (see rank.py).
        allowed = self.sellable.copy()
        allowed[ctx] = False
        reminder_items = np.zeros(0, dtype=np.int32)
        reminder_scores = np.zeros(0)
        reminder_times_raw = np.zeros(0)
        reminder_overdue_raw = np.zeros(0, dtype=bool)
        if u is not None and hist_items.size:
            lo, hi = self.last_day.indptr[u], self.last_day.indptr[u + 1]
            h_items = self.last_day.indices[lo:hi]
            last = self.last_day.data[lo:hi] - 1.0
            qty = self.last_qty.data[lo:hi] - 1.0
            times = self.times_bought.data[lo:hi] - 1.0
            cycles = self.cycle_days[h_items]
            due = rank.due_days(last, cycles, qty, rcfg.max_qty_cycles)
            _, due_now = rank.repurchase_split(
                due, cycles, today, rcfg.remind_within_days, rcfg.remind_cycle_share
            )
            allowed[h_items] = False
            keep = due_now & self.sellable[h_items]
            if np.isin(h_items, ctx).any():
                keep &= ~np.isin(h_items, ctx)
            reminder_items = h_items[keep]
            reminder_times_raw = times[keep]
            reminder_overdue_raw = today - due[keep] > cycles[keep]
            strength = rank.reminder_strength(due[keep], times[keep], cycles[keep], today, rcfg.overdue_fade)
            reminder_scores = rcfg.reminder_weight * max(float(total.max()), 1e-9) * strength

        masked = np.where(allowed, total, -np.inf)
        pool = min(rcfg.pool, int(allowed.sum()))
        if pool > 0:
            cand = np.argpartition(-masked, pool - 1)[:pool]
            cand = cand[np.isfinite(masked[cand])]
        else:
            cand = np.zeros(0, dtype=np.int64)
        cand_items = np.concatenate([reminder_items, cand]).astype(np.int64)
        cand_scores = np.concatenate([reminder_scores, masked[cand]])
        is_reminder = np.concatenate([np.ones(len(reminder_items), bool), np.zeros(len(cand), bool)])
        reminder_times = np.concatenate([reminder_times_raw, np.zeros(len(cand))])
        reminder_overdue = np.concatenate([reminder_overdue_raw, np.zeros(len(cand), dtype=bool)])
        if cand_items.size == 0:
            return []

        # Price band around the customer's median purchase price (reminders are exempt).
        center = None
        if hist_items.size:
            hp = self.prices[hist_items]
            hp = hp[~np.isnan(hp) & (hp > 0)]
            center = float(np.median(hp)) if hp.size else None
        factor = rank.price_factor(self.prices[cand_items], center, rcfg.price_band_ratio)
        cand_scores = np.where(is_reminder, cand_scores, cand_scores * factor)

        # Deterministic pre-order (score desc, then SKU), then category MMR.
        order = np.lexsort((cand_items, -cand_scores))
        cand_items, cand_scores, is_reminder = cand_items[order], cand_scores[order], is_reminder[order]
        reminder_times, reminder_overdue = reminder_times[order], reminder_overdue[order]
        picks = rank.mmr_order(cand_scores, self.category_codes[cand_items], k, rcfg.mmr_lambda)

        # Who each pick is "because of": one sliced block per similarity, not one lookup per item.
        src = np.concatenate([hist_items, ctx]).astype(np.int64)
        src_weight = np.concatenate([hist_aff, np.full(len(ctx), ctx_w)])
        picked = cand_items[np.array(picks, dtype=np.int64)]
        blocks = {}
        for kind, sim in (("cooc", self.sim_cooc), ("content", self.sim_content)):
            if src.size and sim.nnz:
                blocks[kind] = sim[src][:, picked].toarray() * src_weight[:, None]
            else:
                blocks[kind] = np.zeros((len(src), len(picked)))
        out = []
        for col, p in enumerate(picks):
            j = int(cand_items[p])
            out.append(
                self._explain(
                    j,
                    float(cand_scores[p]),
                    bool(is_reminder[p]),
                    parts=(float(cooc[j]), float(content[j]), float(catpop[j])),
                    src=src,
                    n_hist=len(hist_items),
                    contrib={kind: block[:, col] for kind, block in blocks.items()},
                    times_bought=int(reminder_times[p]) if is_reminder[p] else 0,
                    long_overdue=bool(reminder_overdue[p]),
                )
            )
        return out

    def _explain(
        self,
        j: int,
        score: float,
        reminder: bool,
        *,
        parts: tuple[float, float, float],
        src: np.ndarray,
        n_hist: int,
        contrib: dict[str, np.ndarray],
        times_bought: int = 0,
        long_overdue: bool = False,
    ) -> Recommendation:
        title, category = self.titles[j], self.categories[j]
        because: int | None = None
        if reminder:
            code, because = ReasonCode.repurchase_due, j
        else:
            cooc, content, catpop = parts
            if max(cooc, content) > 0 and max(cooc, content) >= catpop:
                kind = "cooc" if cooc >= content else "content"
                best = int(np.lexsort((src, -contrib[kind]))[0])
                because = int(src[best])
                if best >= n_hist:
                    code = ReasonCode.with_context
                else:
                    code = ReasonCode.bought_together if kind == "cooc" else ReasonCode.similar_item
            elif catpop > 0:
                code = ReasonCode.category_bestseller
            else:
                code = ReasonCode.bestseller
        because_title = short_title(self.titles[because], self.items[because]) if because is not None else ""
        return Recommendation(
            sku=self.items[j],
            score=round(score, 6),
            reason_code=code,
            reason=reason_text(
                code,
                because_title=because_title,
                category=category,
                times_bought=times_bought,
                long_overdue=long_overdue,
            ),
            title=title,
            category=category,
            because_of=self.items[because] if because is not None else None,
        )

    # ---------------------------------------------------------------- reminders
    def reminders(self, now: datetime | date, within_days: int) -> list[Reminder]:
        """Every (customer, SKU) whose repurchase falls due within `within_days` of `now`, either
        way: due this week, or missed last week. Worked weekly, each reminder shows up in two
        lists and then drops off. Sorted by due date, customer, SKU."""
        today = _day(now)
        coo = self.last_day.tocoo()
        users, items = coo.row, coo.col
        last = coo.data - 1.0
        qty = self.last_qty.tocoo().data - 1.0
        times = self.times_bought.tocoo().data - 1.0
        cycles = self.cycle_days[items]
        due = rank.due_days(last, cycles, qty, self.config.rank.max_qty_cycles)
        with np.errstate(invalid="ignore"):
            hit = ~np.isnan(due) & (np.abs(due - today) <= within_days)
        hit &= self.sellable[items]
        customers = _inverse(self.customer_index)
        out = []
        for idx in np.flatnonzero(hit):
            j = int(items[idx])
            out.append(
                Reminder(
                    customer_id=customers[int(users[idx])],
                    sku=self.items[j],
                    due_date=date.fromordinal(int(due[idx])),
                    last_bought=date.fromordinal(int(last[idx])),
                    times_bought=int(times[idx]),
                    title=self.titles[j],
                    reason=reason_text(
                        ReasonCode.repurchase_due,
                        because_title=short_title(self.titles[j], self.items[j]),
                        times_bought=int(times[idx]),
                    ),
                )
            )
        out.sort(key=lambda r: (r.due_date, r.customer_id, r.sku))
        return out


def _inverse(index: dict[str, int]) -> list[str]:
    out = [""] * len(index)
    for key, i in index.items():
        out[i] = key
    return out


def _apply_products(model: RecommenderModel, products: list[ProductRecord], estimated: np.ndarray) -> None:
    n = model.n_items
    titles = list(model.items)
    categories = [""] * n
    prices = np.full(n, np.nan)
    sellable = np.ones(n, dtype=bool)
    cycles = estimated.copy()
    for p in products:
        j = model.item_index.get(p.sku)
        if j is None:
            continue
        titles[j] = p.title or p.sku
        categories[j] = p.category
        prices[j] = np.nan if p.price is None else float(p.price)
        sellable[j] = p.active and (p.stock is None or p.stock > 0)
        if p.repurchase_cycle_days is not None:
            cycles[j] = float(p.repurchase_cycle_days) if p.repurchase_cycle_days > 0 else np.nan
    cat_names = sorted(set(categories))
    code_of = {c: i for i, c in enumerate(cat_names)}
    model.titles, model.categories, model.prices, model.sellable = titles, categories, prices, sellable
    model.category_codes = np.array([code_of[c] for c in categories], dtype=np.int64)
    model.cycle_days = cycles


def estimate_cycles(
    users: np.ndarray,
    items: np.ndarray,
    days: np.ndarray,
    n_items: int,
    min_observations: int,
    min_repeat_share: float = 0.0,
) -> np.ndarray:
    """Median gap (days) between the same customer's purchase days of each item; NaN when fewer
    than `min_observations` gaps were seen, or when fewer than `min_repeat_share` of the item's
    buyers bought it on two days or more (durable, or repurchased only by chance)."""
    key = users.astype(np.int64) * n_items + items
    order = np.lexsort((days, key))
    k, d, it = key[order], days[order], items[order]
    same = k[1:] == k[:-1]
    gaps = (d[1:] - d[:-1])[same]
    gap_items = it[1:][same]
    pos = gaps > 0
    repeat_keys = np.unique(k[1:][same][pos])
    gaps, gap_items = gaps[pos], gap_items[pos]
    out = np.full(n_items, np.nan)
    if gaps.size == 0:
        return out
    buyers = np.bincount(np.unique(key) % n_items, minlength=n_items)
    repeaters = np.bincount(repeat_keys % n_items, minlength=n_items)
    share = repeaters / np.maximum(buyers, 1)
    o = np.lexsort((gaps, gap_items))
    gaps, gap_items = gaps[o], gap_items[o]
    uniq, start, counts = np.unique(gap_items, return_index=True, return_counts=True)
    for item, s, c in zip(uniq, start, counts, strict=True):
        if c >= min_observations and share[item] >= min_repeat_share:
            out[item] = float(np.median(gaps[s : s + c]))
    return out


def fit(
    interactions: Iterable[Interaction],
    now: datetime | date,
    *,
    products: Iterable[ProductRecord] = (),
    item_embeddings: np.ndarray | None = None,
    embedding_skus: Sequence[str] = (),
    config: ModelConfig | None = None,
) -> RecommenderModel:
    """Fit on purchase rows as of `now` (rows after `now` are ignored).

    `item_embeddings` (rows L2-normalised, aligned with `embedding_skus`) adds content
    neighbours for sparse items. Products not in the log are still recommendable (cold items).
    """
    cfg = config or ModelConfig()
    product_list = list(products)
    now_dt = now if isinstance(now, datetime) else datetime.combine(now, datetime.min.time())
    today = _day(now)
    rows = [r for r in interactions if _day(r.ts) <= today]
    items = sorted({r.item_id for r in rows} | {p.sku for p in product_list})
    if not items:
        raise InvalidInput("没有可用的购买记录或商品，无法建立推荐模型", field="interactions")
    item_index = {s: i for i, s in enumerate(items)}
    customers = sorted({r.customer_id for r in rows})
    customer_index = {c: i for i, c in enumerate(customers)}
    n_items, n_users = len(items), len(customers)

    u = np.fromiter((customer_index[r.customer_id] for r in rows), dtype=np.int64, count=len(rows))
    i = np.fromiter((item_index[r.item_id] for r in rows), dtype=np.int64, count=len(rows))
    day = np.fromiter((_day(r.ts) for r in rows), dtype=np.int64, count=len(rows))
    qty = np.fromiter((max(float(r.qty), 1.0) for r in rows), dtype=float, count=len(rows))
    # Day granularity: a basket is one customer on one day, and zones never get compared.
    decay = np.power(0.5, (today - day).astype(float) / cfg.half_life_days)

    shape = (n_users, n_items)
    affinity = sp.csr_matrix((decay, (u, i)), shape=shape)
    affinity.sum_duplicates()

    # Per (customer, item): last purchase day, packs bought that day, distinct purchase days.
    key = u * n_items + i
    order = np.lexsort((day, key))
    k_s, d_s, q_s = key[order], day[order], qty[order]
    kd = k_s * 1_000_000 + d_s  # one key per (customer, item, day); ordinals < 1e6
    uniq_kd, first_idx = np.unique(kd, return_index=True)
    qty_per_day = np.add.reduceat(q_s, first_idx)
    kd_key = uniq_kd // 1_000_000
    kd_day = uniq_kd % 1_000_000
    uniq_k, first_k, times = np.unique(kd_key, return_index=True, return_counts=True)
    last_pos = first_k + times - 1
    hu, hi_ = uniq_k // n_items, uniq_k % n_items
    last_day = sp.csr_matrix((kd_day[last_pos] + 1.0, (hu, hi_)), shape=shape)
    last_qty = sp.csr_matrix((qty_per_day[last_pos] + 1.0, (hu, hi_)), shape=shape)
    times_bought = sp.csr_matrix((times + 1.0, (hu, hi_)), shape=shape)

    # SAR-style item similarity over co-buyers (Jaccard, cosine, lift or conditional probability).
    binary = sp.csr_matrix((np.ones(len(hu), dtype=np.float32), (hu, hi_)), shape=shape)
    cooc = (binary.T @ binary).tocoo()
    support = np.asarray(binary.sum(axis=0)).ravel()
    off = (cooc.row != cooc.col) & (cooc.data >= cfg.min_cooccurrence)
    r_, c_, v_ = cooc.row[off], cooc.col[off], cooc.data[off].astype(float)
    sim_values = _similarity(cfg.similarity, v_, support[r_], support[c_])
    sim_cooc = _top_per_row(sp.csr_matrix((sim_values, (r_, c_)), shape=(n_items, n_items)), cfg.neighbours)

    sim_content = _content_similarity(item_embeddings, embedding_skus, item_index, support, cfg)

    pop = np.asarray(affinity.sum(axis=0)).ravel()
    popularity = pop / pop.max() if pop.size and pop.max() > 0 else np.zeros(n_items)
    cycles = estimate_cycles(
        kd_key // n_items,
        kd_key % n_items,
        kd_day,
        n_items,
        cfg.min_cycle_observations,
        cfg.min_repeat_share,
    )

    model = RecommenderModel(
        config=cfg,
        items=items,
        item_index=item_index,
        customer_index=customer_index,
        affinity=affinity,
        sim_cooc=sim_cooc,
        sim_content=sim_content,
        popularity=popularity,
        last_day=last_day,
        last_qty=last_qty,
        times_bought=times_bought,
        cycle_days=cycles,
        titles=[],
        categories=[],
        category_codes=np.zeros(0, dtype=np.int64),
        prices=np.zeros(0),
        sellable=np.zeros(0, dtype=bool),
        fitted_at=now_dt,
    )
    _apply_products(model, product_list, estimated=cycles)
    return model


def _similarity(kind: str, both: np.ndarray, s_from: np.ndarray, s_to: np.ndarray) -> np.ndarray:
    """Row item → column item similarity from co-buyer counts and each item's buyer count."""
    if kind == "jaccard":
        out: np.ndarray = both / (s_from + s_to - both)
    elif kind == "cosine":
        out = both / np.sqrt(s_from * s_to)
    elif kind == "lift":
        out = both / (s_from * s_to)
    else:  # "conditional": P(bought `to` | bought `from`), leans toward what sells
        out = both / s_from
    return out


def _content_similarity(
    embeddings: np.ndarray | None,
    skus: Sequence[str],
    item_index: dict[str, int],
    support: np.ndarray,
    cfg: ModelConfig,
) -> sp.csr_matrix:
    n = len(item_index)
    if embeddings is None or len(skus) == 0:
        return sp.csr_matrix((n, n))
    if embeddings.shape[0] != len(skus):
        raise InvalidInput(
            f"向量行数 {embeddings.shape[0]} 与 SKU 数 {len(skus)} 不一致", field="item_embeddings"
        )
    pos = [(item_index[s], row) for row, s in enumerate(skus) if s in item_index]
    if not pos:
        return sp.csr_matrix((n, n))
    idx = np.array([p[0] for p in pos])
    emb = np.asarray(embeddings[[p[1] for p in pos]], dtype=np.float32)
    sparse_item = support[idx] < cfg.sparse_support
    rows, cols, vals = [], [], []
    m = cfg.neighbours
    for start in range(0, len(idx), 1024):
        block = emb[start : start + 1024] @ emb.T
        for off in range(block.shape[0]):
            a = start + off
            sims = block[off]
            sims[a] = -np.inf
            top = np.argpartition(-sims, min(m, len(sims) - 1))[:m] if len(sims) > m else np.arange(len(sims))
            top = top[(sims[top] > 0) & (sparse_item[a] | sparse_item[top])]
            rows.append(np.full(len(top), idx[a]))
            cols.append(idx[top])
            vals.append(sims[top].astype(float))
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
