"""`POST /v1/kb/products/import` with the real embedder: a file's products land in the store and
their cards are found by code; a re-import does no work; a price change is read from the store
(never from the card); a bad row imports nothing; a large file runs as a job; owner role only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import httpx2
import pytest
from fastapi.testclient import TestClient

from agents.customer_service.tools import product_lookup
from agents.runtime import Runtime
from retrieval.embedding import Embedder
from store.models import Role
from store.repositories.catalog import ProductRepository
from tests.conftest import ShopKeys
from tests.e2e.api.helpers import inline_jobs_client

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PRODUCTS = (
    "货号,商品名称,类目,品牌,价格,底价,库存,规格,款式,款式货号\n"
    "QJ-5081,清居 真空焖烧杯 500ml,家居日用,清居,129,99,,容量=500ml;材质=316不锈钢,雾霾蓝,BL\n"
    "QJ-5081,,,,129,,3,,奶油白,WH\n"
    "MT-220,山野 明前龙井 250g,茶叶,山野,168,139,40,产地=杭州西湖,,\n"
)


@pytest.fixture
def api(runtime: Runtime, real_embedder: Embedder) -> Iterator[TestClient]:
    runtime.put("embedder", real_embedder)
    with inline_jobs_client(runtime) as client:
        yield client


def _import(
    api: TestClient, shop: ShopKeys, name: str, data: bytes, role: Role = Role.owner
) -> httpx2.Response:
    return api.post("/v1/kb/products/import", files={"file": (name, data)}, headers=shop.headers(role))


def _search(api: TestClient, shop: ShopKeys, query: str) -> list[dict[str, object]]:
    r = api.post("/v1/kb/search", json={"query": query, "k": 5}, headers=shop.headers(Role.service))
    assert r.status_code == 200, r.text
    hits: list[dict[str, object]] = r.json()["hits"]
    return hits


def _store_price(runtime: Runtime, shop: ShopKeys, text: str) -> tuple[Decimal, list[Decimal]]:
    with runtime.sessions() as session:
        (info,) = product_lookup(session, shop.shop_id, text, [])
    return info.price, [v.price for v in info.variants]


def test_import_then_search_finds_the_card_and_prices_come_from_the_store(
    api: TestClient, runtime: Runtime, shop_a: ShopKeys
) -> None:
    r = api.post(
        "/v1/kb/products/import",
        files={"file": ("商品.csv", PRODUCTS.encode("gbk"))},
        headers=shop_a.headers(),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (2, 0, 0)
    assert body["created_skus"] == ["QJ-5081", "MT-220"]
    assert body["index"]["indexed"] == 2 and body["index_error"] is None

    hits = _search(api, shop_a, "qj5081 奶油白的还有吗")
    top = hits[0]
    assert (top["sku"], top["matched_by"], top["doc_type"]) == ("QJ-5081", "exact", "product")
    assert "奶油白" in str(top["text"]) and "129" not in str(top["text"]), "prices are never indexed"
    assert _store_price(runtime, shop_a, "QJ-5081") == (Decimal("129.00"), [Decimal("129.00")] * 2)

    again = _import(api, shop_a, "商品.csv", PRODUCTS.encode("gbk"))
    assert again.json()["unchanged"] == 2 and again.json()["index"] is None, "a re-import does no work"

    cheaper = PRODUCTS.replace(",129,99,", ",109,99,").replace(",129,,3", ",119,,3")
    r = _import(api, shop_a, "商品.csv", cheaper.encode("utf-8-sig"))
    body = r.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 1, 1), r.text
    assert body["updated_skus"] == ["QJ-5081"]
    assert body["index"]["indexed"] == 0, "a price change leaves the card as it is"
    assert _store_price(runtime, shop_a, "QJ-5081 多少钱") == (
        Decimal("109.00"),
        [Decimal("109.00"), Decimal("119.00")],
    )
    assert _search(api, shop_a, "QJ-5081")[0]["sku"] == "QJ-5081"


def test_a_bad_row_imports_nothing_and_keeps_catalog_and_index(
    api: TestClient, runtime: Runtime, shop_a: ShopKeys
) -> None:
    assert _import(api, shop_a, "商品.csv", PRODUCTS.encode()).status_code == 200
    broken = (
        PRODUCTS.replace("山野 明前龙井 250g", "山野 明前龙井 250g 新包装")
        + "HB-001,山野 野生核桃 500g,坚果,山野,59,49,20,,,\n"
        + "HB-002,山野 碧根果,坚果,山野,五十九,,20,,,\n"
    )
    r = _import(api, shop_a, "新品.csv", broken.encode())
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_input"
    assert r.json()["detail"].startswith(
        "文件 '新品.csv', 第 6 行, 字段 'price': 共 1 处错误，未导入任何数据。"
    )

    with runtime.sessions() as session:
        repo = ProductRepository(session)
        assert repo.count(shop_a.shop_id) == 2 and repo.get_by_sku(shop_a.shop_id, "HB-001") is None
        tea = repo.get_by_sku(shop_a.shop_id, "MT-220")
        assert tea is not None and tea.title == "山野 明前龙井 250g"
    assert _search(api, shop_a, "MT-220")[0]["title"] == "山野 明前龙井 250g"
    assert all(h["sku"] != "HB-001" for h in _search(api, shop_a, "HB-001 野生核桃"))


def test_json_and_xlsx_formats_and_roles(api: TestClient, shop_a: ShopKeys) -> None:
    products = [
        {
            "sku": "JS-300",
            "title": "清居 竹纤维抹布 10 片装",
            "category": "家居日用",
            "price": 19.9,
            "stock": 100,
            "variants": [{"name": "灰色", "sku_suffix": "GY", "stock": 60}, {"name": "米色", "stock": 40}],
        }
    ]
    r = _import(api, shop_a, "p.json", json.dumps(products, ensure_ascii=False).encode())
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    assert _search(api, shop_a, "JS300-GY")[0]["sku"] == "JS-300"

    assert _import(api, shop_a, "p.json", b"{}", role=Role.agent).status_code == 403
    bad = _import(api, shop_a, "p.xls", b"x")
    assert bad.status_code == 400 and "不支持" in bad.json()["detail"]


def test_a_large_file_runs_as_a_job(api: TestClient, shop_a: ShopKeys) -> None:
    products = [
        {"sku": f"BIG-{n}", "title": f"山野 礼盒 {n} 号", "category": "礼盒", "price": 88 + n, "stock": n}
        for n in range(3)
    ]
    # Whitespace pads the file past the inline limit without adding products to embed.
    data = json.dumps({"products": products}, ensure_ascii=False).encode() + b" " * 210_000
    r = api.post("/v1/kb/products/import", files={"file": ("big.json", data)}, headers=shop_a.headers())
    assert r.status_code == 202, r.text
    job = api.get(f"/v1/jobs/{r.json()['job_id']}", headers=shop_a.headers()).json()
    assert job["status"] == "succeeded" and job["kind"] == "kb_product_import", job
    assert job["result"]["created"] == 3 and job["result"]["index"]["indexed"] == 3
    assert job["progress"] == 1.0
