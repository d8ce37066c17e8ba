"""The embedder interface every part of siyu uses.

Vectors are float32, L2-normalised, shape (n, dim), so cosine similarity is a dot product.
Queries and passages are embedded separately because e5 needs "query: " / "passage: " prefixes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors: ...

    def embed_passages(self, texts: Sequence[str]) -> Vectors: ...
