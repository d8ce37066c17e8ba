"""One upload limit (`SIYU_MAX_UPLOAD_BYTES`) on every upload route; the error names the file and
the limit in Chinese, and nothing is written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from agents.runtime import Runtime
from api.app import create_app
from store.models import Document, Job, Product, SalesRecord
from store.settings import Settings
from tests.conftest import ShopKeys

pytestmark = pytest.mark.e2e


@pytest.fixture
def small_limit_client(
    tmp_path: Path, db_engine: Engine, session_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    settings = Settings(var_dir=tmp_path / "var", env="test", max_upload_bytes=1024)
    runtime = Runtime(settings=settings, engine=db_engine, sessions=session_factory)
    with TestClient(create_app(runtime=runtime)) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "name", "line"),
    [
        ("/v1/sales/import", "销售.csv", "BWB-500,2025-03-01,3\n"),
        ("/v1/kb/documents", "政策.md", "签收后七天内可申请无理由退货。\n"),
        ("/v1/kb/products/import", "商品.csv", "ST-771,保温杯,家居日用,89\n"),
    ],
)
def test_an_upload_over_the_limit_names_the_file_and_the_limit(
    small_limit_client: TestClient,
    shop_a: ShopKeys,
    session: Session,
    path: str,
    name: str,
    line: str,
) -> None:
    data = (line * 200).encode()
    assert len(data) > 1024
    r = small_limit_client.post(path, headers=shop_a.headers(), files={"file": (name, data)})
    assert r.status_code == 400, r.text
    assert r.json() == {
        "error": "invalid_input",
        "detail": f"文件 {name!r}: 文件超过上传上限 1 KB，请拆分后分批导入",
    }
    for model in (SalesRecord, Document, Product, Job):
        assert session.scalar(select(func.count()).select_from(model)) == 0
