"""Novelty: a new post must not read like the shop's recent approved posts or its own siblings.

    gate = NoveltyGate(threshold=0.97, approved=[(draft_id, vector), ...])
    verdict = gate.judge(vec)      # ok, max_similarity, nearest ("approved:12" | "sibling:0")
    if verdict.ok: gate.accept(vec)

Vectors are L2-normalised (the embedder's contract), so cosine similarity is a dot product.
Stored vectors of another dimension (an embedder changed since) are ignored. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
DEFAULT_THRESHOLD = 0.97  # see Settings.copy_novelty_threshold for why
APPROVED_WINDOW = 30


@dataclass(frozen=True)
class NoveltyVerdict:
    ok: bool
    max_similarity: float  # 0.0 when there is nothing to compare with
    nearest: str | None  # "approved:<draft id>" or "sibling:<index>"

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "max_similarity": round(self.max_similarity, 4), "nearest": self.nearest}


def as_vector(values: Sequence[float] | Vector) -> Vector:
    vec = np.asarray(values, dtype=np.float32)
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm else vec


@dataclass
class NoveltyGate:
    threshold: float = DEFAULT_THRESHOLD
    approved: Sequence[tuple[int, Sequence[float] | Vector]] = ()
    siblings: list[Vector] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._approved = [(draft_id, as_vector(v)) for draft_id, v in self.approved]

    def judge(self, vec: Sequence[float] | Vector) -> NoveltyVerdict:
        v = as_vector(vec)
        best, nearest = 0.0, None
        pool = [(f"approved:{i}", a) for i, a in self._approved] + [
            (f"sibling:{i}", s) for i, s in enumerate(self.siblings)
        ]
        for name, other in pool:
            if other.shape != v.shape:
                continue
            sim = float(np.dot(v, other))
            if nearest is None or sim > best:
                best, nearest = sim, name
        return NoveltyVerdict(best <= self.threshold, best, nearest)

    def accept(self, vec: Sequence[float] | Vector) -> None:
        self.siblings.append(as_vector(vec))
