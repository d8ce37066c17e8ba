"""Per-SKU multiplicative uplift for the retail calendar (春节, 618, 双11, 双12), learned from past years.

The windows come from `store.holidays`, the one calendar. Each window kind gets one factor: the
ratio of what sold in the window to what the four weeks before it predicted (weekday-adjusted).
A SKU's factor is shrunk towards the factor of all SKUs (or its category) in proportion to how
little it sold, so a SKU with three sales a year borrows the shop's pattern. Merchants may
declare their own windows (店庆, 会员日) with a factor; a declared factor wins over a learned one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from agents.forecaster.panel import BoolArray, FloatArray, SalesPanel
from store.holidays import EVENT_KINDS, calendar

BASELINE_DAYS = 28
PRIOR_UNITS = 30.0  # how many expected units a SKU needs before its own factor counts as much as the pool


@dataclass(frozen=True)
class DeclaredEvent:
    """A merchant's own window and uplift, e.g. 店庆 ×2.0; `skus=None` means every SKU."""

    name: str
    start: date
    end: date
    factor: float
    skus: frozenset[str] | None = None


@dataclass(frozen=True)
class Uplift:
    """Learned factors: `factors[i, k]` for SKU row i and `EVENT_KINDS[k]`; `pooled[k]` for the shop."""

    factors: FloatArray
    pooled: FloatArray
    occurrences: npt.NDArray[np.int64]  # how many past windows of each kind were seen

    def factor_of(self, row: int, kind: str) -> float:
        return float(self.factors[row, EVENT_KINDS.index(kind)])


def event_kind_matrix(start: date, n_days: int) -> npt.NDArray[np.int64]:
    """Kind index per day (-1 on ordinary days)."""
    kinds = np.full(n_days, -1, dtype=np.int64)
    end = start + timedelta(days=n_days - 1)
    for window in calendar(start, end):
        k = EVENT_KINDS.index(window.kind)
        for day in window.days():
            col = (day - start).days
            if 0 <= col < n_days:
                kinds[col] = k
    return kinds


def weekday_profile(panel: SalesPanel, valid: BoolArray, event_days: BoolArray) -> FloatArray:
    """The shop-wide weekday profile (mean 1) from ordinary, in-stock days."""
    use = valid & ~event_days[None, :]
    weekday = (np.arange(panel.n_days) + panel.start.weekday()) % 7
    y = np.where(use, panel.qty, 0.0)
    per_day = y.sum(axis=0)
    counts = use.sum(axis=0)
    profile = np.ones(7)
    for w in range(7):
        cols = weekday == w
        if counts[cols].sum() > 0:
            profile[w] = per_day[cols].sum() / counts[cols].sum()
    if profile.mean() <= 0:
        return np.ones(7)
    return np.asarray(profile / profile.mean(), dtype=np.float64)


def learn_uplift(panel: SalesPanel, groups: Sequence[str] | None = None) -> Uplift:
    """Learn each SKU's factor for every event kind from the windows in its history."""
    n, t = panel.qty.shape
    valid = ~np.isnan(panel.qty) & ~panel.censored
    y = np.where(valid, panel.qty, 0.0)
    kinds = event_kind_matrix(panel.start, t)
    event_days = kinds >= 0
    profile = weekday_profile(panel, valid, event_days)
    wf = profile[(np.arange(t) + panel.start.weekday()) % 7]
    n_kinds = len(EVENT_KINDS)
    actual = np.zeros((n, n_kinds))
    expected = np.zeros((n, n_kinds))
    occurrences = np.zeros(n_kinds, dtype=np.int64)
    for window in calendar(panel.start, panel.end):
        a, b = panel.day_index(window.start), panel.day_index(window.end)
        if a - BASELINE_DAYS < 0 or b >= t:
            continue
        k = EVENT_KINDS.index(window.kind)
        base = slice(a - BASELINE_DAYS, a)
        base_ok = valid[:, base] & ~event_days[None, base]
        base_units = (y[:, base] * base_ok).sum(axis=1)
        base_weight = (wf[None, base] * base_ok).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(base_weight > 0, base_units / base_weight, np.nan)
        win_ok = valid[:, a : b + 1]
        exp = rate * (wf[None, a : b + 1] * win_ok).sum(axis=1)
        act = (y[:, a : b + 1] * win_ok).sum(axis=1)
        ok = np.isfinite(exp)
        actual[ok, k] += act[ok]
        expected[ok, k] += exp[ok]
        occurrences[k] += 1
    group_ids = _group_ids(groups, n)
    pooled = np.ones(n_kinds)
    factors = np.ones((n, n_kinds))
    for g in np.unique(group_ids):
        rows = group_ids == g
        a_sum, e_sum = actual[rows].sum(axis=0), expected[rows].sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            pool = np.where(e_sum > 0, a_sum / e_sum, 1.0)
        factors[rows] = (actual[rows] + PRIOR_UNITS * pool) / (expected[rows] + PRIOR_UNITS)
        if groups is None:
            pooled = pool
    return Uplift(factors=factors, pooled=pooled, occurrences=occurrences)


def _group_ids(groups: Sequence[str] | None, n: int) -> npt.NDArray[np.int64]:
    if groups is None:
        return np.zeros(n, dtype=np.int64)
    names = {g: i for i, g in enumerate(sorted(set(groups)))}
    return np.array([names[g] for g in groups], dtype=np.int64)


def factor_matrix(
    uplift: Uplift,
    skus: Sequence[str],
    start: date,
    n_days: int,
    declared: Sequence[DeclaredEvent] = (),
) -> FloatArray:
    """(n_skus, n_days) multipliers for the days from `start`: learned factors, then declared ones on top."""
    kinds = event_kind_matrix(start, n_days)
    out = np.ones((len(skus), n_days))
    on = kinds >= 0
    out[:, on] = uplift.factors[:, kinds[on]]
    for event in declared:
        a = max((event.start - start).days, 0)
        b = min((event.end - start).days, n_days - 1)
        if a > b:
            continue
        rows = [i for i, s in enumerate(skus) if event.skus is None or s in event.skus]
        out[np.array(rows, dtype=np.int64)[:, None], np.arange(a, b + 1)[None, :]] = event.factor
    return out


def adjust_history(panel: SalesPanel, uplift: Uplift) -> FloatArray:
    """The history as if every day were ordinary and in stock, for the models to learn from.

    Event days are divided by their factor; censored days are filled with the SKU's mean of the
    previous four weeks of in-stock (adjusted) days, so a stockout is not read as zero demand.
    Days before the SKU existed stay NaN.
    """
    t = panel.n_days
    factors = factor_matrix(uplift, panel.skus, panel.start, t)
    valid = ~np.isnan(panel.qty) & ~panel.censored
    adj = np.where(valid, panel.qty / np.maximum(factors, 1e-6), 0.0)
    csum = np.concatenate([np.zeros((adj.shape[0], 1)), np.cumsum(adj, axis=1)], axis=1)
    ccnt = np.concatenate([np.zeros((adj.shape[0], 1)), np.cumsum(valid, axis=1)], axis=1)
    cols = np.arange(t)
    lo = np.maximum(cols - BASELINE_DAYS, 0)
    units = csum[:, cols] - csum[:, lo]
    count = ccnt[:, cols] - ccnt[:, lo]
    # Fall back to the SKU's mean over all in-stock days when the last four weeks were all out.
    overall = csum[:, -1] / np.maximum(ccnt[:, -1], 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        fill = np.where(count > 0, units / count, overall[:, None])
    out = np.where(valid, adj, fill)
    out[np.isnan(panel.qty)] = np.nan
    return np.asarray(out, dtype=np.float64)


def group_factors(mapping: Mapping[str, str], skus: Sequence[str]) -> list[str]:
    """Category per SKU in panel order (unknown SKUs share one group)."""
    return [mapping.get(s, "") for s in skus]
