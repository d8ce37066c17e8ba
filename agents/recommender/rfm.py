"""RFM scores and named customer segments (a pure core: rows and `today` in, records out).

Each customer gets recency (days since the last order), frequency (distinct orders) and
monetary (total spend), each scored 1-5 by quintile within the shop. The segment follows
rules over thresholds that are per-shop settings; their defaults come from the shop's own
data (the typical gap between a customer's orders, and spend quantiles), so a tea shop that
sells monthly and a furniture shop that sells yearly both get sensible segments.

Precedence (first match wins): 沉睡 → 流失风险 → 新客 → 忠诚/VIP → 高潜 → 活跃.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from store.errors import InvalidInput


class Segment(enum.StrEnum):
    """English keys (URL- and JSON-safe); `label` is the Chinese name staff see."""

    new = "new"
    active = "active"
    vip = "vip"
    dormant = "dormant"
    at_risk = "at_risk"
    high_potential = "high_potential"

    @property
    def label(self) -> str:
        return PLAYBOOK[self].label

    @classmethod
    def parse(cls, name: str) -> Segment:
        """Accept the key (`vip`) or the Chinese label (`忠诚/VIP`, also `忠诚` or `VIP`)."""
        text = name.strip()
        for seg in cls:
            if text.lower() == seg.value or text == seg.label or text in seg.label.split("/"):
                return seg
        known = ", ".join(f"{s.value}({s.label})" for s in cls)
        raise InvalidInput(f"未知的客户分层 {name!r}，可选: {known}", field="segment")


@dataclass(frozen=True, slots=True)
class SegmentPlaybook:
    label: str
    next_action: str
    copy_goal: str  # one of the copywriter's goals: 新品|促销|种草|干货|节日|会员日|唤醒


PLAYBOOK: dict[Segment, SegmentPlaybook] = {
    Segment.new: SegmentPlaybook("新客", "加企业微信并发新客第二单券，7 天内推荐与首单搭配的商品", "种草"),
    Segment.active: SegmentPlaybook("活跃", "按购买记录推荐搭配和新品，保持每周一次触达", "新品"),
    Segment.vip: SegmentPlaybook("忠诚/VIP", "会员日专属礼遇：新品优先试用、专属折扣，一对一维护", "会员日"),
    Segment.dormant: SegmentPlaybook("沉睡", "发限时唤醒券并私聊问候，附上他常买商品的补货提醒", "唤醒"),
    Segment.at_risk: SegmentPlaybook("流失风险", "在流失前发专属回购券，提醒常买商品快用完了", "唤醒"),
    Segment.high_potential: SegmentPlaybook("高潜", "客单价高但买得少：推荐高客单组合并邀请加入会员", "促销"),
}


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One order line (or a whole order). Lines sharing an `order_id` count as one order."""

    customer_id: str
    order_id: str
    ts: datetime | date
    amount: float


@dataclass(frozen=True, slots=True)
class RFMThresholds:
    """Per-shop segment thresholds. Use `from_orders` for data-driven defaults."""

    new_days: int = 30  # first order at most this many days ago → 新客
    at_risk_days: int = 60  # no order for more than this → 流失风险
    dormant_days: int = 120  # no order for more than this → 沉睡
    vip_min_orders: int = 4
    vip_min_monetary: float = 1000.0
    high_potential_min_aov: float = 300.0  # average order value

    def __post_init__(self) -> None:
        if not 0 < self.at_risk_days < self.dormant_days:
            raise InvalidInput(
                f"需要 0 < at_risk_days < dormant_days，当前为 {self.at_risk_days} 和 {self.dormant_days}",
                field="rfm.at_risk_days",
            )
        if self.new_days < 0 or self.vip_min_orders < 1:
            raise InvalidInput("new_days 不能为负，vip_min_orders 至少为 1", field="rfm")

    @classmethod
    def from_orders(cls, lines: Iterable[OrderLine], today: date) -> RFMThresholds:
        """Defaults from the shop's data: recency limits from the typical gap between a customer's
        orders (75th percentile over customers of each one's median gap; 2 gaps → at risk,
        4 → dormant), VIP at the top 20% of orders and spend,
        high potential at the top 25% of average order value."""
        stats = _customer_stats(lines, today)
        if not stats:
            return cls()
        # One vote per repeat customer, and the 75th percentile of their usual gaps: 3 in 4 repeat
        # customers come back within `gap` days, so a few daily buyers do not set everyone's clock.
        per_customer: list[float] = []
        for s in stats.values():
            days = sorted(s.order_days)
            gaps = [(b - a).days for a, b in zip(days, days[1:], strict=False) if b > a]
            if gaps:
                per_customer.append(statistics.median(gaps))
        gap = float(np.quantile(per_customer, 0.75)) if per_customer else 30.0
        at_risk = int(min(max(round(2 * gap), 30), 180))
        dormant = int(min(max(round(4 * gap), at_risk + 30), 365))
        freq = np.array([s.frequency for s in stats.values()], dtype=float)
        money = np.array([s.monetary for s in stats.values()], dtype=float)
        aov = money / freq
        return cls(
            new_days=30,
            at_risk_days=at_risk,
            dormant_days=dormant,
            vip_min_orders=max(3, math.ceil(float(np.quantile(freq, 0.8)))),
            vip_min_monetary=round(float(np.quantile(money, 0.8)), 2),
            high_potential_min_aov=round(float(np.quantile(aov, 0.75)), 2),
        )

    def with_overrides(self, overrides: Mapping[str, object]) -> RFMThresholds:
        """Apply a shop's `settings["rfm"]`; unknown keys or wrong types are an `InvalidInput`."""
        fields = {f.name: f.type for f in dataclasses.fields(self)}
        clean: dict[str, int | float] = {}
        for key, value in overrides.items():
            if key not in fields:
                raise InvalidInput(f"未知的分层阈值 {key!r}，可选: {', '.join(fields)}", field=f"rfm.{key}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(f"阈值必须是数字，收到 {value!r}", field=f"rfm.{key}")
            clean[key] = float(value) if fields[key] == "float" else int(value)
        return dataclasses.replace(self, **clean)  # type: ignore[arg-type]  # keys checked against fields

    def as_dict(self) -> dict[str, int | float]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class CustomerRFM:
    customer_id: str
    first_order: date
    last_order: date
    recency_days: int
    frequency: int
    monetary: float
    r_score: int
    f_score: int
    m_score: int
    segment: Segment

    @property
    def avg_order_value(self) -> float:
        return self.monetary / self.frequency

    @property
    def rfm_code(self) -> str:
        return f"{self.r_score}{self.f_score}{self.m_score}"

    @property
    def playbook(self) -> SegmentPlaybook:
        return PLAYBOOK[self.segment]


@dataclass(frozen=True, slots=True)
class SegmentCount:
    segment: Segment
    label: str
    count: int
    previous_count: int
    next_action: str
    copy_goal: str

    @property
    def delta(self) -> int:
        return self.count - self.previous_count


@dataclass
class _Stats:
    first: date
    last: date
    order_days: list[date]
    orders: set[str]
    monetary: float

    @property
    def frequency(self) -> int:
        return len(self.orders)


def _as_date(ts: datetime | date) -> date:
    return ts.date() if isinstance(ts, datetime) else ts


def _customer_stats(lines: Iterable[OrderLine], today: date) -> dict[str, _Stats]:
    stats: dict[str, _Stats] = {}
    for line in lines:
        day = _as_date(line.ts)
        if day > today:
            continue
        s = stats.get(line.customer_id)
        if s is None:
            stats[line.customer_id] = _Stats(day, day, [day], {line.order_id}, float(line.amount))
            continue
        s.first, s.last = min(s.first, day), max(s.last, day)
        if line.order_id not in s.orders:
            s.orders.add(line.order_id)
            s.order_days.append(day)
        s.monetary += float(line.amount)
    return stats


def quintile_scores(values: np.ndarray, *, lower_is_better: bool = False) -> np.ndarray:
    """Scores 1-5 against the 20/40/60/80% quantiles of `values` (ties share a score)."""
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    edges = np.quantile(values, [0.2, 0.4, 0.6, 0.8])
    if lower_is_better:
        return 5 - np.searchsorted(edges, values, side="right").astype(np.int64)
    return 1 + np.searchsorted(edges, values, side="left").astype(np.int64)


def assign_segment(
    *, recency_days: int, tenure_days: int, frequency: int, monetary: float, t: RFMThresholds
) -> Segment:
    if recency_days > t.dormant_days:
        return Segment.dormant
    if recency_days > t.at_risk_days:
        return Segment.at_risk
    if tenure_days <= t.new_days:
        return Segment.new
    if frequency >= t.vip_min_orders and monetary >= t.vip_min_monetary:
        return Segment.vip
    if monetary / frequency >= t.high_potential_min_aov:
        return Segment.high_potential
    return Segment.active


def score_customers(lines: Iterable[OrderLine], today: date, thresholds: RFMThresholds) -> list[CustomerRFM]:
    """RFM scores and the segment of every customer with an order on or before `today`,
    sorted by customer id. Orders after `today` are ignored, so the past can be replayed."""
    stats = _customer_stats(lines, today)
    ids = sorted(stats)
    recency = np.array([(today - stats[c].last).days for c in ids], dtype=float)
    freq = np.array([stats[c].frequency for c in ids], dtype=float)
    money = np.array([stats[c].monetary for c in ids], dtype=float)
    r_scores = quintile_scores(recency, lower_is_better=True)
    f_scores = quintile_scores(freq)
    m_scores = quintile_scores(money)
    out = []
    for i, cid in enumerate(ids):
        s = stats[cid]
        out.append(
            CustomerRFM(
                customer_id=cid,
                first_order=s.first,
                last_order=s.last,
                recency_days=int(recency[i]),
                frequency=s.frequency,
                monetary=round(s.monetary, 2),
                r_score=int(r_scores[i]),
                f_score=int(f_scores[i]),
                m_score=int(m_scores[i]),
                segment=assign_segment(
                    recency_days=int(recency[i]),
                    tenure_days=(today - s.first).days,
                    frequency=s.frequency,
                    monetary=s.monetary,
                    t=thresholds,
                ),
            )
        )
    return out


def segment_counts(
    lines: Iterable[OrderLine], today: date, thresholds: RFMThresholds, *, compare_days: int = 30
) -> list[SegmentCount]:
    """Counts per segment today and `compare_days` earlier (same thresholds), in `Segment` order."""
    rows = list(lines)
    now = _count(score_customers(rows, today, thresholds))
    before = _count(score_customers(rows, today - timedelta(days=compare_days), thresholds))
    return [
        SegmentCount(
            segment=seg,
            label=PLAYBOOK[seg].label,
            count=now.get(seg, 0),
            previous_count=before.get(seg, 0),
            next_action=PLAYBOOK[seg].next_action,
            copy_goal=PLAYBOOK[seg].copy_goal,
        )
        for seg in Segment
    ]


def _count(scored: list[CustomerRFM]) -> dict[Segment, int]:
    counts: dict[Segment, int] = {}
    for c in scored:
        counts[c.segment] = counts.get(c.segment, 0) + 1
    return counts
