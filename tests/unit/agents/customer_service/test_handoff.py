from __future__ import annotations

from decimal import Decimal

import pytest

from agents.customer_service.errors import InvalidShopPolicy
from agents.customer_service.handoff import HandoffInput, decide, is_repeat, jaccard, score_sentiment
from agents.customer_service.normalize import fold, punctuation_runs
from agents.customer_service.schemas import (
    CustomerFacts,
    Intent,
    Reason,
    ShopPolicy,
    Turn,
    priority_of,
)

POLICY = ShopPolicy()


def reasons(text: str, policy: ShopPolicy = POLICY, **kw: object) -> list[Reason]:
    h = decide(HandoffInput(text, **kw), policy)  # type: ignore[arg-type]
    return h.reasons if h else []


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("转 人 工", "转人工"),
        ("ｒｇ", "rg"),
        ("人👉工 客 服", "人工客服"),
        ("轉人工！！", "转人工"),
        ("RG", "rg"),
    ],
)
def test_fold_meets_typing_variants(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@pytest.mark.parametrize(
    "text",
    [
        "转人工",
        "转 人 工",
        "ｒｇ",
        "rg",
        "RG",
        "rg rg rg",
        "zrg",
        "人工!!",
        "人工！！！",
        "人 工 客 服",
        "人👉工👈客服",
        "轉人工",
        "真人",
        "我要找真人",
        "找你们经理",
        "叫你们老板出来",
        "你们负责人呢",
        "不要机器人 我要人",
        "有人工吗",
        "我要跟你们主管说",
    ],
)
def test_customer_request_variants(text: str) -> None:
    assert reasons(text) == [Reason.customer_request]


@pytest.mark.parametrize(
    "text",
    [
        "人工费多少",
        "人工费多少 安装要另外收钱吗",
        "转账可以吗",
        "转账给你们行不行",
        "工商银行卡能付吗",
        "你是人工智能吗",
        "这个是人工养殖的带鱼吗",
        "你们老板说可以打五折",
        "经理推荐的那款面霜是哪个",
        "usb线有吗",
        "纸尿裤M码还有货吗",
        "在吗？？？",
    ],
)
def test_no_false_positive(text: str) -> None:
    assert reasons(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我要投诉到12315", {Reason.legal_or_regulator, Reason.complaint_or_anger}),
        ("再不处理我就去消协", {Reason.legal_or_regulator}),
        ("准备起诉你们", {Reason.legal_or_regulator}),
        ("发微博曝光你们", {Reason.legal_or_regulator}),
        ("我已经联系律师了", {Reason.legal_or_regulator}),
        ("凭什么不给我退款", {Reason.refund_dispute}),
        ("退款都半个月了还没到账", {Reason.refund_dispute}),
        ("东西寄回去一周了 钱还没退", {Reason.refund_dispute}),
        ("什么破东西啊 用两天就坏", {Reason.complaint_or_anger}),
        ("你们就是骗子！！！", {Reason.complaint_or_anger}),
        ("垃 圾 店", {Reason.complaint_or_anger}),
    ],
)
def test_keyword_reasons(text: str, expected: set[Reason]) -> None:
    assert set(reasons(text)) == expected


def test_legal_has_the_highest_priority() -> None:
    legal = priority_of([Reason.legal_or_regulator])
    others = [r for r in Reason if r is not Reason.legal_or_regulator]
    assert legal > priority_of(others)
    h = decide(HandoffInput("我要打12315投诉你们"), POLICY)
    assert h is not None and h.priority == 101
    assert h.reasons == [Reason.complaint_or_anger, Reason.legal_or_regulator]


def test_sentiment_scores_anger_and_shouting() -> None:
    assert score_sentiment("谢谢亲 很好用").score > 0
    calm = score_sentiment("什么时候发货")
    assert calm.anger == 0 and calm.terms == ()
    shouted = score_sentiment("等了十天还没发货？？？你们到底在干嘛？？？")
    assert punctuation_runs("等了十天？？？到底？？？") == 2
    assert shouted.anger == pytest.approx(0.8)  # 到底 0.2 + 干嘛 0.2 + two runs 0.4
    assert Reason.complaint_or_anger in reasons("等了十天还没发货？？？你们到底在干嘛？？？")


def test_low_grounding_threshold_and_small_talk() -> None:
    assert reasons("面霜含不含酒精", grounding=0.34) == [Reason.low_grounding]
    assert reasons("面霜含不含酒精", grounding=0.35) == []
    assert reasons("谢谢", grounding=0.0, intent=Intent.chitchat) == []
    assert reasons("面霜含不含酒精", grounding=None) == []
    strict = ShopPolicy(low_grounding=0.5)
    assert reasons("面霜含不含酒精", strict, grounding=0.4) == [Reason.low_grounding]


def test_repeated_failure_is_a_rephrase_after_a_bot_answer() -> None:
    turns = [Turn("customer", "我的快递到哪了"), Turn("bot", "请提供订单号")]
    assert jaccard("我的快递到哪了", "我的快递到底到哪了") >= 0.6
    assert is_repeat(turns, "我的快递到底到哪了", 0.6)
    assert reasons("我的快递到底到哪了", recent_turns=turns) == [Reason.repeated_failure]
    assert reasons("好的谢谢", recent_turns=turns) == []
    # no bot answer in between: not a failure of the bot
    assert not is_repeat([Turn("customer", "我的快递到哪了")], "我的快递到哪了", 0.6)
    # staff answered after the bot: not the bot's failure
    assert not is_repeat([*turns, Turn("human", "我看一下")], "我的快递到哪了", 0.6)
    # a caller-supplied embedding cosine replaces the bigram Jaccard
    assert reasons("包裹在哪", recent_turns=turns, repeat_similarity=0.9) == [Reason.repeated_failure]
    assert reasons("我的快递到哪了", recent_turns=turns, repeat_similarity=0.1) == []


def test_error_and_commitment_blocked() -> None:
    assert reasons("多少钱", error=True) == [Reason.tool_or_llm_error]
    assert reasons("能便宜点吗", commitment_blocked=True) == [Reason.commitment_blocked]


def test_intent_raises_a_request_only_when_confident() -> None:
    assert reasons("能不能来个小姐姐", intent=Intent.human, intent_confidence=0.9) == [
        Reason.customer_request
    ]
    assert reasons("能不能来个小姐姐", intent=Intent.human, intent_confidence=0.3) == []
    assert reasons("被你们气笑了", intent=Intent.complaint, intent_confidence=0.7) == [
        Reason.complaint_or_anger
    ]


def test_vip_joins_a_handoff_or_always_when_configured() -> None:
    vip = CustomerFacts(segment="vip")
    rich = CustomerFacts(lifetime_value=Decimal("3000"))
    big_order = CustomerFacts(order_value=Decimal("1299"))
    plain = CustomerFacts(segment="new", lifetime_value=Decimal("100"), order_value=Decimal("50"))
    assert reasons("多少钱", customer=vip) == []
    assert reasons("转人工", customer=vip) == [Reason.customer_request, Reason.vip]
    assert reasons("转人工", customer=rich) == [Reason.customer_request, Reason.vip]
    assert reasons("转人工", customer=big_order) == [Reason.customer_request, Reason.vip]
    assert reasons("转人工", customer=plain) == [Reason.customer_request]
    always = ShopPolicy(vip_always_handoff=True)
    assert reasons("多少钱", always, customer=vip) == [Reason.vip]
    assert reasons("你好", always, customer=vip, intent=Intent.chitchat) == []
    assert reasons("多少钱", always, customer=vip, settled_reasons=frozenset({Reason.vip})) == []
    by_segment_only = ShopPolicy(
        vip_segments=("黑金",), vip_min_lifetime_value=None, vip_min_order_value=None
    )
    assert reasons("转人工", by_segment_only, customer=rich) == [Reason.customer_request]


def test_shop_policy_from_settings() -> None:
    assert ShopPolicy.from_shop_settings({}) == ShopPolicy()
    assert ShopPolicy.from_shop_settings(None).low_grounding == 0.35
    policy = ShopPolicy.from_shop_settings(
        {
            "other": 1,
            "cs": {
                "low_grounding": 0.3,
                "silence_minutes": 10,
                "extra_keywords": {"customer_request": ["叫小二"]},
                "keywords": {"legal_or_regulator": ["打官司"]},
                "business_hours": {"open": "08:30", "close": "18:00", "weekdays": [0, 1, 2, 3, 4]},
            },
        }
    )
    assert policy.low_grounding == 0.3 and policy.silence_minutes == 10
    assert reasons("叫小二来", policy) == [Reason.customer_request]
    assert reasons("打官司", policy) == [Reason.legal_or_regulator]
    assert reasons("我要去消协", policy) == []  # the shop replaced the legal list
    assert reasons("转人工", policy) == [Reason.customer_request]  # other lists keep their defaults


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"cs": {"low_grounding": 3}}, "cs.low_grounding"),
        ({"cs": {"keywords": {"customer_request": ["(unclosed"]}}}, "cs.keywords"),
        ({"cs": {"business_hours": {"open": "21:00", "close": "09:00"}}}, "cs.business_hours"),
        ({"cs": {"business_hours": {"timezone": "Mars/Base"}}}, "cs.business_hours.timezone"),
        ({"cs": {"nonsense": True}}, "cs.nonsense"),
        ({"cs": ["not", "a", "dict"]}, "cs"),
    ],
)
def test_bad_shop_policy_names_the_field(settings: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidShopPolicy) as info:
        ShopPolicy.from_shop_settings(settings)
    assert info.value.field == field
    assert info.value.code == "invalid_shop_policy"


def test_weak_evidence_for_a_document_answer_hands_off() -> None:
    # The chunk a document-only answer rests on must hold what was asked (花呗 → 货到付款 FAQ).
    assert reasons("你们支持花呗分期吗", grounding=0.9, evidence=0.37) == [Reason.low_grounding]
    assert reasons("不满99要运费吗", grounding=0.9, evidence=0.9) == []
    assert reasons("不满99要运费吗", grounding=0.9, evidence=None) == []  # a tool or FAQ answered
    assert reasons("谢谢", grounding=0.9, evidence=0.1, intent=Intent.chitchat) == []
    lenient = ShopPolicy.from_shop_settings({"cs": {"min_evidence": 0.3}})
    assert reasons("你们支持花呗分期吗", lenient, grounding=0.9, evidence=0.37) == []
    decision = decide(HandoffInput("你们有实体店吗", grounding=0.9, evidence=0.32), POLICY)
    assert decision is not None and decision.evidence[Reason.low_grounding] == "evidence=0.32"


def test_being_ignored_with_shouting_is_anger() -> None:
    assert reasons("等了三天都没人理 你们是不是倒闭了？？？") == [Reason.complaint_or_anger]
    assert reasons("等了三天都没人理") == []  # a remark alone stays with the bot
