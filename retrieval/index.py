"""Write side of the knowledge base: index, replace and delete a document's chunks.

Replacing a document never leaves a moment where neither or a half of a version is searchable:

1. unchanged content hash and a complete live version → no work at all;
2. the new version's chunks are embedded first (a failure here touches nothing), then written
   under new ids with `live=False`, invisible to search;
3. one metadata update flips them to `live=True` (one Chroma transaction for up to the client's
   batch size); search prefers the newest version of a document while both are live;
4. the old version's ids are deleted, and the collection generation is bumped so every
   process rebuilds its lexical index.

If step 2 fails, the pending chunks are removed and the old version stays as it was. Leftover
pending chunks of a crashed ingest are removed at the start of the next one.

`KnowledgeBase` also owns the read-side cache: one `ShopSnapshot` (BM25 index, catalog index,
chunk metadata) per shop, rebuilt from Chroma's stored texts when the generation moved.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from retrieval.catalog import CatalogIndex, decode_terms, encode_terms
from retrieval.chunking import Chunk
from retrieval.embedding import Embedder, Vectors
from retrieval.lexical import DEFAULT_DICTIONARY, JiebaDictionary, LexicalIndex
from retrieval.vectorstore import StoredChunk, VectorStore

log = logging.getLogger("siyu.retrieval.index")

DocType = Literal["product", "policy", "faq", "manual"]
DOC_TYPES: tuple[DocType, ...] = ("product", "policy", "faq", "manual")


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DocumentInput:
    """One document's chunks plus the metadata every chunk carries."""

    shop_id: int
    doc_id: str
    doc_type: DocType
    title: str
    content_hash: str
    chunks: Sequence[Chunk]
    version: int = 1
    sku: str = ""
    # Product cards only: codes, sizes and colours for the exact catalog match.
    catalog_terms: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.doc_type not in DOC_TYPES:
            raise ValueError(f"doc_type must be one of {DOC_TYPES}, got {self.doc_type!r}")
        if not self.chunks:
            raise ValueError(f"document {self.doc_id!r} has no chunks")


@dataclass(frozen=True)
class IndexResult:
    chunk_ids: list[str]
    changed: bool
    removed: int = 0


def passage_text(title: str, section: str, text: str) -> str:
    """What is embedded and BM25-indexed: the chunk with its title and heading path in front,
    so a chunk that says only "7 天内可退" still matches a question about 退货政策."""
    head = [title] if title and title not in text[: len(title) + 8] else []
    if section and section != title and section not in text[: len(section) + 8]:
        head.append(section)
    return (" ｜ ".join(head) + "\n" + text) if head else text


def _metadata(doc: DocumentInput, chunk: Chunk, index: int) -> dict[str, str | int | float | bool]:
    return {
        "shop_id": doc.shop_id,
        "doc_id": doc.doc_id,
        "doc_type": doc.doc_type,
        "title": doc.title,
        "section": chunk.section,
        "sku": doc.sku,
        "version": doc.version,
        "content_hash": doc.content_hash,
        "chunk_index": index,
        "chunk_count": len(doc.chunks),
        "kind": chunk.kind,
        "question": chunk.question,
        "terms": encode_terms(doc.catalog_terms),
        "live": False,
    }


@dataclass
class ShopSnapshot:
    """Everything the read side needs for one shop at one generation, all in memory."""

    generation: str
    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]
    lexical: LexicalIndex
    catalog: CatalogIndex
    positions: dict[str, int] = field(default_factory=dict)
    doc_types: npt.NDArray[np.str_] = field(default_factory=lambda: np.zeros(0, dtype=str))
    doc_ids: npt.NDArray[np.str_] = field(default_factory=lambda: np.zeros(0, dtype=str))
    skus: npt.NDArray[np.str_] = field(default_factory=lambda: np.zeros(0, dtype=str))
    # False for a chunk whose document also has a newer live version (mid-replacement).
    current: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @classmethod
    def build(
        cls, generation: str, chunks: Sequence[tuple[str, str, dict[str, Any]]], dictionary: JiebaDictionary
    ) -> ShopSnapshot:
        ids = [c[0] for c in chunks]
        texts = [c[1] for c in chunks]
        metas = [c[2] for c in chunks]
        dictionary.add_words(
            word
            for meta in metas
            if meta.get("doc_type") == "product"
            for word in (str(meta.get("sku", "")), str(meta.get("title", "")))
        )
        lexical = LexicalIndex(
            [
                passage_text(str(m.get("title", "")), str(m.get("section", "")), t)
                for t, m in zip(texts, metas, strict=True)
            ],
            dictionary,
        )
        catalog = CatalogIndex(
            [(i, decode_terms(m.get("terms"))) for i, m in enumerate(metas) if m.get("doc_type") == "product"]
        )
        return cls(
            generation=generation,
            ids=ids,
            texts=texts,
            metadatas=metas,
            lexical=lexical,
            catalog=catalog,
            positions={cid: i for i, cid in enumerate(ids)},
            doc_types=np.array([str(m.get("doc_type", "")) for m in metas], dtype=str),
            doc_ids=np.array([str(m.get("doc_id", "")) for m in metas], dtype=str),
            skus=np.array([str(m.get("sku", "")) for m in metas], dtype=str),
            current=_current_mask(metas),
        )


class KnowledgeBase:
    """The vector store, the embedder and the per-shop read cache, built once per process."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        dictionary: JiebaDictionary | None = None,
        *,
        recheck_s: float = 1.0,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.dictionary = dictionary or DEFAULT_DICTIONARY
        # Writes in this process refresh at once; writes in another process (a Celery worker)
        # are noticed within `recheck_s`, so a search does not pay a metadata read every time.
        self.recheck_s = recheck_s
        self._snapshots: dict[int, ShopSnapshot] = {}
        self._checked: dict[int, float] = {}
        self._lock = threading.Lock()

    def snapshot(self, shop_id: int) -> ShopSnapshot:
        """The shop's read cache, rebuilt when a write (in any process) moved the generation."""
        cached = self._snapshots.get(shop_id)
        now = time.monotonic()
        if cached is not None and now - self._checked.get(shop_id, 0.0) < self.recheck_s:
            return cached
        generation = self.store.generation(shop_id) or ""
        self._checked[shop_id] = now
        if cached is not None and cached.generation == generation:
            return cached
        with self._lock:
            cached = self._snapshots.get(shop_id)
            if cached is not None and cached.generation == generation:
                return cached
            stored = self.store.get(shop_id, where={"live": True}) if generation else []
            snap = ShopSnapshot.build(
                generation, [(c.chunk_id, c.text, c.metadata) for c in stored], self.dictionary
            )
            self._snapshots[shop_id] = snap
            log.info("kb.snapshot.rebuilt", extra={"shop_id": shop_id, "chunks": len(snap.ids)})
            return snap

    def forget(self, shop_id: int) -> None:
        with self._lock:
            self._snapshots.pop(shop_id, None)
            self._checked.pop(shop_id, None)


def _current_mask(metas: Sequence[dict[str, Any]]) -> npt.NDArray[np.bool_]:
    newest: dict[str, tuple[int, str]] = {}
    for m in metas:
        key = (int(m.get("version", 0)), str(m.get("content_hash", "")))
        doc = str(m.get("doc_id", ""))
        newest[doc] = max(newest.get(doc, key), key)
    return np.array(
        [
            newest[str(m.get("doc_id", ""))] == (int(m.get("version", 0)), str(m.get("content_hash", "")))
            for m in metas
        ],
        dtype=bool,
    )


def chunk_ids_for(doc: DocumentInput) -> list[str]:
    """Ids depend on the content, so a new version never overwrites the live one's ids."""
    return [f"{doc.doc_id}:{doc.content_hash[:16]}:{i:04d}" for i in range(len(doc.chunks))]


ProgressFn = Callable[[int, int], None]
EMBED_SLICE = 256


def index_document(kb: KnowledgeBase, doc: DocumentInput) -> IndexResult:
    """Index or replace one document; see the module docstring for the guarantees."""
    return index_documents(kb, [doc])[0]


def index_documents(
    kb: KnowledgeBase, docs: Sequence[DocumentInput], progress: ProgressFn | None = None
) -> list[IndexResult]:
    """Index or replace many documents of one shop, embedding all changed chunks in batches.

    `progress(done, total)` is called as chunks are embedded (total counts changed chunks).
    """
    if not docs:
        return []
    shop_ids = {d.shop_id for d in docs}
    if len(shop_ids) != 1:
        raise ValueError(f"index_documents takes one shop at a time, got {sorted(shop_ids)}")
    shop_id = docs[0].shop_id
    wanted = {d.doc_id for d in docs}
    existing: dict[str, list[StoredChunk]] = {}
    for chunk in kb.store.get(shop_id, where=_doc_where(wanted), texts=False):
        existing.setdefault(str(chunk.metadata.get("doc_id")), []).append(chunk)

    results: dict[int, IndexResult] = {}
    work: list[int] = []
    for n, doc in enumerate(docs):
        chunks = existing.get(doc.doc_id, [])
        live = [c for c in chunks if c.metadata.get("live") is True]
        if (
            live
            and len(live) == len(chunks)
            and {c.metadata.get("content_hash") for c in live} == {doc.content_hash}
            and sorted(c.chunk_id for c in live) == sorted(chunk_ids_for(doc))
        ):
            results[n] = IndexResult([c.chunk_id for c in sorted(live, key=_chunk_order)], changed=False)
        else:
            work.append(n)

    passages = [passage_text(docs[n].title, c.section, c.text) for n in work for c in docs[n].chunks]
    vectors = _embed(kb.embedder, passages, progress)
    offset = 0
    for n in work:
        doc = docs[n]
        count = len(doc.chunks)
        results[n] = _replace(kb, doc, existing.get(doc.doc_id, []), vectors[offset : offset + count])
        offset += count
    if work:
        kb.store.bump_generation(shop_id)
        kb.forget(shop_id)
    return [results[n] for n in range(len(docs))]


def _doc_where(doc_ids: set[str]) -> dict[str, Any]:
    return {"doc_id": next(iter(doc_ids))} if len(doc_ids) == 1 else {"doc_id": {"$in": sorted(doc_ids)}}


def _embed(embedder: Embedder, passages: Sequence[str], progress: ProgressFn | None) -> Vectors:
    parts: list[Vectors] = []
    for start in range(0, len(passages), EMBED_SLICE):
        parts.append(embedder.embed_passages(passages[start : start + EMBED_SLICE]))
        if progress is not None:
            progress(min(start + EMBED_SLICE, len(passages)), len(passages))
    if not parts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.concatenate(parts).astype(np.float32, copy=False)


def _replace(
    kb: KnowledgeBase, doc: DocumentInput, existing: Sequence[StoredChunk], vectors: Vectors
) -> IndexResult:
    live_ids = {c.chunk_id for c in existing if c.metadata.get("live") is True}
    pending = [c.chunk_id for c in existing if c.metadata.get("live") is not True]
    if pending:
        kb.store.delete(doc.shop_id, pending)
    new_ids = chunk_ids_for(doc)
    metas = [_metadata(doc, chunk, i) for i, chunk in enumerate(doc.chunks)]
    fresh = [i for i, cid in enumerate(new_ids) if cid not in live_ids]
    try:
        kb.store.add(
            doc.shop_id,
            [new_ids[i] for i in fresh],
            vectors[fresh],
            [doc.chunks[i].text for i in fresh],
            [metas[i] for i in fresh],
        )
    except Exception:
        kb.store.delete(doc.shop_id, [new_ids[i] for i in fresh])
        log.warning("kb.index.failed", extra={"shop_id": doc.shop_id, "doc_id": doc.doc_id}, exc_info=True)
        raise
    kb.store.update_metadata(doc.shop_id, new_ids, [{**m, "live": True} for m in metas])
    stale = sorted(live_ids - set(new_ids))
    if stale:
        kb.store.delete(doc.shop_id, stale)
    log.info(
        "kb.index.done",
        extra={"shop_id": doc.shop_id, "doc_id": doc.doc_id, "chunks": len(new_ids), "removed": len(stale)},
    )
    return IndexResult(new_ids, changed=True, removed=len(stale))


def delete_document(kb: KnowledgeBase, shop_id: int, doc_id: str) -> list[str]:
    """Remove every chunk of the document (live or pending); returns the removed ids."""
    ids = [c.chunk_id for c in kb.store.get(shop_id, where={"doc_id": doc_id}, texts=False)]
    if ids:
        kb.store.delete(shop_id, ids)
        kb.store.bump_generation(shop_id)
        kb.forget(shop_id)
    log.info("kb.delete.done", extra={"shop_id": shop_id, "doc_id": doc_id, "removed": len(ids)})
    return ids


def _chunk_order(chunk: Any) -> int:
    return int(chunk.metadata.get("chunk_index", 0))
