from __future__ import annotations

import json
from typing import Any

import httpx2

from api.cli.demo import STEPS, TourStep, run_tour
from store.demo.loader import DemoKeys
from store.models import Role

KEYS = DemoKeys(shop_id=3, shop_name="鹿鸣优选", owner="sk_owner", agent="sk_agent", service="sk_service")


def service(
    paths: dict[str, list[str]], responses: dict[tuple[str, str], httpx2.Response]
) -> tuple[httpx2.Client, list[httpx2.Request]]:
    """A fake siyu service: an OpenAPI document plus canned responses; records the requests."""
    seen: list[httpx2.Request] = []

    def handle(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        if request.url.path == "/openapi.json":
            return httpx2.Response(
                200, json={"paths": {p: {m.lower(): {} for m in ms} for p, ms in paths.items()}}
            )
        key = (request.method, request.url.path)
        return responses.get(key, httpx2.Response(404, json={"detail": "Not Found"}))

    return httpx2.Client(transport=httpx2.MockTransport(handle), base_url="http://siyu.test"), seen


def summary(body: Any) -> str:
    return f"回复 {body['reply']}"


def test_steps_run_with_the_right_key_and_unbuilt_endpoints_are_skipped() -> None:
    steps = [
        TourStep("系统", "健康检查", "GET", "/v1/health", None, lambda b: b["status"]),
        TourStep("客服", "顾客问物流", "POST", "/v1/chat", Role.service, summary, body={"text": "到哪了"}),
        TourStep("预测", "补货建议", "GET", "/v1/restock", Role.owner, lambda b: str(b)),
        TourStep(
            "店主", "店铺订单", "GET", "/v1/shops/{shop_id}/orders", Role.owner, lambda b: str(len(b)),
            endpoint="/v1/shops/{shop_id}/orders",
        ),
    ]  # fmt: skip
    client, seen = service(
        {"/v1/health": ["GET"], "/v1/chat": ["POST"], "/v1/shops/{shop_id}/orders": ["GET"]},
        {
            ("GET", "/v1/health"): httpx2.Response(200, json={"status": "ok"}),
            ("POST", "/v1/chat"): httpx2.Response(200, json={"reply": "已发货"}),
            ("GET", "/v1/shops/3/orders"): httpx2.Response(200, json=[1, 2]),
        },
    )
    results = run_tour(client, KEYS, steps)
    assert [(r.outcome, r.status_code, r.summary) for r in results] == [
        ("ok", 200, "ok"),
        ("ok", 200, "回复 已发货"),
        ("skipped", None, "接口 GET /v1/restock 尚未实现"),
        ("ok", 200, "2"),
    ]
    sent = {(r.method, r.url.path): r for r in seen}
    assert "authorization" not in sent[("GET", "/v1/health")].headers
    assert sent[("POST", "/v1/chat")].headers["authorization"] == "Bearer sk_service"
    assert json.loads(sent[("POST", "/v1/chat")].read()) == {"text": "到哪了"}
    assert sent[("GET", "/v1/shops/3/orders")].headers["authorization"] == "Bearer sk_owner"
    assert ("GET", "/v1/restock") not in sent


def test_errors_are_reported_not_raised() -> None:
    steps = [
        TourStep("店主", "当前店铺", "GET", "/v1/shop", Role.owner, lambda b: b["name"]),
        TourStep("店主", "格式不符", "GET", "/v1/keys", Role.owner, lambda b: b["missing"]),
        TourStep("店主", "未路由", "GET", "/v1/other", Role.owner, lambda b: ""),
        TourStep("店主", "我们的 404", "GET", "/v1/mine", Role.owner, lambda b: ""),
    ]
    client, _ = service(
        {"/v1/shop": ["GET"], "/v1/keys": ["GET"], "/v1/other": ["GET"], "/v1/mine": ["GET"]},
        {
            ("GET", "/v1/shop"): httpx2.Response(
                401, json={"error": "unauthenticated", "detail": "缺少或无效的 API Key"}
            ),
            ("GET", "/v1/keys"): httpx2.Response(200, json={}),
            ("GET", "/v1/mine"): httpx2.Response(404, json={"error": "not_found", "detail": "订单不存在"}),
        },
    )
    results = run_tour(client, KEYS, steps)
    assert [(r.outcome, r.status_code) for r in results] == [
        ("failed", 401),
        ("failed", 200),
        ("skipped", 404),  # a bare FastAPI 404: the route is not built
        ("failed", 404),  # our own not_found is a real failure
    ]
    assert results[0].summary == "缺少或无效的 API Key"
    assert "missing" in results[1].summary


def test_without_openapi_steps_are_tried() -> None:
    def handle(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/v1/health":
            return httpx2.Response(200, json={"status": "ok"})
        return httpx2.Response(500, text="boom")

    client = httpx2.Client(transport=httpx2.MockTransport(handle), base_url="http://siyu.test")
    step = TourStep("系统", "健康检查", "GET", "/v1/health", None, lambda b: b["status"])
    assert [(r.outcome, r.summary) for r in run_tour(client, KEYS, [step])] == [("ok", "ok")]


def test_the_built_in_tour_summarizes_real_payloads() -> None:
    payloads: dict[str, Any] = {
        "/v1/health": {"status": "ok", "engine": "offline", "embedder": "e5-small", "database": "sqlite"},
        "/v1/shop": {"shop_id": 3, "name": "鹿鸣优选", "created_at": "2026-11-22T00:00:00"},
        "/v1/keys": [
            {"key_id": 1, "role": "owner", "revoked": False},
            {"key_id": 2, "role": "agent", "revoked": False},
            {"key_id": 3, "role": "service", "revoked": True},
        ],
    }
    assert [s.summarize(payloads[s.path]) for s in STEPS[:3]] == [
        "status=ok engine=offline embedder=e5-small db=sqlite",
        "店铺 鹿鸣优选 (shop_id=3)",
        "3 个 Key，角色: agent, owner",
    ]


def test_steps_chain_saved_values_into_later_paths() -> None:
    steps = [
        TourStep("客服", "开会话", "POST", "/v1/conversations", Role.service, lambda b: str(b["id"]),
                 saves=lambda b: {"conversation_id": b["id"]}),
        TourStep("客服", "转人工", "POST", "/v1/conversations/{conversation_id}/messages", Role.service,
                 lambda b: b["state"], body={"text": "转人工"},
                 saves=lambda b: {"handoff_id": b["handoff"]["id"]}),
        TourStep("客服", "认领", "POST", "/v1/handoffs/{handoff_id}/claim", Role.agent,
                 lambda b: b["status"]),
    ]  # fmt: skip
    client, seen = service(
        {
            "/v1/conversations": ["POST"],
            "/v1/conversations/{conversation_id}/messages": ["POST"],
            "/v1/handoffs/{handoff_id}/claim": ["POST"],
        },
        {
            ("POST", "/v1/conversations"): httpx2.Response(201, json={"id": 41}),
            ("POST", "/v1/conversations/41/messages"): httpx2.Response(
                200, json={"state": "waiting_human", "handoff": {"id": 7}}
            ),
            ("POST", "/v1/handoffs/7/claim"): httpx2.Response(200, json={"status": "claimed"}),
        },
    )
    results = run_tour(client, KEYS, steps)
    assert [(r.outcome, r.summary) for r in results] == [
        ("ok", "41"),
        ("ok", "waiting_human"),
        ("ok", "claimed"),
    ]
    assert [(r.method, r.url.path) for r in seen if r.url.path != "/openapi.json"] == [
        ("POST", "/v1/conversations"),
        ("POST", "/v1/conversations/41/messages"),
        ("POST", "/v1/handoffs/7/claim"),
    ]
    assert seen[-1].headers["authorization"] == "Bearer sk_agent"


def test_a_step_whose_earlier_step_failed_is_skipped_not_sent() -> None:
    steps = [
        TourStep("客服", "转人工", "POST", "/v1/chat", Role.service, lambda b: "",
                 saves=lambda b: {"handoff_id": b["handoff"]["id"]}),
        TourStep("客服", "认领", "POST", "/v1/handoffs/{handoff_id}/claim", Role.agent, lambda b: ""),
    ]  # fmt: skip
    client, seen = service(
        {"/v1/chat": ["POST"], "/v1/handoffs/{handoff_id}/claim": ["POST"]},
        # The bot answered instead of handing off: there is no handoff id to claim.
        {("POST", "/v1/chat"): httpx2.Response(200, json={"reply": "好的", "handoff": None})},
    )
    results = run_tour(client, KEYS, steps)
    assert [r.outcome for r in results] == ["failed", "skipped"]
    assert results[1].summary == "前面的步骤没有给出 handoff_id"
    assert not any(r.url.path.startswith("/v1/handoffs") for r in seen)


def test_the_customer_service_steps_chain_one_conversation() -> None:
    cs = [s for s in STEPS if s.agent == "客服"]
    assert [s.needs() for s in cs] == [
        ("POST", "/v1/conversations"),
        ("POST", "/v1/conversations/{conversation_id}/messages"),
        ("POST", "/v1/conversations/{conversation_id}/messages"),
        ("POST", "/v1/conversations/{conversation_id}/messages"),
        ("GET", "/v1/handoffs"),
        ("POST", "/v1/handoffs/{handoff_id}/claim"),
        ("POST", "/v1/conversations/{conversation_id}/messages"),
        ("POST", "/v1/handoffs/{handoff_id}/release"),
        ("GET", "/v1/conversations/{conversation_id}"),
    ]
    # Customer messages go with the channel's key, staff actions with an agent key.
    assert [s.role for s in cs] == [Role.service] * 4 + [Role.agent] * 5
