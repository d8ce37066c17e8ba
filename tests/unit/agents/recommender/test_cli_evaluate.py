from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from agents.recommender.synthetic import synthetic_shop
from api.cli import app


def _write_log(path: Path) -> None:
    shop = synthetic_shop(seed=5, n_products=40, n_customers=150, days=300)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "item_id", "timestamp"])
        for r in shop.interactions:
            w.writerow([r.customer_id, r.item_id, r.ts.isoformat(sep=" ")])


def test_evaluate_prints_json_for_ours_and_both_baselines(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    _write_log(log)

    result = CliRunner().invoke(app, ["rec", "evaluate", "--interactions", str(log), "--k", "5", "--json"])

    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["k"] == 5
    assert [r["name"] for r in payload["results"]] == ["ours", "popularity", "item-kNN"]
    assert all(0.0 <= r["hit"] <= 1.0 and r["customers"] == payload["customers"] for r in payload["results"])


def test_evaluate_prints_a_table(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    _write_log(log)

    result = CliRunner().invoke(app, ["rec", "evaluate", "--interactions", str(log)])

    assert result.exit_code == 0, result.output
    assert "hit@10" in result.output and "item-kNN" in result.output


def test_bad_csv_exits_1_naming_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,item_id,timestamp\nc1,a,2026-01-01\nc1,b,昨天\n", "utf-8")

    result = CliRunner().invoke(app, ["rec", "evaluate", "--interactions", str(bad)])

    assert result.exit_code == 1
    assert "第 3 行" in result.output and "timestamp" in result.output
