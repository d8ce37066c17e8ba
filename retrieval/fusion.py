"""Reciprocal-rank fusion (Cormack et al., 2009): score(d) = Σ w_i / (k + rank_i(d)).

Ranks, not raw scores, are fused, so BM25 scores and cosine similarities never need to be put
on one scale. Pure: ranked id lists in, fused (id, score) pairs out.
"""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]],
    weights: Sequence[float] | None = None,
    *,
    k: int = RRF_K,
) -> list[tuple[str, float]]:
    """Fuse ranked lists (best first); ties keep the order of first appearance."""
    if weights is not None and len(weights) != len(rankings):
        raise ValueError(f"got {len(weights)} weights for {len(rankings)} rankings")
    scores: dict[str, float] = {}
    for i, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else weights[i]
        seen: set[str] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    order = {item: n for n, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))
