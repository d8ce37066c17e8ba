from __future__ import annotations

import pytest

from retrieval.faq import answer_of, bigram_dice, direct_answer, faq_match_score
from retrieval.search import GroundingFeatures, Hit, SearchResult


def faq_hit(question: str, answer: str, similarity: float | None, doc_type: str = "faq") -> Hit:
    return Hit(
        chunk_id=f"faq:{question}",
        doc_id="faq",
        doc_type=doc_type,
        title="常见问题",
        section=question,
        text=f"问：{question}\n答：{answer}",
        score=1.0,
        matched_by="dense",
        similarity=similarity,
        question=question if doc_type == "faq" else "",
    )


def result(query: str, *hits: Hit) -> SearchResult:
    return SearchResult(query, list(hits), 0.9, GroundingFeatures(0.9, 1.0, 1.0, 0.0))


def test_bigram_dice_ignores_punctuation_and_width() -> None:
    assert bigram_dice("满多少包邮？", "满多少包邮") == 1.0
    assert bigram_dice("ＡＢ", "ab") == 1.0
    assert bigram_dice("发票", "退货") == 0.0
    assert bigram_dice("", "退货") == 0.0


def test_score_mixes_dense_similarity_and_question_overlap() -> None:
    hit = faq_hit("满多少包邮？", "满99元包邮。", 0.93)
    assert faq_match_score("满多少包邮", hit) == pytest.approx(1.0)
    assert faq_match_score("满多少包邮", faq_hit("满多少包邮？", "x", None)) == pytest.approx(0.5)


def test_direct_answer_returns_the_stored_answer_verbatim_with_citation() -> None:
    found = direct_answer(result("满多少钱包邮啊", faq_hit("满多少包邮？", "单笔实付满99元包邮。", 0.92)))
    assert found is not None
    assert (found.answer, found.question, found.chunk_id, found.doc_id) == (
        "单笔实付满99元包邮。",
        "满多少包邮？",
        "faq:满多少包邮？",
        "faq",
    )


def test_no_direct_answer_below_threshold_or_without_faq_hits() -> None:
    assert direct_answer(result("能开发票吗", faq_hit("满多少包邮？", "满99元包邮。", 0.81))) is None
    policy = faq_hit("满多少包邮？", "满99元包邮。", 0.95, doc_type="policy")
    assert direct_answer(result("满多少包邮", policy)) is None
    assert direct_answer(result("满多少包邮")) is None


def test_answer_of_falls_back_to_the_text() -> None:
    assert answer_of(faq_hit("问题", "第一行\n第二行", 0.9)) == "第一行\n第二行"


def test_an_entry_found_in_an_uploaded_page_answers_directly_with_its_section() -> None:
    entry = Hit(
        chunk_id="help:0001",
        doc_id="help.md",
        doc_type="policy",
        title="帮助中心",
        section="售后服务 > 退换货",
        text="问：七天无理由怎么退？\n答：签收后7天内可申请。\n1. 打开订单\n2. 申请售后",
        score=1.0,
        matched_by="dense",
        similarity=0.93,
        question="七天无理由怎么退？",
    )
    found = direct_answer(result("七天无理由怎么退", entry))
    assert found is not None
    assert (found.question, found.answer, found.section, found.title) == (
        "七天无理由怎么退？",
        "签收后7天内可申请。\n1. 打开订单\n2. 申请售后",
        "售后服务 > 退换货",
        "帮助中心",
    )
