"""The knowledge-base service: what the API, the CLI and the Celery ingestion job call.

Every document is a `Document` row (one per `source` in a shop) plus its chunks in the shop's
Chroma collection. The chunks' `doc_id` is the row's `source`, so nothing is written to the
database before the (slow) embedding is done, and no write transaction is held open meanwhile.

    ingest:  load + chunk (InvalidInput names file/line/page)   — nothing touched yet
             unchanged hash and indexed → no work (`unchanged=True`)
             index_documents: the new version is embedded and written invisible, flipped live,
                              then the old chunks are deleted  — old version searchable until then
             one DB transaction writes the row (content, hash, version, chunk ids)
             DB failure → the new chunk ids are deleted again, so no chunk exists without a row
    delete:  every chunk of the source, then the row.
    search:  hybrid search + grounding + an optional curated FAQ answer; hits name the row id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from agents.runtime import Runtime
from retrieval.documents import faq_document, loaded_document, product_document, text_document
from retrieval.faq import DirectAnswer, direct_answer
from retrieval.index import DocType as IndexDocType
from retrieval.index import DocumentInput, KnowledgeBase, delete_document, index_documents
from retrieval.loaders import LoadedDocument, load_bytes, parse_faq_csv
from retrieval.search import Hit, SearchFilters, SearchResult, search
from store.db import session_scope
from store.errors import InvalidInput, SiyuError
from store.models import DocType, Document
from store.repositories.catalog import ProductRepository
from store.repositories.documents import DocumentRepository
from store.repositories.shops import ShopRepository
from store.uploads import decode_text

log = logging.getLogger("siyu.kb")

# Uploads above this run as a Celery job (`kb_ingest`) instead of inside the request.
INLINE_MAX_BYTES = 200_000
K_MAX = 50
PRODUCT_PREFIX = "product:"
TEXT_DOC_TYPES: tuple[str, ...] = ("policy", "faq", "manual")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DocumentView:
    """A detached snapshot of a document row, safe after its session closed."""

    id: int
    source: str
    doc_type: str
    title: str
    version: int
    status: str
    error: str | None
    content_hash: str
    chunks: int
    chunk_ids: list[str]
    created_at: datetime
    updated_at: datetime
    unchanged: bool = False
    content: str = ""

    @classmethod
    def of(cls, doc: Document, *, unchanged: bool = False, with_content: bool = False) -> DocumentView:
        return cls(
            id=doc.id,
            source=doc.source,
            doc_type=str(doc.doc_type.value if isinstance(doc.doc_type, DocType) else doc.doc_type),
            title=doc.title,
            version=doc.version,
            status=doc.status,
            error=doc.error,
            content_hash=doc.content_hash,
            chunks=len(doc.chunk_ids or []),
            chunk_ids=[str(c) for c in doc.chunk_ids or []],
            created_at=doc.created_at,
            updated_at=doc.updated_at,
            unchanged=unchanged,
            content=doc.content if with_content else "",
        )


@dataclass(frozen=True)
class _Prepared:
    """A document ready to index: its row fields and a builder taking the version."""

    source: str
    doc_type: DocType
    title: str
    content: str
    build: Callable[[int], DocumentInput]


# --- ingestion --------------------------------------------------------------------------------


def ingest_bytes(
    runtime: Runtime,
    shop_id: int,
    name: str,
    data: bytes,
    *,
    doc_type: str | None = None,
    title: str | None = None,
    source: str | None = None,
    progress: Progress | None = None,
) -> DocumentView:
    """Ingest one uploaded file (Markdown, TXT, DOCX, PDF or a `question,answer` FAQ CSV)."""
    try:
        loaded = load_bytes(name, data, title=title)
        kind = _doc_type(doc_type, loaded)
    except SiyuError as exc:
        _record_error(runtime, shop_id, source or name, exc)
        raise
    # A FAQ row keeps its decoded CSV, so the document can be re-indexed from the row.
    content = decode_text(data, name) if loaded.format == "faq_csv" else loaded.text
    prepared = _Prepared(
        source=source or name,
        doc_type=kind,
        title=loaded.title,
        content=content,
        build=lambda version: _with_source(loaded, source or name, shop_id, kind, version),
    )
    return _ingest(runtime, shop_id, prepared, progress)


def ingest_text(
    runtime: Runtime,
    shop_id: int,
    *,
    title: str,
    text: str,
    doc_type: str = "policy",
    source: str | None = None,
    progress: Progress | None = None,
) -> DocumentView:
    """Ingest pasted text (Markdown allowed). `source` defaults to the title."""
    kind = _doc_type(doc_type, None)
    if kind is DocType.product:
        raise InvalidInput("商品卡片由 sync-products 从商品库生成，不能直接上传", field="doc_type")
    src = (source or title).strip()
    if not src:
        raise InvalidInput("标题不能为空", field="title")
    if not text.strip():
        raise InvalidInput("正文不能为空", field="text")
    prepared = _Prepared(
        source=src,
        doc_type=kind,
        title=title,
        content=text,
        build=lambda version: _row_document(shop_id, src, kind, title, text, version),
    )
    return _ingest(runtime, shop_id, prepared, progress)


def _doc_type(value: str | None, loaded: LoadedDocument | None) -> DocType:
    if loaded is not None and loaded.format == "faq_csv":
        return DocType.faq
    if value is None:
        return DocType.policy
    if value not in TEXT_DOC_TYPES:
        raise InvalidInput(
            f"doc_type 应为 {', '.join(TEXT_DOC_TYPES)} 之一，收到 {value!r}", field="doc_type"
        )
    return DocType(value)


def _with_source(
    loaded: LoadedDocument, source: str, shop_id: int, kind: DocType, version: int
) -> DocumentInput:
    return loaded_document(shop_id, source, loaded, doc_type=kind.value, version=version)


def _row_document(
    shop_id: int, source: str, kind: DocType, title: str, content: str, version: int
) -> DocumentInput:
    """Chunks of a stored row's content: a FAQ row keeps its CSV, anything else its text."""
    if kind is DocType.faq:
        return faq_document(shop_id, source, title, parse_faq_csv(content, source), version=version)
    index_type = cast(IndexDocType, kind.value)  # the store's DocType values are the index's
    return text_document(shop_id, source, title, content, doc_type=index_type, version=version)


@dataclass(frozen=True)
class _Previous:
    version: int
    content_hash: str
    chunk_ids: tuple[str, ...]


def _previous(runtime: Runtime, shop_id: int, sources: Sequence[str]) -> dict[str, _Previous]:
    with session_scope(runtime.sessions) as session:
        rows = DocumentRepository(session).by_sources(shop_id, sources)
        return {
            s: _Previous(r.version, r.content_hash, tuple(str(c) for c in r.chunk_ids or []))
            for s, r in rows.items()
        }


def _ingest(runtime: Runtime, shop_id: int, prepared: _Prepared, progress: Progress | None) -> DocumentView:
    started = time.perf_counter()
    previous = _previous(runtime, shop_id, [prepared.source]).get(prepared.source)
    try:
        doc = prepared.build(previous.version + 1 if previous else 1)
    except SiyuError as exc:
        _record_error(runtime, shop_id, prepared.source, exc)
        raise
    if previous is not None and previous.content_hash == doc.content_hash and previous.chunk_ids:
        with session_scope(runtime.sessions) as session:
            row = DocumentRepository(session).by_source(shop_id, prepared.source)
            if row is not None and row.error:
                row.error = None
            view = DocumentView.of(_must(row), unchanged=True)
        log.info("kb.ingest.unchanged", extra={"shop_id": shop_id, "source": prepared.source})
        return view

    kb = runtime.knowledge_base()
    try:
        result = index_documents(kb, [doc], progress)[0]
    except Exception as exc:
        _record_error(runtime, shop_id, prepared.source, exc)
        raise
    version = doc.version if result.changed or previous is None else previous.version
    view = _commit_rows(
        runtime,
        kb,
        shop_id,
        [
            (
                prepared.source,
                prepared.doc_type,
                prepared.title,
                prepared.content,
                doc,
                result.chunk_ids,
                version,
            )
        ],
        previous={prepared.source: previous} if previous else {},
    )[0]
    log.info(
        "kb.ingest.done",
        extra={
            "shop_id": shop_id,
            "source": prepared.source,
            "chunks": len(result.chunk_ids),
            "version": version,
            "seconds": round(time.perf_counter() - started, 3),
        },
    )
    return view


_Row = tuple[str, DocType, str, str, DocumentInput, list[str], int]


def _commit_rows(
    runtime: Runtime,
    kb: KnowledgeBase,
    shop_id: int,
    rows: Sequence[_Row],
    previous: dict[str, _Previous],
) -> list[DocumentView]:
    """Write the rows of freshly indexed documents in one transaction; on failure delete the
    chunk ids that transaction would have recorded, so the index holds no chunk without a row."""
    try:
        with session_scope(runtime.sessions) as session:
            repo = DocumentRepository(session)
            return [
                DocumentView.of(
                    repo.save(
                        shop_id,
                        source=source,
                        doc_type=kind,
                        title=title,
                        content=content,
                        content_hash=doc.content_hash,
                        version=version,
                        chunk_ids=chunk_ids,
                    )
                )
                for source, kind, title, content, doc, chunk_ids, version in rows
            ]
    except Exception:
        fresh = sorted(
            {cid for row in rows for cid in row[5]}
            - {cid for prev in previous.values() for cid in prev.chunk_ids}
        )
        if fresh:
            kb.store.delete(shop_id, fresh)
            # Journaled, so other processes drop these chunks too (a bare bump would not say which).
            kb.changed(shop_id, sorted({row[0] for row in rows}))
        log.warning("kb.ingest.db_failed", extra={"shop_id": shop_id, "removed": len(fresh)}, exc_info=True)
        raise


def _must(row: Document | None) -> Document:
    if row is None:  # the row was deleted between two statements of this request
        raise InvalidInput("文档在处理过程中被删除，请重试")
    return row


def _record_error(runtime: Runtime, shop_id: int, source: str, exc: BaseException) -> None:
    message = exc.detail if isinstance(exc, SiyuError) else f"{type(exc).__name__}: {exc}"
    with session_scope(runtime.sessions) as session:
        DocumentRepository(session).record_error(shop_id, source, message)
    log.warning("kb.ingest.failed", extra={"shop_id": shop_id, "source": source, "error": message})


# --- reading and deleting ---------------------------------------------------------------------


def list_documents(runtime: Runtime, shop_id: int, *, doc_type: str | None = None) -> list[DocumentView]:
    kind = None
    if doc_type is not None:
        try:
            kind = DocType(doc_type)
        except ValueError:
            raise InvalidInput(f"未知的 doc_type {doc_type!r}", field="doc_type") from None
    with session_scope(runtime.sessions) as session:
        return [DocumentView.of(d) for d in DocumentRepository(session).list_for_shop(shop_id, doc_type=kind)]


def get_document(runtime: Runtime, shop_id: int, document_id: int) -> DocumentView:
    with session_scope(runtime.sessions) as session:
        return DocumentView.of(DocumentRepository(session).get(shop_id, document_id), with_content=True)


def delete(runtime: Runtime, shop_id: int, document_id: int) -> DocumentView:
    """Remove every chunk of the document, then its row. Another shop's id is `NotFound`."""
    view = get_document(runtime, shop_id, document_id)
    removed = delete_document(runtime.knowledge_base(), shop_id, view.source)
    with session_scope(runtime.sessions) as session:
        repo = DocumentRepository(session)
        repo.delete(repo.get(shop_id, document_id))
    log.info("kb.document.deleted", extra={"shop_id": shop_id, "source": view.source, "chunks": len(removed)})
    return view


# --- products ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncReport:
    products: int
    indexed: int
    unchanged: int
    removed: int
    seconds: float
    removed_sources: list[str] = field(default_factory=list)


def sync_products(runtime: Runtime, shop_id: int, *, progress: Progress | None = None) -> SyncReport:
    """Index every active product's card (source `product:SKU`); replace changed cards, delete
    the cards of products that are gone or inactive. Touches the index only when something changed."""
    started = time.perf_counter()
    with session_scope(runtime.sessions) as session:
        products = ProductRepository(session).list(shop_id, active_only=True)
        docs = {
            PRODUCT_PREFIX + p.sku: product_document(shop_id, PRODUCT_PREFIX + p.sku, p) for p in products
        }
        rows = DocumentRepository(session).list_for_shop(shop_id, doc_type=DocType.product)
        previous = {
            r.source: _Previous(r.version, r.content_hash, tuple(str(c) for c in r.chunk_ids or []))
            for r in rows
        }
    changed = [
        _versioned(doc, previous.get(source))
        for source, doc in docs.items()
        if not (
            source in previous
            and previous[source].content_hash == doc.content_hash
            and previous[source].chunk_ids
        )
    ]
    gone = sorted(set(previous) - set(docs))
    if changed or gone:
        kb = runtime.knowledge_base()
        results = index_documents(kb, changed, progress)
        _commit_rows(
            runtime,
            kb,
            shop_id,
            [
                (d.doc_id, DocType.product, d.title, d.chunks[0].text, d, r.chunk_ids, d.version)
                for d, r in zip(changed, results, strict=True)
            ],
            previous={d.doc_id: previous[d.doc_id] for d in changed if d.doc_id in previous},
        )
        for source in gone:
            delete_document(kb, shop_id, source)
        if gone:
            with session_scope(runtime.sessions) as session:
                repo = DocumentRepository(session)
                for row in repo.by_sources(shop_id, gone).values():
                    repo.delete(row)
    report = SyncReport(
        products=len(docs),
        indexed=len(changed),
        unchanged=len(docs) - len(changed),
        removed=len(gone),
        seconds=time.perf_counter() - started,
        removed_sources=gone,
    )
    log.info(
        "kb.products.synced",
        extra={"shop_id": shop_id, "indexed": report.indexed, "removed": report.removed},
    )
    return report


def _versioned(doc: DocumentInput, previous: _Previous | None) -> DocumentInput:
    if previous is None:
        return doc
    return DocumentInput(
        doc.shop_id,
        doc.doc_id,
        doc.doc_type,
        doc.title,
        doc.content_hash,
        doc.chunks,
        version=previous.version + 1,
        sku=doc.sku,
        catalog_terms=doc.catalog_terms,
    )


# --- stored rows never indexed (the demo shop) --------------------------------------------------


@dataclass(frozen=True)
class EnsureReport:
    documents: int
    chunks: int
    products: SyncReport
    seconds: float


def ensure_indexed(runtime: Runtime, shop_id: int, *, progress: Progress | None = None) -> EnsureReport:
    """Index the rows that hold text but no chunks (the demo loader writes its policies and FAQ
    that way) and sync the product cards. Cheap when everything is indexed: no index access."""
    started = time.perf_counter()
    with session_scope(runtime.sessions) as session:
        pending = [
            _Prepared(
                source=row.source,
                doc_type=DocType(row.doc_type),
                title=row.title,
                content=row.content,
                build=_row_builder(shop_id, row.source, DocType(row.doc_type), row.title, row.content),
            )
            for row in DocumentRepository(session).unindexed(shop_id)
        ]
    chunks = 0
    if pending:
        kb = runtime.knowledge_base()
        docs = [p.build(1) for p in pending]
        results = index_documents(kb, docs, progress)
        _commit_rows(
            runtime,
            kb,
            shop_id,
            [
                (p.source, p.doc_type, p.title, p.content, d, r.chunk_ids, d.version)
                for p, d, r in zip(pending, docs, results, strict=True)
            ],
            previous={},
        )
        chunks = sum(len(r.chunk_ids) for r in results)
    products = sync_products(runtime, shop_id, progress=progress)
    return EnsureReport(len(pending), chunks, products, time.perf_counter() - started)


def _row_builder(
    shop_id: int, source: str, kind: DocType, title: str, content: str
) -> Callable[[int], DocumentInput]:
    return lambda version: _row_document(shop_id, source, kind, title, content, version)


# --- search -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KbHit:
    hit: Hit
    doc_id: int | None  # the Document row; None only for a chunk whose row is missing


@dataclass(frozen=True)
class KbDirectAnswer:
    answer: DirectAnswer
    doc_id: int | None


@dataclass(frozen=True)
class KbSearch:
    query: str
    hits: list[KbHit]
    grounding: float
    direct_answer: KbDirectAnswer | None
    took_ms: float
    result: SearchResult


def search_kb(
    runtime: Runtime,
    shop_id: int,
    query: str,
    *,
    k: int = 5,
    doc_types: Sequence[str] = (),
    doc_ids: Sequence[int] = (),
    skus: Sequence[str] = (),
) -> KbSearch:
    """Hybrid search in one shop's KB (the 命中测试), with grounding and a curated FAQ answer."""
    started = time.perf_counter()
    if not query.strip():
        raise InvalidInput("查询不能为空", field="query")
    if not 1 <= k <= K_MAX:
        raise InvalidInput(f"k 应在 1 到 {K_MAX} 之间", field="k")
    unknown = sorted(set(doc_types) - {d.value for d in DocType})
    if unknown:
        raise InvalidInput(f"未知的 doc_type: {', '.join(unknown)}", field="filters.doc_types")
    sources: tuple[str, ...] = ()
    if doc_ids:
        with session_scope(runtime.sessions) as session:
            rows = DocumentRepository(session).list_for_shop(shop_id)
            by_id = {r.id: r.source for r in rows}
        # An id of another shop (or none) matches nothing, like an empty filter result.
        sources = tuple(by_id[i] for i in doc_ids if i in by_id) or ("\x00none",)
    filters = SearchFilters(doc_types=tuple(doc_types), doc_ids=sources, skus=tuple(skus))
    result = search(runtime.knowledge_base(), shop_id, query, k=k, filters=filters)
    answer = direct_answer(result)
    wanted = {h.doc_id for h in result.hits} | ({answer.doc_id} if answer else set())
    with session_scope(runtime.sessions) as session:
        ids = {s: r.id for s, r in DocumentRepository(session).by_sources(shop_id, wanted).items()}
    return KbSearch(
        query=query,
        hits=[KbHit(h, ids.get(h.doc_id)) for h in result.hits],
        grounding=result.grounding,
        direct_answer=KbDirectAnswer(answer, ids.get(answer.doc_id)) if answer else None,
        took_ms=(time.perf_counter() - started) * 1000,
        result=result,
    )


def as_dict(view: DocumentView) -> dict[str, Any]:
    """A job result: JSON-safe."""
    return {
        "document_id": view.id,
        "source": view.source,
        "doc_type": view.doc_type,
        "title": view.title,
        "version": view.version,
        "chunks": view.chunks,
        "unchanged": view.unchanged,
    }


def shop_id_by_name(runtime: Runtime, name: str) -> int:
    """The CLI's `--shop NAME`; `NotFound` when no such shop exists."""
    with session_scope(runtime.sessions) as session:
        return ShopRepository(session).require_by_name(name).id
