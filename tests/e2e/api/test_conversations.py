"""Conversations, the staff queue and erasure over HTTP, on the demo shop (offline engine)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agents.runtime import Runtime
from api.app import create_app
from api.routers.conversations import get_now
from store.demo import load_demo
from store.models import Role
from tests.demo_kb import DemoKB

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

END = date(2026, 11, 20)
ON_SHIFT = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)  # 14:00 Beijing, a Friday


class Api:
    def __init__(self, client: TestClient, keys: dict[Role, str], clock: list[datetime]) -> None:
        self.client, self.keys, self.clock = client, keys, clock

    def h(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def new(self, ref: str = "wx_api_1") -> int:
        r = self.client.post(
            "/v1/conversations", json={"customer_ref": ref, "channel": "wechat"}, headers=self.h(Role.service)
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    def say(self, conv: int, text: str, role: Role = Role.service) -> dict[str, object]:
        r = self.client.post(f"/v1/conversations/{conv}/messages", json={"text": text}, headers=self.h(role))
        assert r.status_code == 200, r.text
        body: dict[str, object] = r.json()
        return body


@pytest.fixture
def api(runtime: Runtime, demo_kb: DemoKB, tmp_path: Path) -> Iterator[Api]:
    report = load_demo(runtime.sessions, end_date=END, keys_path=tmp_path / "keys.json", customers=30)
    demo_kb.install(runtime, report.shop_id)
    runtime.put("llm", None)
    clock = [ON_SHIFT]
    app = create_app(runtime=runtime)
    app.dependency_overrides[get_now] = lambda: clock[0]
    keys = {r: report.keys.for_role(r) for r in (Role.owner, Role.agent, Role.service)}
    with TestClient(app) as client:
        yield Api(client, keys, clock)


def test_answer_with_citation_and_transcript(api: Api) -> None:
    conv = api.new()
    body = api.say(conv, "满多少包邮啊")
    assert body["state"] == "bot" and body["engine"] == "offline" and body["handoff"] is None, body
    assert isinstance(body["reply"], str) and body["citations"], body
    t = api.client.get(f"/v1/conversations/{conv}", headers=api.h(Role.agent)).json()
    assert [m["role"] for m in t["messages"]] == ["customer", "bot"]
    assert t["messages"][1]["citations"] == body["citations"]
    assert t["messages"][1]["engine"] == "offline" and t["messages"][1]["state"] == "bot"


def test_handoff_queue_claim_reply_release(api: Api) -> None:
    calm, angry = api.new("wx_calm"), api.new("wx_angry")
    first = api.say(calm, "帮我转人工")
    assert first["state"] == "waiting_human" and str(first["reply"]).startswith("已为您转接人工客服")
    api.clock[0] = ON_SHIFT + timedelta(minutes=1)
    second = api.say(angry, "你们这是黑店吧，我要去12315投诉！！！")
    assert second["state"] == "waiting_human"
    assert api.say(angry, "人呢")["reply"] is None

    queue = api.client.get("/v1/handoffs?status=waiting", headers=api.h(Role.agent)).json()
    assert [q["conversation_id"] for q in queue] == [angry, calm]  # legal outranks a plain request
    assert "legal_or_regulator" in queue[0]["reasons"] and queue[0]["brief"]["request"]

    hid = queue[0]["id"]
    won = api.client.post(f"/v1/handoffs/{hid}/claim", headers=api.h(Role.agent))
    assert won.status_code == 200 and won.json()["status"] == "claimed"
    lost = api.client.post(f"/v1/handoffs/{hid}/claim", headers=api.h(Role.owner))
    assert lost.status_code == 409 and lost.json()["error"] == "handoff_already_claimed"
    staff = api.say(angry, "非常抱歉，我来帮您处理", role=Role.agent)
    assert staff == {**staff, "reply": None, "state": "human", "role": "human"}
    back = api.client.post(f"/v1/handoffs/{hid}/release", headers=api.h(Role.agent))
    assert back.status_code == 200 and back.json()["status"] == "released"
    assert api.say(angry, "积分能抵现吗")["state"] == "bot"
    t = api.client.get(f"/v1/conversations/{angry}", headers=api.h(Role.service)).json()
    assert [h["status"] for h in t["handoffs"]] == ["released"]
    assert sum(1 for m in t["messages"] if m["engine"] == "ack") == 1

    done = api.client.post(f"/v1/handoffs/{queue[1]['id']}/resolve", headers=api.h(Role.agent))
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    again = api.client.post(f"/v1/handoffs/{queue[1]['id']}/release", headers=api.h(Role.agent))
    assert again.status_code == 409 and again.json()["error"] == "handoff_closed"


def test_staff_typing_in_bot_state_takes_over(api: Api) -> None:
    conv = api.new()
    api.say(conv, "你好")
    assert api.say(conv, "亲，在的", role=Role.agent)["state"] == "human"
    assert api.say(conv, "好")["reply"] is None


def test_roles(api: Api) -> None:
    conv = api.new()
    r = api.client.get("/v1/handoffs", headers=api.h(Role.service))
    assert r.status_code == 403
    r = api.client.delete("/v1/customers/wx_api_1", headers=api.h(Role.agent))
    assert r.status_code == 403
    assert api.client.get(f"/v1/conversations/{conv + 999}", headers=api.h(Role.agent)).status_code == 404


def test_erasure_over_http(api: Api) -> None:
    conv = api.new("wx_forget_me")
    api.say(conv, "我手机13912345678，帮我查下物流")
    r = api.client.delete("/v1/customers/wx_forget_me", headers=api.h(Role.owner))
    assert r.status_code == 200, r.text
    assert r.json()["messages"] >= 2 and r.json()["conversations"] == 1
    t = api.client.get(f"/v1/conversations/{conv}", headers=api.h(Role.owner)).text
    assert "13912345678" not in t
    assert api.client.delete("/v1/customers/nobody", headers=api.h(Role.owner)).status_code == 404
