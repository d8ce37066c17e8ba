"""The knowledge-base service with the real embedder and a real Chroma under the test's var_dir:
ingest, unchanged re-ingest, atomic replacement, failures that keep the old version, DB/index
agreement on a failed commit, delete, product sync, the demo shop's first indexing, the job."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import update

from agents.jobs import read_job, run_job, submit_job
from agents.knowledge import service
from agents.knowledge.tasks import INGEST_KIND, ingest_params, stash_upload
from agents.runtime import Runtime
from retrieval.embedding import Embedder, Vectors
from store.demo.loader import load_demo
from store.errors import InvalidInput, NotFound
from store.models import Document, JobStatus, Product
from store.repositories.documents import DocumentRepository
from tests.conftest import ShopKeys

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RETURNS_V1 = (
    "# 退换货政策\n\n## 无理由退货\n\n签收后 7 天内可以无理由退货，商品需保持完好。"
    "\n\n## 运费\n\n质量问题由本店承担来回运费。"
)
RETURNS_V2 = (
    "# 退换货政策\n\n## 无理由退货\n\n签收后 15 天内可以无理由退货，吊牌需完好。"
    "\n\n## 运费\n\n无理由退货的寄回运费由买家承担。"
)
FAQ_CSV = "question,answer\n多久发货,下单后 48 小时内发货\n可以开发票吗,可以，在订单页申请电子发票\n"


class NoEmbedding:
    """Fails the test if anything is embedded: proves that no work was done."""

    name = "must-not-embed"
    dim = 384

    def embed_queries(self, texts: object) -> Vectors:
        raise AssertionError("embedded a query")

    def embed_passages(self, texts: object) -> Vectors:
        raise AssertionError("embedded passages: an unchanged document was re-indexed")


@pytest.fixture
def rt(runtime: Runtime, real_embedder: Embedder) -> Runtime:
    runtime.put("embedder", real_embedder)
    return runtime


def _chunk_ids(rt: Runtime, shop_id: int, source: str) -> set[str]:
    return {c.chunk_id for c in rt.knowledge_base().store.get(shop_id, where={"doc_id": source}, texts=False)}


def _row(rt: Runtime, shop_id: int, source: str) -> Document:
    with rt.sessions() as s:
        row = DocumentRepository(s).by_source(shop_id, source)
        assert row is not None
        return row


def test_ingest_search_replace_and_unchanged(rt: Runtime, shop_a: ShopKeys) -> None:
    shop = shop_a.shop_id
    v1 = service.ingest_bytes(rt, shop, "退换货政策.md", RETURNS_V1.encode())
    assert (v1.source, v1.doc_type, v1.version, v1.unchanged) == ("退换货政策.md", "policy", 1, False)
    assert v1.chunks >= 1 and set(v1.chunk_ids) == _chunk_ids(rt, shop, "退换货政策.md")

    found = service.search_kb(rt, shop, "收到货几天内能退", k=3)
    assert found.hits[0].doc_id == v1.id and "7 天" in found.hits[0].hit.text

    kb = rt.knowledge_base()
    embedder, kb.embedder = kb.embedder, NoEmbedding()
    try:
        again = service.ingest_bytes(rt, shop, "退换货政策.md", RETURNS_V1.encode())
    finally:
        kb.embedder = embedder
    assert again.unchanged and again.version == 1 and again.chunk_ids == v1.chunk_ids

    v2 = service.ingest_bytes(rt, shop, "退换货政策.md", RETURNS_V2.encode())
    assert v2.id == v1.id and v2.version == 2 and not v2.unchanged
    stored = _chunk_ids(rt, shop, "退换货政策.md")
    assert stored == set(v2.chunk_ids) and not stored & set(v1.chunk_ids), "a stale chunk survived"
    texts = " ".join(h.hit.text for h in service.search_kb(rt, shop, "收到货几天内能退", k=5).hits)
    assert "15 天" in texts and "7 天" not in texts


def test_a_failed_reingest_keeps_the_previous_version_and_says_where(rt: Runtime, shop_a: ShopKeys) -> None:
    shop = shop_a.shop_id
    first = service.ingest_bytes(rt, shop, "faq.csv", FAQ_CSV.encode())
    assert first.doc_type == "faq" and first.chunks == 2

    broken = "question,answer\n多久发货,两天内\n退货地址在哪,\n"
    with pytest.raises(InvalidInput) as failure:
        service.ingest_bytes(rt, shop, "faq.csv", broken.encode())
    assert "faq.csv" in failure.value.detail and "3" in failure.value.detail

    row = _row(rt, shop, "faq.csv")
    assert row.version == 1 and row.chunk_ids == first.chunk_ids and row.error == failure.value.detail
    assert _chunk_ids(rt, shop, "faq.csv") == set(first.chunk_ids)
    found = service.search_kb(rt, shop, "请问多久发货", k=3)
    assert found.hits[0].doc_id == first.id
    assert found.direct_answer is not None and "48 小时" in found.direct_answer.answer.answer


def test_a_failed_db_write_removes_the_new_chunks(
    rt: Runtime, shop_a: ShopKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_save(*args: object, **kwargs: object) -> Document:
        raise RuntimeError("disk full")

    monkeypatch.setattr(DocumentRepository, "save", broken_save)
    with pytest.raises(RuntimeError, match="disk full"):
        service.ingest_text(rt, shop_a.shop_id, title="发票说明", text="电子发票在确认收货后开具。")
    assert _chunk_ids(rt, shop_a.shop_id, "发票说明") == set()
    assert service.list_documents(rt, shop_a.shop_id) == []
    assert service.search_kb(rt, shop_a.shop_id, "怎么开发票").hits == []


def test_delete_removes_every_chunk_and_other_shops_get_not_found(
    rt: Runtime, shop_a: ShopKeys, shop_b: ShopKeys
) -> None:
    doc = service.ingest_text(rt, shop_a.shop_id, title="配送时效", text="江浙沪次日达，偏远地区 3 到 5 天。")
    with pytest.raises(NotFound):
        service.delete(rt, shop_b.shop_id, doc.id)
    assert _chunk_ids(rt, shop_a.shop_id, "配送时效") == set(doc.chunk_ids)

    service.delete(rt, shop_a.shop_id, doc.id)
    assert _chunk_ids(rt, shop_a.shop_id, "配送时效") == set()
    assert service.search_kb(rt, shop_a.shop_id, "几天能到").hits == []
    with pytest.raises(NotFound):
        service.get_document(rt, shop_a.shop_id, doc.id)


def _product(shop_id: int, sku: str, title: str) -> Product:
    return Product(
        shop_id=shop_id,
        sku=sku,
        title=title,
        category="家居日用",
        price=Decimal("89.00"),
        floor_price=Decimal("69.00"),
        stock=20,
        attributes={"容量": "500ml"},
        variants=[{"name": "黑色", "sku_suffix": "BK", "price": "89.00", "stock": 10}],
    )


def test_sync_products_indexes_changes_and_removes_gone_cards(rt: Runtime, shop_a: ShopKeys) -> None:
    shop = shop_a.shop_id
    with rt.sessions() as s:
        s.add_all([_product(shop, "ST-771", "清居 保温杯"), _product(shop, "ST-880", "清居 焖烧罐")])
        s.commit()
    first = service.sync_products(rt, shop)
    assert (first.products, first.indexed, first.unchanged, first.removed) == (2, 2, 0, 0)
    found = service.search_kb(rt, shop, "ST-771 还有货吗", k=3)
    assert found.hits[0].hit.sku == "ST-771" and found.hits[0].hit.matched_by == "exact"
    card = found.hits[0].hit.text
    assert "89" not in card, "prices are read from the store at answer time, never indexed"

    again = service.sync_products(rt, shop)
    assert (again.indexed, again.unchanged, again.removed) == (0, 2, 0)

    with rt.sessions() as s:
        s.execute(update(Product).where(Product.sku == "ST-771").values(title="清居 真空保温杯"))
        s.execute(update(Product).where(Product.sku == "ST-880").values(active=False))
        s.commit()
    old_ids = _chunk_ids(rt, shop, "product:ST-771")
    third = service.sync_products(rt, shop)
    assert (third.products, third.indexed, third.removed) == (1, 1, 1)
    assert _chunk_ids(rt, shop, "product:ST-880") == set()
    assert not _chunk_ids(rt, shop, "product:ST-771") & old_ids
    assert _row(rt, shop, "product:ST-771").version == 2
    assert [d.source for d in service.list_documents(rt, shop, doc_type="product")] == ["product:ST-771"]


def test_the_demo_shop_is_indexed_once(rt: Runtime, tmp_path: Path) -> None:
    report = load_demo(rt.sessions, keys_path=tmp_path / "keys.json", customers=30)
    shop = report.shop_id
    assert all(d.chunks == 0 for d in service.list_documents(rt, shop))

    done = service.ensure_indexed(rt, shop)
    assert done.documents == report.counts["documents"] and done.chunks > done.documents
    assert done.products.indexed == report.counts["products"]
    docs = service.list_documents(rt, shop)
    assert docs and all(d.chunks > 0 for d in docs)

    kb = rt.knowledge_base()
    embedder, kb.embedder = kb.embedder, NoEmbedding()
    try:
        again = service.ensure_indexed(rt, shop)
    finally:
        kb.embedder = embedder
    assert again.documents == 0 and again.products.indexed == 0

    found = service.search_kb(rt, shop, "退货运费谁出呀", k=5)
    assert found.grounding > 0.5 and any(h.hit.doc_type in ("policy", "faq") for h in found.hits[:3])


def test_a_large_upload_runs_as_a_job_with_progress(rt: Runtime, shop_a: ShopKeys) -> None:
    shop = shop_a.shop_id
    # Any size runs as a job here (submitted directly; the HTTP size rule is tests/e2e/api/test_kb.py's).
    body = "\n\n".join(f"## 第 {n} 条\n\n会员第 {n} 级每消费 1 元累计 {n} 积分。" for n in range(1, 60))
    data = f"# 会员积分规则\n\n{body}".encode()
    path = stash_upload(rt, "会员积分.md", data)
    job = submit_job(
        rt,
        lambda *_: None,
        shop_id=shop,
        kind=INGEST_KIND,
        params=ingest_params(path, "会员积分.md", "manual", None, len(data)),
    )
    assert run_job(rt, job.job_id, shop) is JobStatus.succeeded
    done = read_job(rt, shop, job.job_id)
    assert done.progress == 1.0 and done.result is not None
    assert done.result["doc_type"] == "manual" and done.result["chunks"] > 10
    assert not path.exists(), "the stashed upload is removed after the job"
    assert _row(rt, shop, "会员积分.md").chunk_ids


def test_a_failed_job_reports_the_file(rt: Runtime, shop_a: ShopKeys) -> None:
    path = stash_upload(rt, "坏文件.pdf", b"not a pdf at all")
    job = submit_job(
        rt,
        lambda *_: None,
        shop_id=shop_a.shop_id,
        kind=INGEST_KIND,
        params=ingest_params(path, "坏文件.pdf", None, None, 16),
    )
    assert run_job(rt, job.job_id, shop_a.shop_id) is JobStatus.failed
    failed = read_job(rt, shop_a.shop_id, job.job_id)
    assert (
        failed.error is not None and failed.error.startswith("invalid_input") and "坏文件.pdf" in failed.error
    )
    assert service.list_documents(rt, shop_a.shop_id) == []
