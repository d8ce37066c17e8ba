"""Write side of the knowledge base: index, replace and delete a document's chunks.

Replacing a document never leaves a moment where neither or a half of a version is searchable:

1. unchanged content hash and a complete live version → no work at all;
2. the new version's chunks are embedded first (a failure here touches nothing), then written
   under new ids with `live=False`, invisible to search;
3. one metadata update flips them to `live=True` (one Chroma transaction for up to the client's
   batch size); search prefers the newest version of a document while both are live;
4. the old version's ids are deleted, the document is journaled as changed and the collection
   generation is bumped (`KnowledgeBase.changed`), so every process re-reads that document.

If step 2 fails, the pending chunks are removed and the old version stays as it was. Leftover
pending chunks of a crashed ingest are removed at the start of the next one.

`KnowledgeBase` also owns the read-side cache: one `ShopSnapshot` (BM25 index, catalog index,
chunk metadata) per shop. It is built in full from Chroma's stored texts once per process; when
the generation moves, the change journal (see `retrieval.vectorstore`) names the documents
written since, and only their live chunks are re-read and tokenised: the old ones become
tombstones in the segmented BM25 index (`retrieval.lexical.LexicalIndex`), whose scores equal a
full rebuild's. A search in the writing process sees the write at once; another process within
`recheck_s`. Until the journal is read, the old version stays searchable, as before.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
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


# How much of a FAQ answer is matched along with its question (whole sentences up to this).
MATCH_ANSWER_CHARS = 100
_ANSWER_MARK = "\n答："
_SENTENCE_ENDS = re.compile(r"[。！？；!?;\n]")


def passage_text(title: str, section: str, text: str, question: str = "") -> str:
    """What is embedded and BM25-indexed: the chunk with its title and heading path in front,
    so a chunk that says only "7 天内可退" still matches a question about 退货政策.

    A FAQ entry (`question` given, text `问：…\n答：…`) is matched on its question and the opening
    of its answer, which names what the answer is about (单笔实付满99元包邮…): a long answer's
    other words would drown the question. The whole answer is stored and returned."""
    body = text
    if question:
        asked, mark, answer = text.partition(_ANSWER_MARK)
        body = asked + mark + answer_opening(answer) if mark else text
    head = [title] if title and title not in body[: len(title) + 8] else []
    if section and section != title and section not in body[: len(section) + 8]:
        head.append(section)
    return (" ｜ ".join(head) + "\n" + body) if head else body


def answer_opening(answer: str, limit: int = MATCH_ANSWER_CHARS) -> str:
    """The answer's whole sentences up to `limit` characters (a first sentence longer than that
    is cut); a short answer as it is."""
    if len(answer) <= limit:
        return answer
    ends = [m.end() for m in _SENTENCE_ENDS.finditer(answer, 0, limit + 1)]
    return answer[: ends[-1] if ends else limit].strip()


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


StoredTriple = tuple[str, str, dict[str, Any]]
# A reader re-reads the journal this far before its last sync, for clock skew between hosts
# (re-applying a record is harmless).
JOURNAL_MARGIN_S = 60.0
# Tombstoned positions are dropped (positions renumbered) once they are this share of all.
VACUUM_SHARE = 0.25
VACUUM_MIN = 1_000
# Chroma's `$in` list per read when re-reading changed documents.
DOC_BATCH = 500


@dataclass
class ShopSnapshot:
    """Everything the read side needs for one shop at one generation, all in memory.

    Positions index `ids`, `texts`, `metadatas` and the arrays. A chunk that was deleted or
    replaced since the last full build keeps its position as a tombstone: it is not in
    `positions`, its `current` is False and the lexical index scores it 0. Snapshots are never
    mutated; `refreshed()` returns a new one, so a search running meanwhile sees one version.
    """

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
    # False for a chunk whose document also has a newer live version (mid-replacement), and
    # for tombstones.
    current: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    # Live positions of each document.
    doc_positions: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # The journal this snapshot is in sync with: its epoch, the wall-clock time of the read,
    # and the records already applied (skipped when the margin re-reads them).
    journal_epoch: float | None = None
    synced_at: float = 0.0
    applied: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls,
        generation: str,
        chunks: Sequence[StoredTriple],
        dictionary: JiebaDictionary,
        *,
        journal_epoch: float | None = None,
        synced_at: float = 0.0,
    ) -> ShopSnapshot:
        """A full build: every chunk tokenised."""
        _learn_words(dictionary, [c[2] for c in chunks])
        lexical = LexicalIndex([_passage(c) for c in chunks], dictionary)
        return cls._assemble(generation, list(chunks), lexical, journal_epoch, synced_at, frozenset())

    @classmethod
    def _assemble(
        cls,
        generation: str,
        chunks: list[StoredTriple],
        lexical: LexicalIndex,
        journal_epoch: float | None,
        synced_at: float,
        applied: frozenset[str],
    ) -> ShopSnapshot:
        """Derive the lookup structures from scratch (build and vacuum; O(chunks))."""
        metas = [c[2] for c in chunks]
        doc_positions: dict[str, list[int]] = {}
        for position, meta in enumerate(metas):
            if lexical.alive[position]:
                doc_positions.setdefault(str(meta.get("doc_id", "")), []).append(position)
        current = np.zeros(len(chunks), dtype=bool)
        for members in doc_positions.values():
            current[members] = _current_mask([metas[p] for p in members])
        doc_types = np.array([str(m.get("doc_type", "")) for m in metas], dtype=str)
        return cls(
            generation=generation,
            ids=[c[0] for c in chunks],
            texts=[c[1] for c in chunks],
            metadatas=metas,
            lexical=lexical,
            catalog=_catalog(metas, doc_types, lexical.alive),
            positions={c[0]: i for i, c in enumerate(chunks) if lexical.alive[i]},
            doc_types=doc_types,
            doc_ids=np.array([str(m.get("doc_id", "")) for m in metas], dtype=str),
            skus=np.array([str(m.get("sku", "")) for m in metas], dtype=str),
            current=current,
            doc_positions={d: tuple(p) for d, p in doc_positions.items()},
            journal_epoch=journal_epoch,
            synced_at=synced_at,
            applied=applied,
        )

    def refreshed(
        self,
        generation: str,
        doc_ids: Iterable[str],
        stored: Sequence[StoredTriple],
        dictionary: JiebaDictionary,
        *,
        journal_epoch: float | None,
        synced_at: float,
        applied: frozenset[str],
    ) -> ShopSnapshot:
        """This snapshot with the chunks of `doc_ids` replaced by `stored` (their live chunks
        now; none for a deleted document). Documents whose chunks and metadata are unchanged
        are left alone; only new chunks, and chunks a new dictionary word re-cuts, are tokenised."""
        by_doc: dict[str, list[StoredTriple]] = {}
        for chunk in stored:
            by_doc.setdefault(str(chunk[2].get("doc_id", "")), []).append(chunk)
        remove: list[int] = []
        add: list[StoredTriple] = []
        for doc_id in dict.fromkeys(doc_ids):
            old = self.doc_positions.get(doc_id, ())
            new = by_doc.get(doc_id, [])
            if {self.ids[p]: self.metadatas[p] for p in old} == {c[0]: c[2] for c in new}:
                continue
            remove += old
            add += new
        _learn_words(dictionary, [c[2] for c in add])
        snap = self._apply(remove, add) if remove or add else self
        snap = snap._recut(dictionary)
        if snap.lexical.dead > max(VACUUM_MIN, VACUUM_SHARE * snap.lexical.size):
            snap = snap._vacuumed()
        return replace(
            snap, generation=generation, journal_epoch=journal_epoch, synced_at=synced_at, applied=applied
        )

    def recut(self, dictionary: JiebaDictionary) -> ShopSnapshot:
        """Re-tokenise the chunks containing words added to the dictionary since this
        snapshot was tokenised (by any shop), so tokens match a full rebuild's."""
        return self._recut(dictionary)

    def _recut(self, dictionary: JiebaDictionary) -> ShopSnapshot:
        version = dictionary.version
        if self.lexical.dictionary_version == version:
            return self
        touched = sorted(self.lexical.containing(dictionary.added_since(self.lexical.dictionary_version)))
        chunks = [(self.ids[p], self.texts[p], self.metadatas[p]) for p in touched]
        return self._apply(touched, chunks, recut_to=version)

    def _apply(
        self, remove: Sequence[int], add: Sequence[StoredTriple], *, recut_to: int | None = None
    ) -> ShopSnapshot:
        """Tombstone `remove` and append `add` (O(changed) except for list copies)."""
        lexical = self.lexical.updated([_passage(c) for c in add], remove, recut_to=recut_to)
        start = len(self.ids)
        ids = self.ids + [c[0] for c in add]
        metas = self.metadatas + [c[2] for c in add]
        positions = dict(self.positions)
        doc_positions = dict(self.doc_positions)
        touched_docs: dict[str, set[int]] = {}
        for p in remove:
            positions.pop(self.ids[p], None)
            doc = str(self.metadatas[p].get("doc_id", ""))
            touched_docs.setdefault(doc, set(doc_positions.get(doc, ()))).discard(p)
        for offset, chunk in enumerate(add):
            positions[chunk[0]] = start + offset
            doc = str(chunk[2].get("doc_id", ""))
            touched_docs.setdefault(doc, set(doc_positions.get(doc, ()))).add(start + offset)
        current = np.concatenate([self.current, np.zeros(len(add), dtype=bool)])
        current[list(remove)] = False
        for doc, members in touched_docs.items():
            if members:
                ordered = sorted(members)
                doc_positions[doc] = tuple(ordered)
                current[ordered] = _current_mask([metas[p] for p in ordered])
            else:
                doc_positions.pop(doc, None)
        new_types = np.array([str(c[2].get("doc_type", "")) for c in add], dtype=str)
        doc_types = np.concatenate([self.doc_types, new_types]) if add else self.doc_types
        products_changed = bool(np.any(new_types == "product")) or any(
            self.doc_types[p] == "product" for p in remove
        )
        return ShopSnapshot(
            generation=self.generation,
            ids=ids,
            texts=self.texts + [c[1] for c in add],
            metadatas=metas,
            lexical=lexical,
            catalog=_catalog(metas, doc_types, lexical.alive) if products_changed else self.catalog,
            positions=positions,
            doc_types=doc_types,
            doc_ids=np.concatenate(
                [self.doc_ids, np.array([str(c[2].get("doc_id", "")) for c in add], dtype=str)]
            ),
            skus=np.concatenate([self.skus, np.array([str(c[2].get("sku", "")) for c in add], dtype=str)]),
            current=current,
            doc_positions=doc_positions,
            journal_epoch=self.journal_epoch,
            synced_at=self.synced_at,
            applied=self.applied,
        )

    def _vacuumed(self) -> ShopSnapshot:
        lexical, kept = self.lexical.vacuumed()
        chunks = [(self.ids[p], self.texts[p], self.metadatas[p]) for p in kept]
        return ShopSnapshot._assemble(
            self.generation, chunks, lexical, self.journal_epoch, self.synced_at, self.applied
        )


def _passage(chunk: StoredTriple) -> str:
    meta = chunk[2]
    return passage_text(
        str(meta.get("title", "")), str(meta.get("section", "")), chunk[1], str(meta.get("question", ""))
    )


def _learn_words(dictionary: JiebaDictionary, metas: Sequence[dict[str, Any]]) -> None:
    """The shop's product names and codes join the jieba dictionary before tokenising."""
    dictionary.add_words(
        word
        for meta in metas
        if meta.get("doc_type") == "product"
        for word in (str(meta.get("sku", "")), str(meta.get("title", "")))
    )


def _catalog(
    metas: Sequence[dict[str, Any]], doc_types: npt.NDArray[np.str_], alive: npt.NDArray[np.bool_]
) -> CatalogIndex:
    products = np.flatnonzero((doc_types == "product") & alive)
    return CatalogIndex([(int(p), decode_terms(metas[int(p)].get("terms"))) for p in products])


class KnowledgeBase:
    """The vector store, the embedder and the per-shop read cache, built once per process."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        dictionary: JiebaDictionary | None = None,
        *,
        recheck_s: float = 1.0,
        incremental: bool = True,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.dictionary = dictionary or DEFAULT_DICTIONARY
        # Writes in this process refresh at once; writes in another process (a Celery worker)
        # are noticed within `recheck_s`, so a search does not pay a metadata read every time.
        self.recheck_s = recheck_s
        # False: every write makes the next search rebuild the shop from Chroma (the old way,
        # kept for the benchmark's comparison and as a fallback).
        self.incremental = incremental
        self._snapshots: dict[int, ShopSnapshot] = {}
        self._checked: dict[int, float] = {}
        self._lock = threading.Lock()

    def snapshot(self, shop_id: int) -> ShopSnapshot:
        """The shop's read cache, brought up to date when a write (in any process) moved the
        generation: the journal names the changed documents and only those are re-read."""
        cached = self._snapshots.get(shop_id)
        now = time.monotonic()
        recut = cached is not None and cached.lexical.dictionary_version != self.dictionary.version
        if cached is not None and not recut and now - self._checked.get(shop_id, 0.0) < self.recheck_s:
            return cached
        generation = self.store.generation(shop_id) or ""
        self._checked[shop_id] = now
        if cached is not None and cached.generation == generation and not recut:
            return cached
        with self._lock:
            cached = self._snapshots.get(shop_id)
            if cached is not None and cached.generation == generation:
                snap = cached.recut(self.dictionary)
            else:
                snap = self._sync(shop_id, cached, generation)
            self._snapshots[shop_id] = snap
            return snap

    def _sync(self, shop_id: int, cached: ShopSnapshot | None, generation: str) -> ShopSnapshot:
        started = time.time()
        if cached is not None and self.incremental:
            journal = self.store.journal_since(shop_id, cached.synced_at - JOURNAL_MARGIN_S)
            # A generation no record names was bumped by a writer that did not journal (or
            # the journal was recreated): only a full rebuild is safe then.
            if (
                journal is not None
                and cached.journal_epoch in (None, journal.epoch)
                and generation in {cached.generation, *(r.generation for r in journal.records)}
            ):
                fresh = [r for r in journal.records if r.record_id not in cached.applied]
                doc_ids = sorted({d for r in fresh for d in r.doc_ids})
                stored = self._live_chunks(shop_id, doc_ids)
                snap = cached.refreshed(
                    generation,
                    doc_ids,
                    stored,
                    self.dictionary,
                    journal_epoch=journal.epoch,
                    synced_at=started,
                    applied=frozenset(r.record_id for r in journal.records),
                )
                log.info(
                    "kb.snapshot.refreshed",
                    extra={"shop_id": shop_id, "documents": len(doc_ids), "chunks": len(stored)},
                )
                return snap
        journal = self.store.journal_since(shop_id, started) if generation else None
        stored_all = self.store.get(shop_id, where={"live": True}) if generation else []
        snap = ShopSnapshot.build(
            generation,
            [(c.chunk_id, c.text, c.metadata) for c in stored_all],
            self.dictionary,
            journal_epoch=journal.epoch if journal is not None else None,
            synced_at=started,
        )
        log.info("kb.snapshot.rebuilt", extra={"shop_id": shop_id, "chunks": len(snap.ids)})
        return snap

    def _live_chunks(self, shop_id: int, doc_ids: Sequence[str]) -> list[StoredTriple]:
        out: list[StoredTriple] = []
        for start in range(0, len(doc_ids), DOC_BATCH):
            # Filter on doc_id only and check `live` here: Chroma evaluates each clause of an
            # `$and` over the whole collection, and `live=True` matches nearly all of it
            # (4 s at 100k chunks against milliseconds for the doc_id clause alone).
            where = _doc_where(set(doc_ids[start : start + DOC_BATCH]))
            out += [
                (c.chunk_id, c.text, c.metadata)
                for c in self.store.get(shop_id, where=where)
                if c.metadata.get("live") is True
            ]
        return out

    def changed(self, shop_id: int, doc_ids: Sequence[str]) -> None:
        """Tell every process that these documents' chunks changed: journal them, then move
        the generation. This process re-reads them on its next search, not after `recheck_s`."""
        token = uuid.uuid4().hex
        self.store.record_changes(shop_id, doc_ids, token)
        self.store.bump_generation(shop_id, token)
        self._checked.pop(shop_id, None)
        if not self.incremental:
            self.forget(shop_id)

    def forget(self, shop_id: int) -> None:
        """Drop the shop's cache: the next search rebuilds it in full."""
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

    passages = [
        passage_text(docs[n].title, c.section, c.text, c.question) for n in work for c in docs[n].chunks
    ]
    vectors = _embed(kb.embedder, passages, progress)
    offset = 0
    touched: list[str] = []
    try:
        for n in work:
            doc = docs[n]
            count = len(doc.chunks)
            touched.append(doc.doc_id)
            results[n] = _replace(kb, doc, existing.get(doc.doc_id, []), vectors[offset : offset + count])
            offset += count
    finally:
        # Also after a failure: the documents replaced before it are already live.
        if touched:
            kb.changed(shop_id, touched)
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
        kb.changed(shop_id, [doc_id])
    log.info("kb.delete.done", extra={"shop_id": shop_id, "doc_id": doc_id, "removed": len(ids)})
    return ids


def _chunk_order(chunk: Any) -> int:
    return int(chunk.metadata.get("chunk_index", 0))
