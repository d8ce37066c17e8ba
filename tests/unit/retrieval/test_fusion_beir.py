from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from retrieval.beir import evaluate, load_corpus, load_qrels, load_queries, mrr_at, ndcg_at, recall_at
from retrieval.fusion import reciprocal_rank_fusion
from store.errors import InvalidInput


def test_rrf_sums_reciprocal_ranks() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60)
    assert [d for d, _ in fused] == ["b", "a", "d", "c"]
    scores = dict(fused)
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["a"] == pytest.approx(1 / 61)


def test_rrf_weights_and_duplicates() -> None:
    fused = dict(reciprocal_rank_fusion([["a", "a"], ["b"]], weights=[1.0, 2.0], k=0))
    assert fused == {"a": 1.0, "b": 2.0}
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([["a"]], weights=[1.0, 2.0])


def test_metrics_on_a_known_ranking() -> None:
    ranked = ["d3", "d1", "d9", "d2"]
    rel = {"d1": 1, "d2": 2}
    assert recall_at(ranked, rel, 1) == 0.0
    assert recall_at(ranked, rel, 2) == 0.5
    assert recall_at(ranked, rel, 5) == 1.0
    assert mrr_at(ranked, rel, 10) == 0.5
    dcg = 1 / math.log2(3) + 3 / math.log2(5)
    idcg = 3 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at(ranked, rel, 10) == pytest.approx(dcg / idcg)


def test_evaluate_averages_over_judged_queries() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}
    metrics = evaluate({"q1": ["a"], "q2": ["x", "b"]}, qrels)
    assert metrics["recall@1"] == 0.5 and metrics["recall@5"] == 1.0
    assert metrics["mrr@10"] == pytest.approx(0.75)


def test_loading_beir_files(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "\n".join(
            json.dumps(r, ensure_ascii=False) for r in [{"_id": "d1", "title": "退货", "text": "七天"}]
        ),
        encoding="utf-8",
    )
    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"_id": "q1", "text": "能退吗"}, ensure_ascii=False), encoding="utf-8")
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n", encoding="utf-8")
    assert load_corpus(corpus)[0].title == "退货"
    assert load_queries(queries) == {"q1": "能退吗"}
    assert load_qrels(qrels) == {"q1": {"d1": 1}}


def test_bad_files_name_the_line(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "d1", "text": "x"}\n{"_id": "d2"}\n', encoding="utf-8")
    with pytest.raises(InvalidInput) as exc:
        load_corpus(corpus)
    assert exc.value.line == 2 and exc.value.field == "text"
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("qid\tdid\tscore\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="query-id"):
        load_qrels(qrels)


def test_roc_auc_counts_ordered_pairs() -> None:
    from retrieval.beir import roc_auc

    assert roc_auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert roc_auc([0.1], [0.9]) == 0.0
    assert roc_auc([0.5, 0.9], [0.5]) == 0.75
    assert math.isnan(roc_auc([], [0.1]))
