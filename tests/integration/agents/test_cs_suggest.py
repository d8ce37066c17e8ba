"""The LLM-written suggested reply of a handoff brief: queued after the handoff commits, written
by the worker's function from the brief alone, guarded, and stored beside the extractive reply.
Real embedder, real database, the strict scripted chat model; the API shows both replies."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from fastapi.testclient import TestClient

from agents.customer_service import service
from agents.customer_service.suggest import write_llm_suggestion
from agents.jobs import install_runtime
from agents.runtime import Runtime
from api.app import create_app
from api.celery_app import make_celery
from api.routers.conversations import get_now
from evals.doubles.llm import Scripted, ScriptedChatModel, scripted_gateway
from store.errors import LLMUnavailable
from store.models import Handoff, Role
from store.repositories.shops import ApiKeyRepository
from tests.demo_kb import DemoKB
from tests.integration.agents.test_cs_service import ON_SHIFT, Shop, demo_shop

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# A handoff (customer_request) whose brief has evidence: the 破损 policy passages.
HANDOFF_TEXT = "转人工！奶粉罐子收到就压瘪了，我要退货，电话13912345678"
PHRASING = "亲，破损商品可以申请退换哦 [S1]"  # the turn's own answer phrasing (before the handoff)


@pytest.fixture
def shop(runtime: Runtime, demo_kb: DemoKB, tmp_path: Path) -> Shop:
    return demo_shop(runtime, demo_kb, tmp_path)


def _handoff_turn(shop: Shop, queued: list[tuple[int, int]]) -> service.TurnResult:
    def suggest(shop_id: int, handoff_id: int) -> None:
        # Called only after the commit: another session already sees the handoff and its brief.
        with shop.runtime.sessions() as s:
            row = s.get(Handoff, handoff_id)
            assert row is not None and row.brief.get("request"), "suggest queued before the commit"
        queued.append((shop_id, handoff_id))

    conv = int(service.start_conversation(shop.runtime, shop.shop_id, shop.customer_ref, "wechat")["id"])
    turn = service.handle_customer_message(
        shop.runtime, shop.shop_id, conv, HANDOFF_TEXT, ON_SHIFT, suggest=suggest
    )
    assert turn.handoff is not None and turn.state == "waiting_human", turn
    return turn


def _brief(shop: Shop, handoff_id: int) -> dict[str, Any]:
    with shop.runtime.sessions() as s:
        row = s.get(Handoff, handoff_id)
        assert row is not None
        return dict(row.brief)


def test_without_an_llm_nothing_is_queued_and_the_brief_keeps_its_extractive_reply(shop: Shop) -> None:
    queued: list[tuple[int, int]] = []
    turn = _handoff_turn(shop, queued)
    assert queued == [] and turn.handoff is not None
    brief = _brief(shop, turn.handoff["id"])
    assert brief["suggested_reply"] and brief["sources"], brief
    assert "suggested_reply_llm" not in brief
    assert write_llm_suggestion(shop.runtime, shop.shop_id, turn.handoff["id"]) == "skipped"


def test_the_llm_reply_is_grounded_in_the_brief_and_stored_beside_the_extractive_one(
    shop: Shop, scripted_llm: ScriptedChatModel
) -> None:
    shop.runtime.put("llm", scripted_gateway(scripted_llm))
    queued: list[tuple[int, int]] = []
    scripted_llm.add(PHRASING)
    turn = _handoff_turn(shop, queued)
    assert turn.handoff is not None and queued == [(shop.shop_id, turn.handoff["id"])]
    calls_in_turn = len(scripted_llm.calls)
    before = _brief(shop, turn.handoff["id"])
    assert "suggested_reply_llm" not in before  # the turn itself never waits for the model

    suggestion = "亲，非常抱歉奶粉罐子压瘪了，麻烦您拍一下外箱和罐子的照片，我马上为您登记破损退换。"
    scripted_llm.add(suggestion)
    assert write_llm_suggestion(shop.runtime, shop.shop_id, turn.handoff["id"]) == "ready"
    after = _brief(shop, turn.handoff["id"])
    assert after["suggested_reply_llm"] == suggestion and after["suggested_reply_llm_status"] == "ready"
    assert after["suggested_reply"] == before["suggested_reply"]  # the extractive reply is kept

    request = scripted_llm.calls[calls_in_turn]
    user = request.messages[-1]["content"]
    # Grounded in the brief: the request and the brief's evidence, each as delimited data.
    assert "<customer_message>\n转人工！奶粉罐子收到就压瘪了" in user
    assert user.count("<source ") == len(before["sources"]) > 0
    assert before["sources"][0]["text"][:20] in user
    assert "13912345678" not in user  # masked before the model
    # A second delivery of the task does not ask the model again.
    assert write_llm_suggestion(shop.runtime, shop.shop_id, turn.handoff["id"]) == "skipped"


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        pytest.param("亲，这单给您打五折，再送一罐，今天一定给您退款到账！", "blocked", id="guard-rejects"),
        pytest.param(LLMUnavailable("模型服务不可用"), "failed", id="llm-fails"),
    ],
)
def test_a_refused_or_failed_suggestion_keeps_the_extractive_reply(
    shop: Shop, scripted_llm: ScriptedChatModel, reply: Scripted, status: str
) -> None:
    shop.runtime.put("llm", scripted_gateway(scripted_llm))
    scripted_llm.add(PHRASING)
    turn = _handoff_turn(shop, [])
    assert turn.handoff is not None
    before = _brief(shop, turn.handoff["id"])
    scripted_llm.add(reply)
    assert write_llm_suggestion(shop.runtime, shop.shop_id, turn.handoff["id"]) == status
    after = _brief(shop, turn.handoff["id"])
    assert after["suggested_reply_llm"] is None and after["suggested_reply_llm_status"] == status
    assert after["suggested_reply"] == before["suggested_reply"] and after["suggested_reply"]


def test_a_celery_worker_writes_the_suggestion_the_queue_shows_over_http(
    shop: Shop, scripted_llm: ScriptedChatModel, tmp_path: Path
) -> None:
    shop.runtime.put("llm", scripted_gateway(scripted_llm))
    settings = shop.runtime.settings.model_copy(
        update={
            "celery_broker_url": f"sqla+sqlite:///{tmp_path / 'broker.db'}",
            "celery_result_backend": f"db+sqlite:///{tmp_path / 'results.db'}",
        }
    )
    celery = make_celery(settings)
    celery.conf.task_default_queue = f"siyu-test-{uuid.uuid4().hex[:12]}"
    shop.runtime.put("celery", celery)  # what `celery_suggest` (the API's default) sends through
    with shop.runtime.sessions() as s:
        keys = {r: ApiKeyRepository(s).issue(shop.shop_id, r).raw for r in (Role.service, Role.agent)}
        s.commit()
    app = create_app(runtime=shop.runtime)
    app.dependency_overrides[get_now] = lambda: ON_SHIFT
    suggestion = "亲，抱歉让您久等了，我是人工客服，麻烦发一下罐子破损处的照片，我来为您处理退换。"
    scripted_llm.add(PHRASING, suggestion)
    previous = install_runtime(shop.runtime)
    try:
        with (
            TestClient(app) as client,
            start_worker(
                celery, pool="threads", concurrency=1, perform_ping_check=False, shutdown_timeout=10
            ),
        ):
            service_h = {"Authorization": f"Bearer {keys[Role.service]}"}
            agent_h = {"Authorization": f"Bearer {keys[Role.agent]}"}
            conv = client.post(
                "/v1/conversations", json={"customer_ref": shop.customer_ref}, headers=service_h
            )
            r = client.post(
                f"/v1/conversations/{conv.json()['id']}/messages",
                json={"text": HANDOFF_TEXT},
                headers=service_h,
            )
            assert r.status_code == 200 and r.json()["state"] == "waiting_human", r.text
            deadline = time.monotonic() + 30
            while True:
                (item,) = client.get("/v1/handoffs", headers=agent_h).json()
                if item["brief"].get("suggested_reply_llm_status") is not None:
                    break
                assert time.monotonic() < deadline, f"the worker never wrote the suggestion: {item['brief']}"
                time.sleep(0.05)
    finally:
        install_runtime(previous)
    brief = item["brief"]
    assert brief["suggested_reply"] and brief["suggested_reply"] != suggestion
    assert brief["suggested_reply_llm"] == suggestion and brief["suggested_reply_llm_status"] == "ready"
