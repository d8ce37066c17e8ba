"""A deterministic embedder for unit tests: hashed character 1-3-grams, L2-normalised.

Texts sharing characters get similar vectors, which is all the index and search logic needs;
no model is loaded. Integration tests use the real embedder instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from retrieval.embedding import Vectors
from retrieval.lexical import normalise


class HashEmbedder:
    def __init__(self, dim: int = 256) -> None:
        self._dim = dim
        self.calls: list[int] = []

    @property
    def name(self) -> str:
        return f"hash-ngrams-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def _one(self, text: str) -> np.ndarray:
        vec = np.zeros(self._dim, dtype=np.float32)
        s = normalise(text)
        for n in (1, 2, 3):
            for i in range(len(s) - n + 1):
                digest = hashlib.blake2b(s[i : i + n].encode(), digest_size=4).digest()
                vec[int.from_bytes(digest, "little") % self._dim] += 1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    def _embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(len(texts))
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        return np.stack([self._one(t) for t in texts]).astype(np.float32)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts)
