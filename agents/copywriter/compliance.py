"""The 广告法 compliance engine: a pure core shared by the copywriter and the CS commitment guard.

    check("全网最低价！✨最✨好用的锅", category="general") -> ComplianceReport

How a text is checked:
1. `normalize` folds evasions (spaces/emoji between characters, full-width, traditional, repeats,
   look-alikes) and keeps a map back to original offsets.
2. One Aho-Corasick automaton (built once per lexicon) finds every lexicon key and allow-list
   phrase in a single pass; the lexicon's pattern rules (claims with a slot: 包 + outcome,
   number + time + body effect, return figures, pass guarantees …) run on the same normalised
   text, so the evasions fold for them too.
3. Hits are dropped when the product category allows them, when an allow-list phrase covers them
   (第一步, 国家标准, 最近), when a negation precedes a negatable one (不能代替药物), or when a
   context rule says they state an objective spec (最大容量500ml, 最高支持128GB), a time
   (最快明天发货) or advice (最好冷藏).
4. Of overlapping hits the leftmost-longest wins (全网最低价 beats 最低 beats 最).

No I/O beyond reading the lexicon file once; no clock; thread-safe after the first call.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import ahocorasick

from agents.copywriter.errors import UnknownProductCategory
from agents.copywriter.lexicon import (
    PRODUCT_CATEGORIES,
    Lexicon,
    LexiconEntry,
    ProductCategory,
    Severity,
    ViolationCategory,
    default_lexicon,
)
from agents.copywriter.normalize import Normalized, normalize

_ALLOW = -1

# 最 + these adjectives may state a spec (最大容量500ml) or a time (最快明天到), never a claim, when
# followed by a spec noun or a number with a unit in the same clause.
_SPEC_ADJECTIVES = frozenset("大高低小长短多少快慢远近宽窄轻重薄厚早迟晚")
_SPEC_NOUNS = (
    "容量",
    "支持",
    "温度",
    "功率",
    "承重",
    "负重",
    "载重",
    "转速",
    "续航",
    "风速",
    "风量",
    "亮度",
    "电压",
    "电流",
    "存储",
    "内存",
    "速度",
    "时速",
    "扩展",
    "可调",
    "档位",
    "分辨率",
    "像素",
    "尺寸",
    "长度",
    "宽度",
    "高度",
    "厚度",
    "直径",
    "重量",
    "耐温",
    "耐热",
    "耐寒",
    "刻度",
    "水位",
    "压力",
    "人数",
    "可达",
    "可用",
    "可叠加",
    "可装",
    "可容纳",
    "可选",
    "能装",
    "能放",
    "能用",
    "限购",
    "起订",
    "起批",
    "光圈",
    "焦距",
    "频率",
    "流量",
    "射程",
    "档",
    "挡",
)
_TIME_WORDS = (
    "今天",
    "明天",
    "后天",
    "当天",
    "当日",
    "次日",
    "隔天",
    "隔日",
    "本周",
    "下周",
    "周",
    "礼拜",
    "月底",
    "月初",
    "年底",
)
_UNIT = (
    r"(?:ml|l|毫升|升|g|kg|mg|克|千克|公斤|斤|两|gb|tb|mb|mah|w|kw|v|a|c|度|mm|cm|m|米|厘米|毫米|寸|"
    r"h|小时|分钟|分|秒|天|日|周|月|年|元|块|件|个|张|份|瓶|盒|袋|包|箱|支|次|人|层|档|挡|倍|人份|片|颗|码|号)"
)
_NUMBER_UNIT = re.compile(r"^\D{0,6}?\d+" + _UNIT)
# 最好 as advice ("you'd better"), not as a claim: 最好提前下单, 开封后最好7天内吃完.
_ADVICE_CUES = (
    "提前",
    "先",
    "在",
    "当天",
    "尽快",
    "冷藏",
    "冷冻",
    "密封",
    "放",
    "存放",
    "别",
    "不要",
    "避免",
    "搭配",
    "配合",
    "选",
    "每天",
    "每次",
    "趁热",
    "当",
    "还是",
    "咨询",
    "看",
    "按",
    "问",
    "私聊",
    "联系",
    "备注",
    "留言",
    "拍",
    "早点",
    "早",
    "多",
    "少",
    "随",
)
_CLAUSE_END_RE = re.compile(r"[，,。！!？?；;\n…~～]|\.(?!\d)")  # 1.5L is not a full stop
_PRICE_WORDS = ("价", "便宜", "划算", "实惠")
_NEGATIONS = ("不能", "不可", "不得", "无法", "不可以", "不会", "并非", "不是", "不宜")


@dataclass(frozen=True, slots=True)
class Violation:
    term: str  # the lexicon term
    matched: str  # what the writer actually typed, e.g. "✨最✨佳"
    category: ViolationCategory
    start: int  # offsets in the original text, end exclusive
    end: int
    article: str
    severity: Severity
    suggestion: str  # the safe replacement when one exists, otherwise what to do
    replacements: tuple[str, ...]
    fixable: bool


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    text: str
    category: ProductCategory
    violations: tuple[Violation, ...]
    fixed: str
    lexicon_version: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations


class _Hit(NamedTuple):
    start: int  # normalised offsets
    end: int
    entry: int


class ComplianceChecker:
    """A lexicon compiled into one automaton. Build once, call `check` from any thread."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        automaton = ahocorasick.Automaton()
        for key, idx in lexicon.keys().items():
            automaton.add_word(key, (idx, len(key)))
        for key in lexicon.allow_keys():
            if key in automaton:
                continue  # a phrase that is also a term stays a term
            automaton.add_word(key, (_ALLOW, len(key)))
        automaton.make_automaton()
        self._automaton = automaton
        # Pattern rules are entries too, numbered after the terms.
        self._entries = lexicon.entries + tuple(p.entry for p in lexicon.patterns)
        self._applies = {
            category: tuple(e.applies_to(category) for e in self._entries) for category in PRODUCT_CATEGORIES
        }
        # Every pattern alternative that applies to a category, flat: (entry index, regex,
        # character gates, same clause).
        self._alternatives = {
            category: tuple(
                (no, regex, gates, rule.same_clause)
                for no, rule in enumerate(lexicon.patterns, len(lexicon.entries))
                if self._applies[category][no]
                for regex, gates in zip(rule.regexes, rule.gates, strict=True)
            )
            for category in PRODUCT_CATEGORIES
        }

    def check(self, text: str, category: ProductCategory = "general") -> ComplianceReport:
        if category not in PRODUCT_CATEGORIES:
            raise UnknownProductCategory(
                f"未知的商品类目 {category!r}，可选: {', '.join(PRODUCT_CATEGORIES)}", field="category"
            )
        norm = normalize(text)
        entries = self._entries
        applies = self._applies[category]
        hits: list[_Hit] = []
        allowed: list[tuple[int, int]] = []
        ntext = norm.text
        for last, (idx, length) in self._automaton.iter(ntext):
            start, end = last - length + 1, last + 1
            if (ntext[start] < "\u0080" or ntext[last] < "\u0080") and not _on_boundary(ntext, start, end):
                continue
            if idx == _ALLOW:
                allowed.append((start, end))
            elif applies[idx]:
                hits.append(_Hit(start, end, idx))
        if allowed:
            hits = [h for h in hits if not _covered(h, allowed)]
        found = [h for h in _leftmost_longest(hits) if not _objective(text, norm, h, entries[h.entry])]
        # Patterns only add: where a term already stands, its finding (and its safe rewrite) wins.
        claims: list[_Hit] = []
        present = frozenset(ntext)
        for no, regex, gates, same_clause in self._alternatives[category]:
            if any(gate.isdisjoint(present) for gate in gates):
                continue
            for m in regex.finditer(ntext):
                hit = _Hit(m.start(), m.end(), no)
                if not (same_clause and _crosses_clause(text, norm, hit)) and not (
                    allowed and _covered(hit, allowed)
                ):
                    claims.append(hit)
        for hit in _leftmost_longest(claims):
            if not any(h.start < hit.end and hit.start < h.end for h in found) and not _objective(
                text, norm, hit, entries[hit.entry]
            ):
                found.append(hit)
        violations = [self._violation(text, norm, hit) for hit in sorted(found)]
        counts: dict[str, int] = {}
        for v in violations:
            counts[v.category] = counts.get(v.category, 0) + 1
        return ComplianceReport(
            text=text,
            category=category,
            violations=tuple(violations),
            fixed=apply_fixes(text, violations),
            lexicon_version=self.lexicon.version,
            counts=counts,
        )

    def _violation(self, text: str, norm: Normalized, hit: _Hit) -> Violation:
        entry = self._entries[hit.entry]
        start, end = norm.span(hit.start, hit.end)
        return Violation(
            term=entry.term,
            matched=text[start:end],
            category=entry.category,
            start=start,
            end=end,
            article=entry.article,
            severity=entry.severity,
            suggestion=entry.fix if entry.fix is not None else entry.advice,
            replacements=entry.suggestions,
            fixable=entry.fix is not None,
        )


def _on_boundary(ntext: str, start: int, end: int) -> bool:
    """Latin and digit keys must not sit inside a longer word or number (no1 ≠ no10, top ≠ stop)."""
    first, last = ntext[start], ntext[end - 1]
    if start > 0:
        before = ntext[start - 1]
        if (first.isdigit() and before.isdigit()) or (
            first.isascii() and first.isalpha() and before.isascii() and before.isalpha()
        ):
            return False
    if end < len(ntext):
        after = ntext[end]
        if (last.isdigit() and after.isdigit()) or (
            last.isascii() and last.isalpha() and after.isascii() and after.isalpha()
        ):
            return False
    return True


def _covered(hit: _Hit, allowed: list[tuple[int, int]]) -> bool:
    return any(a <= hit.start and hit.end <= b for a, b in allowed)


def _crosses_clause(text: str, norm: Normalized, hit: _Hit) -> bool:
    start, end = norm.span(hit.start, hit.end)
    return _CLAUSE_END_RE.search(text, start, end) is not None


def _leftmost_longest(hits: list[_Hit]) -> list[_Hit]:
    chosen: list[_Hit] = []
    reach = -1
    for hit in sorted(hits, key=lambda h: (h.start, h.start - h.end)):
        if hit.start >= reach:
            chosen.append(hit)
            reach = hit.end
    return chosen


def _clause_after(text: str, norm: Normalized, nstart: int, limit: int = 12) -> str:
    """Normalised characters from `nstart` up to the end of the original clause."""
    if nstart >= len(norm.text):
        return ""
    origin = norm.index[nstart - 1] + 1 if nstart > 0 else 0
    boundary = _CLAUSE_END_RE.search(text, origin)
    stop = bisect_left(norm.index, boundary.start()) if boundary else len(norm.text)
    return norm.text[nstart : min(stop, nstart + limit)]


def _objective(text: str, norm: Normalized, hit: _Hit, entry: LexiconEntry) -> bool:
    """Context rules: 最 + spec/time/advice states a fact, not a claim; a negated
    disclaimer (本品不能代替药物) is required wording, not a claim."""
    if entry.negatable and norm.text[max(0, hit.start - 3) : hit.start].endswith(_NEGATIONS):
        return True
    if not entry.term.startswith("最"):
        return False
    if entry.term == "最好":
        tail = _clause_after(text, norm, hit.end)
        return bool(tail) and (tail[0].isdigit() or tail.startswith(_ADVICE_CUES))
    if entry.term == "最":
        adj_end = hit.end + 1
        if adj_end > len(norm.text) or norm.text[hit.end] not in _SPEC_ADJECTIVES:
            return False
    elif len(entry.term) == 2 and entry.term[1] in _SPEC_ADJECTIVES:
        adj_end = hit.end
    else:
        return False
    tail = _clause_after(text, norm, adj_end)
    if not tail or tail.startswith(_PRICE_WORDS) or tail.startswith("的"):
        return False
    return tail.startswith(_SPEC_NOUNS) or tail.startswith(_TIME_WORDS) or bool(_NUMBER_UNIT.match(tail))


def apply_fixes(text: str, violations: Sequence[Violation]) -> str:
    """Replace each fixable span with its safe rewrite; leave the rest for a person."""
    out = text
    for v in sorted(violations, key=lambda v: v.start, reverse=True):
        if v.fixable:
            out = out[: v.start] + v.suggestion + out[v.end :]
    return out


@functools.cache
def default_checker() -> ComplianceChecker:
    return ComplianceChecker(default_lexicon())


def check(text: str, category: ProductCategory = "general") -> ComplianceReport:
    """Check one text against the default lexicon (compiled once per process)."""
    return default_checker().check(text, category)
