"""`siyu demo load` and `siyu demo tour`.

The tour drives the RUNNING service over HTTP with the demo shop's keys and shows what each
agent does. It is a list of `TourStep`s: a later issue appends its own step, and a step whose
endpoint is not in the service's OpenAPI yet is skipped with a note instead of failing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx2
import typer
from rich.table import Table

from api.cli.common import console, handle_errors, runtime, settings
from store import migrate as migrations
from store.demo.loader import DEMO_SHOP_NAME, DemoKeys, LoadReport, load_demo, read_keys
from store.errors import NotFound
from store.models import Role

demo_app = typer.Typer(help="演示店铺「鹿鸣优选」: 加载数据、走一遍各个 AI 助手", no_args_is_help=True)

COUNT_LABELS = {
    "products": "商品",
    "documents": "文档 (政策 + FAQ)",
    "customers": "顾客",
    "orders": "订单",
    "order_lines": "订单行",
    "events": "物流轨迹",
}


def register(app: typer.Typer) -> None:
    app.add_typer(demo_app, name="demo")


def keys_path() -> Path:
    return settings().var_dir / "demo-keys.json"


def print_load_report(report: LoadReport) -> None:
    verb = "已加载" if report.created else "已存在，未重复加载"
    console.print(
        f"演示店铺 [bold]{report.shop_name}[/bold] (shop_id={report.shop_id}) {verb}，"
        f"用时 {report.seconds:.1f} 秒",
        highlight=False,
    )
    table = Table("数据", "数量")
    for key, label in COUNT_LABELS.items():
        table.add_row(label, f"{report.counts.get(key, 0):,}")
    console.print(table)
    note = "已写入新的 Key" if report.keys_issued else "Key 未变"
    console.print(
        f"API Key 文件: {report.keys_path} ({note}; 库中只存哈希，此文件是唯一副本)",
        highlight=False,
        soft_wrap=True,
    )


@demo_app.command("load")
@handle_errors
def load(
    end_date: Annotated[
        str | None, typer.Option("--end-date", help="订单历史的最后一天 YYYY-MM-DD (默认今天)")
    ] = None,
    shop_name: Annotated[str, typer.Option("--shop-name", help="店铺名称")] = DEMO_SHOP_NAME,
) -> None:
    """Create the demo shop (products, policies, FAQ, 1,200 customers, 18 months of orders). Idempotent."""
    try:
        end = date.fromisoformat(end_date) if end_date else None
    except ValueError:
        raise typer.BadParameter(
            f"日期格式应为 YYYY-MM-DD，收到 {end_date!r}", param_hint="--end-date"
        ) from None
    cfg = settings()
    migrations.upgrade(cfg.resolved_database_url)
    report = load_demo(runtime().sessions, shop_name=shop_name, end_date=end, keys_path=keys_path())
    print_load_report(report)
    index_demo_kb(report.shop_id)


def index_demo_kb(shop_id: int) -> None:
    """Index the demo shop's policies, FAQ and product cards into its knowledge base, once."""
    from agents.knowledge import service

    done = service.ensure_indexed(runtime(), shop_id)
    if done.documents or done.products.indexed or done.products.removed:
        console.print(
            f"知识库: 索引 {done.documents} 篇文档 ({done.chunks} 段)、{done.products.indexed} 张商品卡片，"
            f"用时 {done.seconds:.1f} 秒",
            highlight=False,
        )
    else:
        console.print("知识库: 已是最新，无需索引", highlight=False)


# --- the tour --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TourStep:
    agent: str  # who acts, as the merchant reads it: 系统, 店主, 客服, 文案, 推荐, 预测
    title: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str  # as sent; `{shop_id}` is filled in from the keys file
    role: Role | None  # whose key to send; None for open endpoints
    summarize: Callable[[Any], str]  # the JSON response → one line for the terminal
    body: dict[str, Any] | None = None
    # The OpenAPI path template the step needs, when it differs from `path` (e.g. "/v1/orders/{order_no}").
    endpoint: str | None = None
    # Values later steps need, taken from this step's JSON response: `{"conversation_id": ...}`
    # fills `{conversation_id}` in later paths. Name them after the OpenAPI path parameters, so
    # such a path is also its own endpoint template.
    saves: Callable[[Any], dict[str, object]] | None = None

    def needs(self) -> tuple[str, str]:
        return self.method, self.endpoint or self.path


@dataclass(frozen=True)
class StepResult:
    step: TourStep
    outcome: Literal["ok", "skipped", "failed"]
    status_code: int | None
    summary: str


def _health(body: Any) -> str:
    return (
        f"status={body['status']} engine={body['engine']} embedder={body['embedder']} db={body['database']}"
    )


def _shop(body: Any) -> str:
    return f"店铺 {body['name']} (shop_id={body['shop_id']})"


def _keys(body: Any) -> str:
    roles = sorted({k["role"] for k in body if not k["revoked"]})
    return f"{len(body)} 个 Key，角色: {', '.join(roles)}"


TOUR_CUSTOMER = "wx_000033"  # a regular of the demo shop: many orders, several repurchase cycles


def _segments(body: Any) -> str:
    parts = [f"{s['label']} {s['count']} ({s['delta']:+d})" for s in body["segments"]]
    return f"{body['customers']} 位顾客 (对比 30 天前): " + ", ".join(parts)


def _customer_recs(body: Any) -> str:
    seg = body["segment"]
    who = (
        f"{body['customer_ref']} 属于「{seg['label']}」，建议: {seg['next_action']}"
        if seg
        else body["customer_ref"]
    )
    recs = "; ".join(f"{i['title']} ¥{i['price']} ({i['reason']})" for i in body["items"][:3])
    return f"{who}\n    推荐: {recs}"


def _reminders(body: Any) -> str:
    shown = "; ".join(f"{r['customer_ref']} {r['title']} (到期 {r['due_date']})" for r in body["items"][:3])
    return f"本周 {body['total']} 条回购提醒，例如: {shown}"


# Later issues append their agents' steps here (customer service chat, copy, recommendations, restock).
STEPS: list[TourStep] = [
    TourStep("系统", "健康检查", "GET", "/v1/health", None, _health),
    TourStep("店主", "查看当前店铺", "GET", "/v1/shop", Role.owner, _shop),
    TourStep("店主", "查看 API Key (只显示前缀)", "GET", "/v1/keys", Role.owner, _keys),
    TourStep("推荐", "客户分层 (RFM) 与趋势", "GET", "/v1/segments", Role.owner, _segments),
    TourStep(
        "推荐",
        "一位老顾客的分层和带理由的推荐",
        "GET",
        f"/v1/customers/{TOUR_CUSTOMER}/recommendations?k=5",
        Role.agent,
        _customer_recs,
        endpoint="/v1/customers/{customer_ref}/recommendations",
    ),
    TourStep(
        "推荐",
        "本周到期的回购提醒",
        "GET",
        "/v1/reminders?due_within_days=7&limit=3",
        Role.agent,
        _reminders,
        endpoint="/v1/reminders",
    ),
]


# 文案: a Moments request with its checked variants, then a deliberately bad text checked.
TOUR_MOMENTS_SKU = "MB-101"
TOUR_BAD_COPY = "✨全网最低价✨ 国 家 级 品质，最好用的纸尿裤，宝宝再也不红屁屁！"


def _moments(body: Any) -> str:
    lines = []
    for v in body["variants"]:
        checks = "广告法✓" if v["compliance"]["ok"] else "广告法✗"
        checks += " 事实✓" if v["facts"]["ok"] else " 事实✗"
        first = v["text"].split("\n")[0]
        lines.append(f"[{v['engine']} #{v['draft_id']} {v['chars']}字 {checks}] {first}…")
    return f"{len(body['variants'])} 条变体 (已存为草稿):\n    " + "\n    ".join(lines)


def _bad_copy(body: Any) -> str:
    hits = ", ".join(f"{v['matched']}→{v['suggestion'][:12]}" for v in body["violations"])
    return f"{len(body['violations'])} 处违规: {hits}\n    改写: {body['fixed']}"


STEPS += [
    TourStep(
        "文案",
        "朋友圈文案: 种草 · 宝妈 · 亲切 (广告法 + 事实 + 字数/表情/话题检查)",
        "POST",
        "/v1/copy/moments",
        Role.owner,
        _moments,
        body={
            "skus": [TOUR_MOMENTS_SKU],
            "goal": "种草",
            "audience": "宝妈",
            "tone": "亲切",
            "max_chars": 120,
            "emoji": 2,
            "hashtags": 2,
            "variants": 2,
        },
    ),
    TourStep(
        "文案",
        "广告法检查一段故意违规的文案",
        "POST",
        "/v1/copy/check",
        Role.agent,
        _bad_copy,
        body={"text": TOUR_BAD_COPY, "category": "infant"},
    ),
]


# 知识库: the 命中测试 of a colloquial question, with its hits and grounding.
TOUR_KB_QUERY = "七天无理由退货的运费谁来出啊"


def _kb_search(body: Any) -> str:
    hits = "\n    ".join(
        f"{n}. [{h['doc_type']}/{h['matched_by']}] {h['title']} · {h['section'] or '-'}: "
        f"{h['text'].replace(chr(10), ' ')[:50]}…"
        for n, h in enumerate(body["hits"][:3], 1)
    )
    direct = body.get("direct_answer")
    answer = f"\n    FAQ 直接回答: {direct['answer'][:60]}" if direct else ""
    return f"grounding={body['grounding']:.2f} ({body['took_ms']:.0f} ms)\n    {hits}{answer}"


STEPS += [
    TourStep(
        "知识库",
        f"命中测试: 「{TOUR_KB_QUERY}」",
        "POST",
        "/v1/kb/search",
        Role.agent,
        _kb_search,
        body={"query": TOUR_KB_QUERY, "k": 3},
    ),
]


def available_endpoints(client: httpx2.Client) -> set[tuple[str, str]] | None:
    """(METHOD, path template) pairs the running service offers, or None if it has no OpenAPI."""
    try:
        response = client.get("/openapi.json")
    except httpx2.HTTPError:
        return None
    if response.status_code != 200:
        return None
    paths: dict[str, dict[str, Any]] = response.json().get("paths", {})
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


def run_tour(client: httpx2.Client, keys: DemoKeys, steps: Sequence[TourStep]) -> list[StepResult]:
    """Run each step against the service; never raises on an HTTP error, it reports it."""
    offered = available_endpoints(client)
    results = []
    saved: dict[str, str] = {"shop_id": str(keys.shop_id)}
    for step in steps:
        if offered is not None and step.needs() not in offered:
            results.append(
                StepResult(step, "skipped", None, f"接口 {step.needs()[0]} {step.needs()[1]} 尚未实现")
            )
            continue
        missing = [name for name in _PLACEHOLDER.findall(step.path) if name not in saved]
        if missing:
            results.append(StepResult(step, "skipped", None, f"前面的步骤没有给出 {', '.join(missing)}"))
            continue
        headers = {"Authorization": f"Bearer {keys.for_role(step.role)}"} if step.role else {}
        path = _PLACEHOLDER.sub(lambda m: saved[m.group(1)], step.path)
        response = client.request(step.method, path, headers=headers, json=step.body)
        body: Any = _json(response)
        # An unrouted path is FastAPI's bare 404; our own 404s carry an `error` code.
        if response.status_code == 404 and not (isinstance(body, dict) and "error" in body):
            results.append(StepResult(step, "skipped", 404, f"接口 {step.method} {path} 尚未实现"))
        elif response.is_success:
            try:
                summary = step.summarize(body)
                saved.update({k: str(v) for k, v in (step.saves(body) if step.saves else {}).items()})
            except (KeyError, TypeError, IndexError) as exc:
                results.append(StepResult(step, "failed", response.status_code, f"响应格式不符: {exc!r}"))
                continue
            results.append(StepResult(step, "ok", response.status_code, summary))
        else:
            detail = body.get("detail", "") if isinstance(body, dict) else response.text[:200]
            results.append(StepResult(step, "failed", response.status_code, str(detail)))
    return results


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _json(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except json.JSONDecodeError:
        return None


def print_results(results: Sequence[StepResult]) -> None:
    marks = {"ok": "[green]✓[/green]", "skipped": "[yellow]–[/yellow]", "failed": "[red]✗[/red]"}
    for r in results:
        code = f" {r.status_code}" if r.status_code is not None else ""
        console.print(
            f"{marks[r.outcome]} [bold]{r.step.agent}[/bold] {r.step.title}  "
            f"[dim]{r.step.method} {r.step.path}{code}[/dim]",
            highlight=False,
        )
        console.print(f"    {r.summary}", highlight=False, soft_wrap=True)


@demo_app.command("tour")
@handle_errors
def tour(
    base_url: Annotated[
        str, typer.Option("--base-url", help="正在运行的 siyu 服务地址")
    ] = "http://127.0.0.1:8000",
    timeout: Annotated[float, typer.Option("--timeout", help="每个请求的超时 (秒)")] = 60.0,
) -> None:
    """Walk through what each agent does, against the running service (start it with `siyu run`)."""
    path = keys_path()
    keys = read_keys(path)
    if keys is None:
        raise NotFound(f"未找到演示店铺的 Key 文件 {str(path)!r}，请先运行 `siyu run` 或 `siyu demo load`")
    console.print(f"演示店铺 [bold]{keys.shop_name}[/bold] @ {base_url}", highlight=False)
    with httpx2.Client(base_url=base_url, timeout=timeout) as client:
        try:
            results = run_tour(client, keys, STEPS)
        except httpx2.TransportError as exc:
            console.print(f"[red]无法连接 {base_url}[/red] ({exc!r})，请先在另一个终端运行 `siyu run`")
            raise typer.Exit(1) from None
    print_results(results)
    ok = sum(r.outcome == "ok" for r in results)
    skipped = sum(r.outcome == "skipped" for r in results)
    failed = sum(r.outcome == "failed" for r in results)
    console.print(f"完成: {ok} 成功, {skipped} 跳过 (尚未实现), {failed} 失败")
    if failed:
        raise typer.Exit(1)


# 预测与补货: the run goes in early (right after the key listing) so the worker has finished it
# (about a second on the demo shop) by the time the tour asks its question at the end.
TOUR_FORECAST_SKU = "MB-101"
TOUR_RESTOCK_QUESTION = "下周哪些要补货?"


def _forecast_run(body: Any) -> str:
    return f"预测任务已提交: {body['job_id']} (进度: GET {body['events_url']})"


def _merchant_ask(body: Any) -> str:
    lines = [f"[{body['engine']}] {body['answer']}"]
    for row in body["rows"][:5]:
        stockout = row.get("stockout_date") or "-"
        lines.append(
            f"{row['sku']:<8} {row['title'][:14]:<14} 现货 {row['on_hand']:>4}  日均 {row['daily_mean']:>5}  "
            f"断货 {stockout}  建议补 {row['order_qty']:>4} 件  ¥{row['order_cost']}"
        )
    return "\n    ".join(lines)


def _sku_forecast(body: Any) -> str:
    week = sum(body["mean"][:7])
    lo, hi = sum(body["lo80"][:7]), sum(body["hi80"][:7])
    return (
        f"{body['title']} ({body['sku']}): 需求类型 {body['demand_class']}，模型 {body['model']}；"
        f"{body['dates'][0]} 起 7 天预计 {week:.1f} 件 (80% 区间 {lo:.1f}–{hi:.1f})，"
        f"附 {len(body['history'])} 天历史与 {len(body['dates'])} 天预测曲线"
    )


STEPS.insert(
    next(i for i, s in enumerate(STEPS) if s.path == "/v1/keys") + 1,
    TourStep(
        "预测", "提交销量预测任务 (全店 SKU, 28 天)", "POST", "/v1/forecast/run", Role.owner, _forecast_run
    ),
)
STEPS += [
    TourStep(
        "预测",
        f"店主提问: 「{TOUR_RESTOCK_QUESTION}」",
        "POST",
        "/v1/merchant/ask",
        Role.owner,
        _merchant_ask,
        body={"question": TOUR_RESTOCK_QUESTION},
    ),
    TourStep(
        "预测",
        f"单品预测曲线: {TOUR_FORECAST_SKU}",
        "GET",
        f"/v1/forecast/{TOUR_FORECAST_SKU}",
        Role.agent,
        _sku_forecast,
        endpoint="/v1/forecast/{sku}",
    ),
]


# 客服: one conversation of the tour customer: a policy answer with its citation, an order-status
# answer, then 转人工, which a staff (agent) key finds in the queue, claims, answers and hands back.
# The steps chain: the conversation and handoff ids come from the earlier responses (`saves`).
TOUR_CS_QUESTION = "满多少包邮啊"
TOUR_CS_ORDER_QUESTION = "我的快递怎么还没到啊"
TOUR_CS_HANDOFF = "转人工"
TOUR_CS_STAFF_REPLY = "您好，我是客服小鹿，您的包裹我这边帮您盯着，有进展第一时间告诉您～"


def _cs_started(body: Any) -> str:
    return f"会话 #{body['id']} ({body['customer_ref']} · {body['channel']})，状态 {body['state']}"


def _cs_answer(body: Any) -> str:
    cites = "; ".join(f"[{c['kind']}] {c['title']}" for c in body["citations"]) or "无"
    reply = (body["reply"] or "").replace("\n", " ")
    return f"[{body['engine']} · {body['intent']}] {reply[:90]}\n    引用: {cites}"


def _cs_handoff(body: Any) -> str:
    h = body["handoff"]
    reasons = ", ".join(h["reasons"])
    return f"状态 {body['state']}，转接单 #{h['id']} (原因: {reasons})\n    回复: {body['reply']}"


def _cs_queue(body: Any) -> str:
    if not body:
        return "队列为空"
    first = body[0]
    return f"{len(body)} 个待处理，队首 #{first['id']}: {first['brief'].get('request', '')}"


def _cs_claimed(body: Any) -> str:
    return f"转接单 #{body['id']} 已被 {body['claimed_by']} 认领 ({body['status']})"


def _cs_staff_reply(body: Any) -> str:
    return f"人工已回复，会话状态 {body['state']} (机器人不再插话)"


def _cs_released(body: Any) -> str:
    return f"转接单 #{body['id']} {body['status']}，会话交还机器人"


def _cs_transcript(body: Any) -> str:
    roles = " → ".join(
        f"{m['role']}{'(' + m['engine'] + ')' if m['engine'] else ''}" for m in body["messages"]
    )
    return f"状态 {body['state']}，{len(body['messages'])} 条消息: {roles}"


_CONV = "/v1/conversations/{conversation_id}"
STEPS += [
    TourStep(
        "客服",
        "顾客发起会话",
        "POST",
        "/v1/conversations",
        Role.service,
        _cs_started,
        body={"customer_ref": TOUR_CUSTOMER, "channel": "wechat"},
        saves=lambda b: {"conversation_id": b["id"]},
    ),
    TourStep(
        "客服",
        f"顾客问: 「{TOUR_CS_QUESTION}」(带引用的回答)",
        "POST",
        f"{_CONV}/messages",
        Role.service,
        _cs_answer,
        body={"text": TOUR_CS_QUESTION},
    ),
    TourStep(
        "客服",
        f"顾客问: 「{TOUR_CS_ORDER_QUESTION}」(订单与物流)",
        "POST",
        f"{_CONV}/messages",
        Role.service,
        _cs_answer,
        body={"text": TOUR_CS_ORDER_QUESTION},
    ),
    TourStep(
        "客服",
        f"顾客说: 「{TOUR_CS_HANDOFF}」",
        "POST",
        f"{_CONV}/messages",
        Role.service,
        _cs_handoff,
        body={"text": TOUR_CS_HANDOFF},
        saves=lambda b: {"handoff_id": b["handoff"]["id"]},
    ),
    TourStep(
        "客服",
        "人工客服查看待接队列",
        "GET",
        "/v1/handoffs?status=waiting",
        Role.agent,
        _cs_queue,
        endpoint="/v1/handoffs",
    ),
    TourStep("客服", "人工客服认领", "POST", "/v1/handoffs/{handoff_id}/claim", Role.agent, _cs_claimed),
    TourStep(
        "客服",
        "人工客服回复顾客",
        "POST",
        f"{_CONV}/messages",
        Role.agent,
        _cs_staff_reply,
        body={"text": TOUR_CS_STAFF_REPLY},
    ),
    TourStep("客服", "交还机器人", "POST", "/v1/handoffs/{handoff_id}/release", Role.agent, _cs_released),
    TourStep("客服", "会话记录 (角色与引擎)", "GET", _CONV, Role.agent, _cs_transcript),
]
