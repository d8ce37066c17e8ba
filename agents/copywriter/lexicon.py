"""The versioned 广告法 lexicon: loading, validation and expansion into match keys.

The data lives in `data/ad_lexicon.v<N>.yaml` (see its header for the format): terms, matched as
words by one automaton, and pattern rules, regular expressions over the normalised text for claims
with a slot (包 + outcome, number + time + body effect, return figures …). Every group and pattern
names its source. Loading is pure apart from reading that one file, and happens once per process
through `default_lexicon()`.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Literal, cast, get_args

import yaml

from agents.copywriter.errors import LexiconError
from agents.copywriter.normalize import normalize_term

ViolationCategory = Literal[
    "极限用语",
    "虚假夸大",
    "权威背书/国家机关",
    "医疗功效",
    "迷信",
    "诱导/焦虑",
    "对比贬低",
    "价格欺诈",
    "投资收益承诺",
    "教育培训承诺",
]
Severity = Literal["high", "medium", "low"]
ProductCategory = Literal["general", "cosmetics", "cosmetics_special", "food", "health", "infant"]

VIOLATION_CATEGORIES: tuple[ViolationCategory, ...] = get_args(ViolationCategory)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
PRODUCT_CATEGORIES: tuple[ProductCategory, ...] = get_args(ProductCategory)

DATA_DIR = files("agents.copywriter") / "data"
DEFAULT_LEXICON = DATA_DIR / "ad_lexicon.v2.yaml"

_DIGITS = {"一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
# Latin/digit look-alikes writers swap in (N0.1, T0P1, Nol).
_LOOKALIKES = {"o": "o0", "0": "0o", "1": "1li", "l": "l1", "i": "i1"}
_MAX_LOOKALIKE_FORMS = 16
_TERM_OPTIONS = frozenset(
    {"suggest", "variants", "allow_in", "only_in", "fix", "severity", "article", "negatable", "source"}
)
_PATTERN_OPTIONS = frozenset(
    {
        "id",
        "category",
        "article",
        "severity",
        "source",
        "advice",
        "suggest",
        "regex",
        "negatable",
        "allow_in",
        "only_in",
        "same_clause",
    }
)
# `%NAME%` in a pattern's regex is replaced by the regex of `fragments: NAME` (numbers, units …).
_FRAGMENT = re.compile(r"%([A-Z_]+)%")
# Normalisation keeps one of a run of the same CJK character (宝宝 → 宝), so a pattern must too.
_DOUBLED_CJK = re.compile(r"([\u3400-\u9fff])\1")


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    term: str
    category: ViolationCategory
    article: str
    severity: Severity
    suggestions: tuple[str, ...]
    fix: str | None  # the safe replacement used in `fixed`, or None when a person must rewrite
    advice: str
    allow_in: frozenset[str]
    only_in: frozenset[str] | None
    forms: tuple[str, ...]  # surface forms before normalisation (term + variants)
    negatable: bool = False  # "不能代替药物" is the mandated disclaimer, not a claim
    source: str = ""  # where the entry came from: a key of the file's `sources`

    def applies_to(self, category: str) -> bool:
        if category in self.allow_in:
            return False
        return self.only_in is None or category in self.only_in

    @property
    def suggestion(self) -> str:
        return self.suggestions[0] if self.suggestions else self.advice


@dataclass(frozen=True, slots=True)
class PatternRule:
    """A claim with a slot, matched on the normalised text. `entry` carries what a finding
    reports (its `term` is the rule's id); `same_clause` keeps a match inside one clause of
    the original text, for rules whose two parts must belong together (subject + insult)."""

    entry: LexiconEntry
    regexes: tuple[re.Pattern[str], ...]  # the alternatives; a match of any one is a finding
    # per alternative, character sets a text must each touch for it to match (see `_gates`);
    # the checker skips an alternative without running it when a text misses one
    gates: tuple[tuple[frozenset[str], ...], ...] = ()
    same_clause: bool = False


@dataclass(frozen=True, slots=True)
class Lexicon:
    version: str
    entries: tuple[LexiconEntry, ...]
    allow: tuple[str, ...]
    patterns: tuple[PatternRule, ...] = ()

    def keys(self) -> dict[str, int]:
        """Normalised match key → entry index (variants and look-alike forms included)."""
        out: dict[str, int] = {}
        for i, entry in enumerate(self.entries):
            for form in entry.forms:
                for key in expand_forms(normalize_term(form)):
                    if not key:
                        raise LexiconError(f"词条 {entry.term!r} 的写法 {form!r} 规范化后为空")
                    other = out.setdefault(key, i)
                    if other != i:
                        raise LexiconError(
                            f"词条 {entry.term!r} 与 {self.entries[other].term!r} 规范化后重复: {key!r}"
                        )
        return out

    def allow_keys(self) -> set[str]:
        return {key for phrase in self.allow for key in expand_forms(normalize_term(phrase))}


def expand_forms(key: str) -> set[str]:
    """A key plus its digit and look-alike spellings: 第一 → 第1, no1 → n01 / nol …"""
    forms = {key}
    if any(c in _DIGITS for c in key):
        forms.add("".join(_DIGITS.get(c, c) for c in key))
    for base in list(forms):
        if base.isascii() and any(c in _LOOKALIKES for c in base):
            choices = [_LOOKALIKES.get(c, c) for c in base]
            forms.update(
                "".join(p) for p in itertools.islice(itertools.product(*choices), _MAX_LOOKALIKE_FORMS)
            )
    return forms


def _str_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise LexiconError(f"{where}: 应为字符串列表，实际为 {value!r}")
    return [str(v) for v in value]


def _categories(value: Any, where: str) -> frozenset[str]:
    cats = frozenset(_str_list(value, where))
    if unknown := cats - set(PRODUCT_CATEGORIES):
        raise LexiconError(f"{where}: 未知商品类目 {sorted(unknown)!r}")
    return cats


def parse_lexicon(data: Mapping[str, Any], source: str = "<memory>") -> Lexicon:
    if not isinstance(data, Mapping):
        raise LexiconError(f"{source}: 顶层应为映射")
    version = data.get("version")
    articles = data.get("articles") or {}
    groups = data.get("groups") or []
    if not isinstance(version, str) or not isinstance(articles, Mapping) or not isinstance(groups, list):
        raise LexiconError(f"{source}: 需要 version (字符串)、articles (映射) 和 groups (列表)")
    sources = data.get("sources") or {}
    if not isinstance(sources, Mapping):
        raise LexiconError(f"{source}: sources 应为映射")

    def source_of(value: Any, default: str, where: str) -> str:
        if value is None:
            return default
        if value not in sources:
            raise LexiconError(f"{where}: 未定义的来源 {value!r}")
        return str(value)

    entries: list[LexiconEntry] = []
    seen: set[str] = set()
    for g_no, group in enumerate(groups):
        where = f"{source} groups[{g_no}]"
        if not isinstance(group, Mapping):
            raise LexiconError(f"{where}: 应为映射")
        group_source = source_of(group.get("source"), "", where)
        category, severity = group.get("category"), group.get("severity")
        if category not in VIOLATION_CATEGORIES:
            raise LexiconError(f"{where}: 未知违规类别 {category!r}")
        if severity not in SEVERITIES:
            raise LexiconError(f"{where}: 未知严重程度 {severity!r}")
        article_key = group.get("article")
        if article_key not in articles:
            raise LexiconError(f"{where}: 未定义的法条 {article_key!r}")
        fix_mode = group.get("fix", "first")
        if fix_mode not in ("first", "none"):
            raise LexiconError(f"{where}: fix 只能是 first 或 none，实际为 {fix_mode!r}")
        default_suggest = _str_list(group.get("suggest"), f"{where}.suggest")
        advice = str(group.get("advice") or "")
        terms = group.get("terms")
        if not isinstance(terms, Mapping) or not terms:
            raise LexiconError(f"{where}: terms 应为非空映射")
        for raw_term, spec in terms.items():
            term = str(raw_term)
            t_where = f"{where} 词条 {term!r}"
            if term in seen:
                raise LexiconError(f"{t_where}: 重复")
            seen.add(term)
            opts: Mapping[str, Any] = spec if isinstance(spec, Mapping) else {"suggest": spec}
            if extra := set(opts) - _TERM_OPTIONS:
                raise LexiconError(f"{t_where}: 未知字段 {sorted(extra)!r}")
            suggestions = tuple(_str_list(opts.get("suggest"), t_where) or default_suggest)
            term_fix = opts.get("fix", fix_mode)
            term_severity = opts.get("severity", severity)
            if term_severity not in SEVERITIES:
                raise LexiconError(f"{t_where}: 未知严重程度 {term_severity!r}")
            only_in = opts.get("only_in")
            term_article = opts.get("article", article_key)
            if term_article not in articles:
                raise LexiconError(f"{t_where}: 未定义的法条 {term_article!r}")
            entries.append(
                LexiconEntry(
                    term=term,
                    category=cast(ViolationCategory, category),
                    article=str(articles[term_article]),
                    severity=cast(Severity, term_severity),
                    suggestions=suggestions,
                    fix=suggestions[0] if term_fix == "first" and suggestions else None,
                    advice=advice,
                    allow_in=_categories(opts.get("allow_in"), f"{t_where}.allow_in"),
                    only_in=None if only_in is None else _categories(only_in, f"{t_where}.only_in"),
                    forms=(term, *_str_list(opts.get("variants"), f"{t_where}.variants")),
                    negatable=bool(opts.get("negatable", False)),
                    source=source_of(opts.get("source"), group_source, t_where),
                )
            )
    fragments = data.get("fragments") or {}
    if not isinstance(fragments, Mapping) or not all(isinstance(v, str) for v in fragments.values()):
        raise LexiconError(f"{source}: fragments 应为 名称 → 正则 的映射")
    patterns = tuple(
        _pattern(spec, f"{source} patterns[{no}]", articles, fragments, source_of)
        for no, spec in enumerate(data.get("patterns") or [])
    )
    if len({p.entry.term for p in patterns}) != len(patterns):
        raise LexiconError(f"{source}: 规则 id 重复")
    return Lexicon(
        version=version,
        entries=tuple(entries),
        allow=tuple(_allow_phrases(data.get("allow"), source)),
        patterns=patterns,
    )


def _pattern(
    spec: Any,
    where: str,
    articles: Mapping[str, Any],
    fragments: Mapping[str, str],
    source_of: Callable[[Any, str, str], str],
) -> PatternRule:
    if not isinstance(spec, Mapping):
        raise LexiconError(f"{where}: 应为映射")
    if extra := set(spec) - _PATTERN_OPTIONS:
        raise LexiconError(f"{where}: 未知字段 {sorted(extra)!r}")
    rule_id, category, severity = spec.get("id"), spec.get("category"), spec.get("severity")
    if not isinstance(rule_id, str) or not rule_id:
        raise LexiconError(f"{where}: 需要 id")
    where = f"{where} ({rule_id})"
    if category not in VIOLATION_CATEGORIES:
        raise LexiconError(f"{where}: 未知违规类别 {category!r}")
    if severity not in SEVERITIES:
        raise LexiconError(f"{where}: 未知严重程度 {severity!r}")
    if spec.get("article") not in articles:
        raise LexiconError(f"{where}: 未定义的法条 {spec.get('article')!r}")
    advice = spec.get("advice")
    if not isinstance(advice, str) or not advice:
        raise LexiconError(f"{where}: 需要 advice (给写文案的人的修改建议)")
    raw = spec.get("regex")
    alternatives = [raw] if isinstance(raw, str) else _str_list(raw, f"{where}.regex")
    if not alternatives:
        raise LexiconError(f"{where}: 需要 regex")

    def expand(m: re.Match[str]) -> str:
        if m.group(1) not in fragments:
            raise LexiconError(f"{where}: 未定义的片段 %{m.group(1)}%")
        return f"(?:{fragments[m.group(1)]})"

    expanded = [part for alt in alternatives for part in _top_level_alternatives(_FRAGMENT.sub(expand, alt))]
    if doubled := [m.group() for alt in expanded for m in _DOUBLED_CJK.finditer(alt)]:
        raise LexiconError(f"{where}: 规范化后叠字只留一个，{doubled!r} 永远匹配不到，请只写一个字")
    try:
        # One compiled regex per alternative: when it starts with literal characters, `re`
        # scans for those first and the rule costs little on texts that lack them.
        regexes = tuple(re.compile(alt) for alt in expanded)
        gates = tuple(_gates(alt) for alt in expanded)
    except re.error as exc:
        raise LexiconError(f"{where}: 正则无效: {exc}") from exc
    if any(r.search("") for r in regexes):
        raise LexiconError(f"{where}: 正则可以匹配空串")
    only_in = spec.get("only_in")
    suggestions = tuple(_str_list(spec.get("suggest"), f"{where}.suggest"))
    entry = LexiconEntry(
        term=rule_id,
        category=cast(ViolationCategory, category),
        article=str(articles[spec["article"]]),
        severity=cast(Severity, severity),
        suggestions=suggestions,
        fix=None,  # a claim with a slot has no safe word-for-word rewrite
        advice=advice,
        allow_in=_categories(spec.get("allow_in"), f"{where}.allow_in"),
        only_in=None if only_in is None else _categories(only_in, f"{where}.only_in"),
        forms=(),
        negatable=bool(spec.get("negatable", False)),
        source=source_of(spec.get("source"), "", where),
    )
    return PatternRule(
        entry=entry, regexes=regexes, gates=gates, same_clause=bool(spec.get("same_clause", False))
    )


def _top_level_alternatives(regex: str) -> list[str]:
    """`a|(?:b|c)|d` → [`a`, `(?:b|c)`, `d`]: each is compiled on its own (see `_pattern`)."""
    parts: list[str] = []
    depth, in_class, escaped, start = 0, False, False, 0
    for i, ch in enumerate(regex):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(regex[start:i])
            start = i + 1
    parts.append(regex[start:])
    return parts


def _gates(regex: str) -> tuple[frozenset[str], ...]:
    """Character sets a text must each touch for `regex` to match it: one per required item of
    the top-level sequence whose first character is plain to see (a literal, a `[...]` class, a
    group of such alternatives). Optional items, look-arounds, escapes and `.` give no gate."""
    gates: list[frozenset[str]] = []
    i = 0
    while i < len(regex):
        end = i + _item_end(regex[i:])
        first = _item_first_chars(regex[i:end])
        if first is not None:
            gates.append(first)
        i = end
    return tuple(gates)


def _item_first_chars(item: str) -> frozenset[str] | None:
    """First characters of one item (with its quantifier), None when optional or not plain."""
    body = item.rstrip("?*+") if not item.endswith("}") else item[: item.rfind("{")]
    quantifier = item[len(body) :]
    if quantifier.startswith(("?", "*", "{0")):
        return None
    if body.startswith("(?:"):
        out: set[str] = set()
        for branch in _top_level_alternatives(body[3:-1]):
            first = _item_first_chars(branch[: _item_end(branch)]) if branch else None
            if first is None:
                return None
            out |= first
        return frozenset(out)
    if body.startswith("["):
        return _class_chars(body[1:-1])
    if len(body) == 1 and body not in ".^$()|\\":
        return frozenset(body)
    return None


def _item_end(regex: str) -> int:
    """Where the first item of `regex` (with its quantifier) ends."""
    ch = regex[0]
    if ch == "(":
        close = _closing_paren(regex, 0)
        end = len(regex) if close is None else close + 1
    elif ch == "[":
        end = regex.find("]", 1) + 1 or len(regex)
    elif ch == "\\":
        end = 2
    else:
        end = 1
    while end < len(regex) and regex[end] in "?*+{":
        end = regex.find("}", end) + 1 if regex[end] == "{" else end + 1
    return end


def _class_chars(body: str) -> frozenset[str] | None:
    if not body or body.startswith("^") or "\\" in body:
        return None
    chars: set[str] = set()
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            chars.update(chr(c) for c in range(ord(body[i]), ord(body[i + 2]) + 1))
            i += 3
        else:
            chars.add(body[i])
            i += 1
    return frozenset(chars)


def _closing_paren(regex: str, open_at: int) -> int | None:
    depth, in_class, escaped = 0, False, False
    for i in range(open_at, len(regex)):
        ch = regex[i]
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    return None


def _allow_phrases(items: Any, source: str) -> Iterable[str]:
    for no, item in enumerate(items or []):
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping) and isinstance(item.get("prefix"), str):
            for suffix in _str_list(item.get("suffixes"), f"{source} allow[{no}].suffixes"):
                yield item["prefix"] + suffix
        else:
            raise LexiconError(f"{source} allow[{no}]: 应为字符串或 {{prefix, suffixes}}，实际为 {item!r}")


def load_lexicon(path: Traversable = DEFAULT_LEXICON) -> Lexicon:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LexiconError(f"无法读取词库 {str(path)!r}: {exc}") from exc
    lexicon = parse_lexicon(data, source=path.name)
    lexicon.keys()  # validate normalised uniqueness up front
    return lexicon


@functools.cache
def default_lexicon() -> Lexicon:
    return load_lexicon()
