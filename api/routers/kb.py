"""The knowledge base over HTTP: upload, list, read and delete documents, sync product cards,
import products (CSV/XLSX/JSON) into the catalog, and search (the 命中测试). Thin: parse,
authorise, call `agents.knowledge.service` / `agents.knowledge.catalog_import`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, File, Query, Request, status
from fastapi import UploadFile as FilePart
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from agents.jobs import Enqueue, QueueUnavailable, submit_job
from agents.knowledge import catalog_import, service
from agents.knowledge.tasks import INGEST_KIND, PRODUCT_IMPORT_KIND, ingest_params, stash_upload
from agents.runtime import Runtime
from api.deps import AgentDep, OwnerDep, RuntimeDep, StaffOrChannelDep
from api.errors import ErrorBody, error_responses
from api.params import IdPath
from api.routers.jobs import EnqueueDep
from api.schemas.jobs import JobAccepted
from api.schemas.kb import (
    DocumentDetail,
    DocumentPublic,
    ProductImportPublic,
    SearchRequest,
    SearchResponse,
    SyncReportPublic,
    TextDocument,
)
from store.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from store.uploads import check_size, read_limited

router = APIRouter(prefix="/v1/kb", tags=["knowledge base"])
AUTH_ERRORS = (Unauthenticated, Forbidden)


_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "doc_type": {"type": "string", "enum": ["policy", "faq", "manual"]},
                        "title": {"type": "string"},
                    },
                }
            },
            "application/json": {"schema": TextDocument.model_json_schema()},
        },
    }
}


@router.post(
    "/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=DocumentPublic,
    responses={
        202: {"model": JobAccepted, "description": "Large upload: ingested by a job (GET /v1/jobs/{id})."},
        **error_responses(*AUTH_ERRORS, InvalidInput, QueueUnavailable),
    },
    openapi_extra=_UPLOAD_BODY,
)
async def upload_document(
    request: Request, caller: OwnerDep, runtime: RuntimeDep, enqueue: EnqueueDep
) -> DocumentPublic | JSONResponse:
    """Add or replace a document: a multipart `file` (Markdown, TXT, DOCX, PDF, or a CSV with
    `question,answer` columns) or JSON `{title, text, doc_type}`. Re-uploading a source replaces
    it atomically; unchanged content does no work. Uploads over 200 KB answer 202 with a job."""
    # `async` only to read the body (multipart or JSON, told apart by content type); everything
    # after it touches disk, the database or the queue, so it runs in a worker thread.
    upload = await _read_upload(request, runtime.settings.max_upload_bytes)
    outcome = await anyio.to_thread.run_sync(_accept_document, runtime, enqueue, caller.shop_id, upload)
    if isinstance(outcome, JSONResponse):
        return outcome
    return DocumentPublic.model_validate(outcome)


def _accept_document(
    runtime: Runtime, enqueue: Enqueue, shop_id: int, upload: _Upload
) -> service.DocumentView | JSONResponse:
    name, data, doc_type, title, source = upload.parse()
    if len(data) > service.INLINE_MAX_BYTES:
        return _stash_and_submit(
            runtime,
            enqueue,
            shop_id,
            name,
            data,
            kind=INGEST_KIND,
            params=lambda path: ingest_params(path, name, doc_type, title, len(data), source=source),
            message="等待索引",
        )
    if source is not None:  # JSON text
        return service.ingest_text(
            runtime,
            shop_id,
            title=title or source,
            text=data.decode("utf-8"),
            doc_type=doc_type or "policy",
            source=source,
        )
    return service.ingest_bytes(runtime, shop_id, name, data, doc_type=doc_type, title=title)


@dataclass(frozen=True)
class _Upload:
    """A document upload's body as read off the wire: a multipart file, or JSON still to parse."""

    name: str
    data: bytes
    doc_type: str | None = None
    title: str | None = None
    json_body: bool = False

    def parse(self) -> tuple[str, bytes, str | None, str | None, str | None]:
        """(file name, bytes, doc_type, title, source): `source` is set only for JSON text."""
        if not self.json_body:
            return self.name, self.data, self.doc_type, self.title, None
        try:
            body = TextDocument.model_validate_json(self.data)
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
            raise InvalidInput(f"JSON 文档需要 title 与 text ({fields})") from None
        source = (body.source or body.title).strip()
        # A large pasted text goes through the same job path as a large file, as Markdown.
        return (
            source if source.endswith(".md") else f"{source}.md",
            body.text.encode(),
            body.doc_type,
            body.title,
            source,
        )


async def _read_upload(request: Request, limit: int) -> _Upload:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with request.form() as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise InvalidInput("缺少上传文件 (multipart 字段 file)", field="file")
            data = await upload.read(limit + 1)
            doc_type, title = form.get("doc_type"), form.get("title")
        check_size(upload.filename, len(data), limit)
        return _Upload(
            upload.filename,
            data,
            doc_type if isinstance(doc_type, str) and doc_type else None,
            title if isinstance(title, str) and title else None,
        )
    if content_type.startswith("application/json"):
        data = await request.body()
        check_size("JSON 文档", len(data), limit)
        return _Upload("JSON 文档", data, json_body=True)
    raise InvalidInput("请用 multipart/form-data 上传文件，或用 application/json 提交 {title, text}")


def _stash_and_submit(
    runtime: Runtime,
    enqueue: Enqueue,
    shop_id: int,
    name: str,
    data: bytes,
    *,
    kind: str,
    params: Callable[[Path], dict[str, Any]],
    message: str,
) -> JSONResponse:
    """Stash a large upload where a worker can read it and queue its job: 202 with the job id."""
    path = stash_upload(runtime, name, data)
    try:
        job = submit_job(runtime, enqueue, shop_id=shop_id, kind=kind, params=params(path), message=message)
    except QueueUnavailable:
        path.unlink(missing_ok=True)
        raise
    accepted = JobAccepted.of(job)
    return JSONResponse(status_code=status.HTTP_202_ACCEPTED, content=accepted.model_dump(mode="json"))


@router.get(
    "/documents", response_model=list[DocumentPublic], responses=error_responses(*AUTH_ERRORS, InvalidInput)
)
def list_documents(
    caller: AgentDep,
    runtime: RuntimeDep,
    doc_type: Annotated[Literal["product", "policy", "faq", "manual"] | None, Query()] = None,
) -> list[DocumentPublic]:
    """The shop's documents (product cards included), by type then source."""
    return [
        DocumentPublic.model_validate(v)
        for v in service.list_documents(runtime, caller.shop_id, doc_type=doc_type)
    ]


@router.get(
    "/documents/{document_id}",
    response_model=DocumentDetail,
    responses=error_responses(*AUTH_ERRORS, NotFound),
)
def get_document(document_id: IdPath, caller: AgentDep, runtime: RuntimeDep) -> DocumentDetail:
    """One document with its stored text and chunk ids."""
    return DocumentDetail.model_validate(service.get_document(runtime, caller.shop_id, document_id))


@router.delete(
    "/documents/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*AUTH_ERRORS, NotFound),
)
def delete_document(document_id: IdPath, caller: OwnerDep, runtime: RuntimeDep) -> None:
    """Delete the document and every one of its chunks."""
    service.delete(runtime, caller.shop_id, document_id)


@router.post("/sync-products", response_model=SyncReportPublic, responses=error_responses(*AUTH_ERRORS))
def sync_products(caller: OwnerDep, runtime: RuntimeDep) -> SyncReportPublic:
    """Index the store's product cards: new and changed ones (re)indexed, removed ones deleted."""
    return SyncReportPublic.of(service.sync_products(runtime, caller.shop_id))


@router.post(
    "/products/import",
    response_model=ProductImportPublic,
    responses={
        202: {"model": JobAccepted, "description": "Large file: imported by a job (GET /v1/jobs/{id})."},
        **error_responses(*AUTH_ERRORS, InvalidInput, QueueUnavailable),
    },
)
def import_products(
    caller: OwnerDep,
    runtime: RuntimeDep,
    enqueue: EnqueueDep,
    file: Annotated[
        FilePart,
        File(description="CSV (UTF-8, BOM or GBK), XLSX or JSON; one row per product or per SKU (variant)"),
    ],
) -> ProductImportPublic | JSONResponse:
    """Upsert products by SKU into the shop's catalog (title, category, specs, price, stock,
    variants), all rows in one transaction or none, then re-index the changed product cards.
    Unchanged products do no work. Files over 200 KB answer 202 with a job."""
    # A plain `def`: reading the spooled file, stashing it, queueing and the import all block.
    name = file.filename or "products.csv"
    data = read_limited(file.file, name, runtime.settings.max_upload_bytes)
    if len(data) > service.INLINE_MAX_BYTES:
        return _stash_and_submit(
            runtime,
            enqueue,
            caller.shop_id,
            name,
            data,
            kind=PRODUCT_IMPORT_KIND,
            params=lambda path: {"path": str(path), "name": name, "bytes": len(data)},
            message="等待导入",
        )
    report = catalog_import.import_products(runtime, caller.shop_id, name, data)
    return ProductImportPublic.of(report)


@router.post(
    "/search",
    response_model=SearchResponse,
    responses={**error_responses(*AUTH_ERRORS, InvalidInput), 422: {"model": ErrorBody}},
)
def search(body: SearchRequest, caller: StaffOrChannelDep, runtime: RuntimeDep) -> SearchResponse:
    """Hybrid search (dense + BM25 + exact codes) with `grounding` and, when a curated FAQ
    matches closely, its stored answer. Use it as the 命中测试 for the shop's KB."""
    found = service.search_kb(
        runtime,
        caller.shop_id,
        body.query,
        k=body.k,
        doc_types=body.filters.doc_types,
        doc_ids=body.filters.doc_ids,
        skus=body.filters.skus,
    )
    return SearchResponse.of(found)
