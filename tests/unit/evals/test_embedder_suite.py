"""The embedder eval's pure parts: metrics, the BM25 tokenizer and the dataset itself."""

from __future__ import annotations

import numpy as np
import pytest

from evals.suites.embedder import char_bigrams, load_pairs, ranking_metrics


def test_ranking_metrics_on_a_hand_computed_matrix() -> None:
    scores = np.array(
        [
            [0.9, 0.1, 0.2, 0.0],  # gold 0 first
            [0.8, 0.05, 0.9, 0.1],  # gold 1 last
            [0.3, 0.3, 0.3, 0.3],  # gold 2 tied with all: rank 2.5
        ]
    )
    m = ranking_metrics(scores, [0, 1, 2])
    assert m["recall@1"] == pytest.approx(1 / 3)
    assert m["recall@3"] == pytest.approx(2 / 3)
    assert m["mrr"] == pytest.approx((1 + 1 / 4 + 1 / 2.5) / 3)
    assert m["auc"] == pytest.approx((1.0 + 0.0 + 0.5) / 3)


def test_ranking_metrics_rejects_mismatched_gold() -> None:
    with pytest.raises(ValueError, match="gold"):
        ranking_metrics(np.zeros((2, 3)), [0])


def test_char_bigrams_normalise_and_skip_punctuation() -> None:
    assert char_bigrams("退货，Ａ1！") == ["退货", "货a", "a1"]
    assert char_bigrams("好") == ["好"]
    assert char_bigrams("？") == []


def test_dataset_is_big_unique_and_not_keyword_copied() -> None:
    pairs = load_pairs()
    assert len(pairs) >= 150
    assert len({p.pair_id for p in pairs}) == len(pairs)
    assert len({p.passage for p in pairs}) == len(pairs)
    assert {p.topic for p in pairs} >= {"shipping", "returns", "coupons", "membership", "invoices", "baby"}
    # Customers paraphrase: on average a query shares few character bigrams with its passage.
    overlap = [len(set(char_bigrams(p.query)) & set(char_bigrams(p.passage))) for p in pairs]
    assert float(np.mean(overlap)) < 1.5
