from __future__ import annotations

from evals.harness import SuiteResult, Threshold


def _result(value: float) -> SuiteResult:
    return SuiteResult(
        suite="t",
        columns=["m"],
        rows=[[value]],
        metrics={"m": value},
        thresholds=[
            Threshold("m", ">=", 0.9, "target", enforced=False),
            Threshold("m", ">=", 0.5, "floor"),
            Threshold("absent", "<=", 1),
        ],
    )


def test_enforced_thresholds_fail_and_targets_are_reported_but_do_not_fail() -> None:
    r = _result(0.7)
    assert r.failures() == ["absent: missing from the results"]
    assert r.targets_missed() == ["m = 0.7000, required >= 0.9"]


def test_a_regression_below_the_floor_fails() -> None:
    assert "m = 0.4000, required >= 0.5" in _result(0.4).failures()
