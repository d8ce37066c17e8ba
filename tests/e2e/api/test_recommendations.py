"""Recommendations, reminders, segments and the model refresh over HTTP, on the demo shop."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from agents.jobs import run_job
from agents.runtime import Runtime
from api.app import create_app
from api.routers.jobs import get_enqueue
from api.routers.recommend import get_now
from retrieval.embedding import Embedder
from store.demo import load_demo
from store.demo.loader import DemoKeys
from store.models import Role
from tests.e2e.api.helpers import ViaTestClient

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

END = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


@dataclass
class Api:
    client: TestClient
    keys: DemoKeys
    runtime: Runtime

    def headers(self, role: Role = Role.owner) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys.for_role(role)}"}


@pytest.fixture
def api(runtime: Runtime, memo_embedder: Embedder, tmp_path: Path) -> Iterator[Api]:
    report = load_demo(runtime.sessions, end_date=END, keys_path=tmp_path / "keys.json", customers=200)
    runtime.put("embedder", memo_embedder)
    app = create_app(runtime=runtime)
    app.dependency_overrides[get_now] = lambda: NOW
    # Jobs run inline, in the request, as a worker would run them.
    app.dependency_overrides[get_enqueue] = lambda: (
        lambda kind, job_id, shop_id: run_job(runtime, job_id, shop_id)
    )
    with TestClient(app) as client:
        yield Api(client, report.keys, runtime)


def test_segments_then_a_vip_customers_recommendations(api: Api) -> None:
    r = api.client.get("/v1/segments", headers=api.headers(Role.agent))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["as_of"] == "2026-11-22" and body["compare_to"] == "2026-10-23"
    assert [s["segment"] for s in body["segments"]] == [
        "new",
        "active",
        "vip",
        "dormant",
        "at_risk",
        "high_potential",
    ]
    assert sum(s["count"] for s in body["segments"]) == body["customers"]
    for s in body["segments"]:
        assert s["delta"] == s["count"] - s["previous_count"] and s["next_action"] and s["copy_goal"]

    r = api.client.get("/v1/segments/vip/customers?limit=2", headers=api.headers())
    assert r.status_code == 200, r.text
    page = r.json()
    vip_count = next(s["count"] for s in body["segments"] if s["segment"] == "vip")
    assert page["total"] == vip_count and page["label"] == "忠诚/VIP" and len(page["items"]) == 2
    ref = page["items"][0]["customer_ref"]

    r = api.client.get(f"/v1/customers/{ref}/recommendations?k=6", headers=api.headers(Role.agent))
    assert r.status_code == 200, r.text
    recs = r.json()
    assert recs["customer_ref"] == ref and recs["personalised"] is True
    assert recs["segment"]["segment"] == "vip" and recs["segment"]["copy_goal"] == "会员日"
    assert len(recs["items"]) == 6
    for item in recs["items"]:
        assert set(item) == {"sku", "title", "price", "score", "reason_code", "reason", "because_of"}
        assert isinstance(item["price"], str) and Decimal(item["price"]) > 0
        assert item["reason"] and item["title"]


def test_cart_recommendations_for_a_channel_and_errors(api: Api) -> None:
    r = api.client.post(
        "/v1/recommendations", json={"context_skus": ["MB-101"], "k": 4}, headers=api.headers(Role.service)
    )
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == 4 and "MB-101" not in [i["sku"] for i in items]
    assert any(i["reason_code"] == "with_context" and i["because_of"] == "MB-101" for i in items)

    r = api.client.post("/v1/recommendations", json={"customer_ref": "wx_nobody"}, headers=api.headers())
    assert r.status_code == 404 and r.json() == {"error": "not_found", "detail": "顾客 'wx_nobody' 不存在"}
    r = api.client.get("/v1/customers/wx_nobody/recommendations", headers=api.headers())
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = api.client.get("/v1/segments/土豪/customers", headers=api.headers())
    assert r.status_code == 404 and "未知的客户分层" in r.json()["detail"]
    r = api.client.post("/v1/recommendations", json={"k": 0}, headers=api.headers())
    assert r.status_code == 422 and r.json()["error"] == "validation_error"
    # A channel posts carts; it does not read customers' profiles, segments or reminders.
    for path in ("/v1/segments", "/v1/reminders", "/v1/customers/wx_000001/recommendations"):
        assert api.client.get(path, headers=api.headers(Role.service)).status_code == 403
    r = api.client.post("/v1/recommendations/refresh", headers=api.headers(Role.agent))
    assert r.status_code == 403


def test_reminders_due_this_week(api: Api) -> None:
    r = api.client.get("/v1/reminders?due_within_days=7&limit=5", headers=api.headers(Role.agent))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["as_of"] == "2026-11-22" and body["due_within_days"] == 7
    assert body["total"] > 0 and len(body["items"]) == min(5, body["total"])
    for item in body["items"]:
        assert abs((date.fromisoformat(item["due_date"]) - END).days) <= 7
        assert item["reason"].endswith("快用完了") and item["customer_ref"].startswith("wx_")


def test_refresh_is_a_job_with_progress(api: Api) -> None:
    r = api.client.post("/v1/recommendations/refresh", headers=api.headers())
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    assert r.json()["kind"] == "rec_refresh"
    job = api.client.get(f"/v1/jobs/{job_id}", headers=api.headers()).json()
    assert job["status"] == "succeeded" and job["progress"] == 1.0, job
    assert job["result"]["version"] == job_id and job["result"]["products"] == 88
    recs = api.client.post("/v1/recommendations", json={"k": 3}, headers=api.headers()).json()
    assert recs["model_version"] == job_id
    assert [i["reason"] for i in recs["items"]] == ["本店热销"] * 3


def test_the_demo_tour_steps_of_the_recommender(api: Api) -> None:
    # Imported here: `api.cli` pulls in every agent's CLI, and only this test needs it.
    from api.cli.demo import STEPS, TOUR_CUSTOMER, run_tour

    steps = [s for s in STEPS if s.agent == "推荐"]
    assert len(steps) == 3
    with httpx2.Client(transport=ViaTestClient(api.client), base_url="http://siyu.test") as client:
        results = run_tour(client, api.keys, steps)
    assert [r.outcome for r in results] == ["ok", "ok", "ok"], [r.summary for r in results]
    segments, recs, reminders = (r.summary for r in results)
    assert "位顾客 (对比 30 天前)" in segments and "忠诚/VIP" in segments
    assert f"{TOUR_CUSTOMER} 属于「" in recs and "推荐: " in recs and "(" in recs
    assert reminders.startswith("本周 ") and "回购提醒" in reminders
