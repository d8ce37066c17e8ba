"""Recommender service: the entry the API, the CS agent, Celery jobs and the CLI share.

A shop's fitted model (`ShopModel`: the hybrid recommender plus the order totals RFM needs)
is built from the store, saved as an artifact under `var/models/rec/shop-<id>.pkl` and kept
in a per-process cache in the runtime. A request never refits while an artifact exists:

    request → cache hit, artifact unchanged (one stat)           → answer   (warm)
            → artifact newer (a refresh job wrote it)             → load it  (no refit)
            → no artifact yet (first request of a shop)           → fit once, save, answer (cold)

Stock, prices and titles come from the store: the model's product facts are refreshed every
`PRODUCTS_TTL_S`, and every answer re-reads the recommended SKUs' price and stock.

Privacy: customers who were erased or refused profiling are left out of training, segments and
reminders, and get shop-wide bestsellers only (reason 本店热销).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.orm import Session

from agents.recommender import model as rec_model
from agents.recommender import rfm
from agents.recommender.reasons import reason_text
from agents.recommender.schemas import Interaction, ProductRecord, ReasonCode, Recommendation
from agents.runtime import Runtime
from store.db import session_scope
from store.errors import InvalidInput, NotFound
from store.models import Product
from store.repositories.analytics import AnalyticsRepository
from store.repositories.catalog import ProductRepository
from store.repositories.customers import CustomerRepository
from store.repositories.orders import OrderRepository
from store.repositories.shops import ShopRepository

log = logging.getLogger("siyu.rec")

SHOP_TZ = ZoneInfo("Asia/Shanghai")  # a basket is one customer on one local day
ARTIFACT_FORMAT = 1
PRODUCTS_TTL_S = 60.0
TREND_DAYS = 30
K_MAX = 50
_LIVE_MARGIN = 5  # extra candidates asked of the model, in case stock ran out since the last refresh

Report = Callable[[float, str], None]
Stamp = tuple[int, int, int]  # (inode, mtime_ns, size) of a saved artifact


def _no_report(_progress: float, _message: str = "") -> None:
    return None


# ---------------------------------------------------------------- public records


@dataclass(frozen=True)
class RecommendedItem:
    sku: str
    title: str
    price: Decimal
    score: float
    reason_code: ReasonCode
    reason: str
    category: str = ""
    because_of: str | None = None


@dataclass(frozen=True)
class CustomerSegment:
    segment: rfm.Segment
    label: str
    next_action: str
    copy_goal: str
    rfm_code: str
    recency_days: int
    frequency: int
    monetary: float


@dataclass(frozen=True)
class RecommendationResult:
    customer_ref: str | None
    personalised: bool  # False: bestsellers only (unknown visitor, erased, or no profiling consent)
    items: list[RecommendedItem]
    segment: CustomerSegment | None
    model_version: str
    fitted_at: datetime


@dataclass(frozen=True)
class ReminderItem:
    customer_ref: str
    nickname: str | None
    sku: str
    title: str
    due_date: date
    last_bought: date
    times_bought: int
    reason: str


@dataclass(frozen=True)
class ReminderPage:
    as_of: date
    due_within_days: int
    total: int
    limit: int
    offset: int
    items: list[ReminderItem]


@dataclass(frozen=True)
class SegmentsReport:
    as_of: date
    compare_to: date
    customers: int
    thresholds: dict[str, int | float]
    segments: list[rfm.SegmentCount]


@dataclass(frozen=True)
class SegmentCustomer:
    customer_ref: str
    nickname: str | None
    first_order: date
    last_order: date
    recency_days: int
    frequency: int
    monetary: float
    rfm_code: str


@dataclass(frozen=True)
class SegmentCustomersPage:
    segment: rfm.Segment
    label: str
    next_action: str
    copy_goal: str
    as_of: date
    total: int
    limit: int
    offset: int
    items: list[SegmentCustomer]


# ---------------------------------------------------------------- the shop's model


@dataclass(frozen=True)
class ShopModel:
    """Everything a request needs, built once per refresh and saved as one artifact."""

    shop_id: int
    version: str
    built_at: datetime
    model: rec_model.RecommenderModel | None  # None: no products and no orders yet
    order_lines: tuple[rfm.OrderLine, ...]
    stats: dict[str, float]
    card_vectors: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # card text → vector
    format: int = ARTIFACT_FORMAT


@dataclass
class _Entry:
    shop: ShopModel
    stamp: Stamp | None  # the artifact this entry was loaded from or saved as
    products_checked: float  # time.monotonic() of the last product refresh
    memo: dict[object, object] = field(default_factory=dict)


class ModelCache:
    """Per-process, per-shop cache of fitted models; one lock per shop so two requests never
    fit the same shop twice, and a slow fit of one shop never blocks another."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, shop_id: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(shop_id, threading.Lock())

    def get(self, shop_id: int) -> _Entry | None:
        return self._entries.get(shop_id)

    def put(self, shop_id: int, entry: _Entry) -> None:
        self._entries[shop_id] = entry

    def drop(self, shop_id: int) -> None:
        self._entries.pop(shop_id, None)


def model_cache(runtime: Runtime) -> ModelCache:
    return runtime.once("rec.cache", ModelCache)


def artifact_path(runtime: Runtime, shop_id: int) -> Path:
    return runtime.settings.var_dir / "models" / "rec" / f"shop-{shop_id}.pkl"


def _stamp(path: Path) -> Stamp | None:
    """Identifies one written artifact: each save is a new file (a new inode) moved in place."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _local(now: datetime) -> datetime:
    return now.astimezone(SHOP_TZ) if now.tzinfo else now


def card_text(product: Product) -> str:
    """What the content similarity sees: title, category path, brand and specs (no price)."""
    parts = [product.title, product.category, product.subcategory or "", product.brand or ""]
    parts += [f"{k}: {v}" for k, v in sorted((product.attributes or {}).items())]
    return " ".join(p for p in parts if p)


def _record(product: Product) -> ProductRecord:
    return ProductRecord(
        sku=product.sku,
        category=product.category,
        price=float(product.price),
        stock=product.stock,
        repurchase_cycle_days=product.repurchase_cycle_days,
        title=product.title,
        active=product.active,
    )


def build_shop_model(
    runtime: Runtime,
    shop_id: int,
    *,
    now: datetime,
    version: str,
    report: Report = _no_report,
    previous: ShopModel | None = None,
) -> ShopModel:
    """Read the shop's catalog and orders, embed the product cards and fit the model.

    Cards whose text did not change since `previous` keep their vectors (no re-embedding)."""
    started = time.perf_counter()
    with session_scope(runtime.sessions) as session:
        products = ProductRepository(session).list(shop_id, active_only=False)
        analytics = AnalyticsRepository(session)
        excluded = analytics.no_profiling_refs(shop_id)
        interactions = [
            Interaction(line.customer_ref, line.sku, _local(line.created_at), float(line.qty))
            for line in OrderRepository(session).iter_lines(shop_id)
            if line.customer_ref not in excluded
        ]
        order_lines = tuple(
            rfm.OrderLine(t.customer_ref, t.order_no, _local(t.created_at), float(t.total_amount))
            for t in analytics.iter_order_totals(shop_id)
        )
        records = [_record(p) for p in products]
        texts = [card_text(p) for p in products]
        skus = [p.sku for p in products]
    read_s = time.perf_counter() - started
    report(0.3, f"已读取 {len(records)} 个商品、{len(interactions)} 条订单行")
    t0 = time.perf_counter()
    known = previous.card_vectors if previous is not None else {}
    fresh = sorted({t for t in texts if t not in known})
    vectors = {t: known[t] for t in texts if t in known}
    if fresh:
        vectors.update(zip(fresh, runtime.embedder().embed_passages(fresh), strict=True))
    embed_s = time.perf_counter() - t0
    report(0.7, f"已为 {len(fresh)} 张新的或改过的商品卡片生成向量 (共 {len(texts)} 张)")
    t0 = time.perf_counter()
    fitted = None
    if records or interactions:
        fitted = rec_model.fit(
            interactions,
            _local(now),
            products=records,
            item_embeddings=np.stack([vectors[t] for t in texts]) if texts else None,
            embedding_skus=skus,
        )
    fit_s = time.perf_counter() - t0
    stats = {
        "products": float(len(records)),
        "interactions": float(len(interactions)),
        "customers": float(len(fitted.customer_index) if fitted is not None else 0),
        "embedded_cards": float(len(fresh)),
        "orders": float(len(order_lines)),
        "excluded_customers": float(len(excluded)),
        "read_s": round(read_s, 3),
        "embed_s": round(embed_s, 3),
        "fit_s": round(fit_s, 3),
        "total_s": round(time.perf_counter() - started, 3),
    }
    log.info("rec.model.built", extra={"shop_id": shop_id, "version": version, **stats})
    return ShopModel(shop_id, version, now, fitted, order_lines, stats, vectors)


def save_artifact(runtime: Runtime, built: ShopModel) -> Stamp | None:
    """Write atomically (other processes read it any time); returns the file's stamp."""
    path = artifact_path(runtime, built.shop_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with tmp.open("wb") as f:
        pickle.dump(built, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    return _stamp(path)


def _load_artifact(path: Path, shop_id: int) -> ShopModel | None:
    try:
        with path.open("rb") as f:
            # Our own file under var/, written by `save_artifact` in this deployment.
            loaded = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        log.warning("rec.artifact.unreadable", extra={"shop_id": shop_id, "error": repr(exc)})
        return None
    if not isinstance(loaded, ShopModel) or loaded.format != ARTIFACT_FORMAT or loaded.shop_id != shop_id:
        log.warning("rec.artifact.mismatch", extra={"shop_id": shop_id, "path": str(path)})
        return None
    return loaded


def refresh(
    runtime: Runtime, shop_id: int, *, now: datetime, version: str, report: Report = _no_report
) -> ShopModel:
    """Refit the shop's model, save the artifact and install it in this process's cache."""
    entry = model_cache(runtime).get(shop_id)
    previous = entry.shop if entry is not None else _load_artifact(artifact_path(runtime, shop_id), shop_id)
    built = build_shop_model(runtime, shop_id, now=now, version=version, report=report, previous=previous)
    if built.model is None:  # an empty shop: requests read it directly until it has data
        model_cache(runtime).drop(shop_id)
        return built
    report(0.9, "正在保存模型")
    stamp = save_artifact(runtime, built)
    model_cache(runtime).put(shop_id, _Entry(built, stamp, time.monotonic()))
    return built


def get_shop_model(runtime: Runtime, shop_id: int, *, now: datetime) -> _Entry:
    """The cached model of the shop; loads a newer artifact, or fits once when there is none."""
    cache = model_cache(runtime)
    path = artifact_path(runtime, shop_id)
    entry = cache.get(shop_id)
    if entry is None or entry.stamp != _stamp(path):
        with cache.lock(shop_id):
            entry = cache.get(shop_id)
            stamp = _stamp(path)
            if entry is None or entry.stamp != stamp:
                loaded = _load_artifact(path, shop_id) if stamp is not None else None
                if loaded is not None and loaded.model is not None:
                    entry = _Entry(loaded, stamp, 0.0)  # product facts re-read below
                    log.info("rec.model.loaded", extra={"shop_id": shop_id, "version": loaded.version})
                else:
                    version = f"inline-{now:%Y%m%dT%H%M%S}"
                    built = build_shop_model(runtime, shop_id, now=now, version=version)
                    if built.model is None:
                        # An empty shop: nothing worth caching; its first products are seen at once.
                        return _Entry(built, None, time.monotonic())
                    entry = _Entry(built, save_artifact(runtime, built), time.monotonic())
                cache.put(shop_id, entry)
    if time.monotonic() - entry.products_checked > PRODUCTS_TTL_S:
        _refresh_products(runtime, shop_id, entry)
    return entry


def _refresh_products(runtime: Runtime, shop_id: int, entry: _Entry) -> None:
    if entry.shop.model is None:
        return
    with session_scope(runtime.sessions) as session:
        records = [_record(p) for p in ProductRepository(session).list(shop_id, active_only=False)]
    entry.shop = dataclasses.replace(entry.shop, model=entry.shop.model.with_products(records))
    entry.products_checked = time.monotonic()


# ---------------------------------------------------------------- RFM (memoised per day)


def _thresholds(entry: _Entry, today: date, overrides: dict[str, object]) -> rfm.RFMThresholds:
    key = ("thresholds", today)
    base = entry.memo.get(key)
    if not isinstance(base, rfm.RFMThresholds):
        base = rfm.RFMThresholds.from_orders(entry.shop.order_lines, today)
        entry.memo[key] = base
    return base.with_overrides(overrides)


def _scored(entry: _Entry, day: date, t: rfm.RFMThresholds) -> dict[str, rfm.CustomerRFM]:
    key = ("scored", day, t)
    hit = entry.memo.get(key)
    if isinstance(hit, dict):
        return hit
    scored = {c.customer_id: c for c in rfm.score_customers(entry.shop.order_lines, day, t)}
    if len(entry.memo) > 32:
        entry.memo.clear()
    entry.memo[key] = scored
    return scored


def _shop_overrides(session: Session, shop_id: int) -> dict[str, object]:
    raw = ShopRepository(session).get(shop_id).settings.get("rfm", {})
    if not isinstance(raw, dict):
        raise InvalidInput(f"店铺设置 rfm 应为对象，当前为 {raw!r}", field="settings.rfm")
    return raw


def _today(now: datetime) -> date:
    return _local(now).date()


def segments(runtime: Runtime, shop_id: int, *, now: datetime) -> SegmentsReport:
    """Customers per segment today and `TREND_DAYS` earlier, with each segment's next action."""
    entry = get_shop_model(runtime, shop_id, now=now)
    today = _today(now)
    with session_scope(runtime.sessions) as session:
        t = _thresholds(entry, today, _shop_overrides(session, shop_id))
    before_day = today - timedelta(days=TREND_DAYS)
    current = _scored(entry, today, t)
    before = _scored(entry, before_day, t)
    counts: list[rfm.SegmentCount] = []
    for seg in rfm.Segment:
        play = rfm.PLAYBOOK[seg]
        counts.append(
            rfm.SegmentCount(
                segment=seg,
                label=play.label,
                count=sum(c.segment is seg for c in current.values()),
                previous_count=sum(c.segment is seg for c in before.values()),
                next_action=play.next_action,
                copy_goal=play.copy_goal,
            )
        )
    return SegmentsReport(today, before_day, len(current), t.as_dict(), counts)


def parse_segment(name: str) -> rfm.Segment:
    try:
        return rfm.Segment.parse(name)
    except InvalidInput as exc:
        raise NotFound(exc.detail) from None


def segment_customers(
    runtime: Runtime, shop_id: int, name: str, *, now: datetime, limit: int = 50, offset: int = 0
) -> SegmentCustomersPage:
    """One page of a segment's customers, biggest spenders first."""
    seg = parse_segment(name)
    entry = get_shop_model(runtime, shop_id, now=now)
    today = _today(now)
    with session_scope(runtime.sessions) as session:
        t = _thresholds(entry, today, _shop_overrides(session, shop_id))
    with session_scope(runtime.sessions) as session:
        repo = AnalyticsRepository(session)
        excluded = repo.no_profiling_refs(shop_id)  # consent may have changed since the refresh
        members = sorted(
            (
                c
                for c in _scored(entry, today, t).values()
                if c.segment is seg and c.customer_id not in excluded
            ),
            key=lambda c: (-c.monetary, c.customer_id),
        )
        page = members[offset : offset + limit]
        briefs = repo.customers_by_refs(shop_id, [c.customer_id for c in page])
    items = [
        SegmentCustomer(
            customer_ref=c.customer_id,
            nickname=briefs[c.customer_id].nickname if c.customer_id in briefs else None,
            first_order=c.first_order,
            last_order=c.last_order,
            recency_days=c.recency_days,
            frequency=c.frequency,
            monetary=c.monetary,
            rfm_code=c.rfm_code,
        )
        for c in page
    ]
    play = rfm.PLAYBOOK[seg]
    return SegmentCustomersPage(
        seg, play.label, play.next_action, play.copy_goal, today, len(members), limit, offset, items
    )


# ---------------------------------------------------------------- recommendations


def recommend(
    runtime: Runtime,
    shop_id: int,
    *,
    now: datetime,
    customer_ref: str | None = None,
    context_skus: Sequence[str] = (),
    k: int = 10,
) -> RecommendationResult:
    """Top `k` in-stock products for a customer, a cart or a product page, each with a reason.

    An unknown `customer_ref` (or another shop's) is `NotFound`. Erased customers and those
    without profiling consent get bestsellers only."""
    if not 1 <= k <= K_MAX:
        raise InvalidInput(f"k 应在 1 到 {K_MAX} 之间，收到 {k!r}", field="k")
    with session_scope(runtime.sessions) as session:
        profiled = False
        if customer_ref is not None:
            customer = CustomerRepository(session).require_by_ref(shop_id, customer_ref)
            profiled = customer.erased_at is None and customer.consent_profiling
        entry = get_shop_model(runtime, shop_id, now=now)
        fitted = entry.shop.model
        local = _local(now)
        if fitted is None:
            raw: list[Recommendation] = []
        elif profiled or (customer_ref is None and context_skus):
            raw = fitted.recommend(
                customer_ref, k + _LIVE_MARGIN, now=local, context_items=list(context_skus)
            )
        else:
            raw = _bestsellers(fitted, k + _LIVE_MARGIN)
        items = _with_live_facts(session, shop_id, raw, k)
        overrides = _shop_overrides(session, shop_id) if profiled else {}
    segment = None
    if customer_ref is not None and profiled:
        today = local.date()
        scored = _scored(entry, today, _thresholds(entry, today, overrides)).get(customer_ref)
        if scored is not None:
            play = scored.playbook
            segment = CustomerSegment(
                scored.segment,
                play.label,
                play.next_action,
                play.copy_goal,
                scored.rfm_code,
                scored.recency_days,
                scored.frequency,
                scored.monetary,
            )
    return RecommendationResult(
        customer_ref=customer_ref,
        personalised=bool(profiled),
        items=items,
        segment=segment,
        model_version=entry.shop.version,
        fitted_at=entry.shop.built_at,
    )


def _bestsellers(fitted: rec_model.RecommenderModel, k: int) -> list[Recommendation]:
    """Shop-wide popularity only: no history, no context, no profile."""
    score = np.where(fitted.sellable, fitted.popularity, -np.inf)
    order = np.lexsort((np.arange(fitted.n_items), -score))
    out = []
    for j in order[:k]:
        if not np.isfinite(score[j]):
            break
        out.append(
            Recommendation(
                sku=fitted.items[j],
                score=round(float(score[j]), 6),
                reason_code=ReasonCode.bestseller,
                reason=reason_text(ReasonCode.bestseller),
                title=fitted.titles[j],
                category=fitted.categories[j],
            )
        )
    return out


def _with_live_facts(
    session: Session, shop_id: int, raw: list[Recommendation], k: int
) -> list[RecommendedItem]:
    """Price, title and stock as the store has them now; anything sold out since is dropped."""
    live = {p.sku: p for p in ProductRepository(session).by_skus(shop_id, [r.sku for r in raw])}
    items = []
    for r in raw:
        p = live.get(r.sku)
        if p is None or not p.active or p.stock <= 0:
            continue
        items.append(
            RecommendedItem(
                sku=r.sku,
                title=p.title,
                price=p.price,
                score=r.score,
                reason_code=r.reason_code,
                reason=r.reason,
                category=p.category,
                because_of=r.because_of,
            )
        )
        if len(items) == k:
            break
    return items


# ---------------------------------------------------------------- reminders


def reminders(
    runtime: Runtime, shop_id: int, *, now: datetime, within_days: int = 7, limit: int = 100, offset: int = 0
) -> ReminderPage:
    """Customers whose usual repurchase of a SKU falls due within `within_days` (either side of
    today), soonest first."""
    if not 0 <= within_days <= 90:
        raise InvalidInput(
            f"due_within_days 应在 0 到 90 之间，收到 {within_days!r}", field="due_within_days"
        )
    entry = get_shop_model(runtime, shop_id, now=now)
    fitted = entry.shop.model
    due = fitted.reminders(_local(now), within_days) if fitted is not None else []
    with session_scope(runtime.sessions) as session:
        repo = AnalyticsRepository(session)
        excluded = repo.no_profiling_refs(shop_id)
        due = [r for r in due if r.customer_id not in excluded]
        page = due[offset : offset + limit]
        briefs = repo.customers_by_refs(shop_id, [r.customer_id for r in page])
    items = [
        ReminderItem(
            customer_ref=r.customer_id,
            nickname=briefs[r.customer_id].nickname if r.customer_id in briefs else None,
            sku=r.sku,
            title=r.title,
            due_date=r.due_date,
            last_bought=r.last_bought,
            times_bought=r.times_bought,
            reason=r.reason,
        )
        for r in page
    ]
    return ReminderPage(_today(now), within_days, len(due), limit, offset, items)


# ---------------------------------------------------------------- nightly


def nightly_shop_ids(runtime: Runtime) -> list[int]:
    """Shops that keep the nightly refresh on (`settings["rec"]["nightly_refresh"]`, default on)."""
    with session_scope(runtime.sessions) as session:
        shops = ShopRepository(session).list()
        out = []
        for shop in shops:
            rec_settings: Any = (shop.settings or {}).get("rec", {})
            if not isinstance(rec_settings, dict) or rec_settings.get("nightly_refresh", True) is not False:
                out.append(shop.id)
    return out
