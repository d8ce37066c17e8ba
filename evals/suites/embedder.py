"""Eval `embedder`: does a colloquial Chinese question find its shop-document snippet?

`evals/data/embedder/pairs.jsonl` holds (query, passage) pairs written the way shoppers type:
spoken Chinese, typos, and none of the passage's keywords. Every query is ranked against all
passages. We compare multilingual-e5-small (the default embedder), USE multilingual v3 and a
character-bigram BM25 baseline (bm25s), with recall@1, recall@3, MRR and ranking AUC (the
share of wrong passages the gold passage outscores, ties half, averaged over queries).
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import numpy as np
import numpy.typing as npt

from evals.harness import EvalContext, SuiteResult, Threshold, suite
from retrieval.embedders import E5_NAME, UseEmbedder, build_e5_embedder
from retrieval.embedding import Embedder

DATA = files("evals") / "data" / "embedder" / "pairs.jsonl"
Scores = npt.NDArray[np.float64]

_TOKEN_CHARS = re.compile(r"[\w\u3400-\u4dbf\u4e00-\u9fff]")


@dataclass(frozen=True)
class Pair:
    pair_id: str
    topic: str
    query: str
    passage: str


def load_pairs(path: Traversable = DATA) -> list[Pair]:
    pairs = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                pairs.append(Pair(row["id"], row["topic"], row["query"], row["passage"]))
    return pairs


def char_bigrams(text: str) -> list[str]:
    """Overlapping character bigrams of the word characters (NFKC, lower case)."""
    chars = [c for c in unicodedata.normalize("NFKC", text).lower() if _TOKEN_CHARS.match(c)]
    if len(chars) < 2:
        return chars
    return [a + b for a, b in zip(chars, chars[1:], strict=False)]


def bm25_scores(queries: Sequence[str], passages: Sequence[str]) -> Scores:
    """(n_queries, n_passages) char-bigram BM25 scores."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index([char_bigrams(p) for p in passages], show_progress=False)
    return np.stack([np.asarray(retriever.get_scores(char_bigrams(q)), np.float64) for q in queries])


def dense_scores(embedder: Embedder, queries: Sequence[str], passages: Sequence[str]) -> Scores:
    q = embedder.embed_queries(queries)
    p = embedder.embed_passages(passages)
    return (q @ p.T).astype(np.float64)


def ranking_metrics(scores: Scores, gold: Sequence[int]) -> dict[str, float]:
    """recall@1, recall@3, MRR and mean ranking AUC of each row's gold column.

    A tie with the gold counts half a rank, so a constant scorer gets AUC 0.5, not 1.
    """
    n_queries, n_passages = scores.shape
    if n_queries != len(gold) or n_passages < 2:
        raise ValueError(f"need one gold per row and >= 2 columns, got {scores.shape} and {len(gold)}")
    gold_scores = scores[np.arange(n_queries), np.asarray(gold)][:, None]
    above = (scores > gold_scores).sum(axis=1)
    ties = (scores == gold_scores).sum(axis=1) - 1
    rank = 1 + above + ties / 2
    negatives = n_passages - 1
    auc = (negatives - above - ties / 2) / negatives
    return {
        "recall@1": float(np.mean(rank <= 1)),
        "recall@3": float(np.mean(rank <= 3)),
        "mrr": float(np.mean(1 / rank)),
        "auc": float(np.mean(auc)),
    }


def _timed(fn: Callable[[], Scores]) -> tuple[Scores, float]:
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


@suite("embedder", "中文口语问题 → 店铺文档片段：e5 vs USE vs 字 bigram BM25 (recall@k, MRR, AUC)")
def run(ctx: EvalContext) -> SuiteResult:
    pairs = load_pairs()  # quick uses every pair: the whole suite runs in well under a minute
    queries = [p.query for p in pairs]
    passages = [p.passage for p in pairs]
    gold = list(range(len(pairs)))

    configured = ctx.runtime.embedder() if ctx.runtime.settings.embedder == E5_NAME else None
    e5 = configured if configured is not None else build_e5_embedder(ctx.runtime.settings)
    use = UseEmbedder(batch_size=ctx.runtime.settings.embed_batch_size)

    systems: dict[str, tuple[Scores, float]] = {
        "e5": _timed(lambda: dense_scores(e5, queries, passages)),
        "use": _timed(lambda: dense_scores(use, queries, passages)),
        "bm25": _timed(lambda: bm25_scores(queries, passages)),
    }
    metrics: dict[str, float] = {}
    rows: list[list[Any]] = []
    for name, (scores, seconds) in systems.items():
        m = ranking_metrics(scores, gold)
        metrics.update({f"{name}.{k}": v for k, v in m.items()})
        rows.append([name, m["recall@1"], m["recall@3"], m["mrr"], m["auc"], round(seconds, 2)])
    metrics["e5_minus_bm25.recall@1"] = metrics["e5.recall@1"] - metrics["bm25.recall@1"]
    metrics["pairs"] = float(len(pairs))

    e5_scores = systems["e5"][0]
    by_topic: dict[str, list[bool]] = defaultdict(list)
    misses = []
    for i, pair in enumerate(pairs):
        top = int(np.argmax(e5_scores[i]))
        by_topic[pair.topic].append(top == i)
        if top != i:
            misses.append({"id": pair.pair_id, "query": pair.query, "got": passages[top][:40]})

    return SuiteResult(
        suite="embedder",
        title=f"eval: embedder ({len(pairs)} 条中文问句 → {len(passages)} 段文档)",
        columns=["system", "recall@1", "recall@3", "MRR", "AUC", "seconds"],
        rows=rows,
        metrics=metrics,
        thresholds=[
            Threshold("e5_minus_bm25.recall@1", ">=", 0.10, "e5 must beat char-bigram BM25 clearly"),
            Threshold("e5.auc", ">=", 0.90, "gold passage above almost every wrong one"),
            # Measured on the 180 pairs (2026-11): e5 R@1 0.672 R@3 0.839 MRR 0.763 AUC 0.986,
            # USE R@1 0.578 AUC 0.984, BM25 R@1 0.211. Floors sit a little below.
            Threshold("e5.recall@1", ">=", 0.64, "measured 0.672"),
            Threshold("e5.recall@3", ">=", 0.80, "measured 0.839"),
            Threshold("e5.mrr", ">=", 0.73, "measured 0.763"),
            Threshold("e5.auc", ">=", 0.97, "measured 0.986"),
            Threshold("use.recall@1", ">=", 0.54, "measured 0.578; the fast alternative"),
            Threshold("use.auc", ">=", 0.96, "measured 0.984"),
            Threshold("pairs", ">=", 150, "the dataset must not shrink"),
        ],
        details={
            "e5_recall@1_by_topic": {t: round(float(np.mean(v)), 3) for t, v in sorted(by_topic.items())},
            "e5_misses": misses,
        },
    )
