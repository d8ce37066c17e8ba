"""`POST /v1/copy/moments`, the drafts workflow and the content calendar over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from agents.copywriter.generate import count_emoji, count_hashtags
from agents.jobs import Enqueue, run_job
from agents.runtime import Runtime
from api.app import create_app
from api.cli import app as cli_app
from api.cli import copy as cli_copy
from api.cli.demo import STEPS, TOUR_MOMENTS_SKU
from api.routers.jobs import get_enqueue
from evals.doubles.llm import ScriptedChatModel, scripted_gateway
from store.models import Product, Role
from store.settings import Settings
from tests.conftest import ShopKeys
from tests.unit.retrieval.fakes import HashEmbedder

pytestmark = pytest.mark.e2e

CUP = {
    "sku": "ST-771",
    "title": "清居 316不锈钢保温杯 500ml",
    "category": "家居日用",
    "subcategory": "杯壶",
    "brand": "清居",
    "description": "一键弹盖单手开合，杯口圆润不刮嘴。",
    "attributes": {"容量": "500ml", "材质": "316不锈钢内胆", "保温时长": "12小时", "产地": "浙江永康"},
    "price": Decimal("89.00"),
    "floor_price": Decimal("69.00"),
    "stock": 400,
}
CREAM = {
    "sku": "MZ-210",
    "title": "清研 神经酰胺修护面霜 50g",
    "category": "美妆护肤",
    "subcategory": "面霜",
    "brand": "清研",
    "description": "质地轻盈，全网最低价。",
    "attributes": {"净含量": "50g", "肤质": "干皮、敏感肌", "功效": "美白祛斑"},
    "price": Decimal("129.90"),
    "floor_price": Decimal("99.00"),
    "stock": 5,
}


def add_products(sessions: sessionmaker[Session], shop_id: int, *rows: dict[str, object]) -> None:
    with sessions() as s:
        for row in rows:
            s.add(Product(shop_id=shop_id, **row))
        s.commit()


@pytest.fixture
def world(runtime: Runtime, shop_a: ShopKeys) -> Runtime:
    runtime.put("embedder", HashEmbedder())
    add_products(runtime.sessions, shop_a.shop_id, CUP, CREAM)
    return runtime


def moments(client: TestClient, shop: ShopKeys, **body: object) -> dict:  # type: ignore[type-arg]
    payload = {"skus": ["ST-771"], "goal": "种草", "audience": "白领", "tone": "亲切"} | body
    r = client.post("/v1/copy/moments", json=payload, headers=shop.headers())
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_variants_are_checked_exact_and_stored_as_drafts(
    client: TestClient, world: Runtime, shop_a: ShopKeys
) -> None:
    body = moments(client, shop_a, max_chars=100, emoji=3, hashtags=2, variants=4)
    variants = body["variants"]
    assert len(variants) == 4 and len({v["text"] for v in variants}) == 4
    for v in variants:
        text = v["text"]
        assert v["chars"] == len(text) <= 100
        assert v["emoji"] == count_emoji(text) == 3
        assert v["hashtags"] == count_hashtags(text) == 2
        assert v["constraints_met"] and v["compliance"]["ok"] and v["facts"]["ok"]
        assert v["compliance"]["category"] == "general" and v["novelty"]["ok"]
        assert v["engine"] == "offline" and v["prompt_version"].startswith("tpl-")
        assert "¥89" in text and "316不锈钢保温杯" in text
    drafts = client.get("/v1/copy/drafts", params={"status": "draft"}, headers=shop_a.headers()).json()
    assert sorted(d["draft_id"] for d in drafts) == sorted(v["draft_id"] for v in variants)
    d = drafts[0]
    assert d["compliance"]["ok"] is True and d["facts"] == {"ok": True, "mismatches": []}
    prov = d["provenance"]
    assert prov["engine"] == "offline" and prov["templates"]["hook"].startswith("hooks/种草/亲切#")
    assert prov["request"]["max_chars"] == 100 and prov["product_prices"] == {"ST-771": "89.00"}
    assert prov["novelty"]["threshold"] == 0.97 and prov["novelty"]["embedder"].startswith("hash-")


def test_prices_come_from_the_store(client: TestClient, world: Runtime, shop_a: ShopKeys) -> None:
    with world.sessions() as s:
        s.execute(update(Product).where(Product.sku == "ST-771").values(price=Decimal("79.50")))
        s.commit()
    body = moments(client, shop_a, goal="促销", variants=2)
    assert all("¥79.5" in v["text"] and "¥89" not in v["text"] for v in body["variants"])


def test_cosmetics_rules_apply_and_bad_record_text_stays_out(
    client: TestClient, world: Runtime, shop_a: ShopKeys
) -> None:
    body = moments(client, shop_a, skus=["MZ-210"], audience="Z世代", tone="活泼", variants=3)
    for v in body["variants"]:
        assert v["compliance"]["category"] == "cosmetics" and v["compliance"]["ok"]
        assert "美白" not in v["text"] and "最低" not in v["text"]


def test_promo_text_is_checked(client: TestClient, world: Runtime, shop_a: ShopKeys) -> None:
    ok = moments(client, shop_a, goal="促销", promo_text="满199减30", variants=1)
    assert "满199减30" in ok["variants"][0]["text"]
    fixed = moments(client, shop_a, goal="促销", promo_text="全网最低，仅此一天", variants=1)
    assert "超值，仅此一天" in fixed["variants"][0]["text"]  # the safe rewrite
    for promo, code in (
        ("国家级品质，仅此一天", "unsafe_promo_text"),
        ("今天到手价¥59", "unsafe_promo_text"),
    ):
        r = client.post(
            "/v1/copy/moments",
            json={"skus": ["ST-771"], "goal": "促销", "promo_text": promo},
            headers=shop_a.headers(),
        )
        assert (r.status_code, r.json()["error"]) == (400, code), promo


def test_errors_roles_and_tenancy(
    client: TestClient, world: Runtime, shop_a: ShopKeys, shop_b: ShopKeys
) -> None:
    r = client.post("/v1/copy/moments", json={"skus": ["NOPE-1"]}, headers=shop_a.headers())
    assert (r.status_code, r.json()["error"]) == (404, "not_found")
    # Shop B has no such product: A's catalog is not B's.
    r = client.post("/v1/copy/moments", json={"skus": ["ST-771"]}, headers=shop_b.headers())
    assert r.status_code == 404
    r = client.post("/v1/copy/moments", json={"skus": ["ST-771"]}, headers=shop_a.headers(Role.agent))
    assert r.status_code == 403
    r = client.post(
        "/v1/copy/moments",
        json={"skus": ["ST-771"], "max_chars": 40, "emoji": 10, "hashtags": 5},
        headers=shop_a.headers(),
    )
    assert (r.status_code, r.json()["error"]) == (400, "moments_constraints_unsatisfiable")
    r = client.post("/v1/copy/moments", json={"skus": ["ST-771"], "variants": 6}, headers=shop_a.headers())
    assert r.status_code == 422


def test_approve_reject_and_another_shops_draft(
    client: TestClient, world: Runtime, shop_a: ShopKeys, shop_b: ShopKeys
) -> None:
    first, second = (v["draft_id"] for v in moments(client, shop_a, variants=2)["variants"])
    r = client.post(f"/v1/copy/drafts/{first}/approve", headers=shop_a.headers())
    assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["decided_at"]
    assert client.post(f"/v1/copy/drafts/{first}/approve", headers=shop_a.headers()).status_code == 200
    r = client.post(f"/v1/copy/drafts/{first}/reject", headers=shop_a.headers())
    assert (r.status_code, r.json()["error"]) == (409, "draft_already_decided")
    assert (
        client.post(f"/v1/copy/drafts/{second}/reject", headers=shop_a.headers()).json()["status"]
        == "rejected"
    )
    for path in (f"/v1/copy/drafts/{first}/approve", f"/v1/copy/drafts/{second}/reject"):
        r = client.post(path, headers=shop_b.headers())
        assert (r.status_code, r.json()["error"]) == (404, "not_found")
    assert client.get("/v1/copy/drafts", headers=shop_b.headers()).json() == []
    approved = client.get("/v1/copy/drafts?status=approved", headers=shop_a.headers()).json()
    assert [d["draft_id"] for d in approved] == [first]


def test_approved_posts_feed_the_novelty_check(
    settings: Settings, db_engine: Engine, session_factory: sessionmaker[Session], shop_a: ShopKeys
) -> None:
    strict = Runtime(
        settings=settings.model_copy(update={"copy_novelty_threshold": 0.3}),
        engine=db_engine,
        sessions=session_factory,
    )
    strict.put("embedder", HashEmbedder())
    add_products(strict.sessions, shop_a.shop_id, CUP)
    with TestClient(create_app(runtime=strict)) as client:
        one = moments(client, shop_a, variants=1)["variants"][0]
        assert one["novelty"] == {"ok": True, "max_similarity": 0.0, "nearest": None}
        client.post(f"/v1/copy/drafts/{one['draft_id']}/approve", headers=shop_a.headers())
        body = moments(client, shop_a, variants=2)
    # Nothing is under a 0.3 cosine of a post about the same cup: the least similar are returned, flagged.
    assert body["dropped"]["novelty"] > 0
    nearest = [v["novelty"]["nearest"] for v in body["variants"]]
    assert nearest[0] == f"approved:{one['draft_id']}"
    assert all(not v["novelty"]["ok"] and v["compliance"]["ok"] for v in body["variants"])


def test_llm_engine_first_then_offline_fallback(
    client: TestClient, world: Runtime, shop_a: ShopKeys, scripted_llm: ScriptedChatModel
) -> None:
    world.put("llm", scripted_gateway(scripted_llm))
    bad = {"text": "国家级保温杯，只要¥19", "hashtags": []}
    scripted_llm.add(
        {"text": "早上装满500ml热水\n316不锈钢保温杯，保温12小时，售价¥89", "hashtags": ["通勤好物"]},
        bad,
        bad,
        bad,
    )
    body = moments(client, shop_a, variants=2, max_chars=90, emoji=2, hashtags=2)
    assert [v["engine"] for v in body["variants"]] == ["llm", "offline"]
    llm = body["variants"][0]
    assert llm["prompt_version"] == "1" and llm["emoji"] == 2 and llm["hashtags"] == 2
    assert "#通勤好物" in llm["text"] and llm["facts"]["ok"] and llm["compliance"]["ok"]
    assert body["dropped"]["compliance"] == 3
    # The second LLM variant was asked to differ from the first.
    assert "早上装满500ml热水" in scripted_llm.calls[1].messages[-1]["content"]


@pytest.fixture
def inline_client(world: Runtime) -> Iterator[TestClient]:
    def inline(kind: str, job_id: str, shop_id: int) -> None:
        run_job(world, job_id, shop_id)

    enqueue: Enqueue = inline
    app = create_app(runtime=world)
    app.dependency_overrides[get_enqueue] = lambda: enqueue
    with TestClient(app) as c:
        yield c


def test_calendar_job_and_csv(inline_client: TestClient, shop_a: ShopKeys, shop_b: ShopKeys) -> None:
    r = inline_client.post(
        "/v1/copy/calendar", json={"start_date": "2026-12-01", "days": 10}, headers=shop_a.headers()
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    job = inline_client.get(f"/v1/jobs/{job_id}", headers=shop_a.headers()).json()
    assert job["status"] == "succeeded" and job["kind"] == "copy_calendar"
    plan = job["result"]
    assert len(plan["items"]) == 10 and plan["promo_ratio"] <= 0.3
    # No orders at all: both have unbounded cover, so both are overstocked and may be promoted.
    assert {i["sku"] for i in plan["items"] if i["kind"] == "促销"} <= {"ST-771", "MZ-210"}
    csv = inline_client.get(f"/v1/copy/calendar/{job_id}.csv", headers=shop_a.headers())
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0] == "date,slot,kind,goal,sku,title,cover_days,reason" and len(lines) == 11
    r = inline_client.get(f"/v1/copy/calendar/{job_id}.csv", headers=shop_b.headers())
    assert (r.status_code, r.json()["error"]) == (404, "not_found")
    r = inline_client.post(
        "/v1/copy/calendar",
        json={"start_date": "2026-12-01", "days": 3, "per_day": 4},
        headers=shop_a.headers(),
    )
    assert r.status_code == 422


def test_tour_steps_summarize_real_responses(client: TestClient, world: Runtime, shop_a: ShopKeys) -> None:
    add_products(world.sessions, shop_a.shop_id, CUP | {"sku": TOUR_MOMENTS_SKU})
    steps = [s for s in STEPS if s.path.startswith("/v1/copy/")]
    assert [s.path for s in steps] == ["/v1/copy/moments", "/v1/copy/check"]
    summaries = []
    for step in steps:
        assert step.role is not None
        r = client.request(step.method, step.path, json=step.body, headers=shop_a.headers(step.role))
        assert r.status_code == 200, r.text
        summaries.append(step.summarize(r.json()))
    assert summaries[0].startswith("2 条变体 (已存为草稿):") and summaries[0].count("广告法✓ 事实✓") == 2
    assert summaries[1].startswith("3 处违规: 全网最低价→优惠价, 国 家 级→")
    assert "改写: ✨优惠价✨" in summaries[1]


def test_cli_moments(world: Runtime, shop_a: ShopKeys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_copy, "runtime", lambda: world)
    runner = CliRunner()
    args = [
        "copy",
        "moments",
        "--sku",
        "ST-771",
        "--goal",
        "促销",
        "--audience",
        "白领",
        "--shop",
        shop_a.name,
    ]
    result = runner.invoke(cli_app, [*args, "--variants", "2", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert len(body["variants"]) == 2 and all(v["compliance"]["ok"] for v in body["variants"])
    result = runner.invoke(cli_app, [*args, "--variants", "1"])
    assert result.exit_code == 0, result.output
    assert "广告法 ✓" in result.stdout and "事实 ✓" in result.stdout and "¥89" in result.stdout
    bad = runner.invoke(cli_app, [*args, "--tone", "严肃"])
    assert bad.exit_code == 2 and "未知语气" in bad.output
    missing = runner.invoke(cli_app, ["copy", "moments", "--sku", "NOPE", "--shop", shop_a.name])
    assert missing.exit_code == 1 and "not_found" in missing.output
