"""Demand pattern by ADI and CV² (Syntetos & Boylan 2005 cut-offs 1.32 and 0.49).

ADI  = observed days / days with a sale (the average interval between demands);
CV²  = (sd / mean)² of the non-zero demand sizes (population sd).
Censored (stockout) days and days before the SKU existed are not observations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.forecaster.panel import BoolArray, FloatArray
from agents.forecaster.schemas import DemandClass

ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49


@dataclass(frozen=True)
class DemandStats:
    adi: float
    cv2: float
    mean_daily: float
    demand_class: DemandClass


def classify(adi: float, cv2: float) -> DemandClass:
    if not np.isfinite(adi):
        return DemandClass.inactive
    if adi < ADI_CUTOFF:
        return DemandClass.smooth if cv2 < CV2_CUTOFF else DemandClass.erratic
    return DemandClass.intermittent if cv2 < CV2_CUTOFF else DemandClass.lumpy


def demand_stats(qty: FloatArray, censored: BoolArray | None = None) -> DemandStats:
    """Stats of one SKU's daily series."""
    observed = ~np.isnan(qty)
    if censored is not None:
        observed &= ~censored
    y = qty[observed]
    sizes = y[y > 0]
    if sizes.size == 0:
        return DemandStats(float("inf"), 0.0, 0.0, DemandClass.inactive)
    adi = y.size / sizes.size
    cv2 = float(np.var(sizes) / np.mean(sizes) ** 2)
    return DemandStats(adi, cv2, float(y.mean()), classify(adi, cv2))


def demand_stats_panel(qty: FloatArray, censored: BoolArray) -> list[DemandStats]:
    """Vectorised `demand_stats` over every row of a panel."""
    observed = ~np.isnan(qty) & ~censored
    y = np.where(observed, qty, 0.0)
    n_obs = observed.sum(axis=1)
    positive = y > 0
    n_pos = positive.sum(axis=1)
    total = y.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        size_mean = total / n_pos
        size_var = (np.where(positive, y, 0.0) ** 2).sum(axis=1) / n_pos - size_mean**2
        cv2 = np.maximum(size_var, 0.0) / size_mean**2
        adi = n_obs / n_pos
        mean_daily = total / n_obs
    out = []
    for a, c, m, k in zip(adi, cv2, mean_daily, n_pos, strict=True):
        if k == 0:
            out.append(DemandStats(float("inf"), 0.0, 0.0, DemandClass.inactive))
        else:
            out.append(DemandStats(float(a), float(c), float(m), classify(float(a), float(c))))
    return out
