"""Index and search contract with a deterministic embedder and a real on-disk Chroma."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from retrieval.cards import product_card
from retrieval.chunking import Chunk, ChunkingConfig, FaqPair, chunk_faq, chunk_text
from retrieval.embedding import Vectors
from retrieval.index import (
    DocumentInput,
    KnowledgeBase,
    answer_opening,
    content_hash,
    delete_document,
    index_document,
    passage_text,
)
from retrieval.search import (
    DEFAULT_EVIDENCE,
    DEFAULT_GROUNDING,
    EvidenceModel,
    GroundingFeatures,
    GroundingModel,
    Hit,
    SearchFilters,
    search,
    term_coverage,
)
from retrieval.vectorstore import VectorStore
from tests.unit.retrieval.fakes import HashEmbedder
from tests.unit.retrieval.test_cards_catalog import CUP, P

SHOP = 1
RETURNS_V1 = "# 退换货政策\n\n签收后七天内可以申请无理由退货，运费买家承担。\n\n生鲜商品不支持无理由退货。\n"
RETURNS_V2 = "# 退换货政策\n\n签收后十五天内可以申请无理由退货，运费本店承担。\n"
SHIPPING = "# 配送时效\n\n每天16点前付款的订单当天发货，江浙沪次日达。\n"


def doc(
    doc_id: str, text: str, doc_type: str = "policy", version: int = 1, shop_id: int = SHOP
) -> DocumentInput:
    chunks = chunk_text(text, ChunkingConfig(max_chars=30, overlap_chars=0))
    return DocumentInput(
        shop_id=shop_id,
        doc_id=doc_id,
        doc_type=doc_type,  # type: ignore[arg-type]  # tests pass literal doc types
        title=text.splitlines()[0].lstrip("# "),
        content_hash=content_hash(text),
        chunks=chunks,
        version=version,
    )


def card_doc(product: P, shop_id: int = SHOP) -> DocumentInput:
    card = product_card(product)
    return DocumentInput(
        shop_id=shop_id,
        doc_id=f"product:{product.sku}",
        doc_type="product",
        title=product.title,
        content_hash=card.content_hash,
        chunks=[Chunk(card.text, product.title)],
        sku=product.sku,
        catalog_terms=card.terms,
    )


@pytest.fixture
def store(tmp_path: Path) -> VectorStore:
    return VectorStore.persistent(tmp_path / "chroma")


@pytest.fixture
def kb(store: VectorStore) -> KnowledgeBase:
    return KnowledgeBase(store, HashEmbedder())


def live_ids(kb: KnowledgeBase, doc_id: str) -> list[str]:
    return sorted(c.chunk_id for c in kb.store.get(SHOP, where={"doc_id": doc_id}, texts=False))


def test_indexed_document_is_found_with_metadata(kb: KnowledgeBase) -> None:
    result = index_document(kb, doc("policy:returns", RETURNS_V1))
    assert result.changed and len(result.chunk_ids) == 2
    index_document(kb, doc("policy:shipping", SHIPPING))
    found = search(kb, SHOP, "七天无理由退货运费谁出", k=3)
    top = found.hits[0]
    assert (top.doc_id, top.doc_type, top.title, top.section) == (
        "policy:returns",
        "policy",
        "退换货政策",
        "退换货政策",
    )
    assert "七天" in top.text and top.matched_by in ("dense", "lexical")
    assert top.chunk_id in result.chunk_ids
    meta = kb.store.get(SHOP, where={"doc_id": "policy:returns"}, texts=False)[0].metadata
    assert {k: meta[k] for k in ("shop_id", "doc_type", "version", "content_hash", "sku", "live")} == {
        "shop_id": SHOP,
        "doc_type": "policy",
        "version": 1,
        "content_hash": content_hash(RETURNS_V1),
        "sku": "",
        "live": True,
    }


def test_unchanged_document_does_no_work(kb: KnowledgeBase) -> None:
    first = index_document(kb, doc("policy:returns", RETURNS_V1))
    embedder = kb.embedder
    assert isinstance(embedder, HashEmbedder)
    calls = len(embedder.calls)
    generation = kb.store.generation(SHOP)
    again = index_document(kb, doc("policy:returns", RETURNS_V1, version=2))
    assert again.chunk_ids == first.chunk_ids and not again.changed
    assert len(embedder.calls) == calls
    assert kb.store.generation(SHOP) == generation


def test_changed_document_replaces_every_chunk(kb: KnowledgeBase) -> None:
    old = index_document(kb, doc("policy:returns", RETURNS_V1))
    assert search(kb, SHOP, "生鲜能退吗", k=5).hits  # warm the cache on the old version
    new = index_document(kb, doc("policy:returns", RETURNS_V2, version=2))
    assert new.changed and new.removed == 2 and not set(old.chunk_ids) & set(new.chunk_ids)
    assert live_ids(kb, "policy:returns") == sorted(new.chunk_ids)
    texts = [h.text for h in search(kb, SHOP, "生鲜 七天 十五天 退货", k=10).hits]
    assert texts == ["签收后十五天内可以申请无理由退货，运费本店承担。"]


class FailingEmbedder(HashEmbedder):
    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        raise RuntimeError("model crashed")


def test_failed_embedding_leaves_the_previous_version(kb: KnowledgeBase, store: VectorStore) -> None:
    old = index_document(kb, doc("policy:returns", RETURNS_V1))
    broken = KnowledgeBase(store, FailingEmbedder())
    with pytest.raises(RuntimeError, match="model crashed"):
        index_document(broken, doc("policy:returns", RETURNS_V2, version=2))
    assert live_ids(kb, "policy:returns") == sorted(old.chunk_ids)
    assert "七天" in search(kb, SHOP, "退货", k=1).hits[0].text


class FailingWriteStore(VectorStore):
    """Writes the chunks, then fails, as a full disk would halfway through a batch."""

    def add(self, *args: Any, **kwargs: Any) -> None:
        super().add(*args, **kwargs)
        raise OSError("disk full")


def test_failed_write_removes_pending_chunks(kb: KnowledgeBase, store: VectorStore) -> None:
    old = index_document(kb, doc("policy:returns", RETURNS_V1))
    broken = KnowledgeBase(FailingWriteStore(store.client), HashEmbedder())
    with pytest.raises(OSError, match="disk full"):
        index_document(broken, doc("policy:returns", RETURNS_V2, version=2))
    assert live_ids(kb, "policy:returns") == sorted(old.chunk_ids)
    assert "七天" in search(kb, SHOP, "退货", k=1).hits[0].text


def test_leftover_pending_chunks_are_cleaned_by_the_next_ingest(kb: KnowledgeBase) -> None:
    pending = doc("policy:returns", RETURNS_V2, version=2)
    vectors = kb.embedder.embed_passages([c.text for c in pending.chunks])
    kb.store.add(
        SHOP,
        ["policy:returns:crashed:0000"],
        vectors[:1],
        [pending.chunks[0].text],
        [{"doc_id": "policy:returns", "live": False, "content_hash": "x"}],
    )
    assert search(kb, SHOP, "十五天", k=5).hits == []  # pending chunks are invisible
    result = index_document(kb, doc("policy:returns", RETURNS_V1))
    assert live_ids(kb, "policy:returns") == sorted(result.chunk_ids)


def test_while_two_versions_are_live_search_shows_the_newer(kb: KnowledgeBase) -> None:
    index_document(kb, doc("policy:returns", RETURNS_V1))
    v2 = doc("policy:returns", RETURNS_V2, version=2)
    kb.store.add(
        SHOP,
        ["policy:returns:v2:0000"],
        kb.embedder.embed_passages([v2.chunks[0].text]),
        [v2.chunks[0].text],
        [
            {
                "doc_id": "policy:returns",
                "doc_type": "policy",
                "version": 2,
                "content_hash": "v2",
                "live": True,
            }
        ],
    )
    kb.store.bump_generation(SHOP)
    kb.forget(SHOP)
    hits = search(kb, SHOP, "七天 十五天 退货 生鲜", k=10).hits
    assert [h.chunk_id for h in hits] == ["policy:returns:v2:0000"]


def test_delete_removes_every_chunk(kb: KnowledgeBase) -> None:
    ids = index_document(kb, doc("policy:returns", RETURNS_V1)).chunk_ids
    index_document(kb, doc("policy:shipping", SHIPPING))
    assert sorted(delete_document(kb, SHOP, "policy:returns")) == sorted(ids)
    assert live_ids(kb, "policy:returns") == []
    assert {h.doc_id for h in search(kb, SHOP, "退货", k=10).hits} == {"policy:shipping"}
    assert delete_document(kb, SHOP, "policy:missing") == []


def test_another_process_sees_updates(store: VectorStore, tmp_path: Path) -> None:
    writer = KnowledgeBase(store, HashEmbedder())
    reader = KnowledgeBase(VectorStore.persistent(tmp_path / "chroma"), HashEmbedder(), recheck_s=0.0)
    index_document(writer, doc("policy:returns", RETURNS_V1))
    assert "七天" in search(reader, SHOP, "退货", k=1).hits[0].text
    index_document(writer, doc("policy:returns", RETURNS_V2, version=2))
    assert "十五天" in search(reader, SHOP, "退货", k=1).hits[0].text


def test_filters_and_shop_isolation(kb: KnowledgeBase) -> None:
    index_document(kb, doc("policy:returns", RETURNS_V1))
    index_document(kb, doc("faq:1", SHIPPING, doc_type="faq"))
    index_document(kb, doc("policy:other-shop", RETURNS_V1, shop_id=2))
    only_faq = search(kb, SHOP, "退货 发货", k=10, filters=SearchFilters(doc_types=("faq",)))
    assert {h.doc_type for h in only_faq.hits} == {"faq"}
    by_doc = search(kb, SHOP, "退货 发货", k=10, filters=SearchFilters(doc_ids=("policy:returns",)))
    assert {h.doc_id for h in by_doc.hits} == {"policy:returns"}
    assert {h.doc_id for h in search(kb, 2, "退货", k=10).hits} == {"policy:other-shop"}
    assert search(kb, 3, "退货", k=10).hits == []
    assert kb.store.existing(3) is None  # reads never create a collection


def test_exact_catalog_match_ranks_the_product_card_first(kb: KnowledgeBase) -> None:
    index_document(kb, card_doc(CUP))
    twin = P(**{**CUP.__dict__, "sku": "ST-772", "title": "鹿鸣 316不锈钢保温杯 750ml"})
    index_document(kb, card_doc(twin))
    index_document(kb, doc("policy:returns", RETURNS_V1))
    for query in ("ST-772还有货吗", "st772", "ＳＴ－７７２ 保温杯"):
        top = search(kb, SHOP, query, k=3).hits[0]
        assert (top.sku, top.matched_by) == ("ST-772", "exact"), query
    assert search(kb, SHOP, "保温杯 500ml 的", k=3).hits[0].sku == "ST-771"
    assert search(kb, SHOP, "ST-771", k=3, mode="lexical").hits[0].sku == "ST-771"


def test_grounding_features_see_what_the_evidence_covers(kb: KnowledgeBase) -> None:
    index_document(kb, doc("policy:returns", RETURNS_V1))
    index_document(kb, doc("policy:shipping", SHIPPING))
    covered = search(kb, SHOP, "签收后七天内可以无理由退货吗", k=3)
    uncovered = search(kb, SHOP, "你们支持分期付款和花呗吗", k=3)
    assert covered.features.word_coverage == pytest.approx(1.0)
    assert uncovered.features.word_coverage < 0.5
    assert covered.features.dense_top > uncovered.features.dense_top
    assert 0.0 <= uncovered.grounding <= covered.grounding <= 1.0
    assert search(kb, SHOP, "ST-771", k=3).features.code_match == 0.0


def test_grounding_model_is_a_monotone_probability() -> None:
    model = GroundingModel(intercept=-2.0, coefficients=(1.0, 1.0, 1.0, 1.0))
    low = model.score(GroundingFeatures(0.0, 0.0, 0.0, 0.0))
    high = model.score(GroundingFeatures(1.0, 1.0, 1.0, 1.0))
    assert low == pytest.approx(1 / (1 + math.exp(2.0)))
    assert high == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert 0.0 < DEFAULT_GROUNDING.score(GroundingFeatures(0.7, 0.0, 0.0, 0.0)) < 0.01
    assert DEFAULT_GROUNDING.score(GroundingFeatures(0.93, 1.0, 1.0, 1.0)) > 0.99


def test_faq_chunks_carry_their_question(kb: KnowledgeBase) -> None:
    chunks = chunk_faq([FaqPair("满多少包邮？", "满99元包邮。")])
    index_document(
        kb,
        DocumentInput(SHOP, "faq:shop", "faq", "常见问题", content_hash("faq"), chunks),
    )
    hit = search(kb, SHOP, "多少钱包邮", k=1).hits[0]
    assert (hit.question, hit.section, hit.text) == ("满多少包邮？", "", "问：满多少包邮？\n答：满99元包邮。")


def test_a_faq_entry_is_matched_on_its_question_and_the_opening_of_its_answer() -> None:
    long_answer = "签收后七天内可以申请退货。" + "退货时请保持包装完好，配件齐全，赠品一并寄回。" * 10
    text = f"问：七天无理由怎么退？\n答：{long_answer}"
    assert passage_text("帮助中心", "售后服务 > 退换货", text, "七天无理由怎么退？") == (
        "帮助中心 ｜ 售后服务 > 退换货\n问：七天无理由怎么退？\n答：签收后七天内可以申请退货。"
        "退货时请保持包装完好，配件齐全，赠品一并寄回。退货时请保持包装完好，配件齐全，赠品一并寄回。"
        "退货时请保持包装完好，配件齐全，赠品一并寄回。"
    )
    # A short answer is matched whole, and a chunk that is no FAQ entry as before.
    assert passage_text("常见问题", "", "问：满多少包邮？\n答：满99元包邮。", "满多少包邮？") == (
        "常见问题\n问：满多少包邮？\n答：满99元包邮。"
    )
    assert (
        passage_text("退换货政策", "退换货政策 > 运费", long_answer)
        == f"退换货政策 ｜ 退换货政策 > 运费\n{long_answer}"
    )


def test_an_answer_opening_without_sentence_ends_is_cut_at_the_limit() -> None:
    assert answer_opening("无标点" * 50, limit=10) == "无标点无标点无标点无"
    assert answer_opening("短答案。", limit=10) == "短答案。"


def test_a_restrictive_filter_still_finds_its_few_chunks(kb: KnowledgeBase) -> None:
    many = [Chunk(f"退货政策第{i}条：签收后七天内可以退货。", "退货") for i in range(200)]
    index_document(kb, DocumentInput(SHOP, "policy:big", "policy", "退货", content_hash("big"), many))
    faq = chunk_faq([FaqPair("积分怎么用？", "100积分抵1元。")])
    index_document(kb, DocumentInput(SHOP, "faq:1", "faq", "常见问题", content_hash("faq"), faq))
    hits = search(kb, SHOP, "签收后七天内可以退货吗", k=3, filters=SearchFilters(doc_types=("faq",))).hits
    assert [h.doc_id for h in hits] == ["faq:1"]
    assert hits[0].similarity is not None  # found by the dense side too, through the filtered query


def test_reads_are_paged(kb: KnowledgeBase) -> None:
    chunks = [Chunk(f"第{i}段", "") for i in range(7)]
    ids = index_document(kb, DocumentInput(SHOP, "d", "manual", "", content_hash("d"), chunks)).chunk_ids
    kb.store.page_size = 3
    assert sorted(c.chunk_id for c in kb.store.get(SHOP, where={"live": True})) == sorted(ids)


def test_each_hit_says_how_much_of_the_question_it_holds(kb: KnowledgeBase) -> None:
    index_document(kb, doc("policy:returns", RETURNS_V1))
    index_document(kb, doc("policy:shipping", SHIPPING))
    held = search(kb, SHOP, "江浙沪次日达吗", k=3).hits
    shipping = next(h for h in held if h.doc_id == "policy:shipping")
    assert shipping.coverage == pytest.approx(1.0)
    # 花呗 and 分期 appear nowhere: a chunk that shares only a generic word holds little.
    unheld = search(kb, SHOP, "支持花呗分期吗", k=3).hits
    assert unheld and max(h.coverage for h in unheld) < 0.5
    # A word the chunk lacks earns half credit for the share of its characters the text has.
    snap = kb.snapshot(SHOP)
    position = snap.positions[shipping.chunk_id]
    assert term_coverage(snap, ["浙沪港"], position) == pytest.approx(0.5 * 2 / 3)
    assert term_coverage(snap, ["花呗"], position) == 0.0
    assert term_coverage(snap, [], position) == 0.0


def test_evidence_model_rises_with_similarity_and_coverage() -> None:
    def hit(similarity: float, coverage: float) -> Hit:
        return Hit(
            "c", "policy:x", "policy", "x", "", "x", 0.03, "dense", similarity=similarity, coverage=coverage
        )

    model = EvidenceModel(intercept=-2.0, similarity=2.0, coverage=2.0)
    assert model.score(hit(0.0, 0.0)) == pytest.approx(1 / (1 + math.exp(2.0)))
    assert model.score(hit(1.0, 1.0)) == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert DEFAULT_EVIDENCE.score(hit(0.87, 0.16)) < 0.5 < DEFAULT_EVIDENCE.score(hit(0.90, 0.55))
    assert DEFAULT_EVIDENCE.score(hit(0.93, 0.0)) > DEFAULT_EVIDENCE.score(hit(0.88, 0.0))
