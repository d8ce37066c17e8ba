"""Normalisation against evasion, keeping a map back to the original text.

Writers dodge keyword filters with `最 好`, `✨最✨佳`, `頂級`, `ＮＯ．１`, `最最最好` or `第①`. Before
matching, each character is folded (NFKC, lower case, traditional → simplified, a few look-alikes),
everything that is not a letter or a digit is dropped, and runs of one repeated CJK character are
collapsed. `Normalized.index[k]` is the offset in the original text of normalised character `k`, so
a match on the normalised text maps back to the exact span the writer typed.

Pure: no I/O. The per-character fold table is filled lazily and shared by the process.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Protocol

# Look-alikes NFKC leaves alone: financial numerals and Cyrillic/Greek letters posing as Latin.
_CONFUSABLES: dict[str, str] = {
    "壹": "一",
    "弌": "一",
    "贰": "二",
    "叁": "三",
    "〇": "零",
    "о": "o",
    "ο": "o",
    "і": "i",
    "ι": "i",
    "ⅰ": "i",
    "ѕ": "s",
    "т": "t",
    "р": "p",
}


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


@functools.cache
def _t2s() -> _Converter:
    import opencc

    converter: _Converter = opencc.OpenCC("t2s")
    return converter


def fold_char(ch: str) -> str:
    """What one original character becomes: zero, one or several kept characters."""
    out: list[str] = []
    for c in unicodedata.normalize("NFKC", ch).lower():
        c = _CONFUSABLES.get(c, c)
        if "\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff":
            c = _t2s().convert(c)[:1] or c
            c = _CONFUSABLES.get(c, c)
        if unicodedata.category(c)[0] in ("L", "N"):
            out.append(c)
    return "".join(out)


class _FoldTable(dict[str, str]):
    """Per-character fold, computed on first sight and then looked up at C speed."""

    def __missing__(self, ch: str) -> str:
        folded = fold_char(ch)
        self[ch] = folded
        return folded


_FOLD = _FoldTable()

_REPEAT = re.compile(r"([\u3400-\u9fff])\1+")


@dataclass(frozen=True, slots=True)
class Normalized:
    text: str
    # index[k] = offset in the original text of normalised character k
    index: Sequence[int]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original-text span [start, end) covering normalised characters [start, end)."""
        return self.index[start], self.index[end - 1] + 1


def normalize(text: str) -> Normalized:
    parts = list(map(_FOLD.__getitem__, text))
    joined = "".join(parts)
    index: Sequence[int]
    dropped = parts.count("")
    if len(joined) == len(text) - dropped:  # no character expanded (the common case)
        index = list(compress(range(len(text)), parts)) if dropped else range(len(text))
    else:
        index = [i for i, part in enumerate(parts) for _ in part]
    if _REPEAT.search(joined) is None:
        return Normalized(joined, index)
    # 最最最好 → 最好: keep the first of each run of one repeated CJK character.
    text_parts: list[str] = []
    kept: list[int] = []
    prev = 0
    for m in _REPEAT.finditer(joined):
        cut = m.start() + 1
        text_parts.append(joined[prev:cut])
        kept.extend(index[prev:cut])
        prev = m.end()
    text_parts.append(joined[prev:])
    kept.extend(index[prev:])
    return Normalized("".join(text_parts), kept)


def normalize_term(term: str) -> str:
    """The lexicon goes through the same fold, so `100%有效` and `100 % 有效` meet."""
    return normalize(term).text
