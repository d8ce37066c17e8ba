"""`POST /v1/conversations/{id}/messages?stream=true` through the real HTTP app on the demo shop:
the offline engine, the LLM engine behind a real OpenAI-compatible stub server (streaming), a
model that dies half-way through its stream, a guard-blocked model reply, and a chat a person
holds. Every streamed reply must equal, character for character, what the transcript stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agents.llm import build_gateway
from agents.runtime import Runtime
from api.app import create_app
from api.routers.conversations import get_now, reply_chunks
from evals.doubles.llm import Cut, Reply, StubOpenAIServer
from store.models import Role
from store.settings import Settings
from tests.demo_kb import DemoKB
from tests.integration.agents.test_cs_service import ON_SHIFT, demo_shop

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "退货的话来回运费谁出呀"


@dataclass
class Chat:
    client: TestClient
    runtime: Runtime
    keys: dict[Role, str]
    clock: list[datetime]

    def h(self, role: Role = Role.service) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def new(self) -> int:
        r = self.client.post("/v1/conversations", json={"customer_ref": "wx_stream"}, headers=self.h())
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    def stream(self, conv: int, text: str) -> list[tuple[str, Any]]:
        with self.client.stream(
            "POST", f"/v1/conversations/{conv}/messages?stream=true", json={"text": text}, headers=self.h()
        ) as r:
            assert r.status_code == 200, r.read()
            assert r.headers["content-type"].startswith("text/event-stream")
            return parse_sse(r.read().decode())

    def transcript(self, conv: int) -> dict[str, Any]:
        r = self.client.get(f"/v1/conversations/{conv}", headers=self.h(Role.agent))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def parse_sse(raw: str) -> list[tuple[str, Any]]:
    """(event, JSON data) per event; comments (pings) are skipped."""
    events = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def split(events: list[tuple[str, Any]]) -> tuple[str, dict[str, Any]]:
    """The joined deltas and the final `done` payload; `done` must come last and only once."""
    names = [name for name, _ in events]
    assert names.count("done") == 1 and names[-1] == "done", names
    assert set(names) <= {"delta", "done"}, names
    return "".join(d["text"] for n, d in events if n == "delta"), events[-1][1]


@pytest.fixture
def chat(runtime: Runtime, demo_kb: DemoKB, tmp_path: Path) -> Iterator[Chat]:
    shop = demo_shop(runtime, demo_kb, tmp_path)
    from store.repositories.shops import ApiKeyRepository

    with runtime.sessions() as s:
        keys = {r: ApiKeyRepository(s).issue(shop.shop_id, r).raw for r in (Role.service, Role.agent)}
        s.commit()
    clock = [ON_SHIFT]
    app = create_app(runtime=runtime)
    app.dependency_overrides[get_now] = lambda: clock[0]
    with TestClient(app) as client:
        yield Chat(client, runtime, keys, clock)


def use_stub_llm(runtime: Runtime, stub: StubOpenAIServer) -> None:
    settings = Settings(env="test", llm_base_url=stub.base_url, llm_max_retries=0, llm_timeout_s=10)
    runtime.put("llm", build_gateway(settings))


def last_bot(transcript: dict[str, Any]) -> dict[str, Any]:
    bots: list[dict[str, Any]] = [m for m in transcript["messages"] if m["role"] == "bot"]
    assert bots, transcript
    return bots[-1]


def test_reply_chunks_join_to_the_text() -> None:
    text = "亲，七天无理由退货的运费由买家承担哦（依据《退换货政策》）"
    chunks = reply_chunks(text, 8)
    assert "".join(chunks) == text and len(chunks) == 4 and all(0 < len(c) <= 8 for c in chunks)
    assert reply_chunks("") == []


def test_offline_stream_equals_the_plain_reply_and_the_transcript(chat: Chat) -> None:
    conv = chat.new()
    streamed, done = split(chat.stream(conv, QUESTION))
    assert done["engine"] == "offline" and done["state"] == "bot" and not done["degraded"], done
    assert done["reply"] == streamed and len(streamed) > 8  # really chunked, and nothing lost
    assert done["citations"] and done["handoff"] is None and done["role"] == "customer"

    plain = chat.client.post(
        f"/v1/conversations/{chat.new()}/messages", json={"text": QUESTION}, headers=chat.h()
    ).json()
    assert plain == done  # the final event IS the non-stream body

    t = chat.transcript(conv)
    assert [m["role"] for m in t["messages"]] == ["customer", "bot"]
    assert t["messages"][0]["text"] == QUESTION
    bot = last_bot(t)
    assert bot["text"] == streamed and bot["citations"] == done["citations"] and bot["engine"] == "offline"


def test_llm_stream_is_guarded_then_sent(chat: Chat) -> None:
    phrased = "亲，七天无理由退货的来回运费由买家承担哦 [S1]"
    with StubOpenAIServer([Reply(phrased, chunk_chars=3)]) as stub:
        use_stub_llm(chat.runtime, stub)
        conv = chat.new()
        streamed, done = split(chat.stream(conv, QUESTION))
        stub.assert_exhausted()
    assert stub.requests[0]["stream"] is True  # the model was asked through its streaming API
    assert (done["engine"], done["degraded"]) == ("llm", False), done
    assert streamed == phrased == done["reply"] and done["citations"]
    bot = last_bot(chat.transcript(conv))
    assert (bot["text"], bot["engine"]) == (phrased, "llm")


def test_llm_dying_mid_stream_degrades_to_the_offline_answer(chat: Chat) -> None:
    llm_text = "亲亲～这个运费呢由我们来出哈，放心退 [S1]"
    with StubOpenAIServer([Cut(llm_text, after_chars=9)]) as stub:
        use_stub_llm(chat.runtime, stub)
        conv = chat.new()
        events = chat.stream(conv, QUESTION)
        stub.assert_exhausted()
    streamed, done = split(events)
    assert (done["engine"], done["degraded"], done["state"]) == ("offline", True, "bot"), done
    assert "亲亲～" not in streamed  # the half a sentence the model managed is never shown
    assert done["citations"] and done["reply"] == streamed
    t = chat.transcript(conv)
    assert t["messages"][0]["text"] == QUESTION  # stored before the model was called
    bot = last_bot(t)
    assert (bot["text"], bot["engine"]) == (streamed, "offline")

    # The same question without the model gives the same offline answer: nothing was invented.
    chat.runtime.put("llm", None)
    _, offline = split(chat.stream(chat.new(), QUESTION))
    assert offline["reply"] == streamed


def test_a_blocked_llm_promise_never_reaches_the_stream(chat: Chat) -> None:
    with StubOpenAIServer([Reply("老板同意了，给您打五折，运费我们出 [S1]", chunk_chars=2)]) as stub:
        use_stub_llm(chat.runtime, stub)
        conv = chat.new()
        events = chat.stream(conv, QUESTION)
        stub.assert_exhausted()
    streamed, done = split(events)
    assert "五折" not in json.dumps(events, ensure_ascii=False)
    assert done["engine"] in ("offline", "safe") and done["degraded"] is True, done
    assert last_bot(chat.transcript(conv))["text"] == streamed


def test_while_a_human_holds_the_chat_only_the_final_event_is_sent(chat: Chat) -> None:
    conv = chat.new()
    ack, first = split(chat.stream(conv, "转 人 工！！"))
    assert first["state"] == "waiting_human" and first["engine"] == "ack" and first["handoff"], first
    assert ack == first["reply"] and ack.startswith("已为您转接人工客服")

    events = chat.stream(conv, "人呢？？")
    assert [name for name, _ in events] == ["done"]
    assert events[0][1]["reply"] is None and events[0][1]["state"] == "waiting_human"

    staff = chat.client.post(
        f"/v1/conversations/{conv}/messages", json={"text": "您好，我来处理"}, headers=chat.h(Role.agent)
    )
    assert staff.json()["state"] == "human"
    events = chat.stream(conv, "好的")
    assert [(n, d["reply"], d["state"]) for n, d in events] == [("done", None, "human")]

    t = chat.transcript(conv)
    said = [m["role"] for m in t["messages"] if m["role"] != "system"]  # minus the takeover notes
    assert said == ["customer", "bot", "customer", "human", "customer"]
    assert [m["text"] for m in t["messages"] if m["role"] == "bot"] == [ack]


def test_another_shops_conversation_is_a_plain_404_before_any_stream(chat: Chat) -> None:
    r = chat.client.post(
        "/v1/conversations/999999/messages?stream=true", json={"text": "在吗"}, headers=chat.h()
    )
    assert r.status_code == 404 and r.json()["error"] == "not_found"
