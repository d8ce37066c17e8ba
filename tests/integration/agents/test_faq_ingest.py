"""A merchant's help centre uploaded as Markdown, DOCX and HTML, with the real embedder: each FAQ
entry is one unit, a colloquial paraphrase finds it, its whole answer comes back and the reply
cites it by its question."""

from __future__ import annotations

import io

import docx
import pytest

from agents.customer_service.compose import compose
from agents.customer_service.schemas import Intent
from agents.customer_service.tools import ToolResults, faq_answer
from agents.knowledge import service
from agents.runtime import Runtime
from retrieval.embedding import Embedder
from retrieval.faq import answer_of
from tests.conftest import ShopKeys

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RETURN_STEPS = (
    "签收后 7 天内，商品保持原包装完好、不影响二次销售的，可以申请无理由退货。\n"
    "1. 打开订单详情\n2. 点击申请售后，选择“七天无理由”\n3. 审核通过后按页面地址寄回\n"
    "来回运费由买家承担；如购买了运费险，以保险理赔为准。"
)

HELP_MD = f"""# 帮助中心

## 售后服务

### 退换货

#### 七天无理由退货怎么申请？

{RETURN_STEPS}

#### 收到的商品有破损怎么办？

请在签收后 48 小时内拍下外箱和商品破损处的照片，联系客服登记。核实后为您补发或退款，不用寄回。

### 维修

#### 电器坏了能保修吗？

电器类商品自签收起保修 1 年，保修期内非人为损坏免费维修，寄修运费由本店承担。

## 关于我们

鹿鸣优选创立于 2015 年，专注母婴与家居好物，总部位于杭州。
"""

HELP_HTML = """<html><head><title>配送帮助</title></head><body>
<h1>配送帮助</h1>
<h2>运费</h2>
<dl>
<dt>偏远地区包邮吗？</dt>
<dd>新疆、西藏、青海、内蒙古西部等偏远地区不参与包邮，每单加收 20 元运费。其他地区单笔实付满 99 元包邮。</dd>
<dt>可以指定顺丰吗？</dt>
<dd>常温商品默认中通，补差价 12 元可改顺丰；生鲜冷链商品默认顺丰。</dd>
</dl>
</body></html>"""


def _member_docx() -> bytes:
    document = docx.Document()
    document.add_heading("会员积分", level=1)
    document.add_paragraph().add_run("积分会过期吗？").bold = True
    document.add_paragraph("积分有效期为获得当年及次年，每年 12 月 31 日清零上一年度之前获得的积分。")
    document.add_paragraph("清零前 30 天会短信提醒，请及时使用。")
    document.add_paragraph().add_run("积分怎么抵现？").bold = True
    document.add_paragraph("100 积分抵 1 元，下单时勾选使用，最多抵扣实付金额的 20%。")
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


@pytest.fixture
def rt(runtime: Runtime, real_embedder: Embedder) -> Runtime:
    runtime.put("embedder", real_embedder)
    return runtime


@pytest.fixture
def shop(rt: Runtime, shop_a: ShopKeys) -> int:
    md = service.ingest_bytes(rt, shop_a.shop_id, "帮助中心.md", HELP_MD.encode())
    # Three entries, and the prose section kept as one ordinary chunk.
    assert md.chunks == 4
    assert service.ingest_bytes(rt, shop_a.shop_id, "会员积分.docx", _member_docx()).chunks == 2
    assert service.ingest_bytes(rt, shop_a.shop_id, "配送帮助.html", HELP_HTML.encode()).chunks == 2
    return shop_a.shop_id


@pytest.mark.parametrize(
    ("message", "question", "section", "answer"),
    [
        (
            "东西不想要了 七天之内还能退吗",
            "七天无理由退货怎么申请？",
            "帮助中心 > 售后服务 > 退换货",
            RETURN_STEPS,
        ),
        (
            "积分到年底是不是就清零了",
            "积分会过期吗？",
            "会员积分",
            "积分有效期为获得当年及次年，每年 12 月 31 日清零上一年度之前获得的积分。\n"
            "清零前 30 天会短信提醒，请及时使用。",
        ),
        (
            "我在新疆 你们包邮不",
            "偏远地区包邮吗？",
            "配送帮助 > 运费",
            "新疆、西藏、青海、内蒙古西部等偏远地区不参与包邮，每单加收 20 元运费。"
            "其他地区单笔实付满 99 元包邮。",
        ),
    ],
)
def test_a_paraphrase_finds_its_entry_whole_and_the_reply_cites_its_question(
    rt: Runtime, shop: int, message: str, question: str, section: str, answer: str
) -> None:
    found = service.search_kb(rt, shop, message, k=3)
    top = found.hits[0].hit
    assert (top.question, top.section) == (question, section)
    assert answer_of(top) == answer

    results = ToolResults(kb=found.result, faq=faq_answer(found.result))
    reply = compose(message, Intent.other, results)
    assert reply.citations[0]["title"] == question
    assert reply.citations[0]["chunk_id"] == top.chunk_id


def test_the_prose_around_the_entries_is_still_searchable(rt: Runtime, shop: int) -> None:
    top = service.search_kb(rt, shop, "你们总部在哪个城市", k=3).hits[0].hit
    assert (top.question, top.section) == ("", "帮助中心 > 关于我们")
    assert "2015 年" in top.text
