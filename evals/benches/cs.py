"""Bench `cs`: bot-turn latency of the customer-service agent with the offline engine (no LLM).

The demo shop is loaded into a throwaway SQLite database with its knowledge base indexed into a
throwaway Chroma dir, exactly as `siyu demo load` does. A seeded mix of customer conversations
(product questions, order status with the customers' real order numbers, policy questions and
转人工, written the way customers type) is pushed through `handle_customer_message`, the same
entry the API calls: persist, state machine, intent, tools, composition, guard, handoff policy.

Baselines, measured in the same run over the same message texts:
- the raw knowledge-base search alone (`kb_search`: query embedding, hybrid search and grounding),
  which every answered turn pays at least once; the embedder's query cache is emptied before each
  call, as a turn embeds its message once (a second row shows the search with the vector cached);
- intent classification alone (rules + embedding nearest neighbour).
Rows give p50/p95 per message kind and the p95 ratio against the KB search. Goal: p95 < 50 ms.
`--quick`: 40 conversations instead of 120.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from agents.customer_service import service
from agents.customer_service.normalize import fold
from agents.customer_service.tools import kb_search
from agents.privacy import mask_pii
from agents.runtime import Runtime
from evals.bench import BenchContext, BenchResult, Timing, bench, percentile
from retrieval.embedding import Embedder
from store import migrate
from store.demo.loader import DemoKeys, load_demo
from store.repositories.catalog import ProductRepository
from store.repositories.customers import CustomerRepository
from store.repositories.orders import OrderRepository
from store.settings import Settings

GOAL_P95_MS = 50.0
Kind = Literal["product", "order", "policy", "handoff"]
KINDS: tuple[Kind, ...] = ("product", "order", "policy", "handoff")
KIND_CN = {"product": "商品咨询", "order": "查订单/物流", "policy": "政策/FAQ", "handoff": "转人工"}


# -- the demo shop in a throwaway database ---------------------------------------------------


@dataclass(frozen=True)
class DemoCustomer:
    ref: str
    order_nos: tuple[str, ...]


@dataclass(frozen=True)
class DemoShop:
    runtime: Runtime
    shop_id: int
    keys: DemoKeys
    customers: tuple[DemoCustomer, ...]  # only customers with orders: they ask about them
    product_names: tuple[str, ...]  # how customers call the products, e.g. 轻薄透气纸尿裤


def _colloquial_name(title: str) -> str:
    # "小鹿贝贝 轻薄透气纸尿裤 M码 64片" → "轻薄透气纸尿裤": customers drop brand and pack size.
    parts = title.split()
    return parts[1] if len(parts) > 1 else parts[0]


@contextmanager
def demo_shop(
    base: Settings,
    embedder: Embedder,
    *,
    customers: int = 120,
    end_date: date | None = None,
    workdir: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> Iterator[DemoShop]:
    """The demo shop in a fresh SQLite file + Chroma dir under `workdir` (default: a temp dir).

    `overrides` are Settings fields (e.g. the LLM base URL of a stub server)."""
    with tempfile.TemporaryDirectory(prefix="siyu-bench-cs-") as tmp:
        root = workdir or Path(tmp)
        # Validated (model_copy would not): the overrides arrive as plain strings.
        settings = Settings.model_validate(
            {
                **base.model_dump(),
                "var_dir": root,
                "database_url": f"sqlite:///{root / 'siyu.db'}",
                "chroma_url": None,
                "chroma_path": root / "chroma",
                **(overrides or {}),
            }
        )
        migrate.upgrade(settings.resolved_database_url)
        runtime = Runtime.from_settings(settings)
        try:
            runtime.put("embedder", embedder)
            if not settings.llm_configured:
                runtime.put("llm", None)
            report = load_demo(
                runtime.sessions,
                end_date=end_date or date.today(),
                keys_path=root / "demo-keys.json",
                customers=customers,
            )
            from agents.knowledge import service as kb_service

            kb_service.ensure_indexed(runtime, report.shop_id)
            yield DemoShop(runtime, report.shop_id, report.keys, *_shop_facts(runtime, report.shop_id))
        finally:
            runtime.close()


def _shop_facts(runtime: Runtime, shop_id: int) -> tuple[tuple[DemoCustomer, ...], tuple[str, ...]]:
    with runtime.sessions() as s:
        people = CustomerRepository(s).list(shop_id, limit=10_000).items
        orders = OrderRepository(s)
        found = []
        for c in people:
            numbers = tuple(o.order_no for o in orders.recent_for_customer(shop_id, c.id, limit=5))
            if numbers:
                found.append(DemoCustomer(c.customer_ref, numbers))
        names = sorted({_colloquial_name(p.title) for p in ProductRepository(s).list(shop_id)})
    return tuple(found), tuple(names)


# -- what customers say ----------------------------------------------------------------------

PRODUCT_TEMPLATES = (
    "{p}多少钱一件啊",
    "{p}还有货没",
    "请问{p}现在啥价格",
    "{p}有没有别的规格可以选",
    "你们家{p}有现货吗 今天能发不",
    "{p}适合多大的宝宝用啊",
    "想问下{p}怎么样 好用吗",
    "{p}能便宜点不",
)
ORDER_TEMPLATES = (
    "帮我查下订单{o}到哪了",
    "{o} 这单发货没有啊",
    "单号{o}物流咋一直不动",
    "我的订单{o}什么时候能到",
    "查一下{o}",
)
ORDER_NO_NUMBER = (
    "我买的东西怎么还没到啊",
    "我的快递到哪了",
    "上次下的单发了没",
    "物流好几天没更新了",
)
POLICY_MESSAGES = (
    "退货的话来回运费谁出呀",
    "满多少包邮啊",
    "奶粉拆开了还能退不",
    "退款几天能到账",
    "下单后多久发货",
    "可以开发票吗 怎么开",
    "江浙沪一般几天到",
    "收到的东西压坏了咋办",
    "积分能抵钱吗",
    "水果到了有烂的怎么赔",
    "衣服码数不对能换吗",
    "能不能发顺丰啊",
    "优惠券怎么用 能叠加不",
    "新疆能买生鲜吗",
    "东西坏了保修多久",
    "七天无理由怎么算的",
)
HANDOFF_MESSAGES = ("转人工", "人工客服", "转 人 工", "rg", "找个真人跟我说", "叫你们客服出来", "我要人工")
OPENERS = ("", "亲，", "你好，", "在吗 ", "哈喽，", "老板，", "请问一下，", "麻烦问下 ", "hi ")
CLOSERS = ("", "？", "呀", "啊", "~", "！", "。。", "哈", "？？")


@dataclass
class ScriptedConversation:
    customer_ref: str
    messages: list[tuple[Kind, str]] = field(default_factory=list)


def conversation_script(
    shop: DemoShop, n: int, per_conversation: int, *, seed: int = 7, handoff_share: float = 0.15
) -> list[ScriptedConversation]:
    """`n` conversations of `per_conversation` messages each: a seeded, realistic mix.

    Every text is unique, also after PII masking (a load run maps each LLM request back to its
    turn by the text). About `handoff_share` of the conversations end with a 转人工.
    """
    rng = random.Random(seed)
    seen: set[str] = set()

    def unique(base: str) -> str:
        for _ in range(200):
            text = f"{rng.choice(OPENERS)}{base}{rng.choice(CLOSERS)}"
            key = mask_pii(text).strip()
            if key not in seen:
                seen.add(key)
                return text
        raise ValueError(f"ran out of variants for {base!r}; use fewer conversations")

    def message(kind: Kind, customer: DemoCustomer) -> str:
        if kind == "product":
            return unique(rng.choice(PRODUCT_TEMPLATES).format(p=rng.choice(shop.product_names)))
        if kind == "order":
            if rng.random() < 0.7:
                return unique(rng.choice(ORDER_TEMPLATES).format(o=rng.choice(customer.order_nos)))
            return unique(rng.choice(ORDER_NO_NUMBER))
        if kind == "policy":
            return unique(rng.choice(POLICY_MESSAGES))
        return unique(rng.choice(HANDOFF_MESSAGES))

    if not shop.customers:
        raise ValueError("the demo shop has no customer with orders")
    out = []
    for i in range(n):
        customer = shop.customers[i % len(shop.customers)]
        convo = ScriptedConversation(customer.ref)
        asks_human = rng.random() < handoff_share
        for j in range(per_conversation):
            last = j == per_conversation - 1
            kind: Kind = "handoff" if asks_human and last else rng.choice(("product", "order", "policy"))
            convo.messages.append((kind, message(kind, customer)))
        out.append(convo)
    return out


# -- the bench -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TurnSample:
    kind: Kind
    text: str
    ms: float
    replied: bool
    engine: str | None
    handed_off: bool


def run_turns(shop: DemoShop, script: list[ScriptedConversation], now: datetime) -> list[TurnSample]:
    """Every scripted message through the service, in order; a conversation a person now holds
    gets no further messages (they would be null replies, not bot turns)."""
    rt, samples = shop.runtime, []
    for convo in script:
        conv_id = int(service.start_conversation(rt, shop.shop_id, convo.customer_ref, "wechat")["id"])
        for kind, text in convo.messages:
            t0 = time.perf_counter()
            turn = service.handle_customer_message(rt, shop.shop_id, conv_id, text, now)
            ms = (time.perf_counter() - t0) * 1000
            handed = turn.handoff is not None
            samples.append(TurnSample(kind, text, ms, turn.reply is not None, turn.engine, handed))
            if handed or turn.reply is None:
                break
    return samples


def _time_each(texts: list[str], fn: Any, before: Any = None) -> Timing:
    """Per-call milliseconds; `before` runs untimed ahead of each call."""
    out = []
    for text in texts:
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn(text)
        out.append((time.perf_counter() - t0) * 1000)
    return Timing(out)


@bench("cs", "客服: 离线引擎单轮回复延迟 p50/p95 (演示店铺, 真实消息混合; 对比知识库检索/意图分类)")
def run(ctx: BenchContext) -> BenchResult:
    n_conversations = 40 if ctx.quick else 120
    embedder = ctx.runtime.embedder()
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    with demo_shop(ctx.runtime.settings, embedder, customers=200) as shop:
        setup_s = time.perf_counter() - t0
        script = conversation_script(shop, n_conversations, 4, seed=11)
        # Warm-up: first-use costs (classifier examples embedded, lexical snapshot, SQL caches).
        run_turns(shop, conversation_script(shop, 3, 4, seed=99), now)
        samples = run_turns(shop, script, now)
        texts = [s.text for s in samples]
        kb = shop.runtime.knowledge_base()
        clf = service.classifier(shop.runtime)
        # The turns filled the embedder's query cache (512 entries, more than the texts): first the
        # search with every vector cached and the intent classifier, then the baseline proper,
        # which pays for its embedding as the turn did (once): the cache is emptied before each.
        cached_t = _time_each(texts, lambda t: kb_search(kb, shop.shop_id, t))
        intent_t = _time_each(texts, lambda t: clf.classify(t, fold(t)))
        forget = getattr(embedder, "forget_queries", lambda: None)
        kb_t = _time_each(texts, lambda t: kb_search(kb, shop.shop_id, t), before=forget)
    overall = Timing([s.ms for s in samples])
    base = kb_t.p95
    rows: list[list[Any]] = []
    for kind in KINDS:
        part = [s.ms for s in samples if s.kind == kind]
        if part:
            p50, p95 = percentile(part, 50), percentile(part, 95)
            rows.append([f"bot turn: {KIND_CN[kind]}", len(part), p50, p95, f"{p95 / base:.1f}×"])
    rows.append(["bot turn: all", len(samples), overall.p50, overall.p95, f"{overall.p95 / base:.1f}×"])
    rows.append(["baseline: KB search alone (query embedded)", len(texts), kb_t.p50, kb_t.p95, "1.0×"])
    rows.append(
        [
            "  the same, query vector cached",
            len(texts),
            cached_t.p50,
            cached_t.p95,
            f"{cached_t.p95 / base:.1f}×",
        ]
    )
    rows.append(
        ["baseline: intent alone", len(texts), intent_t.p50, intent_t.p95, f"{intent_t.p95 / base:.1f}×"]
    )
    engines: dict[str, int] = {}
    for s in samples:
        engines[s.engine or "none"] = engines.get(s.engine or "none", 0) + 1
    met = "met" if overall.p95 < GOAL_P95_MS else "NOT met"
    return BenchResult(
        name="cs",
        columns=["what", "n", "p50 ms", "p95 ms", "p95 x KB search"],
        rows=rows,
        notes=[
            f"demo shop (200 customers) loaded and indexed in {setup_s:.1f}s; {n_conversations} "
            f"conversations × up to 4 messages = {len(samples)} bot turns, offline engine, no LLM",
            "engines: "
            + ", ".join(f"{k} {v}" for k, v in sorted(engines.items()))
            + f"; handoffs {sum(s.handed_off for s in samples)}",
            f"goal p95 < {GOAL_P95_MS:.0f} ms: {met} ({overall.p95:.1f} ms)",
        ],
        figures={
            "p50_ms": overall.p50,
            "p95_ms": overall.p95,
            "kb_search_p50_ms": kb_t.p50,
            "kb_search_p95_ms": kb_t.p95,
            "kb_search_cached_p95_ms": cached_t.p95,
            "intent_p95_ms": intent_t.p95,
            "p95_ratio_vs_kb_search": overall.p95 / base,
            "turns": float(len(samples)),
            "setup_s": setup_s,
        },
    )
