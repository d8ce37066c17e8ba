"""The knowledge base over HTTP with the real embedder: upload (file, JSON, large → job), list,
read, search with grounding, re-upload, bad files, delete, product sync, roles and tenants."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from agents.knowledge import service
from agents.runtime import Runtime
from retrieval.embedding import Embedder
from store.models import Product, Role
from tests.conftest import ShopKeys
from tests.e2e.api.helpers import inline_jobs_client

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

POLICY = (
    "# 退换货政策\n\n## 无理由退货\n\n签收后 7 天内可无理由退货。"
    "\n\n## 运费\n\n无理由退货寄回运费由买家承担。"
)


@pytest.fixture
def api(runtime: Runtime, real_embedder: Embedder) -> Iterator[TestClient]:
    runtime.put("embedder", real_embedder)
    with inline_jobs_client(runtime) as client:
        yield client


def _upload(api: TestClient, shop: ShopKeys, name: str, data: bytes, role: Role = Role.owner) -> object:
    return api.post("/v1/kb/documents", files={"file": (name, data)}, headers=shop.headers(role))


def test_upload_search_reupload_and_delete(api: TestClient, shop_a: ShopKeys) -> None:
    r = api.post(
        "/v1/kb/documents", files={"file": ("退换货政策.md", POLICY.encode())}, headers=shop_a.headers()
    )
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["source"] == "退换货政策.md" and doc["chunks"] >= 1 and doc["unchanged"] is False

    again = api.post(
        "/v1/kb/documents", files={"file": ("退换货政策.md", POLICY.encode())}, headers=shop_a.headers()
    )
    assert again.status_code == 201 and again.json()["unchanged"] is True and again.json()["version"] == 1

    listed = api.get("/v1/kb/documents", headers=shop_a.headers(Role.agent))
    assert [d["id"] for d in listed.json()] == [doc["id"]]
    detail = api.get(f"/v1/kb/documents/{doc['id']}", headers=shop_a.headers(Role.agent)).json()
    assert "7 天" in detail["content"] and len(detail["chunk_ids"]) == doc["chunks"]

    r = api.post(
        "/v1/kb/search",
        json={"query": "退回去的快递费要我自己出吗", "k": 3},
        headers=shop_a.headers(Role.service),
    )
    assert r.status_code == 200, r.text
    found = r.json()
    top = found["hits"][0]
    assert top["doc_id"] == doc["id"] and top["doc_type"] == "policy" and "买家承担" in top["text"]
    assert set(top) >= {"chunk_id", "doc_id", "doc_type", "title", "section", "text", "score", "matched_by"}
    assert 0.0 <= found["grounding"] <= 1.0

    assert api.delete(f"/v1/kb/documents/{doc['id']}", headers=shop_a.headers(Role.agent)).status_code == 403
    assert api.delete(f"/v1/kb/documents/{doc['id']}", headers=shop_a.headers()).status_code == 204
    r = api.post("/v1/kb/search", json={"query": "退货运费"}, headers=shop_a.headers(Role.agent))
    assert r.json()["hits"] == []
    assert api.get(f"/v1/kb/documents/{doc['id']}", headers=shop_a.headers()).status_code == 404


def test_json_text_and_faq_direct_answer(api: TestClient, shop_a: ShopKeys) -> None:
    r = api.post(
        "/v1/kb/documents",
        json={"title": "发票说明", "text": "电子发票在确认收货后 3 天内开具。", "doc_type": "manual"},
        headers=shop_a.headers(),
    )
    assert r.status_code == 201, r.text
    assert r.json()["doc_type"] == "manual" and r.json()["source"] == "发票说明"
    faq = "question,answer\n多久发货,下单后 48 小时内发货\n".encode("gbk")
    r = api.post("/v1/kb/documents", files={"file": ("faq.csv", faq)}, headers=shop_a.headers())
    assert r.status_code == 201 and r.json()["doc_type"] == "faq", r.text
    found = api.post(
        "/v1/kb/search", json={"query": "请问多久发货"}, headers=shop_a.headers(Role.agent)
    ).json()
    assert found["direct_answer"]["answer"] == "下单后 48 小时内发货"
    assert found["direct_answer"]["doc_id"] == r.json()["id"]
    only = api.post(
        "/v1/kb/search",
        json={"query": "发票", "filters": {"doc_types": ["manual"]}},
        headers=shop_a.headers(Role.agent),
    ).json()
    assert only["hits"] and {h["doc_type"] for h in only["hits"]} == {"manual"}


def test_bad_uploads_say_why_and_keep_the_old_version(api: TestClient, shop_a: ShopKeys) -> None:
    ok = api.post(
        "/v1/kb/documents", files={"file": ("faq.csv", b"question,answer\nQ1,A1\n")}, headers=shop_a.headers()
    )
    assert ok.status_code == 201
    bad = api.post(
        "/v1/kb/documents",
        files={"file": ("faq.csv", b"question,answer\nQ1,A1\nQ2,\n")},
        headers=shop_a.headers(),
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_input"
    assert "faq.csv" in bad.json()["detail"] and "3" in bad.json()["detail"]
    kept = api.get(f"/v1/kb/documents/{ok.json()['id']}", headers=shop_a.headers()).json()
    assert kept["version"] == 1 and kept["chunks"] == 1 and kept["error"]
    r = api.post("/v1/kb/documents", files={"file": ("x.exe", b"MZ")}, headers=shop_a.headers())
    assert r.status_code == 400 and "x.exe" in r.json()["detail"]
    r = api.post("/v1/kb/documents", files={"file": ("a.md", b"# A")}, headers=shop_a.headers(Role.agent))
    assert r.status_code == 403


def test_a_large_upload_is_a_job(api: TestClient, shop_a: ShopKeys) -> None:
    # Over the inline limit in bytes, with long sections: the job path is what is tested, not
    # the embedder's speed on thousands of one-line chunks (that cost 100 s of the suite).
    body = "\n\n".join(
        f"## 第 {n} 条\n\n"
        + "".join(
            f"会员第 {n} 级第 {k} 档每消费 1 元累计 {n * k} 积分，积分可抵现，年底清零。" for k in range(40)
        )
        for n in range(1, 56)
    )
    data = f"# 会员积分\n\n{body}".encode()
    assert len(data) > service.INLINE_MAX_BYTES
    r = api.post("/v1/kb/documents", files={"file": ("会员积分.md", data)}, headers=shop_a.headers())
    assert r.status_code == 202, r.text
    job = api.get(f"/v1/jobs/{r.json()['job_id']}", headers=shop_a.headers()).json()
    assert job["status"] == "succeeded" and job["kind"] == "kb_ingest", job
    assert job["result"]["chunks"] > 100 and job["result"]["source"] == "会员积分.md", job


def test_sync_products_and_tenant_isolation(
    api: TestClient, runtime: Runtime, shop_a: ShopKeys, shop_b: ShopKeys
) -> None:
    with runtime.sessions() as s:
        s.add(
            Product(
                shop_id=shop_a.shop_id,
                sku="ST-771",
                title="清居 保温杯",
                category="家居日用",
                price=Decimal("89.00"),
                floor_price=Decimal("69.00"),
                stock=5,
            )
        )
        s.commit()
    r = api.post("/v1/kb/sync-products", headers=shop_a.headers())
    assert r.status_code == 200 and r.json()["indexed"] == 1, r.text
    api.post(
        "/v1/kb/documents",
        json={"title": "B 店政策", "text": "B 店保温杯不退不换。"},
        headers=shop_b.headers(),
    )
    a = api.post("/v1/kb/search", json={"query": "ST-771 保温杯"}, headers=shop_a.headers(Role.agent)).json()
    assert a["hits"][0]["source"] == "product:ST-771" and a["hits"][0]["matched_by"] == "exact"
    assert all(h["source"] != "B 店政策" for h in a["hits"])
    b = api.post("/v1/kb/search", json={"query": "ST-771 保温杯"}, headers=shop_b.headers(Role.agent)).json()
    assert b["hits"] and all(h["source"] == "B 店政策" for h in b["hits"])
