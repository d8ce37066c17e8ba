from __future__ import annotations

from agents.customer_service.brief import BriefInput, Evidence, OrderRef, make_brief, one_line, sentences
from agents.customer_service.schemas import Intent, Reason, Turn

POLICY = """# 退换货政策
## 二、质量问题退换
| 破损、漏液、少件、错发 | 签收后 48 小时内 | 补发或退款，无需退回（需照片/视频） | 本店承担 |
- 本店收到退货并验收后 **1 个工作日内**发起退款；
"""


def test_brief_is_extractive_and_complete() -> None:
    turns = [
        Turn("customer", "奶粉罐子压瘪了"),
        Turn("bot", "很抱歉，请提供订单号和照片"),
        Turn("customer", "订单 20250301008"),
        Turn("customer", "罐子破损 要补发还是退款？"),
    ]
    order = OrderRef("20250301008", "已签收", "山谷牧场奶粉 1段 ×2")
    brief = make_brief(
        BriefInput(
            turns,
            Intent.return_exchange,
            [Reason.refund_dispute],
            sentiment=-0.4,
            order=order,
            evidence=[
                Evidence("会员积分规则：积分可抵现。", 0.9, "会员积分"),
                Evidence(POLICY, 0.6, "退换货政策"),
            ],
        )
    )
    assert brief.request == "订单 20250301008 / 罐子破损 要补发还是退款？"
    assert brief.intent is Intent.return_exchange and brief.reasons == [Reason.refund_dispute]
    assert brief.sentiment == -0.4 and brief.order == order
    assert brief.bot_answers == ["很抱歉，请提供订单号和照片"]
    assert brief.suggested_reply is not None and "补发或退款" in brief.suggested_reply
    assert brief.suggested_source == "退换货政策"


def test_brief_without_evidence_has_no_suggestion() -> None:
    brief = make_brief(BriefInput([Turn("customer", "转人工")], Intent.human, [Reason.customer_request]))
    assert brief.request == "转人工" and brief.suggested_reply is None and brief.bot_answers == []


def test_one_line_dedups_and_cuts() -> None:
    assert one_line(["转人工", "转人工", "  快点\n"]) == "转人工 / 快点"
    long = one_line(["啊" * 200])
    assert len(long) == 80 and long.endswith("…")


def test_sentences_strip_markdown() -> None:
    assert sentences("## 标题\n- 本店收到退货后 **1 个工作日内**发起退款；") == [
        "本店收到退货后 1 个工作日内发起退款；"
    ]
