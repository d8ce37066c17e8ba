"""The `copy` eval's labelled set is data other engineers will extend; keep its shape honest."""

from __future__ import annotations

from collections import Counter

from agents.copywriter.lexicon import PRODUCT_CATEGORIES, VIOLATION_CATEGORIES
from evals.suites.copy import HOLDOUT, load_all, load_cases


def test_labelled_set_is_large_varied_and_well_formed() -> None:
    cases = load_cases()
    assert len(cases) >= 200
    assert len({c.id for c in cases}) == len(cases)
    assert len({c.text for c in cases}) == len(cases)
    labelled = Counter(e["category"] for c in cases for e in c.expect)
    assert set(labelled) == set(VIOLATION_CATEGORIES)
    assert {c.category for c in cases} <= set(PRODUCT_CATEGORIES)
    tags = Counter(t for c in cases for t in c.tags)
    assert tags["evasion"] >= 30
    assert tags["spec_trap"] >= 15
    clean = [c for c in cases if not c.expect]
    assert len(clean) >= 80


def test_holdout_is_separate_sourced_and_covers_the_verticals() -> None:
    dev = load_cases()
    holdout = load_cases(HOLDOUT, "holdout")
    assert {c.split for c in holdout} == {"holdout"}
    assert len(holdout) >= 300
    assert not {c.text for c in dev} & {c.text for c in holdout}
    assert not {c.id for c in dev} & {c.id for c in holdout}
    assert all(c.source and c.vertical for c in holdout)
    verticals = {c.vertical for c in holdout if c.expect}
    assert {"美妆", "食品", "保健", "母婴", "教育", "理财", "3C"} <= verticals
    clean = [c for c in holdout if not c.expect]
    assert len(clean) >= 150
    # a term list the lexicon was not written from, and regulators' published cases
    assert sum("term" in c.tags for c in holdout) >= 30
    assert sum(c.source.startswith(("samr", "liaoning", "zhejiang", "shanghai")) for c in holdout) >= 8
    assert len(load_all()) == len(dev) + len(holdout)
