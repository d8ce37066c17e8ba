"""Numbers are checked where they come in: an id no column can hold is a 422, an id in range that
names nothing is a 404, and a file cell too large for its column is a line-and-field error; none
of them reaches the database driver as an overflow (a 500). Runs on SQLite and on Postgres (the
integration pass), whose 32-bit `integer` and 64-bit `bigint` are the limits that matter."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.params import ID_MAX
from tests.conftest import ShopKeys

pytestmark = pytest.mark.e2e

IMPOSSIBLE = [0, -1, ID_MAX + 1, 2**63, 36893488147419103231, -953273690990462500864]


def _id_routes(client: TestClient) -> list[tuple[str, str, str]]:
    """(method, path template, id parameter) of every operation with an integer path id."""
    routes = []
    for path, item in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        for method, operation in item.items():
            for param in operation.get("parameters", []):
                if param["in"] == "path" and param["schema"].get("type") == "integer":
                    routes.append((method.upper(), path, param["name"]))
    return routes


def _call(client: TestClient, shop: ShopKeys, method: str, path: str, **params: Any) -> Any:
    # The one id route with a body: a staff message (an owner key posts as staff).
    body = {"text": "您好"} if path.endswith("/messages") else None
    return client.request(method, path.format(**params), json=body, headers=shop.headers())


def test_every_integer_path_id_is_covered(client: TestClient) -> None:
    assert {(m, p) for m, p, _ in _id_routes(client)} >= {
        ("GET", "/v1/conversations/{conversation_id}"),
        ("POST", "/v1/conversations/{conversation_id}/messages"),
        ("POST", "/v1/copy/drafts/{draft_id}/approve"),
        ("POST", "/v1/copy/drafts/{draft_id}/reject"),
        ("GET", "/v1/kb/documents/{document_id}"),
        ("DELETE", "/v1/kb/documents/{document_id}"),
        ("DELETE", "/v1/keys/{key_id}"),
        ("POST", "/v1/handoffs/{handoff_id}/claim"),
        ("POST", "/v1/handoffs/{handoff_id}/release"),
        ("POST", "/v1/handoffs/{handoff_id}/resolve"),
    }


@pytest.mark.parametrize("value", IMPOSSIBLE)
def test_an_impossible_id_is_a_422(client: TestClient, shop_a: ShopKeys, value: int) -> None:
    for method, path, name in _id_routes(client):
        r = _call(client, shop_a, method, path, **{name: value})
        assert r.status_code == 422, (method, path, r.text)
        assert r.json()["error"] == "validation_error" and f"path.{name}" in r.json()["detail"]


def test_an_unknown_id_in_range_is_a_404(client: TestClient, shop_a: ShopKeys) -> None:
    for method, path, name in _id_routes(client):
        for value in (2**31, ID_MAX):
            r = _call(client, shop_a, method, path, **{name: value})
            assert r.status_code == 404, (method, path, value, r.text)
            assert r.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "path", ["/v1/copy/drafts", "/v1/reminders", "/v1/segments/vip/customers", "/v1/jobs"]
)
def test_offsets_and_limits_are_bounded(client: TestClient, shop_a: ShopKeys, path: str) -> None:
    name = "limit" if path == "/v1/jobs" else "offset"
    r = client.get(path, params={name: ID_MAX + 1}, headers=shop_a.headers())
    assert r.status_code == 422 and f"query.{name}" in r.json()["detail"], r.text
    if name == "offset":
        r = client.get(path, params={"offset": ID_MAX}, headers=shop_a.headers())
        assert r.status_code == 200, r.text


def test_body_ids_are_bounded(client: TestClient, shop_a: ShopKeys) -> None:
    r = client.post(
        "/v1/kb/search",
        json={"query": "退货", "filters": {"doc_ids": [ID_MAX + 1]}},
        headers=shop_a.headers(),
    )
    assert r.status_code == 422 and "filters.doc_ids.0" in r.json()["detail"], r.text


def test_a_product_cell_too_large_for_its_column_names_file_line_and_field(
    client: TestClient, shop_a: ShopKeys
) -> None:
    # 2147483648 fits SQLite's integers but not Postgres' `integer`: it used to be a 500 there.
    for stock in ("2147483648", "99999999999999999999"):
        data = f"sku,title,category,price,stock\nA-1,杯子,家居,9,1\nA-2,碗,家居,9,{stock}\n".encode()
        r = client.post(
            "/v1/kb/products/import", files={"file": ("商品.csv", data)}, headers=shop_a.headers()
        )
        assert r.status_code == 400, r.text
        assert r.json() == {
            "error": "invalid_input",
            "detail": "文件 '商品.csv', 第 3 行, 字段 'stock': 共 1 处错误，未导入任何数据。"
            f"第 3 行 字段 'stock': 库存 '{stock}' 超出上限 2147483647",
        }


def test_a_sales_cell_too_large_for_its_column_names_file_line_and_field(
    client: TestClient, shop_a: ShopKeys
) -> None:
    data = b"sku,date,qty,on_hand\nA,2025-03-01,3,2147483648\n"
    r = client.post("/v1/sales/import", files={"file": ("sales.csv", data)}, headers=shop_a.headers())
    assert r.status_code == 400, r.text
    assert r.json()["detail"] == (
        "文件 'sales.csv', 第 2 行, 字段 'on_hand': 共 1 处错误，未导入任何数据。"
        "第 2 行 字段 'on_hand': 库存 '2147483648' 超出上限 2147483647"
    )
