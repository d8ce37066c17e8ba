"""The customer-service conversation service on the demo shop: real embedder, real Chroma (tmp),
real database. Each test loads a small demo shop; its documents come from the `demo_kb` fixture.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from agents.customer_service import service
from agents.llm import ChatRequest, ChatResponse
from agents.runtime import Runtime
from evals.doubles.llm import Scripted, ScriptedChatModel, scripted_gateway
from store.demo import load_demo
from store.errors import LLMTimeout
from store.models import AuditLog, Customer, Message, MessageRole, Order
from store.repositories.conversations import ConversationRepository
from store.repositories.shops import ShopRepository
from tests.demo_kb import DemoKB

pytestmark = [pytest.mark.integration, pytest.mark.slow]

END = date(2026, 11, 20)
# Friday 2026-11-20 14:00 Beijing time: staff on shift.
ON_SHIFT = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


@dataclass
class Shop:
    runtime: Runtime
    shop_id: int
    customer_ref: str
    order_no: str


def demo_shop(runtime: Runtime, demo_kb: DemoKB, tmp_path: Path) -> Shop:
    report = load_demo(runtime.sessions, end_date=END, keys_path=tmp_path / "keys.json", customers=30)
    demo_kb.install(runtime, report.shop_id)
    runtime.put("llm", None)
    with runtime.sessions() as s:
        order = s.scalars(
            select(Order)
            .where(Order.shop_id == report.shop_id, Order.tracking_no.is_not(None))
            .order_by(Order.created_at.desc())
        ).first()
        assert order is not None
        ref = s.get_one(Customer, order.customer_id).customer_ref
        return Shop(runtime, report.shop_id, ref, order.order_no)


@pytest.fixture
def shop(runtime: Runtime, demo_kb: DemoKB, tmp_path: Path) -> Shop:
    return demo_shop(runtime, demo_kb, tmp_path)


def _new(shop: Shop) -> int:
    return int(service.start_conversation(shop.runtime, shop.shop_id, shop.customer_ref, "wechat")["id"])


def _say(shop: Shop, conv: int, text: str, now: datetime = ON_SHIFT) -> service.TurnResult:
    return service.handle_customer_message(shop.runtime, shop.shop_id, conv, text, now)


def test_policy_question_is_answered_offline_with_its_citation(shop: Shop) -> None:
    conv = _new(shop)
    turn = _say(shop, conv, "退货的话来回运费谁出呀")
    assert turn.reply is not None and turn.handoff is None, turn
    assert turn.engine == "offline" and turn.state == "bot"
    assert turn.citations and any(c["doc_id"].startswith(("policy:", "faq:")) for c in turn.citations)
    assert "运费" in turn.reply and ("依据《" in turn.reply or "出自《" in turn.reply)


def test_order_status_from_the_number_in_the_message(shop: Shop) -> None:
    conv = _new(shop)
    turn = _say(shop, conv, f"帮我查下订单{shop.order_no}到哪了")
    assert turn.reply is not None and shop.order_no in turn.reply, turn
    assert turn.citations[0]["kind"] == "order" and turn.citations[0]["doc_id"] == shop.order_no
    assert turn.handoff is None


def test_order_status_without_a_number_uses_the_recent_order(shop: Shop) -> None:
    conv = _new(shop)
    turn = _say(shop, conv, "我的快递怎么还没到啊")
    assert turn.reply is not None and "您近期的订单" in turn.reply, turn


def test_a_customer_without_orders_is_asked_for_a_number_in_the_shops_format(shop: Shop) -> None:
    conv = int(service.start_conversation(shop.runtime, shop.shop_id, "new-customer", "wechat")["id"])
    turn = _say(shop, conv, "我的快递到哪了")
    assert turn.reply is not None and "麻烦发一下订单号（例如 LM2026112000001）" in turn.reply, turn


def test_a_shop_with_its_own_order_number_format(shop: Shop) -> None:
    digits = "2026112012345678"
    with shop.runtime.sessions() as s:
        ShopRepository(s).update_settings(
            shop.shop_id, {"cs": {"order_number": {"pattern": r"\d{16}", "example": "2024010112345678"}}}
        )
        s.execute(update(Order).where(Order.order_no == shop.order_no).values(order_no=digits))
        s.commit()
    conv = _new(shop)
    turn = _say(shop, conv, f"帮我查下订单 {digits} 到哪了")
    assert turn.reply is not None and digits in turn.reply, turn
    assert turn.citations[0]["kind"] == "order" and turn.citations[0]["doc_id"] == digits
    stranger = int(service.start_conversation(shop.runtime, shop.shop_id, "new-customer", "wechat")["id"])
    asked = _say(shop, stranger, "我的快递到哪了")
    assert asked.reply is not None and "麻烦发一下订单号（例如 2024010112345678）" in asked.reply, asked
    assert "LM" not in asked.reply


def test_product_price_comes_from_the_store(shop: Shop) -> None:
    from sqlalchemy import update

    from store.models import Product

    with shop.runtime.sessions() as s:
        s.execute(
            update(Product).where(Product.shop_id == shop.shop_id, Product.sku == "MB-101").values(price=119)
        )
        s.commit()
    turn = _say(shop, _new(shop), "mb101 现在多少钱")
    assert turn.reply is not None and "¥119" in turn.reply, turn
    assert any(c["kind"] == "product" and c["doc_id"] == "product:MB-101" for c in turn.citations)


def test_handoff_acknowledges_once_then_stays_silent_until_released(shop: Shop) -> None:
    conv = _new(shop)
    first = _say(shop, conv, "转 人 工！！")
    assert first.state == "waiting_human" and first.handoff is not None
    assert first.reply is not None and first.reply.startswith("已为您转接人工客服，预计等待约")
    assert "customer_request" in first.handoff["reasons"]
    assert first.handoff["brief"]["request"] == "转 人 工！！"
    again = _say(shop, conv, "人呢？？")
    assert (again.reply, again.state) == (None, "waiting_human")

    rt, sid = shop.runtime, shop.shop_id
    claimed = service.claim_handoff(rt, sid, first.handoff["id"], "agent:1", ON_SHIFT + timedelta(minutes=1))
    assert claimed["status"] == "claimed"
    assert service.post_staff_message(rt, sid, conv, "您好，我是客服小林", "agent:1", ON_SHIFT) == "human"
    assert _say(shop, conv, "好的").reply is None
    released = service.release_handoff(rt, sid, first.handoff["id"], ON_SHIFT + timedelta(minutes=3))
    assert released["status"] == "released"
    back = _say(shop, conv, "积分会过期吗", ON_SHIFT + timedelta(minutes=4))
    assert back.state == "bot" and back.reply is not None and back.handoff is None

    t = service.transcript(rt, sid, conv)
    acks = [m for m in t["messages"] if m["engine"] == "ack"]
    assert len(acks) == 1
    assert [m["role"] for m in t["messages"]].count("customer") == 4
    assert any(m["role"] == "system" and "交还给机器人" in m["text"] for m in t["messages"])


def test_off_hours_ack_says_when_someone_replies(shop: Shop) -> None:
    night = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)  # 23:30 Beijing
    turn = _say(shop, _new(shop), "我要找人工客服", night)
    assert turn.reply is not None and "非工作时间" in turn.reply and "明天 09:00" in turn.reply


def test_staff_message_in_bot_state_takes_over_and_silence_hands_back(shop: Shop) -> None:
    conv = _new(shop)
    _say(shop, conv, "你好")
    rt = shop.runtime
    assert (
        service.post_staff_message(rt, shop.shop_id, conv, "亲，我来为您服务", "agent:7", ON_SHIFT) == "human"
    )
    assert _say(shop, conv, "好的谢谢", ON_SHIFT + timedelta(minutes=5)).reply is None
    late = _say(shop, conv, "还在吗，满多少包邮", ON_SHIFT + timedelta(minutes=45))
    assert late.state == "bot" and late.reply is not None
    notes = [
        m["text"] for m in service.transcript(rt, shop.shop_id, conv)["messages"] if m["role"] == "system"
    ]
    assert any("30 分钟未回复" in n for n in notes)


def test_staff_taking_over_while_the_bot_composes_wins(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    """Staff type while the bot is still answering (tools, an LLM call): the bot's reply is
    dropped, never posted over them. The takeover commits from another session mid-turn."""
    conv = _new(shop)
    _say(shop, conv, "你好")
    answer = service._answer

    def answer_then_staff_types(*args: object, **kwargs: object) -> object:
        out = answer(*args, **kwargs)  # type: ignore[arg-type]
        state = service.post_staff_message(shop.runtime, shop.shop_id, conv, "我来吧", "agent:3", ON_SHIFT)
        assert state == "human"
        return out

    monkeypatch.setattr(service, "_answer", answer_then_staff_types)
    turn = _say(shop, conv, "退货运费谁出呀", ON_SHIFT + timedelta(seconds=5))
    assert turn.reply is None and turn.state == "human"
    roles = [m["role"] for m in service.transcript(shop.runtime, shop.shop_id, conv)["messages"]]
    last_customer = len(roles) - 1 - roles[::-1].index("customer")
    assert "bot" not in roles[last_customer:] and roles[-1] == "human", roles


def test_customer_message_is_kept_when_the_tools_fail(shop: Shop) -> None:
    class Broken:
        def snapshot(self, shop_id: int) -> None:
            raise RuntimeError("chroma down")

    shop.runtime.put("kb", Broken())
    conv = _new(shop)
    turn = _say(shop, conv, "退货运费谁出")
    assert turn.handoff is not None and "tool_or_llm_error" in turn.handoff["reasons"]
    with shop.runtime.sessions() as s:
        texts = [m.text for m in ConversationRepository(s).messages(shop.shop_id, conv)]
    assert texts[0] == "退货运费谁出"


def test_llm_failure_falls_back_to_the_offline_answer(shop: Shop, scripted_llm: ScriptedChatModel) -> None:
    shop.runtime.put("llm", scripted_gateway(scripted_llm))
    scripted_llm.add(LLMTimeout("模型超时"))
    turn = _say(shop, _new(shop), "退货的话来回运费谁出呀")
    assert turn.engine == "offline" and turn.citations and turn.handoff is None, turn


def test_llm_phrases_from_delimited_sources_and_keeps_citations(
    shop: Shop, scripted_llm: ScriptedChatModel
) -> None:
    shop.runtime.put("llm", scripted_gateway(scripted_llm))
    scripted_llm.add("亲，七天无理由退货的来回运费由买家承担哦 [S1]")
    turn = _say(shop, _new(shop), "退货的话来回运费谁出呀")
    assert turn.engine == "llm" and turn.reply == "亲，七天无理由退货的来回运费由买家承担哦 [S1]"
    assert turn.citations
    user = scripted_llm.last_request.messages[-1]["content"]
    assert "<source" in user and "<customer_message>" in user


class _PoolWatch(ScriptedChatModel):
    """Scripted, and notes how many pooled connections are checked out at each model call."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        self.checked_out: list[int] = []

    def chat(self, request: ChatRequest) -> ChatResponse:
        self.checked_out.append(self.engine.pool.checkedout())  # type: ignore[attr-defined]
        return super().chat(request)


def test_no_connection_is_held_while_the_model_phrases(shop: Shop) -> None:
    # 200 chats waiting on a slow model must not hold 200 connections of a pool of 80.
    llm = _PoolWatch(shop.runtime.sessions.kw["bind"])
    llm.add("亲，七天无理由退货的来回运费由买家承担哦 [S1]")
    shop.runtime.put("llm", scripted_gateway(llm))
    turn = _say(shop, _new(shop), "退货的话来回运费谁出呀")
    assert turn.engine == "llm", turn
    assert llm.checked_out == [0]


def test_llm_promise_beyond_policy_is_blocked(shop: Shop, scripted_llm: ScriptedChatModel) -> None:
    shop.runtime.put("llm", scripted_gateway(scripted_llm))
    scripted_llm.add("老板同意了，给您打五折，运费我们出 [S1]")
    turn = _say(shop, _new(shop), "退货的话来回运费谁出呀")
    assert turn.engine == "offline", turn
    assert turn.reply is not None and "五折" not in turn.reply


def test_erasure_blanks_messages_and_personal_fields(shop: Shop) -> None:
    conv = _new(shop)
    _say(shop, conv, "我电话13812345678，地址是朝阳区某某路1号")
    counts = service.erase_customer(shop.runtime, shop.shop_id, shop.customer_ref, "owner:1", ON_SHIFT)
    assert counts.messages >= 2 and counts.conversations == 1
    with shop.runtime.sessions() as s:
        texts = s.scalars(
            select(Message.text).where(Message.conversation_id == conv, Message.role != MessageRole.system)
        ).all()
        assert texts and set(texts) == {"[已删除]"}
        c = s.scalars(
            select(Customer).where(
                Customer.shop_id == shop.shop_id, Customer.customer_ref == shop.customer_ref
            )
        ).one()
        assert c.erased_at is not None and c.phone is None and c.nickname is None
        audit = s.scalars(select(AuditLog).where(AuditLog.shop_id == shop.shop_id)).one()
        assert audit.action == "customer.erase" and audit.details["messages"] == counts.messages


# An unsure message: no rule fires and the kNN vote splits (its best label, 其他, stays under 0.5),
# so with an LLM configured the classifier asks for a second opinion.
UNSURE = "可以寄到公司吗 电话13812345678"


def _intent_source(shop: Shop, conv: int, turn: service.TurnResult) -> object:
    """Where the turn recorded who decided its intent: the reply's meta, or the handoff brief
    (whether this message hands off for low grounding depends on the shop's documents)."""
    if turn.handoff is not None:
        return turn.handoff["brief"]["intent_source"]
    with shop.runtime.sessions() as s:
        bots = [
            m for m in ConversationRepository(s).messages(shop.shop_id, conv) if m.role is MessageRole.bot
        ]
        return (bots[-1].meta or {}).get("intent_source")


def test_llm_second_opinion_decides_an_unsure_intent(shop: Shop, scripted_llm: ScriptedChatModel) -> None:
    shop.runtime.put("llm", scripted_gateway(scripted_llm))
    offline = service.classifier(shop.runtime).classify(UNSURE)
    assert offline.source == "knn" and offline.intent.value == "其他", offline
    scripted_llm.add({"label": "查询物流"}, LLMTimeout("模型超时"))  # the opinion, then the phrasing
    conv = _new(shop)
    turn = _say(shop, conv, UNSURE)
    assert turn.intent == "查询物流" and turn.reply is not None, turn
    assert _intent_source(shop, conv, turn) == "second_opinion", turn
    ask = scripted_llm.calls[0]
    system, user = ask.messages[0]["content"], ask.messages[-1]["content"]
    assert ask.schema is not None and "意图分类器" in system and "售后维修" in system
    # The customer's words reach the model as delimited data, with the phone number masked.
    assert "<customer_message>\n可以寄到公司吗" in user and "13812345678" not in user


@pytest.mark.parametrize(
    "replies",
    [
        pytest.param([LLMTimeout("模型超时")], id="timeout"),
        pytest.param(["我觉得是商品咨询", {"label": "退款"}], id="not-a-label-twice"),
    ],
)
def test_a_failed_second_opinion_keeps_the_deterministic_intent(
    shop: Shop, scripted_llm: ScriptedChatModel, replies: list[Scripted]
) -> None:
    shop.runtime.put("llm", scripted_gateway(scripted_llm))
    offline = service.classifier(shop.runtime).classify(UNSURE)
    scripted_llm.add(*replies, LLMTimeout("模型超时"))  # (the phrasing fails too: offline answer)
    conv = _new(shop)
    turn = _say(shop, conv, UNSURE)
    assert turn.intent == offline.intent.value and turn.reply is not None, turn
    assert _intent_source(shop, conv, turn) == "knn", turn
