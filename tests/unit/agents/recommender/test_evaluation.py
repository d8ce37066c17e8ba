from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import pytest

from agents.recommender import evaluation as ev
from agents.recommender.schemas import Interaction
from agents.recommender.synthetic import synthetic_shop
from store.errors import InvalidInput


def _rows(spec: list[tuple[str, str, str]]) -> list[Interaction]:
    return [Interaction(c, i, ev.parse_timestamp(t)) for c, i, t in spec]


def test_metrics_are_exact() -> None:
    ranked = ["x", "a", "y", "b"]
    relevant = frozenset({"a", "b", "c"})
    assert ev.hit_at_k(ranked, relevant, 1) == 0.0
    assert ev.hit_at_k(ranked, relevant, 2) == 1.0
    assert ev.recall_at_k(ranked, relevant, 4) == pytest.approx(2 / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ev.ndcg_at_k(ranked, relevant, 4) == pytest.approx(dcg / ideal)
    assert ev.ndcg_at_k(ranked, frozenset(), 4) == 0.0


def test_last_basket_split_holds_out_each_customers_last_day() -> None:
    rows = _rows(
        [
            ("c1", "a", "2026-01-01"),
            ("c1", "b", "2026-01-05 09:00:00"),
            ("c1", "c", "2026-01-05T20:00:00+08:00"),
            ("c2", "a", "2026-01-02"),  # one basket only: stays in train, not tested
            ("c3", "b", "2026-01-03"),
            ("c3", "a", "2026-01-04"),
        ]
    )
    split = ev.last_basket_split(rows)
    assert split.test == {"c1": frozenset({"b", "c"}), "c3": frozenset({"a"})}
    assert split.asked_on == {"c1": date(2026, 1, 5), "c3": date(2026, 1, 4)}
    assert sorted((r.customer_id, r.item_id) for r in split.train) == [("c1", "a"), ("c2", "a"), ("c3", "b")]


def test_validation_split_holds_out_the_second_to_last_basket_and_never_sees_the_last() -> None:
    rows = _rows(
        [
            ("c1", "a", "2026-01-01"),
            ("c1", "b", "2026-01-03"),
            ("c1", "c", "2026-01-05"),  # the test basket: not in the validation split at all
            ("c2", "a", "2026-01-02"),
            ("c2", "d", "2026-01-04"),  # c2 has one basket left once this goes: not validated
        ]
    )
    split = ev.validation_split(rows)
    assert split.test == {"c1": frozenset({"b"})}
    assert split.asked_on == {"c1": date(2026, 1, 3)}
    assert sorted((r.customer_id, r.item_id) for r in split.train) == [("c1", "a"), ("c2", "a")]


def test_temporal_split_tests_known_customers_in_the_horizon() -> None:
    rows = _rows(
        [
            ("c1", "a", "2026-01-01"),
            ("c1", "b", "2026-01-12"),
            ("c1", "c", "2026-01-30"),  # beyond the horizon
            ("new", "a", "2026-01-11"),  # no history before the cutoff
        ]
    )
    split = ev.temporal_split(rows, date(2026, 1, 10), 14)
    assert split.test == {"c1": frozenset({"b"})}
    assert split.asked_on == {"c1": date(2026, 1, 10)}
    assert [r.item_id for r in split.train] == ["a"]


def test_baselines() -> None:
    rows = _rows(
        [
            ("c1", "a", "2026-01-01"),
            ("c1", "b", "2026-01-01"),
            ("c2", "a", "2026-01-01"),
            ("c2", "b", "2026-01-01"),
            ("c3", "a", "2026-01-01"),
            ("c3", "c", "2026-01-01"),
            ("c4", "d", "2026-01-01"),
        ]
    )
    assert ev.PopularityBaseline(rows).recommend("anyone", 3) == ["a", "b", "c"]
    knn = ev.ItemKNNBaseline(rows)
    # c4 bought d, which nobody else bought: popularity fills the list
    assert knn.recommend("c4", 2) == ["a", "b"]
    # for c3 (a, c): b is cosine-similar to a (2/sqrt(3·2)); a and c to each other
    assert knn.recommend("c3", 3) == ["b", "a", "c"]


def test_read_csv_validates_and_names_line_and_field(tmp_path: Path) -> None:
    good = tmp_path / "log.csv"
    good.write_text(
        "customer_id,item_id,timestamp,qty\nc1,a,2026-01-01,2\nc1,b,2026-01-02 10:00:00,\n", "utf-8-sig"
    )
    rows = ev.read_interactions_csv(good)
    assert rows == [
        Interaction("c1", "a", datetime(2026, 1, 1), 2.0),
        Interaction("c1", "b", datetime(2026, 1, 2, 10), 1.0),
    ]

    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("customer_id,item_id,timestamp\n张三,纸尿裤,2026-01-01\n".encode("gbk"))
    assert ev.read_interactions_csv(gbk)[0].customer_id == "张三"

    cases = {
        "customer_id,item,timestamp\nc1,a,2026-01-01\n": (1, None),
        "customer_id,item_id,timestamp\nc1,a,2026-01-01\nc1,a,01/02/2026\n": (3, "timestamp"),
        "customer_id,item_id,timestamp\n,a,2026-01-01\n": (2, "customer_id"),
        "customer_id,item_id,timestamp\nc1,,2026-01-01\n": (2, "item_id"),
        "customer_id,item_id,timestamp,qty\nc1,a,2026-01-01,-1\n": (2, "qty"),
        "customer_id,item_id,timestamp\n": (2, None),
    }
    for text, (line, field) in cases.items():
        bad = tmp_path / "bad.csv"
        bad.write_text(text, "utf-8")
        with pytest.raises(InvalidInput) as err:
            ev.read_interactions_csv(bad)
        assert (err.value.file, err.value.line, err.value.field) == ("bad.csv", line, field)
        assert "bad.csv" in err.value.detail


def test_compare_runs_all_three_on_one_split_and_ours_wins_on_structured_data() -> None:
    shop = synthetic_shop(seed=3, n_products=60, n_customers=300, days=365)
    split = ev.last_basket_split(shop.interactions)

    result = ev.compare(split, 10, products=shop.products)

    assert [r.name for r in result.rows] == ["ours", "popularity", "item-kNN"]
    assert {r.customers for r in result.rows} == {len(split.test)}
    assert result.row("ours").hit > result.row("popularity").hit
    assert result.row("ours").ndcg > result.row("item-kNN").ndcg
    assert 0 < result.row("popularity").coverage < result.row("ours").coverage <= 1


def test_compare_refuses_a_log_without_repeat_customers() -> None:
    rows = _rows([("c1", "a", "2026-01-01"), ("c2", "b", "2026-01-02")])
    with pytest.raises(InvalidInput, match="至少需要 2 个购物篮"):
        ev.compare(ev.last_basket_split(rows), 10)
