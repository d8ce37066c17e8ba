"""Hidden demand: customers asking for a SKU while it is out of stock. Pure.

A stockout day records 0 sales, and the forecaster already treats it as censored (unknown, not
zero). Chats tell us more: "保温杯有货吗？" on a day it was sold out is a customer who wanted it.
For each censored (sku, day) with such asks, the day becomes an observation again:

    corrected qty = baseline + min(distinct asking customers, cap)

where `baseline` is the SKU's mean over its last 28 in-stock days (what the silent majority
would have bought) and the askers are demand on top of it. Days without asks stay censored.

A message is an ask when it has a stock question (有货吗, 什么时候到货, 补货了吗, 还有吗, …) and
names a SKU by its code (MB-104, mb104) or by a word of its title (纸尿裤, 保温杯).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from agents.forecaster.panel import SalesPanel
from retrieval.lexical import common_substring_length

ASK_PATTERNS = (
    "有货吗",
    "有货没",
    "有没有货",
    "还有货",
    "什么时候到货",
    "啥时候到货",
    "几时到货",
    "什么时候有货",
    "啥时候有货",
    "什么时候补货",
    "啥时候补货",
    "补货了吗",
    "补货没",
    "到货了吗",
    "到货没",
    "还有吗",
    "还有没有",
    "没货了",
    "缺货",
    "断货",
    "卖完了",
    "售罄",
)
BASELINE_DAYS = 28
DEFAULT_CAP = 5
_CODE = re.compile(r"[A-Za-z]{1,4}[-_ ]?\d{2,6}")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
MIN_COMMON = 2


@dataclass(frozen=True)
class Ask:
    customer_id: int
    day: date
    text: str


@dataclass(frozen=True)
class CorrectionReport:
    panel: SalesPanel
    signals: dict[tuple[str, date], int]  # distinct asking customers per censored (sku, day)
    added_units: float


def normalize_code(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", unicodedata.normalize("NFKC", text)).upper()


def is_stock_question(text: str) -> bool:
    flat = unicodedata.normalize("NFKC", text).replace(" ", "")
    return any(p in flat for p in ASK_PATTERNS)


def title_words(title: str) -> list[str]:
    """Runs of ≥ 2 Chinese characters in a title (brand and product words)."""
    return _CJK_RUN.findall(title)


def match_skus(text: str, titles: Mapping[str, str]) -> list[str]:
    """The SKUs a message names: by code first; else the SKUs sharing the longest title word."""
    flat = unicodedata.normalize("NFKC", text)
    codes = {normalize_code(m) for m in _CODE.findall(flat)}
    by_code = [sku for sku in titles if normalize_code(sku) in codes]
    if by_code:
        return sorted(by_code)
    best, found = 0, []
    for sku, title in titles.items():
        score = 0
        for word in title_words(title):
            common = common_substring_length(word, flat)
            score += common if common >= MIN_COMMON else 0
        if score > best:
            best, found = score, [sku]
        elif score == best and score > 0:
            found.append(sku)
    return sorted(found)


def signals(
    asks: Iterable[Ask], titles: Mapping[str, str], censored_days: Mapping[str, set[date]]
) -> dict[tuple[str, date], int]:
    """Distinct customers per (sku, day) who asked about a SKU on one of its stockout days."""
    who: dict[tuple[str, date], set[int]] = defaultdict(set)
    for ask in asks:
        if not is_stock_question(ask.text):
            continue
        for sku in match_skus(ask.text, titles):
            if ask.day in censored_days.get(sku, set()):
                who[(sku, ask.day)].add(ask.customer_id)
    return {key: len(customers) for key, customers in who.items()}


def censored_days(panel: SalesPanel) -> dict[str, set[date]]:
    out: dict[str, set[date]] = {}
    for i, sku in enumerate(panel.skus):
        cols = np.flatnonzero(panel.censored[i])
        if cols.size:
            out[sku] = {panel.start + timedelta(days=int(c)) for c in cols}
    return out


def correct(
    panel: SalesPanel, counts: Mapping[tuple[str, date], int], *, cap: int = DEFAULT_CAP
) -> CorrectionReport:
    """The panel with every censored day that has asks turned into baseline + askers."""
    qty, censored = panel.qty.copy(), panel.censored.copy()
    index = {s: i for i, s in enumerate(panel.skus)}
    added = 0.0
    used: dict[tuple[str, date], int] = {}
    for (sku, day), n in sorted(counts.items()):
        row, col = index.get(sku), panel.day_index(day)
        if row is None or not (0 <= col < panel.n_days) or not panel.censored[row, col] or n <= 0:
            continue
        extra = float(min(n, cap))
        qty[row, col] = baseline(panel, row, col) + extra
        censored[row, col] = False
        added += extra
        used[(sku, day)] = n
    fixed = SalesPanel(panel.skus, panel.start, qty, censored, panel.first_day)
    return CorrectionReport(fixed, used, added)


def baseline(panel: SalesPanel, row: int, col: int) -> float:
    """Mean of the SKU's last `BASELINE_DAYS` in-stock days before `col` (0 if it has none)."""
    lo = max(col - BASELINE_DAYS, 0)
    y = panel.qty[row, lo:col]
    ok = ~np.isnan(y) & ~panel.censored[row, lo:col]
    if not ok.any():
        everything = ~np.isnan(panel.qty[row]) & ~panel.censored[row]
        return float(panel.qty[row][everything].mean()) if everything.any() else 0.0
    return float(y[ok].mean())


def mark_stockouts(panel: SalesPanel, out_of_stock: Sequence[str]) -> SalesPanel:
    """History derived from orders has no stock column. For a SKU out of stock now, the days
    after its last sale are taken as the stockout (censored), as far as that data allows."""
    censored = panel.censored.copy()
    index = {s: i for i, s in enumerate(panel.skus)}
    for sku in out_of_stock:
        row = index.get(sku)
        if row is None:
            continue
        sold = np.flatnonzero(np.nan_to_num(panel.qty[row]) > 0)
        first_out = int(sold[-1]) + 1 if sold.size else int(panel.first_day[row])
        censored[row, first_out:] = True
    return SalesPanel(panel.skus, panel.start, panel.qty, censored, panel.first_day)
