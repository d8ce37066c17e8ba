"""Eval suite `copy`: the Moments copywriter.

Part 1 (here): 广告法 compliance on labelled sentences written the way 朋友圈 ads read, across product
categories, with evasion tricks (最 好, ✨最✨佳, 頂級, NO.1 …) and spec traps (最大容量500ml, 第一步,
国家标准 GB/T …). A missed violation costs a fine, an extra flag costs an edit, so recall is held
high (>= 0.95) and false positives on clean sentences low (<= 5%).

Part 2 (generation): the offline engine over every demo SKU x 3 goals x 2 audiences (--quick:
every 4th SKU), 3 variants each, with varied length/emoji/hashtag limits. Each variant is
re-checked from scratch: 0 violations, 0 fact mismatches, 100% constraints met, and every
request gets 3 distinct variants.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from agents.copywriter import service
from agents.copywriter.compliance import check
from agents.copywriter.facts import check_facts
from agents.copywriter.generate import MomentsSpec, OfflineEngine, ProductInfo, measure, offline_variants
from agents.copywriter.lexicon import VIOLATION_CATEGORIES, ProductCategory
from agents.copywriter.schemas import CopyCheckRequest
from agents.copywriter.templates import TONES
from evals.harness import EvalContext, SuiteResult, Threshold, suite
from store.demo.content import CATALOG_PATH

DATA = files("evals") / "data" / "copy" / "compliance.v1.jsonl"


@dataclass(frozen=True)
class Labelled:
    id: str
    text: str
    category: ProductCategory
    expect: list[dict[str, str]]  # [{"category": 违规类别, "span": 原文片段}]
    tags: list[str]


def load_cases(path: Traversable = DATA) -> list[Labelled]:
    cases = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        for exp in row["expect"]:
            if exp["span"] not in row["text"]:
                raise ValueError(f"{path.name}:{line_no}: span {exp['span']!r} not in text {row['text']!r}")
        cases.append(Labelled(row["id"], row["text"], row["category"], row["expect"], row.get("tags", [])))
    return cases


def _compliance_part(cases: list[Labelled]) -> tuple[list[list[Any]], dict[str, float], dict[str, Any]]:
    expected: Counter[str] = Counter()
    detected: Counter[str] = Counter()
    right_category: Counter[str] = Counter()
    tag_expected: Counter[str] = Counter()
    tag_detected: Counter[str] = Counter()
    clean_by_tag: Counter[str] = Counter()
    fp_by_tag: Counter[str] = Counter()
    misses: list[dict[str, Any]] = []
    false_positives: list[dict[str, Any]] = []
    extra_hits = 0
    for case in cases:
        result = service.check_copy(CopyCheckRequest(text=case.text, category=case.category))
        if not case.expect:
            tags = case.tags or ["plain"]
            for tag in tags:
                clean_by_tag[tag] += 1
            if result.violations:
                for tag in tags:
                    fp_by_tag[tag] += 1
                false_positives.append(
                    {"id": case.id, "text": case.text, "hits": [v.matched for v in result.violations]}
                )
            continue
        used: set[int] = set()
        for exp in case.expect:
            start = case.text.find(exp["span"])
            end = start + len(exp["span"])
            cat = exp["category"]
            expected[cat] += 1
            for tag in case.tags:
                tag_expected[tag] += 1
            overlapping = [i for i, v in enumerate(result.violations) if v.start < end and start < v.end]
            if not overlapping:
                misses.append({"id": case.id, "text": case.text, "span": exp["span"], "category": cat})
                continue
            used.update(overlapping)
            detected[cat] += 1
            for tag in case.tags:
                tag_detected[tag] += 1
            if any(result.violations[i].category == cat for i in overlapping):
                right_category[cat] += 1
        extra_hits += len(result.violations) - len(used)

    rows: list[list[Any]] = []
    for cat in VIOLATION_CATEGORIES:
        if expected[cat]:
            rows.append(
                [cat, expected[cat], detected[cat], detected[cat] / expected[cat], right_category[cat]]
            )
    total, found = sum(expected.values()), sum(detected.values())
    rows.append(["(all violations)", total, found, found / total, sum(right_category.values())])
    for tag in sorted(tag_expected):
        rows.append(
            [f"(tag: {tag})", tag_expected[tag], tag_detected[tag], tag_detected[tag] / tag_expected[tag], ""]
        )
    n_clean, n_fp = sum(1 for c in cases if not c.expect), len(false_positives)
    for tag in sorted(clean_by_tag):
        rows.append(
            [
                f"clean: {tag}",
                clean_by_tag[tag],
                f"{fp_by_tag[tag]} FP",
                1 - fp_by_tag[tag] / clean_by_tag[tag],
                "",
            ]
        )
    metrics = {
        "violation_recall": found / total,
        "category_accuracy": sum(right_category.values()) / max(found, 1),
        "evasion_recall": tag_detected["evasion"] / max(tag_expected["evasion"], 1),
        "clean_fp_rate": n_fp / max(n_clean, 1),
        "extra_hits_on_violating": float(extra_hits),
        "sentences": float(len(cases)),
    }
    details = {"misses": misses, "false_positives": false_positives}
    return rows, metrics, details


GEN_GOALS = ("种草", "促销", "干货")
GEN_AUDIENCES = ("宝妈", "白领")
# (max_chars, emoji, hashtags), cycled over the cases so every shape is exercised.
GEN_SHAPES = ((120, 2, 2), (90, 3, 1), (160, 1, 3), (70, 0, 2))
GEN_VARIANTS = 3
QUICK_SKU_STEP = 4  # --quick: every 4th demo SKU (22 of 88), all goals and audiences


def demo_products() -> list[ProductInfo]:
    """The demo shop's catalogue as the copywriter sees it (prices as stored)."""
    data = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    return [
        ProductInfo(
            sku=p["sku"],
            title=p["title"],
            category=p["category"],
            price=Decimal(p["price"]),
            brand=p.get("brand"),
            subcategory=p.get("subcategory"),
            attributes=p.get("attributes") or {},
            description=p.get("description") or "",
            extra_prices=tuple(Decimal(str(v["price"])) for v in p.get("variants") or () if v.get("price")),
        )
        for p in data["products"]
    ]


def _generation_part(ctx: EvalContext) -> tuple[list[list[Any]], dict[str, float], list[Threshold]]:
    """Offline engine over demo SKU x 3 goals x 2 audiences; each returned variant is re-checked
    here from scratch (广告法 under the product's category, facts against the record, counts)."""
    products = demo_products()
    if ctx.quick:
        products = products[::QUICK_SKU_STEP]
    engine = OfflineEngine()
    per_slice: dict[str, Counter[str]] = {}
    totals: Counter[str] = Counter()
    n_case = 0
    for product in products:
        for goal in GEN_GOALS:
            for audience in GEN_AUDIENCES:
                max_chars, emoji, hashtags = GEN_SHAPES[n_case % len(GEN_SHAPES)]
                spec = MomentsSpec(
                    goal=goal,  # type: ignore[arg-type]  # from GEN_GOALS, all valid goals
                    audience=audience,  # type: ignore[arg-type]
                    tone=TONES[n_case % len(TONES)],
                    max_chars=max_chars,
                    emoji=emoji,
                    hashtags=hashtags,
                    variants=GEN_VARIANTS,
                )
                n_case += 1
                texts = offline_variants(engine, [product], spec, seed=n_case)
                c = per_slice.setdefault(f"gen {goal}×{audience}", Counter())
                c["cases"] += 1
                c["complete"] += len(texts) == GEN_VARIANTS and len(set(texts)) == GEN_VARIANTS
                for text in texts:
                    c["variants"] += 1
                    c["violations"] += len(check(text, product.rules).violations)
                    c["mismatches"] += len(check_facts(text, product.facts).mismatches)
                    c["constraints"] += spec.met_by(measure(text))
    rows: list[list[Any]] = []
    for name, c in per_slice.items():
        totals.update(c)
        rows.append(
            [
                name,
                c["variants"],
                f"{c['violations']} 违规 / {c['mismatches']} 不符",
                c["constraints"] / max(c["variants"], 1),
                f"{c['complete']}/{c['cases']} 组齐 {GEN_VARIANTS} 条",
            ]
        )
    variants = max(totals["variants"], 1)
    metrics = {
        "gen_cases": float(totals["cases"]),
        "gen_variants": float(totals["variants"]),
        "gen_violations": float(totals["violations"]),
        "gen_fact_mismatches": float(totals["mismatches"]),
        "gen_constraints_met": totals["constraints"] / variants,
        "gen_cases_complete": totals["complete"] / max(totals["cases"], 1),
    }
    thresholds = [
        Threshold("gen_violations", "<=", 0, "生成文案不得有任何广告法违规"),
        Threshold("gen_fact_mismatches", "<=", 0, "价格、规格必须与商品资料一致"),
        Threshold("gen_constraints_met", ">=", 1.0, "字数、表情数、话题数 100% 满足"),
        Threshold("gen_cases_complete", ">=", 1.0, "每个请求都给出 3 条互不相同的变体"),
    ]
    return rows, metrics, thresholds


@suite("copy", "朋友圈文案：广告法违规召回率、干净句误报率、生成文案合规/事实/约束")
def run(ctx: EvalContext) -> SuiteResult:
    # The whole compliance set runs in well under a second, so --quick runs all of it.
    rows, metrics, details = _compliance_part(load_cases())
    gen_rows, gen_metrics, gen_thresholds = _generation_part(ctx)
    return SuiteResult(
        suite="copy",
        title="eval: copy — 广告法合规 (clean 行: recall 列 = 1 - 误报率; gen 行: recall 列 = 约束满足率)",
        columns=["slice", "n", "detected", "recall", "right category"],
        rows=rows + gen_rows,
        metrics=metrics | gen_metrics,
        thresholds=[
            Threshold("violation_recall", ">=", 0.95, "漏报一条就可能被罚"),
            Threshold("clean_fp_rate", "<=", 0.05, "规格、序数、国标等客观描述不应报"),
            *gen_thresholds,
        ],
        details=details,
    )
