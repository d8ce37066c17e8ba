"""The real embedder, remembering every passage it embedded in this test session.

Tests where embedding is a step and not the subject (the recommender fits on the 88 demo product
cards in every test: seconds of CPU each) take `memo_embedder`: the vectors are the real model's
for the same texts, computed once. Tests of embedding itself, and of work that must not embed
(`NoEmbedding`), use `real_embedder` or their own doubles.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from retrieval.embedding import Embedder, Vectors


class MemoEmbedder:
    def __init__(self, real: Embedder) -> None:
        self.real = real
        self._passages: dict[str, Vectors] = {}
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.real.name

    @property
    def dim(self) -> int:
        return self.real.dim

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.real.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._passages))
        if missing:
            vectors = self.real.embed_passages(missing)
            with self._lock:
                self._passages.update(zip(missing, vectors, strict=True))
        with self._lock:
            rows = [self._passages[t] for t in texts]
        return np.stack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)
