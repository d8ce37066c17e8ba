"""Celery job of the knowledge base: a large upload ingested in a worker, with progress.

`kb_ingest` (task `siyu.job.kb_ingest`): the API saved the upload under
`<var_dir>/uploads/kb/` and passed its path; the job loads, chunks, embeds (progress per
embedded slice) and indexes it through `service.ingest_bytes`, then removes the file. A failure
keeps the previous version of the document and lands in the job's `error` with file/line/page.

`kb_product_import` (task `siyu.job.kb_product_import`): a large product file (CSV/XLSX/JSON)
stashed the same way, imported through `catalog_import.import_products` (one transaction, then
the changed cards re-indexed, with progress); a bad row imports nothing and names file/line/field.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agents.jobs import JobContext, job_kind
from agents.knowledge import catalog_import, service
from agents.runtime import Runtime
from store.errors import InvalidInput

log = logging.getLogger("siyu.kb")

INGEST_KIND = "kb_ingest"
_UNSAFE = re.compile(r"[^\w.\-]+")


def upload_dir(runtime: Runtime) -> Path:
    return runtime.settings.var_dir / "uploads" / "kb"


def stash_upload(runtime: Runtime, name: str, data: bytes) -> Path:
    """Write the upload where a worker on this machine can read it; the job deletes it."""
    folder = upload_dir(runtime)
    folder.mkdir(parents=True, exist_ok=True)
    safe = _UNSAFE.sub("_", Path(name).name)[-120:] or "upload"
    path = folder / f"{uuid.uuid4().hex}-{safe}"
    path.write_bytes(data)
    return path


def ingest_params(
    path: Path, name: str, doc_type: str | None, title: str | None, size: int, *, source: str | None = None
) -> dict[str, Any]:
    return {
        "path": str(path),
        "name": name,
        "doc_type": doc_type,
        "title": title,
        "source": source,
        "bytes": size,
    }


@contextmanager
def _stashed_upload(ctx: JobContext) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of the upload the API stashed for this job; the file is deleted when the
    job ends, whether it succeeded or not."""
    path, name = Path(str(ctx.params["path"])), str(ctx.params["name"])
    try:
        ctx.report(0.02, f"正在读取 {name}")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput("上传的文件已不在服务器上，请重新上传", file=name) from exc
        yield name, data
    finally:
        path.unlink(missing_ok=True)


@job_kind(INGEST_KIND)
def ingest_job(ctx: JobContext) -> dict[str, Any]:
    params = ctx.params
    with _stashed_upload(ctx) as (name, data):

        def progress(done: int, total: int) -> None:
            ctx.report(0.1 + 0.85 * done / max(total, 1), f"已向量化 {done}/{total} 段")

        ctx.report(0.05, "正在解析与分段")
        view = service.ingest_bytes(
            ctx.runtime,
            ctx.shop_id,
            name,
            data,
            doc_type=params.get("doc_type"),
            title=params.get("title"),
            source=params.get("source"),
            progress=progress,
        )
    return service.as_dict(view)


PRODUCT_IMPORT_KIND = "kb_product_import"


@job_kind(PRODUCT_IMPORT_KIND)
def product_import_job(ctx: JobContext) -> dict[str, Any]:
    """A large product file: parse, write the catalog in one transaction, re-index changed cards."""
    with _stashed_upload(ctx) as (name, data):

        def progress(done: int, total: int) -> None:
            ctx.report(0.3 + 0.65 * done / max(total, 1), f"已索引商品卡片 {done}/{total}")

        ctx.report(0.05, "正在校验并写入商品库")
        report = catalog_import.import_products(ctx.runtime, ctx.shop_id, name, data, progress=progress)
    return catalog_import.as_dict(report)
