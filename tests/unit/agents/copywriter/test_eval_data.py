"""The `copy` eval's labelled set is data other engineers will extend; keep its shape honest."""

from __future__ import annotations

from collections import Counter

from agents.copywriter.lexicon import PRODUCT_CATEGORIES, VIOLATION_CATEGORIES
from evals.suites.copy import load_cases


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
