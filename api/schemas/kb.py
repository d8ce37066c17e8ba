"""The knowledge base: documents, product cards and catalog import, search (api/routers/kb.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from agents.knowledge import catalog_import, service
from api.params import IdField
from api.schemas.base import Schema, overlay

TextDocType = Literal["policy", "faq", "manual"]


class DocumentPublic(Schema):
    id: int
    source: str = Field(description="The document's identity in the shop; re-uploading it replaces it.")
    doc_type: str
    title: str
    version: int
    status: str = Field(description="ready | ingesting | failed")
    error: str | None = Field(description="Why the last re-ingest failed (the indexed version is kept).")
    content_hash: str
    chunks: int
    created_at: datetime
    updated_at: datetime
    unchanged: bool = Field(False, description="True: same content as the indexed version, no work done.")


class DocumentDetail(DocumentPublic):
    content: str
    chunk_ids: list[str]


class TextDocument(Schema):
    title: str = Field(min_length=1, max_length=200, examples=["退换货政策"])
    text: str = Field(min_length=1, examples=["# 退换货政策\n\n签收后 7 天内可无理由退货。"])
    doc_type: TextDocType = "policy"
    source: str | None = Field(None, max_length=255, description="Default: the title.")


class SearchFiltersIn(Schema):
    doc_types: list[Literal["product", "policy", "faq", "manual"]] = Field(default_factory=list)
    doc_ids: list[IdField] = Field(default_factory=list, max_length=200)
    skus: list[str] = Field(default_factory=list, max_length=200)


class SearchRequest(Schema):
    query: str = Field(min_length=1, max_length=500, examples=["退货运费谁出"])
    k: int = Field(5, ge=1, le=service.K_MAX)
    filters: SearchFiltersIn = Field(default_factory=SearchFiltersIn)


class HitPublic(Schema):
    chunk_id: str
    doc_id: int | None = Field(description="The document's id (GET /v1/kb/documents/{id}).")
    source: str
    doc_type: str
    title: str
    section: str
    text: str
    score: float
    matched_by: Literal["dense", "lexical", "exact"]
    sku: str | None = None

    @classmethod
    def of(cls, found: service.KbHit) -> HitPublic:
        """The retrieval hit's `doc_id` is the document's source; `doc_id` here is its row id."""
        hit = found.hit
        return cls.model_validate(
            overlay(
                hit, doc_id=found.doc_id, source=hit.doc_id, score=round(hit.score, 6), sku=hit.sku or None
            )
        )


class DirectAnswerPublic(Schema):
    question: str
    answer: str = Field(description="The merchant's stored FAQ answer, verbatim.")
    score: float
    chunk_id: str
    doc_id: int | None
    title: str

    @classmethod
    def of(cls, direct: service.KbDirectAnswer) -> DirectAnswerPublic:
        answer = direct.answer
        return cls.model_validate(overlay(answer, doc_id=direct.doc_id, score=round(answer.score, 4)))


class SearchResponse(Schema):
    query: str
    hits: list[HitPublic]
    grounding: float = Field(ge=0, le=1, description="Does the evidence answer the query? Low: hand off.")
    direct_answer: DirectAnswerPublic | None
    took_ms: float

    @classmethod
    def of(cls, found: service.KbSearch) -> SearchResponse:
        direct = found.direct_answer
        return cls.model_validate(
            overlay(
                found,
                hits=[HitPublic.of(h) for h in found.hits],
                grounding=round(found.grounding, 4),
                direct_answer=None if direct is None else DirectAnswerPublic.of(direct),
                took_ms=round(found.took_ms, 2),
            )
        )


class SyncReportPublic(Schema):
    products: int = Field(description="Active products in the store.")
    indexed: int = Field(description="Cards (re)indexed because new or changed.")
    unchanged: int
    removed: int = Field(description="Cards deleted: the product is gone or inactive.")
    seconds: float

    @classmethod
    def of(cls, report: service.SyncReport) -> SyncReportPublic:
        return cls.model_validate(overlay(report, seconds=round(report.seconds, 3)))


class ProductImportPublic(Schema):
    file: str
    created: int = Field(description="New products (SKUs not in the store before).")
    updated: int = Field(description="Stored products whose title, price, stock, specs or variants changed.")
    unchanged: int = Field(description="Products already exactly as in the file: no write, no re-index.")
    created_skus: list[str]
    updated_skus: list[str]
    index: SyncReportPublic | None = Field(
        description="The product-card sync after the import; null when nothing changed."
    )
    index_error: str | None = Field(
        None, description="The catalog was imported but its cards could not be re-indexed (retry sync)."
    )
    seconds: float

    @classmethod
    def of(cls, report: catalog_import.ProductImportReport) -> ProductImportPublic:
        index = None if report.index is None else SyncReportPublic.of(report.index)
        return cls.model_validate(overlay(report, index=index, seconds=round(report.seconds, 3)))
