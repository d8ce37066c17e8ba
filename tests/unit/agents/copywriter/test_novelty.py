"""The novelty gate: cosine against approved posts and siblings, with a threshold."""

from __future__ import annotations

import numpy as np
import pytest

from agents.copywriter.novelty import NoveltyGate, as_vector


def test_nothing_to_compare_is_novel() -> None:
    verdict = NoveltyGate(threshold=0.92).judge([1.0, 0.0])
    assert (verdict.ok, verdict.max_similarity, verdict.nearest) == (True, 0.0, None)


def test_close_to_an_approved_post_is_rejected_and_names_it() -> None:
    gate = NoveltyGate(threshold=0.92, approved=[(7, [1.0, 0.0, 0.0]), (9, [0.0, 1.0, 0.0])])
    near = gate.judge([0.95, 0.1, 0.0])  # cos ≈ 0.9945 with draft 7
    assert not near.ok and near.nearest == "approved:7"
    assert near.max_similarity == pytest.approx(0.95 / np.hypot(0.95, 0.1), abs=1e-6)
    far = gate.judge([0.6, 0.6, 0.53])
    assert far.ok and far.max_similarity < 0.92


def test_threshold_setting_and_siblings_count() -> None:
    loose, strict = NoveltyGate(threshold=0.85), NoveltyGate(threshold=0.75)
    for gate in (loose, strict):
        gate.accept([1.0, 0.0])
    assert loose.judge([0.8, 0.6]).ok  # cos = 0.8
    verdict = strict.judge([0.8, 0.6])
    assert not verdict.ok and verdict.nearest == "sibling:0"
    assert verdict.max_similarity == pytest.approx(0.8, abs=1e-6)


def test_vectors_of_another_dimension_are_ignored_and_inputs_normalised() -> None:
    gate = NoveltyGate(threshold=0.5, approved=[(1, [1.0, 0.0, 0.0, 0.0])])
    assert gate.judge([3.0, 0.0]).ok
    assert float(np.linalg.norm(as_vector([3.0, 4.0]))) == pytest.approx(1.0)
