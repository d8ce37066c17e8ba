"""Filters and reranking over candidate scores (pure numpy; no I/O, no clock).

- in stock only (unknown stock counts as in stock, e.g. a plain purchase log);
- a SKU bought within its repurchase cycle is not shown again; once due it comes back as a
  repurchase reminder; a SKU without a cycle (a durable good) is not shown again at all;
- price band: candidates far from the customer's usual price are damped;
- category diversity: greedy MMR where two items are similar when they share a category.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class RankConfig:
    remind_within_days: int = 21  # shown as due this many days ahead (at most half a cycle)
    remind_cycle_share: float = 0.5  # ...and at most this share of the item's cycle ahead
    reminder_weight: float = 1.0  # a due reminder scores this × the best fresh candidate
    # Per cycle overdue, a reminder loses this share of its strength. 0: on validation, staples
    # long overdue were bought again as often as those just due (people buy now and then).
    overdue_fade: float = 0.0
    max_qty_cycles: float = 3.0  # buying n packs stretches the cycle n×, up to this
    price_band_ratio: float = 2.0  # within ×/÷ this of the customer's median price: no damping
    mmr_lambda: float = 0.9  # 1 = relevance only, 0 = diversity only
    pool: int = 100  # best raw candidates considered for reranking


def due_days(
    last_day: np.ndarray, cycle_days: np.ndarray, qty: np.ndarray, max_qty_cycles: float
) -> np.ndarray:
    """Day ordinals when each purchase runs out: last purchase + cycle × packs bought (capped).
    NaN where the item has no repurchase cycle."""
    packs = np.clip(qty, 1.0, max_qty_cycles)
    due: np.ndarray = last_day + np.round(cycle_days * packs)
    return due


def repurchase_split(
    due: np.ndarray,
    cycle_days: np.ndarray,
    today: int,
    remind_within_days: int,
    cycle_share: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """For the customer's bought items: (blocked, due_now) boolean masks. Durable items (NaN due)
    are blocked; items not yet due are blocked; items due within the window are reminders. The
    window is at most half a cycle, so a weekly item is not due again the day after it is bought."""
    has_cycle = ~np.isnan(due)
    window = np.minimum(float(remind_within_days), np.nan_to_num(cycle_days, nan=0.0) * cycle_share)
    due_now = has_cycle & (np.nan_to_num(due, nan=np.inf) <= today + window)
    return ~due_now, due_now


def reminder_strength(
    due: np.ndarray, times_bought: np.ndarray, cycle_days: np.ndarray, today: int, overdue_fade: float
) -> np.ndarray:
    """Higher for items bought often and due now; fades slowly when long overdue (some stopped
    buying it, many just buy it now and then)."""
    overdue_cycles = np.maximum(today - due, 0.0) / np.maximum(cycle_days, 1.0)
    strength: np.ndarray = (1.0 + np.log(np.maximum(times_bought, 1.0))) / (
        1.0 + overdue_fade * overdue_cycles
    )
    return strength


def price_factor(prices: np.ndarray, center: float | None, band_ratio: float) -> np.ndarray:
    """1 inside [center/ratio, center×ratio]; outside, damped by how far beyond the band it is."""
    out = np.ones_like(prices, dtype=float)
    if center is None or center <= 0:
        return out
    known = ~np.isnan(prices) & (prices > 0)
    ratio = np.ones_like(prices, dtype=float)
    ratio[known] = np.maximum(prices[known] / center, center / prices[known])
    beyond = ratio > band_ratio
    out[beyond] = band_ratio / ratio[beyond]
    return out


def mmr_order(scores: np.ndarray, categories: np.ndarray, k: int, lam: float) -> list[int]:
    """Greedy maximal marginal relevance with category equality as the similarity.
    Returns positions into `scores`; ties break on position (callers pre-sort deterministically)."""
    n = len(scores)
    if n == 0 or k <= 0:
        return []
    top = float(np.max(scores))
    rel = scores / top if top > 0 else np.zeros(n)
    chosen: list[int] = []
    used_cats: set[int] = set()
    remaining = np.ones(n, dtype=bool)
    cat_list = categories.tolist()
    for _ in range(min(k, n)):
        penalty = np.fromiter((c in used_cats for c in cat_list), dtype=float, count=n)
        mmr = lam * rel - (1.0 - lam) * penalty
        mmr[~remaining] = -np.inf
        pick = int(np.argmax(mmr))
        chosen.append(pick)
        remaining[pick] = False
        used_cats.add(cat_list[pick])
    return chosen
