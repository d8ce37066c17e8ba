"""The tests' remembering embedder returns exactly the wrapped embedder's vectors, embedding each
passage once (tests/memo_embedder.py)."""

from __future__ import annotations

import numpy as np

from tests.memo_embedder import MemoEmbedder
from tests.unit.retrieval.fakes import HashEmbedder


def test_passages_are_the_real_vectors_in_order_each_embedded_once() -> None:
    real = HashEmbedder()
    memo = MemoEmbedder(real)
    texts = ["保温杯 500ml", "婴儿湿巾", "保温杯 500ml", "红糖"]
    first = memo.embed_passages(texts)
    assert real.calls == [3]  # the repeat inside one call is embedded once
    np.testing.assert_array_equal(first, HashEmbedder().embed_passages(texts))
    again = memo.embed_passages(["红糖", "新品 枸杞", "婴儿湿巾"])
    assert real.calls == [3, 1]
    np.testing.assert_array_equal(again, HashEmbedder().embed_passages(["红糖", "新品 枸杞", "婴儿湿巾"]))
    assert memo.embed_passages([]).shape == (0, real.dim)
    assert (memo.name, memo.dim) == (real.name, real.dim)


def test_queries_are_not_remembered() -> None:
    real = HashEmbedder()
    memo = MemoEmbedder(real)
    memo.embed_queries(["红糖多少钱"])
    memo.embed_queries(["红糖多少钱"])
    assert real.calls == [1, 1]
