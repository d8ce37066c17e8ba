"""Incremental updates of the lexical index and the shop snapshot agree with a full rebuild.

The segmented BM25 index (base + delta + tombstones, statistics kept over the live chunks) must
score exactly like an index built from scratch over the same live chunks, and like bm25s; the
snapshot refreshed from the change journal (in the writing process and in another one) must
equal a snapshot rebuilt from Chroma after any sequence of adds, replacements and deletions.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import pytest

import retrieval.index as index_module
import retrieval.lexical as lexical_module
import retrieval.vectorstore as vectorstore_module
from retrieval.cards import product_card
from retrieval.chunking import Chunk, ChunkingConfig, chunk_text
from retrieval.index import (
    DocumentInput,
    KnowledgeBase,
    ShopSnapshot,
    content_hash,
    delete_document,
    index_document,
)
from retrieval.lexical import JiebaDictionary, LexicalIndex, tokenize
from retrieval.search import search
from retrieval.vectorstore import VectorStore, journal_name
from tests.unit.retrieval.fakes import HashEmbedder
from tests.unit.retrieval.test_cards_catalog import P

SHOP = 1
_WORDS_TEXT = (
    "退货 换货 运费 包邮 发货 快递 顺丰 签收 七天 十五天 无理由 质量问题 优惠券 满减 积分 会员 "
    "保温杯 水杯 纸尿裤 奶粉 面霜 防晒 尺码 偏大 偏小 颜色 红色 黑色 赠品 发票 售后 客服 "
    "预售 定金 尾款 退款 到账 破损 补发 保修 一年 包装 礼盒 生鲜 冷链 次日达 江浙沪 偏远地区"
)
WORDS = _WORDS_TEXT.split()
QUERIES = (
    "怎么退货运费谁出",
    "保温杯有红色吗",
    "优惠券和满减能一起用吗",
    "预售定金能退吗",
    "偏远地区包邮吗 顺丰",
    "鹿鸣暖杯还有吗",
    "小熊纸尿裤尺码偏大吗",
    "LM-101",
    "xb-202 有货吗",
)
PRODUCT_TITLES = ("鹿鸣暖杯", "小熊纸尿裤", "山泉面霜", "云朵枕头")


def sentence(rng: random.Random) -> str:
    return "".join(rng.choices(WORDS, k=rng.randint(3, 8))) + "。"


# --- the lexical index alone ------------------------------------------------------------------


def test_scores_equal_bm25s_on_the_same_corpus() -> None:
    rng = random.Random(3)
    texts = [sentence(rng) + sentence(rng) for _ in range(60)] + ["", "ST-771 保温杯 500ml"]
    ours = LexicalIndex(texts)
    reference = bm25s.BM25()
    reference.index([tokenize(t) for t in texts], show_progress=False)
    for query in (*QUERIES, "退货 退货 退货", "st771"):
        tokens = [t for t in tokenize(query) if t in reference.vocab_dict]
        expected = reference.get_scores(tokens) if tokens else np.zeros(len(texts))
        np.testing.assert_allclose(ours.scores(query), expected, rtol=1e-5, atol=1e-6)


def live_scores(index: LexicalIndex, query: str) -> np.ndarray:
    return index.scores(query)[index.alive]


@pytest.mark.parametrize("delta_min", [3, 2_000])
def test_updates_score_exactly_like_a_rebuild(monkeypatch: pytest.MonkeyPatch, delta_min: int) -> None:
    """Random adds and removals; after each, the live chunks score bit for bit like a fresh
    index over them (same order), and so does the vacuumed index."""
    monkeypatch.setattr(lexical_module, "DELTA_MIN", delta_min)
    rng = random.Random(delta_min)
    texts = [sentence(rng) for _ in range(20)]
    index = LexicalIndex(texts)
    segment_counts = set()
    for _ in range(40):
        alive = [int(p) for p in np.flatnonzero(index.alive)]
        remove = rng.sample(alive, k=min(len(alive), rng.randint(0, 3)))
        add = [sentence(rng) for _ in range(rng.randint(0, 4))]
        index = index.updated(add, remove)
        texts += add
        segment_counts.add(index.segments)
        live_texts = [t for t, a in zip(texts, index.alive, strict=True) if a]
        rebuilt = LexicalIndex(live_texts)
        assert index.live == rebuilt.size == len(live_texts)
        for query in QUERIES:
            assert np.array_equal(live_scores(index, query), rebuilt.scores(query)), query
            assert all(index.idf(t) == rebuilt.idf(t) for t in tokenize(query))
        positions = np.flatnonzero(index.alive)
        assert [index.token_set(int(p)) for p in positions] == [
            rebuilt.token_set(i) for i in range(rebuilt.size)
        ]
    # Both the delta path and (with a tiny threshold) the compaction into one base ran.
    assert 2 in segment_counts
    assert (1 in segment_counts) == (delta_min == 3)
    vacuumed, kept = index.vacuumed()
    assert vacuumed.size == vacuumed.live == index.live and kept.tolist() == positions.tolist()
    for query in QUERIES:
        assert np.array_equal(vacuumed.scores(query), live_scores(index, query))


def test_tombstones_score_zero_and_leave_the_statistics() -> None:
    index = LexicalIndex(["签收后七天内可以退货", "退货运费买家承担", "每天16点前付款当天发货"])
    gone = index.updated([], [0])
    assert gone.scores("退货")[0] == 0.0 and gone.scores("退货")[1] > 0
    rest = LexicalIndex(["退货运费买家承担", "每天16点前付款当天发货"])
    assert gone.live == 2 and gone.idf("七天") == rest.idf("七天") == rest.idf("不存在的词")
    assert gone.search("七天", k=3) == []


def test_containing_finds_cjk_words_and_codes() -> None:
    index = LexicalIndex(["鹿鸣暖杯 ST-771 现货", "暖杯不是这个", "编号xst-7712的杯子", "ＳＴ－７７１全角"])
    assert index.containing(["鹿鸣暖杯"]) == {0}
    assert index.containing(["st-771"]) == {0, 2, 3}
    assert index.containing(["不存在", "zz-9"]) == set()
    assert index.updated([], [0]).containing(["鹿鸣暖杯", "st-771"]) == {2, 3}


def test_a_new_word_changes_the_cut_of_exactly_the_texts_containing_it() -> None:
    dictionary = JiebaDictionary()
    texts = ["鹿鸣暖杯有现货", "暖杯保温十二小时", "小鹿鸣叫" * 3 + "退货运费"]
    before = [tokenize(t, dictionary) for t in texts]
    total = dictionary._get().total  # type: ignore[attr-defined]  # jieba's corpus total
    version = dictionary.version
    assert dictionary.add_words(["鹿鸣暖杯"]) == 1
    assert dictionary._get().total == total  # type: ignore[attr-defined]
    assert dictionary.added_since(version) == ["鹿鸣暖杯"]
    after = [tokenize(t, dictionary) for t in texts]
    assert "鹿鸣暖杯" in after[0] and "鹿鸣暖杯" not in before[0]
    assert after[1:] == before[1:]


# --- the snapshot, in the writing process and in another one ----------------------------------


class Shop:
    """Random documents of one shop, written through the index API."""

    def __init__(self, kb: KnowledgeBase, seed: int) -> None:
        self.kb = kb
        self.rng = random.Random(seed)
        self.docs: dict[str, int] = {}  # doc id -> version
        self.serial = 0

    def text_doc(self, doc_id: str, version: int) -> DocumentInput:
        rng = self.rng
        paragraphs = []
        for _ in range(rng.randint(1, 3)):
            words = [sentence(rng)]
            if rng.random() < 0.4:  # policies name products, so new dictionary words re-cut them
                words.append(f"{rng.choice(PRODUCT_TITLES)}{sentence(rng)}")
            paragraphs.append("".join(words))
        text = f"# 说明{doc_id}\n\n" + "\n\n".join(paragraphs) + "\n"
        return DocumentInput(
            SHOP,
            doc_id,
            "policy",
            f"说明{doc_id}",
            content_hash(text),
            chunk_text(text, ChunkingConfig(max_chars=30, overlap_chars=0)),
            version=version,
        )

    def product_doc(self, doc_id: str, version: int) -> DocumentInput:
        rng = self.rng
        title = rng.choice(PRODUCT_TITLES) + rng.choice(("", "Pro", "二代"))
        product = P(
            sku=doc_id.removeprefix("product:"),
            title=title,
            category="家居",
            description=sentence(rng),
            attributes={"颜色": rng.choice(("红色", "黑色")), "容量": rng.choice(("500ml", "750ml"))},
        )
        card = product_card(product)
        return DocumentInput(
            SHOP,
            doc_id,
            "product",
            title,
            card.content_hash,
            [Chunk(card.text, title)],
            version=version,
            sku=product.sku,
            catalog_terms=card.terms,
        )

    def step(self) -> str:
        rng = self.rng
        op = rng.choice(("add", "add", "replace", "replace", "delete")) if self.docs else "add"
        if op == "delete":
            doc_id = rng.choice(sorted(self.docs))
            delete_document(self.kb, SHOP, doc_id)
            del self.docs[doc_id]
            return op
        if op == "add":
            self.serial += 1
            codes = ("LM-101", "XB-202", "SQ-303", "YD-404")
            doc_id = (
                f"product:{codes[self.serial % 4]}{self.serial}" if rng.random() < 0.4 else f"p{self.serial}"
            )
            if self.serial % 7 == 3:  # an exact code the queries ask for
                doc_id = f"product:{codes[self.serial % 2]}"
        else:
            doc_id = rng.choice(sorted(self.docs))
        version = self.docs.get(doc_id, 0) + 1
        make = self.product_doc if doc_id.startswith("product:") else self.text_doc
        index_document(self.kb, make(doc_id, version))
        self.docs[doc_id] = version
        return op


def view(snap: ShopSnapshot) -> dict[str, Any]:
    """Everything a search reads, keyed by chunk id (positions differ between the two)."""
    visible = {snap.ids[p] for p in np.flatnonzero(snap.current)}
    lexical = {}
    for query in QUERIES:
        scores = snap.lexical.scores(query)
        lexical[query] = {snap.ids[p]: float(scores[p]) for p in np.flatnonzero(snap.lexical.alive)}
    catalog = {q: {snap.ids[m.position]: m.score for m in snap.catalog.match(q)} for q in QUERIES}
    tokens = {cid: snap.lexical.token_set(p) for cid, p in snap.positions.items()}
    idf = {t: snap.lexical.idf(t) for q in QUERIES for t in tokenize(q, snap.lexical.dictionary)}
    return {"visible": visible, "lexical": lexical, "catalog": catalog, "tokens": tokens, "idf": idf}


def ranked(kb: KnowledgeBase, query: str) -> list[tuple[str, float]]:
    hits = search(kb, SHOP, query, k=50, mode="lexical").hits
    return sorted(((h.chunk_id, h.score) for h in hits), key=lambda pair: (-pair[1], pair[0]))


@pytest.fixture
def dictionary() -> Iterator[JiebaDictionary]:
    # One per test: the words its products add must not leak into other tests' tokenisation.
    yield JiebaDictionary()


@pytest.mark.parametrize(("seed", "tiny_thresholds"), [(1, False), (2, True)])
def test_incremental_snapshots_equal_a_full_rebuild(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dictionary: JiebaDictionary,
    seed: int,
    tiny_thresholds: bool,
) -> None:
    if tiny_thresholds:  # exercise delta compaction and vacuuming in a small shop
        monkeypatch.setattr(lexical_module, "DELTA_MIN", 4)
        monkeypatch.setattr(index_module, "VACUUM_MIN", 6)
    refreshes: list[int] = []
    original = ShopSnapshot.refreshed

    def counting(self: ShopSnapshot, *args: Any, **kwargs: Any) -> ShopSnapshot:
        refreshes.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ShopSnapshot, "refreshed", counting)
    path = tmp_path / "chroma"
    writer = KnowledgeBase(VectorStore.persistent(path), HashEmbedder(), dictionary)
    # Another process: its own Chroma client, noticing writes through the generation + journal.
    other = KnowledgeBase(VectorStore.persistent(path), HashEmbedder(), dictionary, recheck_s=0.0)
    shop = Shop(writer, seed)
    shop.step()
    writer.snapshot(SHOP), other.snapshot(SHOP)
    ops = []
    for _ in range(30):
        ops.append(shop.step())
        rebuilt_kb = KnowledgeBase(VectorStore.persistent(path), HashEmbedder(), dictionary)
        rebuilt = view(rebuilt_kb.snapshot(SHOP))
        for kb in (writer, other):
            assert view(kb.snapshot(SHOP)) == rebuilt, (ops, kb is writer)
        for query in QUERIES[:4]:
            assert ranked(writer, query) == ranked(other, query) == ranked(rebuilt_kb, query)
    assert {"add", "replace", "delete"} <= set(ops)
    assert len(refreshes) >= 2 * len(ops)  # both kept their snapshot: no full rebuild
    if tiny_thresholds:
        assert writer.snapshot(SHOP).lexical.dead < writer.snapshot(SHOP).lexical.size // 2


RETURNS_V1 = "# 退换货政策\n\n签收后七天内可以申请无理由退货，运费买家承担。\n"
RETURNS_V2 = "# 退换货政策\n\n签收后十五天内可以申请无理由退货，运费本店承担。\n"


def policy(text: str, version: int) -> DocumentInput:
    return DocumentInput(
        SHOP, "policy:returns", "policy", "退换货政策", content_hash(text), chunk_text(text), version=version
    )


def texts_found(kb: KnowledgeBase, query: str) -> list[str]:
    return [h.text for h in search(kb, SHOP, query, k=10, mode="lexical").hits]


def test_readers_see_the_old_version_until_the_new_one_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    reader = KnowledgeBase(VectorStore.persistent(path), HashEmbedder(), recheck_s=0.0)
    seen_mid_write: list[list[str]] = []

    class Spy(VectorStore):
        def delete(self, shop_id: int, ids: Any) -> None:
            # The new version is live in Chroma now; the old one is about to be deleted.
            seen_mid_write.append(texts_found(reader, "退货 七天 十五天"))
            seen_mid_write.append(texts_found(writer, "退货 七天 十五天"))
            super().delete(shop_id, ids)

    writer = KnowledgeBase(Spy(VectorStore.persistent(path).client), HashEmbedder())
    index_document(writer, policy(RETURNS_V1, 1))
    for kb in (reader, writer):
        assert ["七天" in t for t in texts_found(kb, "退货")] == [True]
    index_document(writer, policy(RETURNS_V2, 2))
    assert seen_mid_write and all(len(found) == 1 and "七天" in found[0] for found in seen_mid_write), (
        seen_mid_write
    )
    for kb in (reader, writer):
        found = texts_found(kb, "退货 七天 十五天")
        assert len(found) == 1 and "十五天" in found[0]  # no stale chunk survives
    delete_document(writer, SHOP, "policy:returns")
    assert texts_found(writer, "退货") == texts_found(reader, "退货") == []  # gone at once


def test_a_bump_without_a_journal_record_forces_a_full_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    writer = KnowledgeBase(VectorStore.persistent(path), HashEmbedder())
    reader = KnowledgeBase(VectorStore.persistent(path), HashEmbedder(), recheck_s=0.0)
    index_document(writer, policy(RETURNS_V1, 1))
    assert len(texts_found(reader, "退货")) == 1
    # A writer that does not journal (an older deployment, a manual fix) only bumps.
    writer.store.add(
        SHOP,
        ["manual:0"],
        writer.embedder.embed_passages(["手工补的退货说明"]),
        ["手工补的退货说明"],
        [{"doc_id": "manual", "doc_type": "manual", "live": True, "content_hash": "m", "version": 1}],
    )
    writer.store.bump_generation(SHOP)
    assert "手工补的退货说明" in texts_found(reader, "退货")


def test_a_recreated_collection_is_not_patched_from_the_old_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    writer = KnowledgeBase(VectorStore.persistent(path), HashEmbedder())
    # Same client (a client caches collection handles, which a drop elsewhere would break).
    reader = KnowledgeBase(writer.store, HashEmbedder(), recheck_s=0.0)
    index_document(writer, policy(RETURNS_V1, 1))
    assert len(texts_found(reader, "退货")) == 1
    writer.store.drop(SHOP)
    other = policy(RETURNS_V2, 1)
    index_document(
        writer, DocumentInput(SHOP, "policy:new", "policy", "新政策", other.content_hash, other.chunks)
    )
    # The new journal knows nothing of policy:returns; only a full rebuild drops it.
    found = texts_found(reader, "退货")
    assert len(found) == 1 and "十五天" in found[0]


def test_the_journal_keeps_changes_and_prunes_old_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = VectorStore.persistent(tmp_path / "chroma")
    assert store.journal_since(SHOP, time.time()) is None  # no journal: nothing to vouch for
    store.record_changes(SHOP, ["b", "a", "a"], "g1")
    journal = store.journal_since(SHOP, time.time() - 5)
    assert journal is not None
    assert [(r.doc_ids, r.generation) for r in journal.records] == [(("a", "b"), "g1")]
    later = store.journal_since(SHOP, time.time() + 5)
    assert later is not None and later.records == [] and later.epoch == journal.epoch
    assert store.journal_since(SHOP, time.time() - vectorstore_module.JOURNAL_RETENTION_S - 1) is None
    monkeypatch.setattr(vectorstore_module, "JOURNAL_RETENTION_S", 1.0)
    time.sleep(1.1)
    before = time.time()
    store.record_changes(SHOP, ["c"], "g2")
    assert store.client.get_collection(journal_name(SHOP)).count() == 1  # g1 was pruned
    journal = store.journal_since(SHOP, before)
    assert journal is not None and [r.generation for r in journal.records] == ["g2"]
    assert store.journal_since(SHOP, time.time() - 2.0) is None  # pruned past that point
