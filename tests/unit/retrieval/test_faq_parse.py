from __future__ import annotations

import pytest

from retrieval.chunking import chunk_text
from retrieval.documents import text_chunks, text_document
from retrieval.faq_parse import FaqEntry, is_question, split_faq


def qa(text: str) -> list[tuple[str, str, str]]:
    return [(e.question, e.answer, e.section) for e in split_faq(text).entries]


# -- headings ----------------------------------------------------------------------------------

HELP_CENTRE = """# 帮助中心

## 售后服务

### 退换货

#### 七天无理由怎么退？

签收后 7 天内可在订单页申请退货，流程如下：

1. 打开订单详情
2. 点击**申请售后**
3. 填写退货原因？选“不想要了”即可

#### 退货运费谁出

质量问题由商家承担，无理由退货由买家承担。

## 关于我们

我们是一家专注母婴用品的店铺，成立于 2015 年。
"""


def test_question_headings_become_entries_under_their_section_path() -> None:
    assert qa(HELP_CENTRE) == [
        (
            "七天无理由怎么退？",
            "签收后 7 天内可在订单页申请退货，流程如下：\n1. 打开订单详情\n2. 点击申请售后\n"
            "3. 填写退货原因？选“不想要了”即可",
            "帮助中心 > 售后服务 > 退换货",
        ),
        ("退货运费谁出", "质量问题由商家承担，无理由退货由买家承担。", "帮助中心 > 售后服务 > 退换货"),
    ]


def test_the_prose_around_entries_keeps_its_headings_and_nothing_of_the_entries() -> None:
    layout = split_faq(HELP_CENTRE)
    chunks = chunk_text(layout.prose)
    assert [(c.text, c.section) for c in chunks] == [
        ("我们是一家专注母婴用品的店铺，成立于 2015 年。", "帮助中心 > 关于我们")
    ]


def test_deeper_headings_belong_to_a_heading_questions_answer() -> None:
    text = (
        "## 如何退货？\n### 线上申请\n订单页点申请售后。\n### 寄回地址\n杭州市余杭区。\n"
        "## 怎么开发票？\n订单页申请。\n"
    )
    assert qa(text)[0] == ("如何退货？", "线上申请\n订单页点申请售后。\n寄回地址\n杭州市余杭区。", "")


def test_a_numbered_or_marked_heading_loses_its_number() -> None:
    text = "## 1. 多久发货？\n当天发。\n## Q2: 包邮吗\n满99包邮。\n"
    assert [q for q, _, _ in qa(text)] == ["多久发货？", "包邮吗"]


def test_a_heading_question_with_no_answer_of_its_own_is_a_section() -> None:
    text = "## 关于发票有哪些规定？\n问：能开专票吗？\n答：可以。\n问：多久开出？\n答：三个工作日。\n"
    assert [(q, s) for q, _, s in qa(text)] == [
        ("能开专票吗？", "关于发票有哪些规定？"),
        ("多久开出？", "关于发票有哪些规定？"),
    ]


# -- 问/答 and Q/A markers ---------------------------------------------------------------------


def test_question_and_answer_markers_in_every_spelling() -> None:
    text = (
        "问：多久发货？\n答：16点前付款当天发货。\n"
        "问:能发顺丰吗？答:可以，补差价12元。\n"
        "【问】能改地址吗\n【答】发货前可以改。\n"
        "Q：支持花呗吗？\nA：支持。\n"
        "Q1. How long is the warranty?\nA1: One year.\n"
        "问题3：发票抬头能改吗？\n回答：开票前可以。\n"
    )
    assert [(q, a) for q, a, _ in qa(text)] == [
        ("多久发货？", "16点前付款当天发货。"),
        ("能发顺丰吗？", "可以，补差价12元。"),
        ("能改地址吗", "发货前可以改。"),
        ("支持花呗吗？", "支持。"),
        ("How long is the warranty?", "One year."),
        ("发票抬头能改吗？", "开票前可以。"),
    ]


def test_a_question_wrapped_before_its_answer_marker_is_joined() -> None:
    text = "问：如果我收到的商品有破损，\n应该怎么处理？\n答：拍照联系客服。\n问：能退吗？\n答：能。\n"
    assert qa(text)[0][:2] == ("如果我收到的商品有破损，应该怎么处理？", "拍照联系客服。")


def test_a_marker_inside_a_sentence_is_not_a_question() -> None:
    text = (
        "问：能退吗？\n答：可以。顾客问：那运费呢？这种情况运费由买家承担。\n"
        "如有疑问：请联系客服。\n"
        "问：能换吗？\n答：可以换。\n"
    )
    assert qa(text) == [
        ("能退吗？", "可以。顾客问：那运费呢？这种情况运费由买家承担。\n如有疑问：请联系客服。", ""),
        ("能换吗？", "可以换。", ""),
    ]


def test_markers_inside_a_code_block_are_text() -> None:
    text = "```\nQ: 不是问题？\nA: 示例\n```\n"
    assert split_faq(text, min_entries=1).entries == ()


# -- numbered questions ------------------------------------------------------------------------


def test_numbered_questions_in_every_style() -> None:
    text = (
        "## 支付\n"
        "1. 支持哪些付款方式？\n支持微信和支付宝。\n"
        "2、可以货到付款吗\n暂不支持。\n"
        "## 发票\n"
        "问题一：能开专票吗？\n可以。\n"
        "问题二：多久开出？\n三个工作日内。\n"
        "## 配送\n"
        "（1）发什么快递？\n默认中通。\n"
        "（2）能指定顺丰吗？\n补差价可以。\n"
    )
    assert [(q, a, s) for q, a, s in qa(text)] == [
        ("支持哪些付款方式？", "支持微信和支付宝。", "支付"),
        ("可以货到付款吗", "暂不支持。", "支付"),
        ("能开专票吗？", "可以。", "发票"),
        ("多久开出？", "三个工作日内。", "发票"),
        ("发什么快递？", "默认中通。", "配送"),
        ("能指定顺丰吗？", "补差价可以。", "配送"),
    ]


def test_the_numbered_steps_of_an_answer_are_not_split_into_entries() -> None:
    text = (
        "1. 如何申请退款？\n步骤如下：\n1. 进入订单\n2. 点申请退款？\n3. 等待审核\n"
        "2. 退款多久到账？\n原路退回，1-3 个工作日。\n"
    )
    assert [(q, a) for q, a, _ in qa(text)] == [
        ("如何申请退款？", "步骤如下：\n1. 进入订单\n2. 点申请退款？\n3. 等待审核"),
        ("退款多久到账？", "原路退回，1-3 个工作日。"),
    ]


def test_numbering_picks_up_after_an_answers_steps() -> None:
    text = "3. 如何退货？\n1. 登录\n2. 申请\n3. 寄回\n4. 退货地址在哪？\n杭州。\n"
    assert [q for q, _, _ in qa(text)] == ["如何退货？", "退货地址在哪？"]


def test_a_pdf_wrapped_question_and_answer_are_joined() -> None:
    text = (
        "1. 如果我收到的商品有破损，应该怎么\n办？\n"
        "请在签收后四十八小时内拍下外箱和破损处的照片并联系客\n服登记，核实后补发。\n"
        "2. 能开发票吗？\n能。\n"
    )
    assert qa(text)[0][:2] == (
        "如果我收到的商品有破损，应该怎么办？",
        "请在签收后四十八小时内拍下外箱和破损处的照片并联系客服登记，核实后补发。",
    )


def test_a_numbered_list_of_steps_alone_is_prose() -> None:
    text = "## 四、如何申请\n\n1. 联系客服，提供订单号；\n2. 客服确认后寄回；\n3. 5 个工作日内检测完成。\n"
    layout = split_faq(text)
    assert layout.entries == () and layout.prose == text


# -- bold question lines -----------------------------------------------------------------------


def test_bold_question_lines_and_a_bold_label_inside_an_answer() -> None:
    text = (
        "# 会员FAQ\n\n**积分怎么获得？**\n每消费1元得1积分。\n\n**注意事项**\n积分不可转让。\n\n"
        "- **积分会过期吗？**\n每年12月31日清零。\n"
    )
    assert qa(text) == [
        ("积分怎么获得？", "每消费1元得1积分。\n注意事项\n积分不可转让。", "会员FAQ"),
        ("积分会过期吗？", "每年12月31日清零。", "会员FAQ"),
    ]


# -- prose stays prose -------------------------------------------------------------------------

POLICY = """# 退换货政策

## 一、七天无理由退货

签收 7 天内可退。

## 二、退货流程

1. 联系客服
2. 寄回商品

## 四、如何申请

联系客服提供订单号。
"""


def test_a_policy_with_one_question_like_heading_is_chunked_as_before() -> None:
    layout = split_faq(POLICY)
    assert layout.entries == () and layout.prose == POLICY
    assert text_chunks(POLICY) == chunk_text(POLICY)


def test_one_entry_is_found_when_asked_for() -> None:
    assert split_faq(POLICY, min_entries=1).entries == (
        FaqEntry("如何申请", "联系客服提供订单号。", "退换货政策", 12),
    )


@pytest.mark.parametrize(
    "text",
    [
        "七天无理由退货怎么退？",
        "能开发票吗",
        "运费谁出呢",
        "如何修改收货地址",
        "是否支持货到付款",
        "多久发货",
        "Can I return it?",
    ],
)
def test_questions(text: str) -> None:
    assert is_question(text)


@pytest.mark.parametrize(
    "text",
    [
        "退货流程",
        "运费说明",
        "一、七天无理由退货",
        "常见问题",
        "签收后七天内可以退货，运费由买家承担。",
        "",
        "售后" * 70,
    ],
)
def test_not_questions(text: str) -> None:
    assert not is_question(text)


def test_strict_questions_for_numbered_and_bold_lines() -> None:
    assert is_question("如何申请退款", strict=True)
    assert is_question("能开发票吗", strict=True)
    # A step that mentions 是否 in passing is not a question.
    assert not is_question("确认是否需要发票", strict=True)
    assert not is_question("进入订单页面", strict=True)


# -- into chunks -------------------------------------------------------------------------------


def test_entries_are_faq_chunks_and_the_prose_keeps_its_chunking() -> None:
    chunks = text_chunks(HELP_CENTRE)
    assert [(c.kind, c.question, c.section) for c in chunks] == [
        ("faq", "七天无理由怎么退？", "帮助中心 > 售后服务 > 退换货"),
        ("faq", "退货运费谁出", "帮助中心 > 售后服务 > 退换货"),
        ("text", "", "帮助中心 > 关于我们"),
    ]
    assert chunks[1].text == "问：退货运费谁出\n答：质量问题由商家承担，无理由退货由买家承担。"


def test_a_document_with_entries_hashes_apart_from_the_same_text_as_prose() -> None:
    faq = text_document(1, "d", "帮助中心", HELP_CENTRE)
    prose = text_document(1, "d", "帮助中心", POLICY)
    assert faq.content_hash != text_document(1, "d", "帮助中心", HELP_CENTRE + " ").content_hash
    from retrieval.index import content_hash

    assert prose.content_hash == content_hash(f"policy\n帮助中心\n{POLICY}")
    assert faq.content_hash != content_hash(f"policy\n帮助中心\n{HELP_CENTRE}")
