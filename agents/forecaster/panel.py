"""Rows → a dense daily panel: one row per SKU, one column per day, on one shared calendar.

Missing dates are 0 sales. Days with `on_hand == 0` are *censored*: the shop had nothing to sell,
so the recorded sales say nothing about demand; they are marked, never read as zero demand.
Days before a SKU's first record are NaN (the SKU did not exist yet).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from agents.forecaster.errors import ForecastError
from agents.forecaster.schemas import SalesRow

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class SalesPanel:
    skus: list[str]
    start: date
    qty: FloatArray  # (n_skus, n_days); NaN before a SKU's first day
    censored: BoolArray  # (n_skus, n_days); True on stockout days
    first_day: npt.NDArray[np.int64]  # column index of each SKU's first day

    @property
    def n_days(self) -> int:
        return int(self.qty.shape[1])

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.n_days - 1)

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.n_days)]

    def day_index(self, day: date) -> int:
        return (day - self.start).days

    def head(self, n_days: int) -> SalesPanel:
        """The first `n_days` columns (a training cut); SKUs not yet born by then are dropped."""
        keep = self.first_day < n_days
        return SalesPanel(
            skus=[s for s, k in zip(self.skus, keep, strict=True) if k],
            start=self.start,
            qty=self.qty[keep, :n_days],
            censored=self.censored[keep, :n_days],
            first_day=self.first_day[keep],
        )

    def select(self, skus: Sequence[str]) -> SalesPanel:
        index = {s: i for i, s in enumerate(self.skus)}
        rows = np.array([index[s] for s in skus], dtype=np.int64)
        return SalesPanel(list(skus), self.start, self.qty[rows], self.censored[rows], self.first_day[rows])


def densify(rows: Iterable[SalesRow], *, end: date | None = None) -> SalesPanel:
    """Build the panel; every SKU runs from its first record to `end` (default: the last date in the file)."""
    rows = list(rows)
    if not rows:
        raise ForecastError("没有任何销售记录")
    start = min(r.day for r in rows)
    last = max(r.day for r in rows) if end is None else end
    n_days = (last - start).days + 1
    skus = sorted({r.sku for r in rows})
    index = {s: i for i, s in enumerate(skus)}
    qty = np.zeros((len(skus), n_days), dtype=np.float64)
    censored = np.zeros((len(skus), n_days), dtype=np.bool_)
    first_day = np.full(len(skus), n_days, dtype=np.int64)
    for r in rows:
        col = (r.day - start).days
        if col >= n_days:
            continue
        i = index[r.sku]
        qty[i, col] = r.qty
        if r.on_hand == 0:
            censored[i, col] = True
        first_day[i] = min(first_day[i], col)
    cols = np.arange(n_days)
    qty[cols[None, :] < first_day[:, None]] = np.nan
    return SalesPanel(skus, start, qty, censored, first_day)
