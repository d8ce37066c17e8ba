"""Chroma, one collection per shop, always with explicit vectors.

Chroma's default embedding function downloads a model on first use, which fails offline and
would silently embed with the wrong model anyway. So every create/get passes
`embedding_function=None` and every write and query passes vectors we computed.

Each collection's metadata carries a `generation` token, replaced on every write. Readers in
any process (API, Celery worker) compare it to decide whether their cached lexical index is
stale; reading it costs a local metadata lookup, not a scan.

What changed is kept in a second, tiny collection per shop, the change journal: every write
adds one record (the doc ids it touched, wall-clock `at`) before it bumps the generation. A
reader whose generation moved re-reads just those documents instead of the whole shop. Records
have unique ids, so concurrent writers in different processes never overwrite each other's
(a token in the collection metadata would lose updates); re-applying a record is idempotent,
which lets readers look back a safety margin for clock skew between hosts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.embedding import Vectors
from store.settings import Settings

log = logging.getLogger("siyu.retrieval.vectorstore")

Metadata = Mapping[str, str | int | float | bool]
Where = dict[str, Any]


@dataclass(frozen=True)
class DenseHit:
    chunk_id: str
    similarity: float


@dataclass(frozen=True)
class StoredChunk:
    chunk_id: str
    text: str
    metadata: dict[str, Any]


def collection_name(shop_id: int) -> str:
    return f"siyu_shop_{shop_id}"


def journal_name(shop_id: int) -> str:
    return f"siyu_shop_{shop_id}_journal"


# Journal records older than this are pruned; a reader that last synced before it rebuilds.
JOURNAL_RETENTION_S = 24 * 3600.0


@dataclass(frozen=True)
class JournalRecord:
    record_id: str
    at: float
    doc_ids: tuple[str, ...]
    generation: str = ""  # the token the write then bumped the collection to


@dataclass(frozen=True)
class Journal:
    epoch: float  # when this journal was created; a new value means it was dropped and recreated
    records: list[JournalRecord]


class VectorStore:
    """A thin, typed wrapper over one Chroma client (persistent or HTTP)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        # Collection handles are cheap to keep and ~ms to look up under load.
        self._collections: dict[int, Any] = {}
        self._journals: dict[int, Any] = {}
        self._batch = int(client.get_max_batch_size()) if hasattr(client, "get_max_batch_size") else 1000
        self.page_size = min(self._batch, 5000)

    @classmethod
    def from_settings(cls, settings: Settings) -> VectorStore:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=settings.env == "test")
        if settings.chroma_url is not None:
            url = settings.chroma_url
            client = chromadb.HttpClient(
                host=url.host or "127.0.0.1",
                port=url.port or 8000,
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        else:
            client = chromadb.PersistentClient(
                path=str(settings.resolved_chroma_path), settings=chroma_settings
            )
        return cls(client)

    @classmethod
    def persistent(cls, path: Path) -> VectorStore:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        return cls(
            chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
        )

    def collection(self, shop_id: int) -> Any:
        cached = self._collections.get(shop_id)
        if cached is None:
            cached = self.client.get_or_create_collection(
                collection_name(shop_id),
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"shop_id": shop_id, "generation": "0"},
            )
            self._collections[shop_id] = cached
        return cached

    def existing(self, shop_id: int) -> Any | None:
        """The shop's collection, or None: reads never create one."""
        from chromadb.errors import NotFoundError

        try:
            return self.client.get_collection(collection_name(shop_id), embedding_function=None)
        except NotFoundError:
            return None

    def generation(self, shop_id: int) -> str | None:
        """The write generation token, or None when the shop has no collection yet."""
        col = self.existing(shop_id)
        return None if col is None else str((col.metadata or {}).get("generation", "0"))

    def bump_generation(self, shop_id: int, token: str | None = None) -> str:
        token = token or uuid.uuid4().hex
        self.collection(shop_id).modify(metadata={"shop_id": shop_id, "generation": token})
        return token

    def _journal(self, shop_id: int) -> Any:
        cached = self._journals.get(shop_id)
        if cached is None:
            cached = self.client.get_or_create_collection(
                journal_name(shop_id),
                embedding_function=None,
                metadata={"shop_id": shop_id, "created": time.time()},
            )
            self._journals[shop_id] = cached
        return cached

    def record_changes(self, shop_id: int, doc_ids: Sequence[str], generation: str = "") -> None:
        """Journal that `doc_ids` changed; call after the chunk writes, before bumping the
        generation to `generation` (so a reader can tell a journaled bump from a bare one)."""
        if not doc_ids:
            return
        col = self._journal(shop_id)
        at = time.time()
        col.add(
            ids=[uuid.uuid4().hex],
            embeddings=np.zeros((1, 1), dtype=np.float32),  # Chroma wants a vector; never queried
            documents=[json.dumps(sorted(set(doc_ids)), ensure_ascii=False)],
            metadatas=[{"at": at, "generation": generation}],
        )
        col.delete(where={"at": {"$lt": at - JOURNAL_RETENTION_S}})

    def journal_since(self, shop_id: int, since: float) -> Journal | None:
        """The journal's records written at or after `since` (wall clock), oldest first; None
        when there is no journal or it was pruned past `since`. The caller compares `epoch`
        with the one it saw last: a different epoch means the journal was recreated."""
        from chromadb.errors import NotFoundError

        if since < time.time() - JOURNAL_RETENTION_S:
            return None
        try:
            col = self.client.get_collection(journal_name(shop_id), embedding_function=None)
        except NotFoundError:
            return None
        records: list[JournalRecord] = []
        page = self.page_size
        while True:
            result = col.get(
                where={"at": {"$gte": since}},
                include=["documents", "metadatas"],
                limit=page,
                offset=len(records),
            )
            ids = result["ids"]
            documents = result.get("documents") or [""] * len(ids)
            metadatas = result.get("metadatas") or [{}] * len(ids)
            records += [
                JournalRecord(
                    rid,
                    float((meta or {}).get("at", 0.0)),
                    tuple(json.loads(doc or "[]")),
                    str((meta or {}).get("generation", "")),
                )
                for rid, doc, meta in zip(ids, documents, metadatas, strict=True)
            ]
            if len(ids) < page:
                epoch = float((col.metadata or {}).get("created", 0.0))
                return Journal(epoch, sorted(records, key=lambda r: r.at))

    def add(
        self,
        shop_id: int,
        ids: Sequence[str],
        vectors: Vectors,
        texts: Sequence[str],
        metadatas: Sequence[Metadata],
    ) -> None:
        if not (len(ids) == len(vectors) == len(texts) == len(metadatas)):
            raise ValueError("ids, vectors, texts and metadatas must have the same length")
        col = self.collection(shop_id)
        for start in range(0, len(ids), self._batch):
            end = start + self._batch
            col.upsert(
                ids=list(ids[start:end]),
                embeddings=np.asarray(vectors[start:end], dtype=np.float32),
                documents=list(texts[start:end]),
                metadatas=[dict(m) for m in metadatas[start:end]],
            )

    def update_metadata(self, shop_id: int, ids: Sequence[str], metadatas: Sequence[Metadata]) -> None:
        col = self.collection(shop_id)
        for start in range(0, len(ids), self._batch):
            end = start + self._batch
            col.update(ids=list(ids[start:end]), metadatas=[dict(m) for m in metadatas[start:end]])

    def delete(self, shop_id: int, ids: Sequence[str]) -> None:
        col = self.collection(shop_id)
        for start in range(0, len(ids), self._batch):
            col.delete(ids=list(ids[start : start + self._batch]))

    def get(self, shop_id: int, where: Where | None = None, *, texts: bool = True) -> list[StoredChunk]:
        """All matching chunks, read in pages (one big read overflows SQLite's variable limit)."""
        include = ["metadatas", "documents"] if texts else ["metadatas"]
        col = self.collection(shop_id)
        out: list[StoredChunk] = []
        page = self.page_size
        while True:
            result = col.get(where=where, include=include, limit=page, offset=len(out))
            ids = result["ids"]
            documents = result.get("documents") or [""] * len(ids)
            metadatas = result.get("metadatas") or [{}] * len(ids)
            out += [
                StoredChunk(cid, doc or "", dict(meta or {}))
                for cid, doc, meta in zip(ids, documents, metadatas, strict=True)
            ]
            if len(ids) < page:
                return out

    def count(self, shop_id: int) -> int:
        return int(self.collection(shop_id).count())

    def query(self, shop_id: int, vector: Vectors, k: int, where: Where | None = None) -> list[DenseHit]:
        """Nearest chunks by cosine similarity (1 - Chroma's cosine distance)."""
        col = self.collection(shop_id)
        result = col.query(
            query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
            n_results=k,
            where=where,
            include=["distances"],
        )
        ids = result["ids"][0]
        distances = (result.get("distances") or [[]])[0]
        return [DenseHit(cid, 1.0 - float(d)) for cid, d in zip(ids, distances, strict=True)]

    def drop(self, shop_id: int) -> None:
        from chromadb.errors import NotFoundError

        self._collections.pop(shop_id, None)
        self._journals.pop(shop_id, None)
        with contextlib.suppress(NotFoundError):
            self.client.delete_collection(collection_name(shop_id))
        with contextlib.suppress(NotFoundError):
            self.client.delete_collection(journal_name(shop_id))
