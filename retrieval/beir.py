"""BEIR-format labelled sets and the ranking metrics: recall@k, MRR@k, nDCG@k.

corpus.jsonl lines `{"_id", "title", "text"}`, queries.jsonl lines `{"_id", "text"}`, qrels TSV
with the header `query-id corpus-id score`. Metrics are pure functions over ranked doc ids and
graded relevance, averaged over queries that have at least one relevant document.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.chunking import Chunk, ChunkingConfig, chunk_text
from retrieval.embedding import Embedder
from retrieval.index import DocumentInput, KnowledgeBase, content_hash, index_documents
from retrieval.search import SearchMode, search
from retrieval.vectorstore import VectorStore
from store.errors import InvalidInput

Qrels = dict[str, dict[str, int]]
EVAL_SHOP_ID = 0


@dataclass(frozen=True)
class CorpusDoc:
    doc_id: str
    title: str
    text: str


def _jsonl(path: Path, required: tuple[str, ...]) -> list[dict[str, object]]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise InvalidInput(f"无法读取文件: {exc.strerror}", file=str(path)) from exc
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"不是合法的 JSON: {exc.msg}", file=str(path), line=n) from exc
        if not isinstance(row, dict):
            raise InvalidInput("每行必须是一个 JSON 对象", file=str(path), line=n)
        for key in required:
            if key not in row:
                raise InvalidInput(f"缺少字段 {key!r}", file=str(path), line=n, field=key)
        rows.append(row)
    return rows


def load_corpus(path: Path) -> list[CorpusDoc]:
    return [
        CorpusDoc(str(r["_id"]), str(r.get("title") or ""), str(r["text"]))
        for r in _jsonl(path, ("_id", "text"))
    ]


def load_queries(path: Path) -> dict[str, str]:
    return {str(r["_id"]): str(r["text"]) for r in _jsonl(path, ("_id", "text"))}


def load_qrels(path: Path) -> Qrels:
    qrels: Qrels = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter="\t")
            header = next(reader, None)
            if header is None or [h.strip() for h in header[:3]] != ["query-id", "corpus-id", "score"]:
                raise InvalidInput("表头必须是 query-id<TAB>corpus-id<TAB>score", file=str(path), line=1)
            for row in reader:
                if not row or not "".join(row).strip():
                    continue
                if len(row) < 3:
                    raise InvalidInput("需要 3 列", file=str(path), line=reader.line_num)
                try:
                    score = int(float(row[2]))
                except ValueError:
                    raise InvalidInput(
                        f"score 必须是数字，实际是 {row[2]!r}",
                        file=str(path),
                        line=reader.line_num,
                        field="score",
                    ) from None
                qrels.setdefault(row[0].strip(), {})[row[1].strip()] = score
    except OSError as exc:
        raise InvalidInput(f"无法读取文件: {exc.strerror}", file=str(path)) from exc
    return qrels


def recall_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    rel = {d for d, s in relevant.items() if s > 0}
    return len(rel.intersection(ranked[:k])) / len(rel) if rel else 0.0


def mrr_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    for rank, doc in enumerate(ranked[:k], start=1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    dcg = sum(
        (2 ** relevant.get(doc, 0) - 1) / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], start=1)
    )
    ideal = sorted((s for s in relevant.values() if s > 0), reverse=True)[:k]
    idcg = sum((2**s - 1) / math.log2(rank + 1) for rank, s in enumerate(ideal, start=1))
    return dcg / idcg if idcg else 0.0


METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")


def evaluate(runs: Mapping[str, Sequence[str]], qrels: Qrels) -> dict[str, float]:
    """Mean of every metric over the queries in `qrels` with a relevant doc (missing run = empty)."""
    judged = [q for q, rel in qrels.items() if any(s > 0 for s in rel.values())]
    if not judged:
        return {m: 0.0 for m in METRICS}
    sums = dict.fromkeys(METRICS, 0.0)
    for q in judged:
        ranked, rel = runs.get(q, []), qrels[q]
        sums["recall@1"] += recall_at(ranked, rel, 1)
        sums["recall@5"] += recall_at(ranked, rel, 5)
        sums["recall@10"] += recall_at(ranked, rel, 10)
        sums["mrr@10"] += mrr_at(ranked, rel, 10)
        sums["ndcg@10"] += ndcg_at(ranked, rel, 10)
    return {m: v / len(judged) for m, v in sums.items()}


def doc_ranking(doc_ids: Sequence[str]) -> list[str]:
    """Chunk hits → document ranking (first occurrence wins)."""
    return list(dict.fromkeys(doc_ids))


@dataclass(frozen=True)
class RetrievalEvalReport:
    metrics: dict[str, dict[str, float]]
    documents: int
    chunks: int
    queries: int
    index_seconds: float
    runs: dict[str, dict[str, list[str]]]


MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "lexical")


def run_retrieval_eval(
    embedder: Embedder,
    corpus: Sequence[CorpusDoc],
    queries: Mapping[str, str],
    qrels: Qrels,
    *,
    workdir: Path,
    k: int = 10,
    chunking: ChunkingConfig | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> RetrievalEvalReport:
    """Index `corpus` into a throw-away Chroma under `workdir`, then rank every judged query
    with hybrid, dense-only and lexical-only search (same vectors, same run).

    `progress(phase, done, total)` reports "index" and "search" phases.
    """
    kb = KnowledgeBase(VectorStore.persistent(workdir), embedder)
    docs = []
    for doc in corpus:
        text = doc.text if not doc.title else f"# {doc.title}\n\n{doc.text}"
        chunks = chunk_text(text, chunking) or [Chunk(doc.text or doc.title, doc.title)]
        docs.append(DocumentInput(EVAL_SHOP_ID, doc.doc_id, "manual", doc.title, content_hash(text), chunks))
    started = time.perf_counter()
    index_documents(kb, docs, (lambda d, t: progress("index", d, t)) if progress else None)
    index_seconds = time.perf_counter() - started
    judged = [q for q in queries if q in qrels]
    vectors = embedder.embed_queries([queries[q] for q in judged]) if judged else None
    runs: dict[str, dict[str, list[str]]] = {mode: {} for mode in MODES}
    depth = max(3 * k, 30)
    for n, qid in enumerate(judged):
        assert vectors is not None
        for mode in MODES:
            found = search(kb, EVAL_SHOP_ID, queries[qid], k=depth, mode=mode, query_vector=vectors[n])
            runs[mode][qid] = doc_ranking([h.doc_id for h in found.hits])[:k]
        if progress:
            progress("search", n + 1, len(judged))
    metrics: dict[str, dict[str, float]] = {
        mode: evaluate(runs[mode], {q: qrels[q] for q in judged}) for mode in MODES
    }
    return RetrievalEvalReport(
        metrics=metrics,
        documents=len(docs),
        chunks=sum(len(d.chunks) for d in docs),
        queries=len(judged),
        index_seconds=index_seconds,
        runs=runs,
    )


def roc_auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if not positives or not negatives:
        return float("nan")
    wins = 0.0
    for p in positives:
        for n in negatives:
            wins += 1.0 if p > n else 0.5 if p == n else 0.0
    return wins / (len(positives) * len(negatives))
