"""The offline engine's templates: facts from tools, excerpts from chunks, always with a source."""

from __future__ import annotations

from decimal import Decimal

from agents.customer_service.compose import DEFAULT_MIN_EVIDENCE, compose, evidence_score
from agents.customer_service.schemas import Intent, OrderNumberFormat
from agents.customer_service.tools import (
    EventInfo,
    OrderInfo,
    ProductInfo,
    ToolResults,
    VariantInfo,
    find_order_no,
)
from retrieval.faq import DirectAnswer
from retrieval.search import GroundingFeatures, Hit, SearchResult

ORDER = OrderInfo(
    order_no="LM2026112000001",
    status="shipped",
    status_cn="已发货，运输中",
    total=Decimal("258.00"),
    items=("MB-101×2",),
    carrier="中通",
    tracking_no="7846",
    events=(EventInfo("11-20 09:00", "in_transit", "杭州市", "快件已到达杭州转运中心"),),
    guessed=False,
)


def _kb(*hits: Hit, grounding: float = 0.9) -> SearchResult:
    return SearchResult("q", list(hits), grounding, GroundingFeatures(0.9, 1.0, 1.0, 0.0))


def _hit(text: str, title: str = "生鲜售后说明", score: float = 0.03) -> Hit:
    return Hit("c1", "policy:生鲜售后.md", "policy", title, "二、签收后 48 小时内", text, score, "dense")


def test_order_answer_cites_the_order_and_is_grounded_by_the_tool() -> None:
    out = compose("到哪了", Intent.logistics, ToolResults(order=ORDER, kb=_kb(grounding=0.1)))
    assert "LM2026112000001" in out.text and "中通 运单号 7846" in out.text and "杭州转运中心" in out.text
    assert out.grounding == 1.0 and out.citations[0]["kind"] == "order"


def test_product_answer_quotes_store_price_and_variants() -> None:
    product = ProductInfo(
        "ST-771",
        "暖阳 保温杯",
        Decimal("138.00"),
        Decimal("118.00"),
        0,
        True,
        (VariantInfo("晨雾蓝", Decimal("138.00"), 3),),
    )
    out = compose("多少钱", Intent.product, ToolResults(products=[product]))
    assert "现价 ¥138.00，暂时缺货" in out.text and "晨雾蓝（¥138.00，有货）" in out.text
    assert out.citations[0]["doc_id"] == "product:ST-771"


def test_policy_excerpt_reads_table_rows_and_names_its_document() -> None:
    text = (
        "| 问题 | 赔付标准 | 需要提供 |\n问题  赔付标准  需要提供\n"
        "水果坏果（腐烂、破裂）  按坏果重量占比退款，坏果超过 30% 可整单补发"
    )
    out = compose("水果坏了怎么赔", Intent.repair, ToolResults(kb=_kb(_hit(text))))
    assert out.text.startswith("水果坏果（腐烂、破裂），按坏果重量占比退款")
    assert "问题，赔付标准" not in out.text and "（依据《生鲜售后说明》" in out.text
    assert out.grounding == 0.9 and out.citations[0]["kind"] == "document"


def test_asking_for_an_order_number_shows_the_shops_example() -> None:
    digits = OrderNumberFormat(pattern=r"\d{16}", example="2024112012345678")
    out = compose("我的快递到哪了", Intent.logistics, ToolResults(order_asked=True), order_number=digits)
    assert out.text == "暂时没有查到您的订单，麻烦发一下订单号（例如 2024112012345678），我马上帮您查。"
    plain = compose("我的快递到哪了", Intent.logistics, ToolResults(order_asked=True))
    assert plain.text == "暂时没有查到您的订单，麻烦发一下订单号，我马上帮您查。"
    assert "LM" not in out.text + plain.text


def test_nothing_to_say_has_the_searchs_grounding() -> None:
    out = compose("护照怎么办", Intent.other, ToolResults(kb=_kb(grounding=0.05)))
    assert out.grounding == 0.05 and not out.citations


def test_order_numbers_are_found_in_colloquial_text() -> None:
    assert find_order_no("帮我查下订单lm2026112000001到哪了") == "LM2026112000001"
    assert find_order_no("满99减10") is None


def _chunk(cid: str, doc_id: str, text: str, score: float, similarity: float, coverage: float) -> Hit:
    doc_type = (
        "product" if doc_id.startswith("product:") else "faq" if doc_id.startswith("faq:") else "policy"
    )
    return Hit(
        cid, doc_id, doc_type, doc_id, "", text, score, "dense", similarity=similarity, coverage=coverage
    )


MILK_RULE = _chunk(
    "c1", "faq:faq.csv", "问：牛奶收到是胀包的\n答：乳品胀包可以整件退款或补发。", 0.03, 0.90, 0.55
)
MILK_CARD = _chunk("c2", "product:SX-311", "山谷牧场 鲜牛奶", 0.028, 0.87, 0.3)
MILK = ProductInfo("SX-311", "山谷牧场 鲜牛奶 950ml×2瓶", Decimal("39.90"), Decimal("35.00"), 10, True)


def test_the_answer_rests_on_the_chunk_that_holds_the_question() -> None:
    loose = _chunk(
        "c1", "faq:faq.csv", "问：下单后能改地址吗？\n答：未发货前可以联系客服修改地址。", 0.03, 0.896, 0.13
    )
    close = _chunk(
        "c2", "faq:faq.csv", "问：下单后多久发货？\n答：16:00前付款的订单当天发货。", 0.029, 0.921, 0.4
    )
    out = compose("今天下单啥时候发", Intent.logistics, ToolResults(kb=_kb(loose, close)))
    assert out.citations[0]["chunk_id"] == "c2" and "当天发货" in out.text
    assert out.evidence == evidence_score(close) and evidence_score(close) > evidence_score(loose)


def test_evidence_is_only_judged_for_document_answers() -> None:
    weak = _chunk("c1", "faq:faq.csv", "问：可以货到付款吗？\n答：暂不支持货到付款。", 0.03, 0.87, 0.16)
    alone = compose("你们支持花呗分期吗", Intent.other, ToolResults(kb=_kb(weak)))
    assert alone.evidence is not None and alone.evidence < DEFAULT_MIN_EVIDENCE
    with_order = compose("到哪了", Intent.logistics, ToolResults(order=ORDER, kb=_kb(weak)))
    assert with_order.evidence is None and with_order.grounding == 1.0


def test_an_after_sales_rule_ranked_above_the_product_joins_the_product_card() -> None:
    out = compose(
        "牛奶到了鼓包了", Intent.product, ToolResults(products=[MILK], kb=_kb(MILK_RULE, MILK_CARD))
    )
    assert [c["doc_id"] for c in out.citations] == ["product:SX-311", "faq:faq.csv"]
    assert "整件退款或补发" in out.text
    # The card ranked first, or the rule is too weak for the shop: the product answer stands alone.
    first = compose("牛奶多少钱", Intent.product, ToolResults(products=[MILK], kb=_kb(MILK_CARD, MILK_RULE)))
    assert [c["doc_id"] for c in first.citations] == ["product:SX-311"]
    strict = compose(
        "牛奶到了鼓包了",
        Intent.product,
        ToolResults(products=[MILK], kb=_kb(MILK_RULE, MILK_CARD)),
        min_evidence=0.999,
    )
    assert [c["doc_id"] for c in strict.citations] == ["product:SX-311"]


def test_a_curated_answer_is_given_whole_and_cited_by_its_question() -> None:
    answer = "签收后7天内可在订单页申请退货。\n1. 打开订单详情\n2. 点击申请售后"
    faq = DirectAnswer("七天无理由怎么退？", answer, 0.9, "c9", "help.md", "帮助中心", "售后服务 > 退换货")
    out = compose("不想要了咋退", Intent.return_exchange, ToolResults(kb=_kb(), faq=faq))
    assert out.text == f"{answer}（出自《帮助中心》）"
    assert out.citations == [
        {
            "ref": "S1",
            "kind": "faq",
            "title": "七天无理由怎么退？",
            "doc_id": "help.md",
            "chunk_id": "c9",
            "section": "售后服务 > 退换货",
        }
    ]


def test_a_faq_entry_used_as_a_passage_is_cited_by_its_question() -> None:
    entry = Hit(
        "c3",
        "help.md",
        "policy",
        "帮助中心",
        "售后服务 > 退换货",
        "问：退货运费谁出？\n答：质量问题由商家承担。无理由退货由买家承担。",
        0.03,
        "dense",
        similarity=0.92,
        question="退货运费谁出？",
        coverage=0.8,
    )
    out = compose("退货的运费要我出吗", Intent.return_exchange, ToolResults(kb=_kb(entry)))
    assert out.text.endswith("（依据《帮助中心》「退货运费谁出？」）")
    assert out.citations[0]["title"] == "退货运费谁出？"
