"""The offline engine's templates: facts from tools, excerpts from chunks, always with a source."""

from __future__ import annotations

from decimal import Decimal

from agents.customer_service.compose import compose
from agents.customer_service.schemas import Intent
from agents.customer_service.tools import (
    EventInfo,
    OrderInfo,
    ProductInfo,
    ToolResults,
    VariantInfo,
    find_order_no,
)
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


def test_nothing_to_say_has_the_searchs_grounding() -> None:
    out = compose("护照怎么办", Intent.other, ToolResults(kb=_kb(grounding=0.05)))
    assert out.grounding == 0.05 and not out.citations


def test_order_numbers_are_found_in_colloquial_text() -> None:
    assert find_order_no("帮我查下订单lm2026112000001到哪了") == "LM2026112000001"
    assert find_order_no("满99减10") is None
