"""The customer-service steps of `siyu demo tour`, run against the real app on the demo shop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from agents.runtime import Runtime
from api.app import create_app
from api.routers.conversations import get_now
from store.demo import load_demo
from store.demo.loader import DemoKeys
from tests.demo_kb import DemoKB
from tests.e2e.api.helpers import ViaTestClient

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

END = date(2026, 11, 20)
ON_SHIFT = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)  # 14:00 Beijing, a Friday


@pytest.fixture
def live(runtime: Runtime, demo_kb: DemoKB, tmp_path: Path) -> Iterator[tuple[TestClient, DemoKeys]]:
    report = load_demo(runtime.sessions, end_date=END, keys_path=tmp_path / "keys.json", customers=60)
    demo_kb.install(runtime, report.shop_id)
    runtime.put("llm", None)
    app = create_app(runtime=runtime)
    app.dependency_overrides[get_now] = lambda: ON_SHIFT
    with TestClient(app) as client:
        yield client, report.keys


def test_the_tour_answers_with_a_citation_checks_an_order_and_hands_off_to_staff_and_back(
    live: tuple[TestClient, DemoKeys],
) -> None:
    # Imported here: `api.cli` pulls in every agent's CLI, and only this test needs it.
    from api.cli.demo import STEPS, TOUR_CUSTOMER, run_tour

    client, keys = live
    steps = [s for s in STEPS if s.agent == "客服"]
    with httpx2.Client(transport=ViaTestClient(client), base_url="http://siyu.test") as http:
        results = run_tour(http, keys, steps)
    assert [r.outcome for r in results] == ["ok"] * len(steps), [(r.step.title, r.summary) for r in results]
    started, policy, order, handoff, queue, claimed, staff, released, transcript = (
        r.summary for r in results
    )

    assert f"({TOUR_CUSTOMER} · wechat)" in started
    # The policy answer states its source; the order answer cites the order itself.
    assert policy.startswith("[offline · ") and "包邮" in policy, policy
    cited = policy.split("引用: ")[1]
    assert "[faq]" in cited or "[document]" in cited, policy
    assert "[offline · 查询物流]" in order and "引用: [order]" in order, order
    assert "waiting_human" in handoff and "customer_request" in handoff and "已为您转接人工客服" in handoff
    handoff_id = handoff.split("转接单 #")[1].split(" ")[0]
    assert f"队首 #{handoff_id}" in queue
    assert f"#{handoff_id} 已被 agent:" in claimed and "(claimed)" in claimed
    assert "状态 human" in staff
    assert f"#{handoff_id} released" in released
    # The whole story in the transcript, the bot silent while staff held the chat.
    assert transcript.startswith("状态 bot，")
    roles = transcript.split(": ", 1)[1].split(" → ")
    assert roles[:6] == ["customer", "bot(offline)", "customer", "bot(offline)", "customer", "bot(ack)"]
    assert "human" in roles and roles[-1] == "system" and "bot(" not in " ".join(roles[6:]), roles
