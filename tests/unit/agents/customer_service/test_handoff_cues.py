"""Generalised handoff rules: 'the answer missed' cues after a bot answer, and the keyword families
added for people to fetch, anger, and refunds that drag on (folded, so typing variants match)."""

from __future__ import annotations

import pytest

from agents.customer_service.handoff import HandoffInput, answer_missed, decide
from agents.customer_service.normalize import fold
from agents.customer_service.schemas import Reason, ShopPolicy, Turn

POLICY = ShopPolicy()
ASKED = [
    Turn("customer", "洗衣液能洗羊毛衫吗"),
    Turn("bot", "净柔婴儿洗衣液无荧光剂无磷。（出自《常见问题》）"),
]


def reasons(text: str, turns: list[Turn] | None = None) -> list[Reason]:
    decision = decide(HandoffInput(text, recent_turns=turns or []), POLICY)
    return decision.reasons if decision else []


@pytest.mark.parametrize(
    "text",
    [
        "我想知道的是羊毛衫",
        "不是问这个",
        "看 不 懂",
        "啥意思？",
        "你还是没回答",
        "那到底行不行",
        "说了等于没说",
        "你听得懂我吗",
        "麻烦重新回答",
        "这回复不对吧",
        "我 问 的 是 羊毛衫！！",  # spaces and punctuation fold away
        "牛頭不對馬嘴",  # traditional characters fold to simplified
    ],
)
def test_answer_missed_cues_raise_repeated_failure_after_a_bot_answer(text: str) -> None:
    assert answer_missed(ASKED, fold(text), POLICY) is not None, text
    assert Reason.repeated_failure in reasons(text, ASKED)


@pytest.mark.parametrize("text", ["我想知道的是羊毛衫", "那到底行不行", "啥意思？"])
def test_the_same_words_without_a_bot_answer_just_before_are_not_a_failure(text: str) -> None:
    assert answer_missed([], fold(text), POLICY) is None
    assert answer_missed([Turn("customer", "在吗")], fold(text), POLICY) is None
    # staff spoke after the bot: if anything failed, it was not the bot
    assert answer_missed([*ASKED, Turn("human", "我来看看")], fold(text), POLICY) is None
    assert Reason.repeated_failure not in reasons(text)


@pytest.mark.parametrize("text", ["好的谢谢", "那再买一瓶", "明白了", "羊毛衫用哪款"])
def test_a_satisfied_follow_up_is_not_a_failure(text: str) -> None:
    assert answer_missed(ASKED, fold(text), POLICY) is None
    assert reasons(text, ASKED) == []


def test_a_shop_can_replace_the_cues() -> None:
    policy = ShopPolicy.from_shop_settings({"cs": {"keywords": {"repeated_failure": ["听不明白"]}}})
    assert answer_missed(ASKED, fold("听不明白"), policy) == "听不明白"
    assert answer_missed(ASKED, fold("答非所问"), policy) is None
    # the other reasons keep their defaults
    assert decide(HandoffInput("转人工"), policy) is not None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("麻烦让客服小哥哥过来一下", Reason.customer_request),
        ("叫个说了算的", Reason.customer_request),
        ("老板电话给我", Reason.customer_request),
        ("我直接找你们经理", Reason.customer_request),
        ("以后再也不会回购了", Reason.complaint_or_anger),
        ("真的是气炸了", Reason.complaint_or_anger),
        ("今天必须给我个交代", Reason.complaint_or_anger),
        ("说了 3 遍了", Reason.complaint_or_anger),
        ("退货寄回去 10 天了", Reason.refund_dispute),
        ("两个礼拜了 钱呢", Reason.refund_dispute),
        ("之前说好给我补发的", Reason.refund_dispute),
    ],
)
def test_generalised_keyword_families(text: str, reason: Reason) -> None:
    assert reason in reasons(text), text


@pytest.mark.parametrize(
    "text", ["客服几点上班", "退货要几天", "说好的赠品在哪领", "这款气味大吗", "买两次了很好用"]
)
def test_the_keyword_families_leave_plain_questions_alone(text: str) -> None:
    assert reasons(text) == [], text


@pytest.mark.parametrize("text", ["退款一直不到账", "东西寄回去了 钱到现在都没退", "款迟迟没有到账"])
def test_a_refund_that_has_not_arrived_is_a_dispute(text: str) -> None:
    assert Reason.refund_dispute in reasons(text)


@pytest.mark.parametrize("text", ["退款一般几天到账", "退款多久能到", "钱退到哪里"])
def test_asking_how_refunds_work_is_not_a_dispute(text: str) -> None:
    assert Reason.refund_dispute not in reasons(text)
