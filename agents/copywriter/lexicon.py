"""The versioned 广告法 lexicon: loading, validation and expansion into match keys.

The data lives in `data/ad_lexicon.v<N>.yaml` (see its header for the format). Loading is pure
apart from reading that one file, and happens once per process through `default_lexicon()`.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Literal, cast, get_args

import yaml

from agents.copywriter.errors import LexiconError
from agents.copywriter.normalize import normalize_term

ViolationCategory = Literal[
    "极限用语", "虚假夸大", "权威背书/国家机关", "医疗功效", "迷信", "诱导/焦虑", "对比贬低", "价格欺诈"
]
Severity = Literal["high", "medium", "low"]
ProductCategory = Literal["general", "cosmetics", "cosmetics_special", "food", "health", "infant"]

VIOLATION_CATEGORIES: tuple[ViolationCategory, ...] = get_args(ViolationCategory)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
PRODUCT_CATEGORIES: tuple[ProductCategory, ...] = get_args(ProductCategory)

DATA_DIR = files("agents.copywriter") / "data"
DEFAULT_LEXICON = DATA_DIR / "ad_lexicon.v1.yaml"

_DIGITS = {"一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
# Latin/digit look-alikes writers swap in (N0.1, T0P1, Nol).
_LOOKALIKES = {"o": "o0", "0": "0o", "1": "1li", "l": "l1", "i": "i1"}
_MAX_LOOKALIKE_FORMS = 16
_TERM_OPTIONS = frozenset(
    {"suggest", "variants", "allow_in", "only_in", "fix", "severity", "article", "negatable"}
)


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

    def applies_to(self, category: str) -> bool:
        if category in self.allow_in:
            return False
        return self.only_in is None or category in self.only_in

    @property
    def suggestion(self) -> str:
        return self.suggestions[0] if self.suggestions else self.advice


@dataclass(frozen=True, slots=True)
class Lexicon:
    version: str
    entries: tuple[LexiconEntry, ...]
    allow: tuple[str, ...]

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
    entries: list[LexiconEntry] = []
    seen: set[str] = set()
    for g_no, group in enumerate(groups):
        where = f"{source} groups[{g_no}]"
        if not isinstance(group, Mapping):
            raise LexiconError(f"{where}: 应为映射")
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
                )
            )
    return Lexicon(
        version=version, entries=tuple(entries), allow=tuple(_allow_phrases(data.get("allow"), source))
    )


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
