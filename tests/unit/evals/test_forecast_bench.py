"""The forecast bench's baseline sampling: which SKUs AutoETS runs on at large sizes."""

from __future__ import annotations

from evals.benches.forecast import _baseline_rows


def test_small_panels_run_the_baseline_on_every_sku() -> None:
    assert _baseline_rows(800, 1000, seed=800) == list(range(800))
    assert _baseline_rows(1000, 1000, seed=1) == list(range(1000))


def test_zero_sample_means_never_sample() -> None:
    assert _baseline_rows(5000, 0, seed=5) == list(range(5000))


def test_large_panels_get_a_seeded_sample_of_distinct_rows() -> None:
    rows = _baseline_rows(10_000, 1000, seed=10_000)
    assert len(rows) == len(set(rows)) == 1000
    assert rows == sorted(rows)
    assert rows[0] >= 0 and rows[-1] < 10_000
    # Spread over the whole panel, not the first thousand rows (synthetic patterns are mixed by row).
    assert rows[-1] > 5000 and rows[0] < 1000
    assert rows == _baseline_rows(10_000, 1000, seed=10_000)
    assert rows != _baseline_rows(10_000, 1000, seed=10_001)
