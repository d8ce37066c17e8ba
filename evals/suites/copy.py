"""Eval suite `copy`: the Moments copywriter.

Part 1 (here): 广告法 compliance on labelled sentences written the way 朋友圈 ads read, in two splits
reported side by side:
- dev (`compliance.v1.jsonl`): what the lexicon and rules were written from, across product
  categories, with evasion tricks (最 好, ✨最✨佳, 頂級, NO.1 …) and spec traps (最大容量500ml, 第一步,
  国家标准 GB/T …);
- holdout (`holdout.jsonl`): written before the pattern rules from other sources (regulators'
  published cases, a third-party term list, a second writer's colloquial Moments style; see its
  header) and never tuned on. The thresholds that matter are set here.
A missed violation costs a fine, an extra flag costs an edit: recall is held high and false
positives on clean sentences low.

Part 2 (generation): the offline engine over every demo SKU x 3 goals x 2 audiences (--quick:
every 4th SKU), 3 variants each, with varied length/emoji/hashtag limits. Each variant is
re-checked from scratch: 0 violations, 0 fact mismatches, 100% constraints met, and every
request gets 3 distinct variants.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Literal

from agents.copywriter import service
from agents.copywriter.compliance import check
from agents.copywriter.facts import check_facts
from agents.copywriter.generate import MomentsSpec, OfflineEngine, ProductInfo, measure, offline_variants
from agents.copywriter.lexicon import VIOLATION_CATEGORIES, ProductCategory
from agents.copywriter.schemas import CopyCheckRequest
from agents.copywriter.templates import TONES
from evals.harness import EvalContext, SuiteResult, Threshold, suite
from store.demo.content import CATALOG_PATH

DATA_DIR = files("evals") / "data" / "copy"
DEV = DATA_DIR / "compliance.v1.jsonl"
HOLDOUT = DATA_DIR / "holdout.jsonl"
SPLITS = ("dev", "holdout")
Split = Literal["dev", "holdout"]


@dataclass(frozen=True)
class Labelled:
    id: str
    text: str
    category: ProductCategory
    expect: list[dict[str, str]]  # [{"category": 违规类别, "span": 原文片段}]
    tags: list[str]
    split: Split = "dev"
    vertical: str = ""  # 美妆 / 食品 / 保健 / 母婴 / 教育 / 理财 / 3C …, holdout rows only
    source: str = ""


def load_cases(path: Traversable = DEV, split: Split = "dev") -> list[Labelled]:
    """One split's rows; lines starting with `#` are the file's header (sources, licences)."""
    cases = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        row = json.loads(line)
        for exp in row["expect"]:
            if exp["span"] not in row["text"]:
                raise ValueError(f"{path.name}:{line_no}: span {exp['span']!r} not in text {row['text']!r}")
        cases.append(
            Labelled(
                row["id"],
                row["text"],
                row["category"],
                row["expect"],
                row.get("tags", []),
                split,
                row.get("vertical", ""),
                row.get("source", ""),
            )
        )
    return cases


def load_all() -> list[Labelled]:
    return load_cases(DEV, "dev") + load_cases(HOLDOUT, "holdout")


@dataclass
class _Tally:
    """Counts for one split: span recall per violation category, tag and vertical, violating
    sentences flagged, and false positives on clean sentences per tag."""

    expected: Counter[str] = field(default_factory=Counter)
    detected: Counter[str] = field(default_factory=Counter)
    right_category: Counter[str] = field(default_factory=Counter)
    sentences: int = 0
    sentences_flagged: int = 0
    clean: Counter[str] = field(default_factory=Counter)
    clean_flagged: Counter[str] = field(default_factory=Counter)
    extra_hits: int = 0

    def recall(self, key: str) -> float:
        return self.detected[key] / max(self.expected[key], 1)


_ALL = "(all violations)"


def _score(case: Labelled, tally: _Tally, details: dict[str, list[dict[str, Any]]]) -> None:
    result = service.check_copy(CopyCheckRequest(text=case.text, category=case.category))
    if not case.expect:
        tags = case.tags or ["plain"]
        tally.clean.update([*tags, _ALL])
        if result.violations:
            tally.clean_flagged.update([*tags, _ALL])
            details["false_positives"].append(
                {
                    "split": case.split,
                    "id": case.id,
                    "text": case.text,
                    "hits": [v.matched for v in result.violations],
                }
            )
        return
    tally.sentences += 1
    tally.sentences_flagged += bool(result.violations)
    used: set[int] = set()
    for exp in case.expect:
        start = case.text.find(exp["span"])
        end = start + len(exp["span"])
        cat = exp["category"]
        keys = [cat, _ALL, *(f"tag: {t}" for t in case.tags)]
        if case.vertical:
            keys.append(f"vertical: {case.vertical}")
        tally.expected.update(keys)
        overlapping = [i for i, v in enumerate(result.violations) if v.start < end and start < v.end]
        if not overlapping:
            details["misses"].append(
                {"split": case.split, "id": case.id, "text": case.text, "span": exp["span"], "category": cat}
            )
            continue
        used.update(overlapping)
        tally.detected.update(keys)
        if any(result.violations[i].category == cat for i in overlapping):
            tally.right_category.update([cat, _ALL])
    tally.extra_hits += len(result.violations) - len(used)


def _compliance_part(cases: list[Labelled]) -> tuple[list[list[Any]], dict[str, float], dict[str, Any]]:
    """Dev and holdout side by side: span recall per violation category, tag and (holdout)
    vertical; violating sentences flagged; clean sentences flagged per tag."""
    tallies = {split: _Tally() for split in SPLITS}
    details: dict[str, list[dict[str, Any]]] = {"misses": [], "false_positives": []}
    for case in cases:
        _score(case, tallies[case.split], details)
    dev, hold = tallies["dev"], tallies["holdout"]

    def row(label: str, key: str) -> list[Any]:
        cells: list[Any] = [label]
        for t in (dev, hold):
            cells += [t.expected[key], t.recall(key) if t.expected[key] else ""]
        right = [
            f"{t.right_category[key]}/{t.detected[key]}" if t.detected[key] else "-" for t in (dev, hold)
        ]
        return [*cells, " · ".join(right) if key in VIOLATION_CATEGORIES or key == _ALL else ""]

    rows = [row(cat, cat) for cat in VIOLATION_CATEGORIES if dev.expected[cat] or hold.expected[cat]]
    rows.append(row(_ALL, _ALL))
    rows.append(
        [
            "(violating sentences flagged)",
            dev.sentences,
            dev.sentences_flagged / max(dev.sentences, 1),
            hold.sentences,
            hold.sentences_flagged / max(hold.sentences, 1),
            "",
        ]
    )
    for key in sorted(
        {k for t in tallies.values() for k in t.expected if k.startswith(("tag:", "vertical:"))}
    ):
        rows.append(row(f"({key})", key))
    for tag in sorted({k for t in tallies.values() for k in t.clean} - {_ALL}) + [_ALL]:
        label = "clean: all" if tag == _ALL else f"clean: {tag}"
        cells: list[Any] = [label]
        for t in (dev, hold):
            cells += [t.clean[tag], 1 - t.clean_flagged[tag] / t.clean[tag] if t.clean[tag] else ""]
        rows.append([*cells, " · ".join(f"{t.clean_flagged[tag]} FP" for t in (dev, hold))])

    metrics: dict[str, float] = {}
    for split, t in tallies.items():
        metrics |= {
            f"violation_recall_{split}": t.recall(_ALL),
            f"sentence_recall_{split}": t.sentences_flagged / max(t.sentences, 1),
            f"category_accuracy_{split}": t.right_category[_ALL] / max(t.detected[_ALL], 1),
            f"evasion_recall_{split}": t.recall("tag: evasion"),
            f"clean_fp_rate_{split}": t.clean_flagged[_ALL] / max(t.clean[_ALL], 1),
            f"extra_hits_on_violating_{split}": float(t.extra_hits),
            f"sentences_{split}": float(t.sentences + t.clean[_ALL]),
        }
    metrics["term_recall_holdout"] = hold.recall("tag: term")
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
                c["constraints"] / max(c["variants"], 1),
                "",
                "",
                f"{c['violations']} 违规 / {c['mismatches']} 不符 · "
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


@suite("copy", "朋友圈文案：广告法违规召回率（dev / holdout）、干净句误报率、生成文案合规/事实/约束")
def run(ctx: EvalContext) -> SuiteResult:
    # The whole compliance set runs in well under a second, so --quick runs all of it.
    rows, metrics, details = _compliance_part(load_all())
    gen_rows, gen_metrics, gen_thresholds = _generation_part(ctx)
    return SuiteResult(
        suite="copy",
        title=(
            "eval: copy — 广告法合规, dev 与 holdout 并列 (violation 行: 片段召回率; clean 行: 1 - 误报率;"
            " gen 行: 约束满足率)"
        ),
        columns=["slice", "dev n", "dev", "holdout n", "holdout", "right category (dev · holdout) / note"],
        rows=rows + gen_rows,
        metrics=metrics | gen_metrics,
        thresholds=[*HOLDOUT_THRESHOLDS, *DEV_FLOORS, *gen_thresholds],
        details=details,
    )


# The bar is set on the holdout, which no rule was tuned on (issue 18): terms from a list the
# lexicon was not written from, violating sentences flagged, clean sentences flagged. Measured
# 2026-12-05 with ad_lexicon.v2: terms 0.971, sentences 0.969, spans 0.957, clean FP 0.033
# (5 of 153: 4 pre-date the pattern rules, 最多可存, 吊顶天花板, 不能完全替代母乳, 最好三天内; one
# is the 100% rule reaching across a comma, 含量100%，不额外加水). They were read after the rules
# were final and are left for a change that brings fresh holdout sentences, so this split stays
# untuned. The 0.03 stays a visible target; the enforced FP bar is 0.05.
HOLDOUT_THRESHOLDS = (
    Threshold("term_recall_holdout", ">=", 0.95, "holdout: 第三方词表中的违规词召回"),
    Threshold("sentence_recall_holdout", ">=", 0.95, "holdout: 违规句被标出的比例"),
    Threshold("violation_recall_holdout", ">=", 0.95, "holdout: 违规片段召回"),
    Threshold("clean_fp_rate_holdout", "<=", 0.05, "holdout: 规格、常见商品句不应报"),
    Threshold("clean_fp_rate_holdout", "<=", 0.03, "holdout: issue 18 的目标", enforced=False),
)
# The dev split is what the rules were written from: floors at the figures measured on main
# before the pattern rules (recall 0.986, FP 0.000), so they catch regressions.
DEV_FLOORS = (
    Threshold("violation_recall_dev", ">=", 0.986, "漏报一条就可能被罚"),
    Threshold("clean_fp_rate_dev", "<=", 0.0, "规格、序数、国标等客观描述不应报"),
)
