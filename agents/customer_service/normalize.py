"""Folding customer text so typing variants meet one keyword list.

Customers write 转 人 工, ｚｈｕａｎ, 转人工！！, 人👉工, 轉人工 or just `rg`. The copywriter's normaliser
(NFKC, lower case, traditional → simplified, every non letter/digit dropped, runs of one repeated
CJK character collapsed) already folds all of these, so it is reused. Punctuation carries anger
(！！！, ？？？), so `punctuation_runs` reads it from the raw text before it is dropped.

Pure: no I/O.
"""

from __future__ import annotations

import re

from agents.copywriter.normalize import normalize

_RUN = re.compile(r"[!！]{3,}|[?？]{3,}|[!！?？]{4,}")


def fold(text: str) -> str:
    """The normalised text every rule matches against: `转 人 工！！` → `转人工`."""
    return normalize(text).text


def punctuation_runs(text: str) -> int:
    """How many runs of 3+ ！ or ？ (or 4+ mixed, ？！？！) the raw text has: the shouting."""
    return len(_RUN.findall(text))
