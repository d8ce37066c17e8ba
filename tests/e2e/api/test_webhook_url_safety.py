"""An owner's key cannot point the handoff webhook at the server's own network (SSRF)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ShopKeys

SECRET = "whsec_test_0123456789"


@pytest.mark.e2e
@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8:8080/admin",
        "http://[::1]:6379/",
        "http://127.0.0.2/x",  # loopback beyond the allowed 127.0.0.1
    ],
)
def test_private_webhook_urls_are_refused_and_nothing_is_saved(
    client: TestClient, shop_a: ShopKeys, url: str
) -> None:
    r = client.put("/v1/shop/webhook", json={"url": url, "secret": SECRET}, headers=shop_a.headers())
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "outbound_url_refused" and "SIYU_OUTBOUND_ALLOW" in r.json()["detail"]
    assert client.get("/v1/shop/webhook", headers=shop_a.headers()).json()["url"] is None


@pytest.mark.e2e
def test_an_allowed_address_is_saved(client: TestClient, shop_a: ShopKeys) -> None:
    r = client.put(
        "/v1/shop/webhook",
        json={"url": "http://127.0.0.1:9/hook", "secret": SECRET},
        headers=shop_a.headers(),
    )
    assert r.status_code == 200 and r.json()["url"] == "http://127.0.0.1:9/hook", r.text
