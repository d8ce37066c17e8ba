"""The forecaster over HTTP on the demo shop: run (job), chart, suggestions, import, merchant ask."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from agents.jobs import run_job
from agents.llm import ToolCall
from agents.runtime import Runtime
from api.app import create_app
from api.routers.jobs import get_enqueue
from evals.doubles.llm import ScriptedChatModel, scripted_gateway
from store.demo import DemoKeys, load_demo
from store.errors import LLMBadOutput, LLMTimeout
from store.models import Role
from tests.e2e.api.helpers import ViaTestClient

pytestmark = pytest.mark.e2e

END = date(2025, 11, 30)


@dataclass
class Api:
    client: TestClient
    keys: DemoKeys
    runtime: Runtime

    def headers(self, role: Role = Role.owner) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys.for_role(role)}"}

    def run(self) -> dict[str, object]:
        r = self.client.post("/v1/forecast/run", json={"horizon": 28}, headers=self.headers())
        assert r.status_code == 202, r.text
        job = self.client.get(f"/v1/jobs/{r.json()['job_id']}", headers=self.headers())
        assert job.status_code == 200, job.text
        body: dict[str, object] = job.json()
        return body


@pytest.fixture
def api(runtime: Runtime, tmp_path: Path) -> Iterator[Api]:
    report = load_demo(runtime.sessions, end_date=END, keys_path=tmp_path / "keys.json", customers=200)
    app = create_app(runtime=runtime)
    # Jobs run inline, in the request, as a worker would run them.
    app.dependency_overrides[get_enqueue] = lambda: (
        lambda kind, job_id, shop_id: run_job(runtime, job_id, shop_id)
    )
    with TestClient(app) as client:
        yield Api(client, report.keys, runtime)


def test_before_any_run_reads_say_so_in_chinese(api: Api) -> None:
    for path in ("/v1/forecast/MB-101", "/v1/restock/suggestions"):
        r = api.client.get(path, headers=api.headers())
        assert r.status_code == 404 and "POST /v1/forecast/run" in r.json()["detail"], r.text
    r = api.client.post("/v1/merchant/ask", json={"question": "下周哪些要补货?"}, headers=api.headers())
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_run_then_chart_and_suggestions(api: Api) -> None:
    job = api.run()
    assert job["status"] == "succeeded" and job["progress"] == 1.0, job
    result = job["result"]
    assert isinstance(result, dict) and result["skus"] == 88 and result["horizon"] == 28

    r = api.client.get("/v1/forecast/MB-101", headers=api.headers(Role.agent))
    assert r.status_code == 200, r.text
    chart = r.json()
    assert chart["dates"][0] == "2025-12-01" and len(chart["dates"]) == 28
    assert all(len(chart[k]) == 28 for k in ("mean", "lo80", "hi80", "lo95", "hi95"))
    assert all(lo <= m <= hi for lo, m, hi in zip(chart["lo95"], chart["mean"], chart["hi95"], strict=True))
    assert chart["history_dates"][-1] == "2025-11-30" and len(chart["history"]) == len(chart["history_dates"])
    assert chart["model"] and chart["demand_class"] in ("smooth", "erratic", "intermittent", "lumpy")
    r = api.client.get("/v1/forecast/NOPE-1", headers=api.headers())
    assert r.status_code == 404 and "NOPE-1" in r.json()["detail"]

    r = api.client.get("/v1/restock/suggestions?horizon_days=14", headers=api.headers())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["as_of"] == "2025-12-01" and body["budget"] is None and len(body["items"]) == 88
    first = body["items"][0]
    assert (
        first["priority"] == 1
        and first["order_qty"] > 0
        and f"{first['order_qty']} 件" in first["explanation"]
    )
    r = api.client.get("/v1/restock/suggestions?horizon_days=14&budget=2000", headers=api.headers())
    plan = r.json()["budget"]
    assert float(plan["spent"]) <= 2000 and float(plan["spent"]) + float(plan["remaining"]) == 2000
    r = api.client.get("/v1/restock/suggestions", headers=api.headers(Role.agent))
    assert r.status_code == 403


def test_merchant_questions_get_a_table(api: Api) -> None:
    api.run()
    for question, intent in (
        ("下周哪些商品要补货？", "restock_list"),
        ("保温杯还能卖几天？", "days_left"),
        ("预算5000先补什么？", "budget_plan"),
        ("MB-101下个月能卖多少", "forecast_for_sku"),
    ):
        r = api.client.post("/v1/merchant/ask", json={"question": question}, headers=api.headers())
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["intent"] == intent and body["engine"] == "offline", body
        assert body["rows"] and set(body["columns"]) <= set(body["rows"][0]), body
        assert body["answer"]
    r = api.client.post("/v1/merchant/ask", json={"question": "帮我写首诗"}, headers=api.headers())
    assert r.json()["intent"] == "unknown" and "下周哪些商品要补货" in r.json()["answer"]


def test_llm_phrases_but_numbers_stay_the_tools(api: Api, scripted_llm: ScriptedChatModel) -> None:
    api.run()
    api.runtime.put("llm", scripted_gateway(scripted_llm))
    ask = {"question": "预算5000先补什么？"}
    scripted_llm.add(LLMTimeout())  # the model is down: the rules' offline answer, no second call
    offline = api.client.post("/v1/merchant/ask", json=ask, headers=api.headers())
    assert offline.json()["engine"] == "offline" and offline.json()["parsed"]["source"] == "rules"
    row = offline.json()["rows"][0]
    scripted_llm.add(
        ToolCall("BudgetPlan", {"budget_yuan": 5000}),
        f"老板，先把{row['title']}补上，{row['funded_qty']}件就够。",
    )
    r = api.client.post("/v1/merchant/ask", json=ask, headers=api.headers())
    assert r.json()["engine"] == "llm" and r.json()["rows"] == offline.json()["rows"]
    assert r.json()["parsed"]["source"] == "llm_tool"
    scripted_llm.add(
        ToolCall("BudgetPlan", {"budget_yuan": 5000}), "先补粉底液 999 件"
    )  # a number no tool gave
    r = api.client.post("/v1/merchant/ask", json=ask, headers=api.headers())
    assert r.json()["engine"] == "offline" and r.json()["answer"] == offline.json()["answer"]


def test_a_question_the_rules_miss_is_answered_through_a_tool_call(
    api: Api, scripted_llm: ScriptedChatModel
) -> None:
    api.run()
    rules = api.client.post(
        "/v1/merchant/ask", json={"question": "下周哪些商品要补货？"}, headers=api.headers()
    )
    ask = {"question": "仓库里下周快见底的货有哪些"}
    assert api.client.post("/v1/merchant/ask", json=ask, headers=api.headers()).json()["intent"] == "unknown"
    api.runtime.put("llm", scripted_gateway(scripted_llm))
    scripted_llm.add(ToolCall("RestockList", {"period": "下周"}), LLMBadOutput())
    r = api.client.post("/v1/merchant/ask", json=ask, headers=api.headers()).json()
    # The tool's table and sentence are the deterministic ones; the model only chose the tool.
    assert (r["intent"], r["engine"], r["parsed"]["source"]) == ("restock_list", "offline", "llm_tool")
    assert (r["rows"], r["answer"]) == (rules.json()["rows"], rules.json()["answer"])
    # A tool call code cannot stand behind: the rules answer, exactly as without a model.
    scripted_llm.add(ToolCall("DaysLeft", {"product": "电饭煲"}))
    r = api.client.post("/v1/merchant/ask", json=ask, headers=api.headers()).json()
    assert (r["intent"], r["parsed"]["source"]) == ("unknown", "rules")


def test_import_csv(api: Api) -> None:
    good = "sku,date,qty,on_hand\nMB-101,2025-11-01,3,10\nMB-101,2025-11-02,0,0\n".encode("gbk")
    r = api.client.post(
        "/v1/sales/import", files={"file": ("sales.csv", good, "text/csv")}, headers=api.headers()
    )
    assert r.status_code == 200, r.text
    assert r.json()["inserted"] == 2 and r.json()["last_day"] == "2025-11-02"
    bad = b"sku,date,qty\nMB-101,2025-11-03,3\nMB-101,2025/13/01,x\n"
    r = api.client.post(
        "/v1/sales/import", files={"file": ("bad.csv", bad, "text/csv")}, headers=api.headers()
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_input", r.text
    assert "bad.csv" in r.json()["detail"] and "第 3 行" in r.json()["detail"]
    r = api.client.post(
        "/v1/sales/import", files={"file": ("s.csv", good, "text/csv")}, headers=api.headers(Role.agent)
    )
    assert r.status_code == 403


def test_the_demo_tour_steps_of_the_forecaster(api: Api) -> None:
    from api.cli.demo import STEPS, TOUR_FORECAST_SKU, run_tour

    steps = [s for s in STEPS if s.agent == "预测"]
    assert [s.path for s in steps] == [
        "/v1/forecast/run",
        "/v1/merchant/ask",
        f"/v1/forecast/{TOUR_FORECAST_SKU}",
    ]
    with httpx2.Client(transport=ViaTestClient(api.client), base_url="http://siyu.test") as client:
        results = run_tour(client, api.keys, steps)
    assert [r.outcome for r in results] == ["ok", "ok", "ok"], [r.summary for r in results]
    submitted, answer, chart = (r.summary for r in results)
    assert submitted.startswith("预测任务已提交")
    assert "[offline] 下周" in answer and "建议补" in answer and len(answer.splitlines()) >= 2
    assert TOUR_FORECAST_SKU in chart and "7 天预计" in chart
