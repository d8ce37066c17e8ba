"""The merchant agent: "下周哪些商品要补货？" "保温杯还能卖几天？" "预算5000先补什么？".

    question ─ understand: with a model, it calls one of TOOLS (prompts/forecaster/tools.yaml)
               and code resolves the arguments (period, product, a budget the merchant said);
               without one, or when that fails, the rule parser (pure: intent, range, SKU, budget)
             ─ tools (service.suggestions / forecast_view / allocate_budget) → a small table
             ─ answer: offline template, or the LLM phrasing it (prompts/forecaster/answer.yaml)

The numbers are always the tools'. The model only picks the tool and phrases; an answer of its
that carries a number found nowhere in the tool data, or any LLM error, falls back to the
offline answer. The response says which engine produced it, and `parsed.source` who understood
the question.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from calendar import monthrange
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from agents.forecaster import service
from agents.forecaster.schemas import RestockAdvice
from agents.llm import LLMGateway
from agents.runtime import Runtime
from prompts.loader import load_prompt, render
from retrieval.lexical import common_substring_length
from retrieval.numerals import chinese_number
from store.db import session_scope
from store.errors import LLMError, LLMTimeout, LLMUnavailable, NotFound
from store.repositories.catalog import ProductRepository
from store.repositories.sales import SalesRepository

log = logging.getLogger("siyu.forecaster")

PROMPT_ID = "forecaster/answer"
TOOLS_PROMPT_ID = "forecaster/tools"
MAX_ROWS = 10


class Intent(StrEnum):
    restock_list = "restock_list"
    days_left = "days_left"
    budget_plan = "budget_plan"
    forecast_for_sku = "forecast_for_sku"
    unknown = "unknown"


@dataclass(frozen=True)
class Parsed:
    intent: Intent
    days: int
    range_label: str
    sku: str | None = None
    sku_candidates: tuple[str, ...] = ()
    budget: Decimal | None = None
    source: str = "rules"  # "rules" | "llm_tool": who understood the question


# ---- parse (pure) -------------------------------------------------------------------------

TYPOS = {
    "补获": "补货",
    "布货": "补货",
    "补伙": "补货",
    "进获": "进货",
    "那些": "哪些",
    "哪写": "哪些",
    "那个商品": "哪个商品",
    "几填": "几天",
    "几添": "几天",
    "预箅": "预算",
    "预酸": "预算",
    "预蒜": "预算",
    "礼拜": "周",
    "星期": "周",
    "卖多小": "卖多少",
    "多久能卖完": "几天卖完",
}
# 1万2 is read whole (12000); 1万 leaves 万 to the budget patterns' unit group.
_NUM = r"\d+(?:\.\d+)?(?:万\d+)?|[零一二两三四五六七八九十百千万]+"
_DAYS = re.compile(rf"(?:未来|接下来|最近|之后|后面|今后|这|近)?\s*({_NUM})\s*(?:天|日)")
_WEEKS = re.compile(rf"({_NUM})\s*(?:个)?周")
_BUDGET = (
    re.compile(
        rf"(?:预算|只有|就有|手上|手头|有|花|¥|共|拿出|资金)\s*(?:有|是|才|大概|大约|约|只有)?\s*({_NUM})\s*(万|w|千|k|百)?"
    ),
    re.compile(rf"({_NUM})\s*(万|w|千|k)\s*(?:块|元|的|预算|钱)?"),
    re.compile(rf"({_NUM})\s*(?:块|元|rmb)"),
)
_CODE = re.compile(r"[a-z]{1,4}[-_ ]?\d{2,6}")
_STOP = ("商品", "补货", "库存", "预算", "几天", "下周", "什么", "哪些", "多少", "卖完", "东西", "货品")

BUDGET_WORDS = ("预算", "钱", "资金", "块", "元", "¥", "￥")
DAYS_LEFT_WORDS = (
    "能卖几天",
    "卖几天",
    "够卖",
    "几天卖完",
    "什么时候卖完",
    "啥时候卖完",
    "还剩几天",
    "撑几天",
    "能撑",
    "卖到哪天",
    "还够",
    "库存够",
    "断货",
    "卖光",
    "几天",
)
FORECAST_WORDS = (
    "卖多少",
    "能卖多少",
    "销量",
    "预测",
    "卖几件",
    "卖几个",
    "多少件",
    "多少个",
    "走量",
    "卖得怎么样",
    "出多少",
)
RESTOCK_WORDS = (
    "补货",
    "补什么",
    "补啥",
    "进货",
    "备货",
    "订货",
    "下单",
    "采购",
    "缺货",
    "要补",
    "该补",
    "囤货",
    "补哪",
    "进点",
)


def normalize(text: str) -> str:
    flat = unicodedata.normalize("NFKC", text).lower()
    flat = re.sub(r"\s+", "", flat)
    for wrong, right in TYPOS.items():
        flat = flat.replace(wrong, right)
    return flat


_SCALE = {"万": 10000, "w": 10000, "千": 1000, "k": 1000, "百": 100}


def parse_budget(text: str) -> Decimal | None:
    for pattern in _BUDGET:
        for match in pattern.finditer(text):
            value = chinese_number(match.group(1))
            if value is None:
                continue
            unit = match.group(2) if pattern.groups >= 2 else None
            if unit:
                value *= _SCALE[unit]
            if value >= 50:  # "有3个" is not a budget
                return value.quantize(Decimal("0.01"))
    return None


def parse_range(text: str, today: date) -> tuple[int, str]:
    """(days, label) of the time range the question asks about; 14 days when it names none."""
    if any(w in text for w in ("下周", "下个周", "下一周")):
        return 7, "下周"
    if any(w in text for w in ("这周", "本周", "这个周", "周末前")):
        days = 7 - today.weekday()
        return days, "本周"
    if any(w in text for w in ("下个月", "下月")):
        return 30, "下个月"
    if any(w in text for w in ("月底", "月末", "这个月", "本月")):
        days = monthrange(today.year, today.month)[1] - today.day + 1
        return days, "月底前"
    if "明天" in text:
        return 1, "明天"
    match = _DAYS.search(text)
    if match and (n := chinese_number(match.group(1))) and 1 <= n <= 90 and "几" not in match.group(0):
        return int(n), f"未来{int(n)}天"
    match = _WEEKS.search(text)
    if match and (n := chinese_number(match.group(1))) and 1 <= n <= 12:
        return int(n) * 7, f"未来{int(n) * 7}天"
    return service.DEFAULT_REVIEW_DAYS, f"未来{service.DEFAULT_REVIEW_DAYS}天"


def match_sku(text: str, catalog: Sequence[tuple[str, str]]) -> list[str]:
    """SKUs the question names: by code (mb104, MB-104), else by the best title overlap (≥ 2 chars)."""
    codes = {re.sub(r"[^0-9a-z]", "", m) for m in _CODE.findall(text)}
    by_code = [sku for sku, _ in catalog if re.sub(r"[^0-9a-z]", "", sku.lower()) in codes]
    if by_code:
        return by_code
    probe = text
    for word in _STOP:
        probe = probe.replace(word, "|")
    scored: list[tuple[int, int, str]] = []
    for sku, title in catalog:
        words = [w for w in re.split(r"[\s/|,，、（）()×\-]+", title.lower()) if w]
        score = 0
        for w in words:
            if re.fullmatch(r"[\d.a-z]+", w):  # sizes and specs (500ml, 64片 is CJK) only as a tie-break
                score += len(w) if len(w) >= 3 and w in text else 0
                continue
            common = common_substring_length(re.sub(r"[^\u4e00-\u9fff]", "", w), probe)
            if common >= 2:
                score += common
        if score:
            scored.append((score, -len(title), sku))
    if not scored:
        return []
    top = max(s for s, _, _ in scored)
    return [sku for s, n, sku in sorted(scored, key=lambda t: (-t[0], -t[1], t[2])) if s == top]


def parse(question: str, catalog: Sequence[tuple[str, str]], today: date) -> Parsed:
    text = normalize(question)
    days, label = parse_range(text, today)
    budget = parse_budget(text)
    skus = match_sku(text, catalog)
    sku = skus[0] if skus else None
    if budget is not None or ("预算" in text and any(w in text for w in ("补", "进", "买", "花"))):
        intent = Intent.budget_plan
    elif any(w in text for w in DAYS_LEFT_WORDS) and sku is not None:
        intent = Intent.days_left
    elif any(w in text for w in FORECAST_WORDS) and sku is not None:
        intent = Intent.forecast_for_sku
    elif any(w in text for w in RESTOCK_WORDS):
        intent = Intent.days_left if sku is not None else Intent.restock_list
    elif any(w in text for w in DAYS_LEFT_WORDS):
        intent = Intent.restock_list
    elif sku is not None:
        intent = Intent.forecast_for_sku
    else:
        intent = Intent.unknown
    return Parsed(intent, days, label, sku, tuple(skus), budget)


# ---- understand with a model: it picks a tool, code resolves the arguments -----------------

_PERIOD = Field("", description="店主说的时间范围原词，如“下周”“未来10天”“月底前”；没说就留空")
_PRODUCT = Field(min_length=1, description="店主说的商品名称或 SKU 编码原词，如“保温杯”“MB-104”")


class RestockList(BaseModel):
    """列出一段时间内需要补货的商品（如“下周哪些要补货？”）。"""

    period: str = _PERIOD


class DaysLeft(BaseModel):
    """某个商品的现货还能卖几天、要不要补货（如“保温杯还能卖几天？”）。"""

    product: str = _PRODUCT


class BudgetPlan(BaseModel):
    """在店主给的预算内，按紧急程度先补哪些商品（如“预算5000先补什么？”）。"""

    budget_yuan: float = Field(gt=0, description="店主明确说出的预算金额（元）；没说就不要调用这个工具")
    period: str = _PERIOD


class ForecastForSku(BaseModel):
    """某个商品在一段时间内预计能卖多少件（如“MB-101下个月能卖多少？”）。"""

    product: str = _PRODUCT
    period: str = _PERIOD


TOOLS: tuple[type[BaseModel], ...] = (RestockList, DaysLeft, BudgetPlan, ForecastForSku)


def understand(
    gateway: LLMGateway, shop_id: int, question: str, catalog: Sequence[tuple[str, str]], today: date
) -> Parsed | None:
    """The question as the model's tool call, resolved by code; None when the rules must do it.

    Raises `LLMTimeout`/`LLMUnavailable`, so the caller does not wait on the model twice.
    """
    rendered = render(load_prompt(TOOLS_PROMPT_ID), {"question": question})
    try:
        call = gateway.call_tools(rendered, agent="forecaster", tools=TOOLS, shop_id=shop_id).output
    except (LLMTimeout, LLMUnavailable):
        raise
    except LLMError as exc:
        log.warning("forecaster.merchant.tool_failed", extra={"code": exc.code, "shop_id": shop_id})
        return None
    parsed = resolve_tool_call(call, question, catalog, today)
    if parsed is None:
        log.warning(
            "forecaster.merchant.tool_rejected",
            extra={
                "shop_id": shop_id,
                "tool": type(call).__name__,
                "tool_args": call.model_dump(mode="json"),
            },
        )
    return parsed


def resolve_tool_call(
    call: BaseModel, question: str, catalog: Sequence[tuple[str, str]], today: date
) -> Parsed | None:
    """Pure: a tool call's arguments as a `Parsed`, through the rule parser's own resolvers.

    None when a product matches nothing in the catalog, or a budget is not one the merchant said
    (a model must not spend money the merchant never mentioned)."""
    days, label = parse_range(normalize(getattr(call, "period", "")), today)
    skus: list[str] = []
    if isinstance(call, DaysLeft | ForecastForSku):
        skus = match_sku(normalize(call.product), catalog)
        if not skus:
            return None
    if isinstance(call, RestockList):
        return Parsed(Intent.restock_list, days, label, source="llm_tool")
    if isinstance(call, DaysLeft):
        return Parsed(Intent.days_left, days, label, skus[0], tuple(skus), source="llm_tool")
    if isinstance(call, ForecastForSku):
        return Parsed(Intent.forecast_for_sku, days, label, skus[0], tuple(skus), source="llm_tool")
    if isinstance(call, BudgetPlan):
        budget = Decimal(str(round(call.budget_yuan, 2))).normalize() + Decimal("0.00")
        if not _said(budget, question):
            return None
        return Parsed(Intent.budget_plan, days, label, budget=budget, source="llm_tool")
    return None


def _said(budget: Decimal, question: str) -> bool:
    """The merchant said this amount: the rule parser reads it so, or it stands in the text as a
    whole number (500 is not said by "5000")."""
    text = normalize(question)
    if parse_budget(text) == budget:
        return True
    numbers = {n for n in re.findall(r"\d+(?:\.\d+)?", text.replace(",", ""))}
    return budget == budget.to_integral_value() and str(int(budget)) in numbers


# ---- answer -------------------------------------------------------------------------------


@dataclass
class MerchantAnswer:
    question: str
    intent: Intent
    engine: str  # "offline" | "llm"
    answer: str
    columns: list[str]
    rows: list[dict[str, Any]]
    parsed: dict[str, Any] = field(default_factory=dict)


HELP = (
    "我可以回答这几类问题：① 哪些商品要补货（如“下周哪些商品要补货？”）；"
    "② 某个商品还能卖几天（如“保温杯还能卖几天？”）；③ 有预算时先补什么（如“预算5000先补什么？”）；"
    "④ 某个商品未来能卖多少（如“MB-101 下个月能卖多少？”）。"
)


def ask(runtime: Runtime, shop_id: int, question: str) -> MerchantAnswer:
    with session_scope(runtime.sessions) as session:
        catalog = [(p.sku, p.title) for p in ProductRepository(session).list(shop_id, active_only=False)]
        run_id = service.latest_run(session, shop_id)  # NotFound: no run yet
        rows = SalesRepository(session).forecasts(shop_id, run_id)
        today = rows[0].start_date if rows else date.today()
    gateway = runtime.llm()
    parsed: Parsed | None = None
    if gateway is not None:
        try:
            parsed = understand(gateway, shop_id, question, catalog, today)
        except LLMError as exc:
            log.warning("forecaster.merchant.llm_failed", extra={"code": exc.code, "shop_id": shop_id})
            return answer_offline(runtime, shop_id, parse(question, catalog, today), question)
    if parsed is None:
        parsed = parse(question, catalog, today)
    offline = answer_offline(runtime, shop_id, parsed, question)
    if gateway is None or parsed.intent is Intent.unknown:
        return offline
    try:
        prompt = load_prompt(PROMPT_ID)
        rendered = render(
            prompt,
            {
                "question": question,
                "data": json.dumps(
                    {"columns": offline.columns, "rows": offline.rows, "facts": offline.answer},
                    ensure_ascii=False,
                    default=str,
                ),
            },
        )
        text = gateway.complete(rendered, agent="forecaster", shop_id=shop_id).output.strip()
    except LLMError as exc:
        log.warning("forecaster.merchant.llm_failed", extra={"code": exc.code, "shop_id": shop_id})
        return offline
    if not text or not numbers_grounded(text, offline):
        log.warning("forecaster.merchant.llm_rejected", extra={"shop_id": shop_id})
        return offline
    return MerchantAnswer(question, parsed.intent, "llm", text, offline.columns, offline.rows, offline.parsed)


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def numbers_grounded(text: str, offline: MerchantAnswer) -> bool:
    """Every number the model wrote appears in the tools' data (table, offline answer, question)."""
    source = offline.answer + offline.question + json.dumps(offline.rows, ensure_ascii=False, default=str)
    allowed = {n.replace(",", "") for n in _NUMBER.findall(source)}
    allowed |= {n.rstrip("0").rstrip(".") for n in allowed if "." in n}
    for n in _NUMBER.findall(text):
        flat = n.replace(",", "")
        if flat not in allowed and flat.rstrip("0").rstrip(".") not in allowed:
            return False
    return True


def answer_offline(runtime: Runtime, shop_id: int, parsed: Parsed, question: str) -> MerchantAnswer:
    info = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(parsed).items()}
    if parsed.intent is Intent.restock_list:
        return _restock_list(runtime, shop_id, parsed, question, info)
    if parsed.intent is Intent.days_left:
        return _days_left(runtime, shop_id, parsed, question, info)
    if parsed.intent is Intent.budget_plan:
        return _budget_plan(runtime, shop_id, parsed, question, info)
    if parsed.intent is Intent.forecast_for_sku:
        return _forecast_for_sku(runtime, shop_id, parsed, question, info)
    return MerchantAnswer(question, parsed.intent, "offline", "没太明白您的问题。" + HELP, [], [], info)


RESTOCK_COLUMNS = [
    "sku",
    "title",
    "on_hand",
    "daily_mean",
    "days_of_cover",
    "stockout_date",
    "order_qty",
    "order_cost",
    "priority",
]


def _row(a: RestockAdvice, result: service.Suggestions) -> dict[str, Any]:
    return {
        "sku": a.sku,
        "title": a.title,
        "on_hand": result.on_hand.get(a.sku, 0),
        "daily_mean": round(result.daily_mean.get(a.sku, 0.0), 1),
        "days_of_cover": None if a.days_of_cover is None else round(a.days_of_cover, 1),
        "stockout_date": a.stockout_date.isoformat() if a.stockout_date else None,
        "order_qty": a.order_qty,
        "order_cost": f"{a.order_cost:.2f}",
        "priority": a.priority,
    }


def _restock_list(runtime: Runtime, shop_id: int, p: Parsed, q: str, info: dict[str, Any]) -> MerchantAnswer:
    result = service.suggestions(runtime, shop_id, horizon_days=max(p.days, 1))
    end = result.as_of + timedelta(days=p.days - 1)
    need = [
        a for a in result.items if a.order_qty > 0 or (a.stockout_date is not None and a.stockout_date <= end)
    ]
    rows = [_row(a, result) for a in need[:MAX_ROWS]]
    if not need:
        text = f"{p.range_label}（{_md(result.as_of)}–{_md(end)}）按预测库存都够，暂时不需要补货。"
        return MerchantAnswer(q, p.intent, "offline", text, RESTOCK_COLUMNS, rows, info)
    urgent = [a for a in need if a.priority == 1]
    total = sum((a.order_cost for a in need), Decimal("0"))
    top = "；".join(_brief(a) for a in need[:3])
    text = (
        f"{p.range_label}（{_md(result.as_of)}–{_md(end)}）有 {len(need)} 个商品需要补货"
        f"{f'，其中 {len(urgent)} 个紧急' if urgent else ''}：{top}。"
        f"全部按建议量采购约 ¥{total:,.2f}。"
    )
    if len(need) > MAX_ROWS:
        text += f"表中列出最急的 {MAX_ROWS} 个。"
    return MerchantAnswer(q, p.intent, "offline", text, RESTOCK_COLUMNS, rows, info)


def _brief(a: RestockAdvice) -> str:
    parts = [a.title or a.sku]
    if a.days_of_cover is not None:
        parts.append(f"现货约够 {a.days_of_cover:.1f} 天")
    if a.order_qty:
        parts.append(f"建议补 {a.order_qty} 件")
    return "，".join(parts)


def _md(day: date) -> str:
    return f"{day.month}月{day.day}日"


def _one(runtime: Runtime, shop_id: int, sku: str, days: int) -> tuple[RestockAdvice, service.Suggestions]:
    result = service.suggestions(runtime, shop_id, horizon_days=max(days, 1))
    for a in result.items:
        if a.sku == sku:
            return a, result
    raise NotFound(f"商品 {sku!r} 没有预测结果")


def _days_left(runtime: Runtime, shop_id: int, p: Parsed, q: str, info: dict[str, Any]) -> MerchantAnswer:
    assert p.sku is not None
    a, result = _one(runtime, shop_id, p.sku, service.DEFAULT_REVIEW_DAYS)
    on_hand, daily = result.on_hand.get(a.sku, 0), result.daily_mean.get(a.sku, 0.0)
    name = f"{a.title}（{a.sku}）"
    if a.days_of_cover is None:
        text = f"{name} 近期预测没有销量，现货 {on_hand} 件，暂时卖不完。"
    elif a.days_of_cover == 0:
        text = f"{name} 现货已经卖完了。"
    else:
        text = f"{name} 按预测每天约卖 {daily:.1f} 件，现货 {on_hand} 件还能卖约 {a.days_of_cover:.1f} 天"
        if a.stockout_date is not None:
            text += f"，预计 {_md(a.stockout_date)} 卖完"
        text += "。"
    text += f"建议补 {a.order_qty} 件。" if a.order_qty else "目前不需要补货。"
    if len(p.sku_candidates) > 1:
        others = "、".join(p.sku_candidates[1:4])
        text += f"（也可能是指 {others}，可直接说 SKU 编码）"
    return MerchantAnswer(q, p.intent, "offline", text, RESTOCK_COLUMNS, [_row(a, result)], info)


BUDGET_COLUMNS = ["sku", "title", "priority", "suggested_qty", "funded_qty", "cost", "explanation"]


def _budget_plan(runtime: Runtime, shop_id: int, p: Parsed, q: str, info: dict[str, Any]) -> MerchantAnswer:
    if p.budget is None:
        text = "请告诉我预算金额，例如“预算5000先补什么？”或“只有两万块，先进哪些货？”。"
        return MerchantAnswer(q, p.intent, "offline", text, BUDGET_COLUMNS, [], info)
    result = service.suggestions(runtime, shop_id, horizon_days=max(p.days, 1), budget=p.budget)
    assert result.budget is not None
    plan = result.budget
    titles = {a.sku: a.title for a in result.items}
    priorities = {a.sku: a.priority for a in result.items}
    rows = [
        {
            "sku": line.sku,
            "title": titles.get(line.sku, line.sku),
            "priority": priorities.get(line.sku),
            "suggested_qty": line.suggested_qty,
            "funded_qty": line.funded_qty,
            "cost": f"{line.cost:.2f}",
            "explanation": line.explanation,
        }
        for line in plan.lines
        if line.funded_qty > 0
    ]
    deferred = sum(1 for line in plan.lines if line.funded_qty < line.suggested_qty)
    if not rows:
        text = f"预算 ¥{plan.budget:,.2f} 不够任何一个商品的起订量，或目前没有需要补货的商品。"
        return MerchantAnswer(q, p.intent, "offline", text, BUDGET_COLUMNS, rows, info)
    first = "、".join(
        f"{r['title']} {r['funded_qty']} 件（¥{Decimal(str(r['cost'])):,.2f}）" for r in rows[:3]
    )
    text = (
        f"预算 ¥{plan.budget:,.2f}：按紧急程度先补 {first}"
        f"{'等' if len(rows) > 3 else ''}，共 {len(rows)} 个商品，"
        f"花 ¥{plan.spent:,.2f}，剩 ¥{plan.remaining:,.2f}。"
    )
    if deferred:
        text += f"另有 {deferred} 个商品预算不够、没补足，等回款后再补。"
    return MerchantAnswer(q, p.intent, "offline", text, BUDGET_COLUMNS, rows[:MAX_ROWS], info)


FORECAST_COLUMNS = ["sku", "title", "days", "forecast_units", "lo80", "hi80", "model", "demand_class"]
CLASS_CN = {
    "smooth": "平稳",
    "erratic": "波动大",
    "intermittent": "间歇",
    "lumpy": "间歇且波动大",
    "inactive": "无销量",
}


def _forecast_for_sku(
    runtime: Runtime, shop_id: int, p: Parsed, q: str, info: dict[str, Any]
) -> MerchantAnswer:
    assert p.sku is not None
    view = service.forecast_view(runtime, shop_id, p.sku)
    days = min(p.days, len(view.mean))
    mean, lo, hi = service.forecast_total(view, days)
    row = {
        "sku": view.sku,
        "title": view.title,
        "days": days,
        "forecast_units": round(mean, 1),
        "lo80": round(lo, 1),
        "hi80": round(hi, 1),
        "model": view.model,
        "demand_class": view.demand_class,
    }
    text = (
        f"{view.title}（{view.sku}）{p.range_label}预计卖 {mean:.1f} 件，"
        f"八成把握在 {lo:.1f}–{hi:.1f} 件之间"
        f"（需求类型：{CLASS_CN.get(view.demand_class, view.demand_class)}，"
        f"模型 {view.model}）。"
    )
    return MerchantAnswer(q, p.intent, "offline", text, FORECAST_COLUMNS, [row], info)
