"""Moments copy generation: the offline template engine, the LLM engine, and the checks every
variant passes before anyone sees it.

    products = [ProductInfo(...)]                     # from the store: prices are never invented
    spec = MomentsSpec(goal="种草", audience="宝妈", tone="亲切", max_chars=120, emoji=2, hashtags=2)
    for draft in OfflineEngine().candidates(products, spec, seed=7):
        verdict = verify(draft.text, products, spec)  # 广告法 + fact check + constraints
        verdict = repair(verdict, products, spec)     # safe rewrites (`fixed`) when they exist

Counting rules (the constraints are met exactly, never "about"):
- chars: `len(text)`, Unicode code points, newlines included.
- emoji: one emoji = one `Extended_Pictographic` code point with any variation selector / skin
  tone after it and any ZWJ-joined pictographs (👨‍👩‍👧 is one), or a keycap (1️⃣), or a flag
  (a pair of regional indicators). So ✨ = 1, ❤️ = 1, 👍🏻 = 1, ®/™ = 1, ★ = 0.
- hashtags: `#` followed by one or more word characters (letters, digits, CJK, `_`): `#宝妈好物`.

Everything here is pure: no database, no clock, no network (the LLM engine takes a gateway).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal

import regex
from pydantic import BaseModel, Field

from agents.copywriter.compliance import ComplianceReport, apply_fixes, check
from agents.copywriter.facts import FactReport, ProductFacts, check_facts
from agents.copywriter.lexicon import ProductCategory
from agents.copywriter.templates import (
    Audience,
    Goal,
    TemplateLibrary,
    Tone,
    default_library,
)
from prompts.loader import load_prompt, render
from store.errors import LLMError

Engine = Literal["offline", "llm"]

EMOJI_RE = regex.compile(
    r"[0-9#*]\uFE0F?\u20E3"
    r"|\p{Regional_Indicator}{2}"
    r"|\p{Extended_Pictographic}[\uFE0F\p{Emoji_Modifier}]*"
    r"(?:\u200D\p{Extended_Pictographic}[\uFE0F\p{Emoji_Modifier}]*)*"
)
HASHTAG_RE = re.compile(r"#\w+")
_STRAY = regex.compile(r"[\uFE0F\u200D\u20E3\p{Emoji_Modifier}]")

# Store category → 广告法 product category of the compliance engine.
CATEGORY_MAP: dict[str, ProductCategory] = {
    "食品生鲜": "food",
    "家居日用": "general",
    "母婴": "infant",
    "美妆护肤": "cosmetics",
    "健康养生": "health",
    "服饰运动": "general",
}
_CATEGORY_HINTS: tuple[tuple[str, ProductCategory], ...] = (
    ("保健", "health"),
    ("健康", "health"),
    ("母婴", "infant"),
    ("婴", "infant"),
    ("美妆", "cosmetics"),
    ("护肤", "cosmetics"),
    ("化妆", "cosmetics"),
    ("食", "food"),
    ("生鲜", "food"),
)
# Goals whose posts carry the store price.
_PRICE_GOALS = frozenset({"新品", "促销", "种草", "节日", "会员日", "唤醒"})
MAX_BENEFITS = 3
OFFLINE_ATTEMPTS = 80
OFFLINE_PROMPT_ID = "copywriter/offline"
LLM_PROMPT_ID = "copywriter/moments"


def compliance_category(store_category: str) -> ProductCategory:
    """The compliance rules a store category falls under (unknown categories: keyword hints)."""
    if store_category in CATEGORY_MAP:
        return CATEGORY_MAP[store_category]
    for hint, category in _CATEGORY_HINTS:
        if hint in store_category:
            return category
    return "general"


def count_emoji(text: str) -> int:
    return len(EMOJI_RE.findall(text))


def count_hashtags(text: str) -> int:
    return len(HASHTAG_RE.findall(text))


def strip_emoji(text: str) -> str:
    return _STRAY.sub("", EMOJI_RE.sub("", text))


@dataclass(frozen=True)
class Measure:
    chars: int
    emoji: int
    hashtags: int


def measure(text: str) -> Measure:
    return Measure(len(text), count_emoji(text), count_hashtags(text))


@dataclass(frozen=True)
class MomentsSpec:
    goal: Goal
    audience: Audience
    tone: Tone
    max_chars: int = 150
    emoji: int = 2
    hashtags: int = 2
    variants: int = 3
    promo_text: str | None = None

    def met_by(self, m: Measure) -> bool:
        return m.chars <= self.max_chars and m.emoji == self.emoji and m.hashtags == self.hashtags


def _clean(value: object) -> str:
    """Product data as copy: no emoji (®/™ count as emoji), no `#`, no line breaks."""
    text = strip_emoji(str(value)).replace("#", "").replace("\n", " ")
    return re.sub(r"\s+", " ", text).strip()


def format_price(price: Decimal) -> str:
    """129.00 → '129', 12.90 → '12.9': the store price, written the way a shop owner writes it."""
    text = f"{price:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class ProductInfo:
    """A product as the copywriter sees it: only what the store record says."""

    sku: str
    title: str
    category: str
    price: Decimal
    brand: str | None = None
    subcategory: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    extra_prices: tuple[Decimal, ...] = ()

    @property
    def rules(self) -> ProductCategory:
        return compliance_category(self.category)

    @property
    def facts(self) -> ProductFacts:
        return ProductFacts(
            sku=self.sku,
            title=self.title,
            price=self.price,
            attributes=dict(self.attributes),
            description=self.description,
            extra_prices=self.extra_prices,
        )

    @property
    def short_name(self) -> str:
        """'小鹿贝贝 轻薄透气纸尿裤 M码 64片' → '轻薄透气纸尿裤': the brand and size words dropped; a word
        sharing a character with the subcategory (花生油 for 粮油) is preferred."""
        words = [w for w in _clean(self.title).split(" ") if len(w) >= 2 and w != self.brand]
        plain = [w for w in words if not re.search(r"\d", w) and re.search(r"[\u4e00-\u9fff]", w)]
        hint = set(self.subcategory or "")
        for word in plain:
            if hint & set(word):
                return word
        if plain:
            return plain[0]
        for word in words:
            if re.search(r"[\u4e00-\u9fff]{2}", word):
                return word
        return _clean(self.title) or self.sku

    def facts_for_copy(self) -> list[tuple[str, str]]:
        """(attribute, value) pairs, cleaned, in record order."""
        return [(_clean(k), _clean(v)) for k, v in self.attributes.items() if _clean(k) and _clean(v)]


def combined_facts(products: Sequence[ProductInfo]) -> ProductFacts:
    """One record for a multi-product post: every number must appear in SOME product's record."""
    if len(products) == 1:
        return products[0].facts
    attributes: dict[str, Any] = {}
    for p in products:
        attributes |= {f"{p.sku} {k}": v for k, v in p.attributes.items()}
    return ProductFacts(
        sku="+".join(p.sku for p in products),
        title=" / ".join(p.title for p in products),
        price=products[0].price,
        attributes=attributes,
        description="\n".join(p.description for p in products),
        extra_prices=tuple(x for p in products for x in (p.price, *p.extra_prices)),
    )


# ---- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    text: str
    compliance: tuple[ComplianceReport, ...]  # one per compliance category of the products
    facts: FactReport
    measure: Measure
    constraints_met: bool
    repaired: bool = False

    @property
    def compliant(self) -> bool:
        return all(r.ok for r in self.compliance)

    @property
    def ok(self) -> bool:
        return self.compliant and self.facts.ok and self.constraints_met


def _categories(products: Sequence[ProductInfo]) -> list[ProductCategory]:
    return list(dict.fromkeys(p.rules for p in products)) or ["general"]


def verify(
    text: str, products: Sequence[ProductInfo], spec: MomentsSpec, *, allowed_prices: Sequence[Decimal] = ()
) -> Verdict:
    """Run every check a variant must pass: 广告法 under each product's category, facts, constraints."""
    reports = tuple(check(text, category) for category in _categories(products))
    facts = check_facts(text, combined_facts(products), allowed_prices=allowed_prices)
    m = measure(text)
    return Verdict(text, reports, facts, m, spec.met_by(m))


def repair(
    verdict: Verdict,
    products: Sequence[ProductInfo],
    spec: MomentsSpec,
    *,
    allowed_prices: Sequence[Decimal] = (),
    rounds: int = 2,
) -> Verdict:
    """Apply the safe rewrites (`fixed`) while every violation has one, then check again.

    A fact mismatch or a violation without a safe rewrite is never "repaired": the caller drops
    the variant and regenerates."""
    current = verdict
    for _ in range(rounds):
        if current.compliant or not current.facts.ok:
            return current
        violations = [v for r in current.compliance for v in r.violations]
        if not all(v.fixable for v in violations):
            return current
        text = current.text
        for report in current.compliance:  # each category's fixes, re-checked on the result
            text = apply_fixes(text, check(text, report.category).violations)
        current = replace(verify(text, products, spec, allowed_prices=allowed_prices), repaired=True)
    return current


# ---- the offline engine -------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A candidate text and where it came from."""

    text: str
    engine: Engine
    prompt_id: str
    prompt_version: str
    templates: Mapping[str, Any] = field(default_factory=dict)
    model: str | None = None


def place_emoji(lines: list[str], emojis: Sequence[str]) -> list[str]:
    """Exactly len(emojis) emoji: the first after the opening line, the second after the last
    line, the rest after the lines in between, any extra after the last line."""
    out = list(lines)
    if not out or not emojis:
        return out
    last = len(out) - 1
    slots = [0, last, *range(1, last)] if last else [0]
    for i, e in enumerate(emojis):
        slot = slots[i] if i < len(slots) else last
        out[slot] += e
    return out


def _pick(pool: Sequence[str], n: int, start: int) -> list[str]:
    """n items from pool starting at `start`, wrapping; distinct while the pool allows it."""
    if n <= 0 or not pool:
        return []
    return [pool[(start + i) % len(pool)] for i in range(n)]


def _first_clause(description: str, limit: int = 28) -> str | None:
    clause = re.split(r"[，。；！？!?;,\n]", _clean(description), maxsplit=1)[0].strip()
    return clause if 4 <= len(clause) <= limit else None


class OfflineEngine:
    """Assembles posts from the template library and the store's product facts."""

    def __init__(self, library: TemplateLibrary | None = None) -> None:
        self.library = library or default_library()

    @property
    def prompt_version(self) -> str:
        return self.library.version

    def _benefits(self, product: ProductInfo, variant: int) -> list[tuple[str, str]]:
        """Benefit lines from the product's attributes and description; a line that fails the
        fact check or the 广告法 check on its own is left out (or replaced by its safe rewrite)."""
        lines: list[tuple[str, str]] = []
        for i, (key, value) in enumerate(product.facts_for_copy()):
            group = self.library.benefit_group(key)
            if group is None:
                continue
            idx = (i + variant) % len(group.lines)
            lines.append((f"{group.name}#{idx}:{key}", group.lines[idx].format(key=key, value=value)))
        clause = _first_clause(product.description)
        if clause:
            lines.append(("description", clause))
        safe = []
        for line_id, text in lines:
            report = check(text, product.rules)
            if not report.ok and all(v.fixable for v in report.violations):
                text, report = report.fixed, check(report.fixed, product.rules)
            if (
                report.ok
                and check_facts(text, product.facts).ok
                and measure(text) == Measure(len(text), 0, 0)
            ):
                safe.append((line_id, text))
        return safe

    def candidates(
        self,
        products: Sequence[ProductInfo],
        spec: MomentsSpec,
        *,
        seed: int,
        promo_line: str | None = None,
        attempts: int = OFFLINE_ATTEMPTS,
    ) -> Iterator[Draft]:
        """Distinct template combinations, in a seeded order, each fitted to the constraints.

        Combinations that cannot fit `max_chars` are skipped; the caller verifies the rest."""
        if not products:
            return
        lib = self.library
        main = products[0]
        hooks = lib.hooks[spec.goal][spec.tone]
        ctas = lib.ctas[spec.goal][spec.tone]
        calls = lib.calls[spec.audience]
        emoji_pool = lib.emoji[spec.audience][spec.tone]
        tag_pool = list(
            dict.fromkeys([*lib.hashtags[spec.audience][spec.goal], *lib.hashtags[spec.audience]["common"]])
        )
        prices = lib.prices[spec.goal]
        benefit_variants = max(1, max(len(g.lines) for g in lib.benefits))
        combos = [
            (h, c, b) for h in range(len(hooks)) for c in range(len(ctas)) for b in range(benefit_variants)
        ]
        random.Random(seed).shuffle(combos)
        seen: set[str] = set()
        for n, (h, c, b) in enumerate(combos[:attempts]):
            call = calls[(n + seed) % len(calls)]
            hook = hooks[h].format(name=main.short_name, call=call)
            benefits = self._benefits(main, b)
            if benefits:
                shift = (b + n) % len(benefits)
                benefits = benefits[shift:] + benefits[:shift]
            extra = [
                (
                    f"also:{p.sku}",
                    f"搭配{p.short_name}"
                    + (f"，¥{format_price(p.price)}" if spec.goal in _PRICE_GOALS else ""),
                )
                for p in products[1:]
            ]
            price = (
                prices[(n + b) % len(prices)].format(price=format_price(main.price))
                if spec.goal in _PRICE_GOALS
                else None
            )
            offer = "，".join(x for x in (price, promo_line) if x) or None
            emojis = _pick(emoji_pool, spec.emoji, n)
            tags = _pick(tag_pool, spec.hashtags, n * 2)
            text = self._fit(
                spec,
                hook,
                main.short_name,
                benefits[:MAX_BENEFITS],
                extra,
                offer,
                promo_line,
                ctas[c],
                emojis,
                tags,
            )
            if text is None or text in seen:
                continue
            seen.add(text)
            yield Draft(
                text=text,
                engine="offline",
                prompt_id=OFFLINE_PROMPT_ID,
                prompt_version=self.prompt_version,
                templates={
                    "hook": f"hooks/{spec.goal}/{spec.tone}#{h}",
                    "cta": f"ctas/{spec.goal}/{spec.tone}#{c}",
                    "benefits": [bid for bid, _ in benefits[:MAX_BENEFITS]],
                    "emoji": emojis,
                    "hashtags": tags,
                },
            )

    @staticmethod
    def _fit(
        spec: MomentsSpec,
        hook: str,
        name: str,
        benefits: list[tuple[str, str]],
        extra: list[tuple[str, str]],
        offer: str | None,
        promo_line: str | None,
        cta: str,
        emojis: list[str],
        tags: list[str],
    ) -> str | None:
        """The fullest version that fits max_chars: drop benefit lines, then the price, then the
        call to action, then shorten the hook to the product name. None when nothing fits."""
        tag_line = " ".join("#" + t for t in tags)
        body = [text for _, text in benefits]
        extras = [text for _, text in extra]
        shapes: list[tuple[str, list[str], str | None, str | None]] = []
        for k in range(len(body), -1, -1):
            shapes.append((hook, body[:k], offer, cta))
        reduced_offer = promo_line  # the owner's promo stays; the price line may go
        shapes += [
            (hook, [], reduced_offer, cta),
            (hook, [], reduced_offer, None),
            (name, [], reduced_offer, None),
        ]
        for head, lines, off, end in shapes:
            parts = [head, *lines]
            if off:
                parts.append(off)
            parts += extras
            if end:
                parts.append(end)
            text = "\n".join(place_emoji(parts, emojis))
            if tag_line:
                text += "\n" + tag_line
            if len(text) <= spec.max_chars:
                return text
        return None


def offline_variants(
    engine: OfflineEngine,
    products: Sequence[ProductInfo],
    spec: MomentsSpec,
    *,
    seed: int,
    promo_line: str | None = None,
) -> list[str]:
    """The first `spec.variants` distinct offline texts that pass every check (after safe
    rewrites). No novelty step: that needs the embedder (see agents.copywriter.moments)."""
    out: list[str] = []
    for draft in engine.candidates(products, spec, seed=seed, promo_line=promo_line):
        verdict = repair(verify(draft.text, products, spec), products, spec)
        if verdict.ok and verdict.text not in out:
            out.append(verdict.text)
            if len(out) >= spec.variants:
                break
    return out


# ---- the LLM engine ---------------------------------------------------------------------------


class MomentsOutput(BaseModel):
    text: str = Field(description="朋友圈正文，不含话题标签")
    hashtags: list[str] = Field(default_factory=list, description="话题词，不带 #")


def product_payload(products: Sequence[ProductInfo]) -> str:
    """The facts the model may use, as JSON (it goes inside a delimited data block)."""
    return json.dumps(
        [
            {
                "sku": p.sku,
                "名称": _clean(p.title),
                "价格": f"¥{format_price(p.price)}",
                "属性": dict(p.facts_for_copy()),
                "介绍": _clean(p.description),
            }
            for p in products
        ],
        ensure_ascii=False,
    )


def shape_llm_text(output: MomentsOutput, spec: MomentsSpec, library: TemplateLibrary) -> str:
    """Make the counts exact: our own emoji placed at line ends, hashtags from the model first,
    then from the library. The words stay the model's; length is the model's to get right."""
    raw = strip_emoji(output.text)
    body = HASHTAG_RE.sub("", raw)
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in body.splitlines()]
    lines = [line for line in lines if line]
    # The model's own tags first (its hashtags field, then any #tag it wrote in the text).
    own = [strip_emoji(t).strip().lstrip("#＃").strip() for t in output.hashtags]
    own += [t[1:] for t in HASHTAG_RE.findall(raw)]
    own = [t for t in own if re.fullmatch(r"\w+", t)]
    pool = list(
        dict.fromkeys(
            [*own, *library.hashtags[spec.audience][spec.goal], *library.hashtags[spec.audience]["common"]]
        )
    )
    emojis = _pick(library.emoji[spec.audience][spec.tone], spec.emoji, 0)
    text = "\n".join(place_emoji(lines, emojis))
    tags = pool[: spec.hashtags]
    if tags:
        text += "\n" + " ".join("#" + t for t in tags)
    return text


def _feedback(verdict: Verdict, spec: MomentsSpec) -> str:
    problems = []
    if not verdict.constraints_met and verdict.measure.chars > spec.max_chars:
        problems.append(
            f"太长了：共 {verdict.measure.chars} 字，必须不超过 {spec.max_chars} 字（含表情和话题）"
        )
    for report in verdict.compliance:
        problems += [
            f"违反广告法的词「{v.matched}」({v.category})：{v.suggestion}" for v in report.violations
        ]
    problems += [m.detail for m in verdict.facts.mismatches]
    return "；".join(problems) or "请换一种写法"


@dataclass(frozen=True)
class LLMAttempt:
    draft: Draft | None
    verdict: Verdict | None
    error: str | None = None


class LLMEngine:
    """Writes from the product facts only; each output is checked, and a failed one is sent back
    with the reasons, up to `rewrites` times. The caller falls back to the offline engine."""

    def __init__(self, gateway: Any, library: TemplateLibrary | None = None, *, rewrites: int = 2) -> None:
        self.gateway = gateway
        self.library = library or default_library()
        self.rewrites = rewrites
        self.prompt = load_prompt(LLM_PROMPT_ID)

    def write(
        self,
        products: Sequence[ProductInfo],
        spec: MomentsSpec,
        *,
        shop_name: str,
        promo_line: str | None,
        avoid: Sequence[str] = (),
        shop_id: int | None = None,
        allowed_prices: Sequence[Decimal] = (),
    ) -> Iterator[LLMAttempt]:
        """One variant: the first try, then up to `rewrites` rewrites with feedback."""
        feedback = ""
        for attempt in range(self.rewrites + 1):
            rendered = render(
                self.prompt,
                {
                    "shop_name": shop_name,
                    "products": product_payload(products),
                    "goal": spec.goal,
                    "audience": spec.audience,
                    "tone": spec.tone,
                    "max_chars": str(max(20, spec.max_chars - 12 * spec.hashtags - 2 * spec.emoji)),
                    "promo_text": promo_line or "无",
                    "avoid": "\n".join(avoid) or "无",
                    "feedback": feedback or "无",
                },
            )
            try:
                result = self.gateway.complete(
                    rendered, agent="copywriter", schema=MomentsOutput, shop_id=shop_id
                )
            except LLMError as exc:
                yield LLMAttempt(None, None, error=exc.code)
                return
            text = shape_llm_text(result.output, spec, self.library)
            verdict = repair(
                verify(text, products, spec, allowed_prices=allowed_prices),
                products,
                spec,
                allowed_prices=allowed_prices,
            )
            draft = Draft(
                text=verdict.text,
                engine="llm",
                prompt_id=self.prompt.id,
                prompt_version=self.prompt.version,
                templates={"attempt": attempt},
                model=result.record.model,
            )
            yield LLMAttempt(draft, verdict)
            if verdict.ok:
                return
            feedback = _feedback(verdict, spec)
