from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import ApiKey, Role
from tests.conftest import ShopKeys

pytestmark = pytest.mark.e2e


def test_health_is_open_and_reports_the_engine(client: TestClient) -> None:
    body = client.get("/v1/health").json()
    assert body["status"] == "ok"
    assert body["engine"] == "offline"
    assert body["embedder"] == "e5-small"


def test_missing_and_unknown_keys_are_401(client: TestClient) -> None:
    r = client.get("/v1/shop")
    assert r.status_code == 401
    assert r.json()["error"] == "unauthenticated"
    r = client.get("/v1/shop", headers={"Authorization": "Bearer sk_siyu_nope"})
    assert r.status_code == 401


def test_wrong_role_is_403(client: TestClient, shop_a: ShopKeys) -> None:
    r = client.get("/v1/keys", headers=shop_a.headers(Role.agent))
    assert r.status_code == 403
    assert r.json()["error"] == "forbidden"
    assert client.get("/v1/keys", headers=shop_a.headers(Role.owner)).status_code == 200


def test_keys_are_stored_hashed_and_revocable(client: TestClient, shop_a: ShopKeys, session: Session) -> None:
    raw = shop_a.keys[Role.agent]
    stored = list(session.scalars(select(ApiKey.key_hash)))
    assert raw not in stored
    assert all(len(h) == 64 for h in stored)
    created = client.post("/v1/keys", json={"role": "service"}, headers=shop_a.headers()).json()
    new_headers = {"Authorization": f"Bearer {created['api_key']}"}
    assert client.post("/v1/keys", json={"role": "agent"}, headers=new_headers).status_code == 403
    assert client.delete(f"/v1/keys/{created['key_id']}", headers=shop_a.headers()).status_code == 204
    assert client.get("/v1/keys", headers=new_headers).status_code == 401


def test_admin_creates_shops_and_owners_cannot(client: TestClient, admin_key: str, shop_a: ShopKeys) -> None:
    r = client.post("/v1/shops", json={"name": "新店"}, headers={"Authorization": f"Bearer {admin_key}"})
    assert r.status_code == 201
    owner = r.json()["owner_key"]["api_key"]
    assert client.get("/v1/shop", headers={"Authorization": f"Bearer {owner}"}).json()["name"] == "新店"
    again = client.post("/v1/shops", json={"name": "新店"}, headers={"Authorization": f"Bearer {admin_key}"})
    assert (again.status_code, again.json()["error"]) == (409, "already_exists")
    assert client.post("/v1/shops", json={"name": "x"}, headers=shop_a.headers()).status_code == 403


def test_validation_errors_keep_the_envelope(client: TestClient, shop_a: ShopKeys) -> None:
    r = client.post("/v1/keys", json={"role": "boss"}, headers=shop_a.headers())
    assert r.status_code == 422
    assert r.json()["error"] == "validation_error"
    assert "role" in r.json()["detail"]


def test_the_key_list_shows_each_key_once_and_marks_the_revoked(client: TestClient, shop_a: ShopKeys) -> None:
    created = client.post(
        "/v1/keys", json={"role": "service", "name": "小程序"}, headers=shop_a.headers()
    ).json()
    assert set(created) == {"key_id", "role", "api_key"} and created["role"] == "service"
    assert client.delete(f"/v1/keys/{created['key_id']}", headers=shop_a.headers()).status_code == 204

    listed = client.get("/v1/keys", headers=shop_a.headers()).json()

    revoked = [k for k in listed if k["revoked"]]
    assert [(k["key_id"], k["role"], k["prefix"], k["name"]) for k in revoked] == [
        (created["key_id"], "service", created["api_key"][:12], "小程序")
    ]
    assert sorted(k["role"] for k in listed if not k["revoked"]) == ["agent", "owner", "service"]
    assert all(set(k) == {"key_id", "role", "prefix", "name", "created_at", "revoked"} for k in listed)


def test_a_new_shop_answers_with_its_id_and_its_owner_key(client: TestClient, admin_key: str) -> None:
    r = client.post("/v1/shops", json={"name": "鹿鸣"}, headers={"Authorization": f"Bearer {admin_key}"})
    created = r.json()
    assert set(created) == {"shop_id", "name", "created_at", "owner_key"}
    assert (
        set(created["owner_key"]) == {"key_id", "role", "api_key"} and created["owner_key"]["role"] == "owner"
    )

    owner = {"Authorization": f"Bearer {created['owner_key']['api_key']}"}
    shop = client.get("/v1/shop", headers=owner).json()

    assert shop == {"shop_id": created["shop_id"], "name": "鹿鸣", "created_at": created["created_at"]}
    assert [k["key_id"] for k in client.get("/v1/keys", headers=owner).json()] == [
        created["owner_key"]["key_id"]
    ]
