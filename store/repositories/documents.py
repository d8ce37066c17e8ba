"""Knowledge-base documents of one shop: one row per source, with the chunk ids it has indexed.

`source` is the document's stable identity in its shop (a file name, "product:SKU"): ingesting
the same source again replaces the row's content, hash, version and chunk ids in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.errors import NotFound
from store.models import DocType, Document


class DocumentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, shop_id: int, document_id: int) -> Document:
        doc = self.session.scalar(
            select(Document).where(Document.shop_id == shop_id, Document.id == document_id)
        )
        if doc is None:
            raise NotFound(f"文档 {document_id} 不存在")
        return doc

    def by_source(self, shop_id: int, source: str) -> Document | None:
        return self.session.scalar(
            select(Document).where(Document.shop_id == shop_id, Document.source == source)
        )

    def by_sources(self, shop_id: int, sources: Iterable[str]) -> dict[str, Document]:
        wanted = sorted(set(sources))
        if not wanted:
            return {}
        rows = self.session.scalars(
            select(Document).where(Document.shop_id == shop_id, Document.source.in_(wanted))
        )
        return {row.source: row for row in rows}

    def list_for_shop(
        self, shop_id: int, *, doc_type: DocType | None = None, limit: int | None = None, offset: int = 0
    ) -> list[Document]:
        query = select(Document).where(Document.shop_id == shop_id)
        if doc_type is not None:
            query = query.where(Document.doc_type == doc_type)
        query = query.order_by(Document.doc_type, Document.source).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return list(self.session.scalars(query))

    def unindexed(self, shop_id: int) -> list[Document]:
        """Rows whose text was stored but never indexed (e.g. the demo shop's policies and FAQ)."""
        return [d for d in self.list_for_shop(shop_id) if not d.chunk_ids and d.doc_type != DocType.product]

    def save(
        self,
        shop_id: int,
        *,
        source: str,
        doc_type: DocType,
        title: str,
        content: str,
        content_hash: str,
        version: int,
        chunk_ids: Sequence[str],
    ) -> Document:
        """Insert or replace the row of `source` as a ready, indexed document."""
        doc = self.by_source(shop_id, source)
        if doc is None:
            doc = Document(shop_id=shop_id, source=source)
            self.session.add(doc)
        doc.doc_type = doc_type
        doc.title = title[:200]
        doc.content = content
        doc.content_hash = content_hash
        doc.version = version
        doc.status = "ready"
        doc.error = None
        doc.chunk_ids = list(chunk_ids)
        self.session.flush()
        return doc

    def record_error(self, shop_id: int, source: str, error: str) -> Document | None:
        """A failed re-ingest: the row keeps its indexed version and says why the new one failed."""
        doc = self.by_source(shop_id, source)
        if doc is not None:
            doc.error = error
            self.session.flush()
        return doc

    def delete(self, doc: Document) -> None:
        self.session.delete(doc)
        self.session.flush()
