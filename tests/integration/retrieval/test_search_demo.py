"""Hybrid search on the demo shop with the real embedder and a real Chroma.

Chroma is a persistent directory under tmp (the demo shop copied from `demo_kb`'s template), or
the server at SIYU_CHROMA_URL when that is set (the scale path CI also runs); on the server each
test module uses its own shop ids and drops them after.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.suites.kb import SHOP_ID, demo_documents
from retrieval.beir import CorpusDoc, run_retrieval_eval
from retrieval.documents import text_document
from retrieval.embedding import Embedder
from retrieval.faq import direct_answer
from retrieval.index import KnowledgeBase, delete_document, index_document, index_documents
from retrieval.search import SearchFilters, search
from retrieval.vectorstore import VectorStore
from store.demo.content import load_documents
from store.settings import Settings
from tests.demo_kb import DemoKB

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _store(tmp: Path) -> VectorStore:
    url = os.environ.get("SIYU_CHROMA_URL")
    if url:
        return VectorStore.from_settings(Settings(env="test", chroma_url=url))
    return VectorStore.persistent(tmp / "chroma")


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder, demo_kb: DemoKB
) -> Iterator[tuple[KnowledgeBase, int]]:
    if not os.environ.get("SIYU_CHROMA_URL"):
        yield demo_kb.ensure(SHOP_ID), SHOP_ID
        return
    store = _store(tmp_path_factory.mktemp("kb"))
    shop_id = int(uuid.uuid4().int % 1_000_000_000) + 1000
    kb = KnowledgeBase(store, real_embedder)
    index_documents(kb, demo_documents(shop_id))
    yield kb, shop_id
    store.drop(shop_id)


def test_sku_codes_rank_their_product_card_first(demo: tuple[KnowledgeBase, int]) -> None:
    kb, shop = demo
    for query, sku in (
        ("ST-771有几种颜色", "ST-771"),
        ("ｍｂ－１１１保质期多久", "MB-111"),
        ("jj 422多大", "JJ-422"),
    ):
        top = search(kb, shop, query, k=5).hits[0]
        assert (top.doc_id, top.matched_by) == (f"product:{sku}", "exact"), query
        assert "以店铺实时价格为准" in top.text


def test_colloquial_policy_question_finds_the_policy(demo: tuple[KnowledgeBase, int]) -> None:
    kb, shop = demo
    hits = search(kb, shop, "退货来回快递费谁出", k=5).hits
    assert any("来回运费由买家承担" in h.text or "七天无理由退货怎么算" in h.question for h in hits)


def test_grounding_separates_answerable_from_unanswerable(demo: tuple[KnowledgeBase, int]) -> None:
    kb, shop = demo
    answerable = [search(kb, shop, q, k=5).grounding for q in ("积分会不会过期", "满多少包邮")]
    unanswerable = [search(kb, shop, q, k=5).grounding for q in ("护照怎么办理", "有没有猫粮狗粮")]
    assert all(0.0 <= g < 0.5 for g in unanswerable)
    assert all(0.9 < g <= 1.0 for g in answerable)


def test_faq_direct_answer_is_verbatim_with_citation(demo: tuple[KnowledgeBase, int]) -> None:
    kb, shop = demo
    answer = direct_answer(search(kb, shop, "可以货到付款吗", k=5))
    assert answer is not None
    assert (answer.answer, answer.doc_id) == ("暂不支持货到付款，支持微信支付。", "faq:faq.csv")
    assert answer.chunk_id.startswith("faq:faq.csv:")
    assert direct_answer(search(kb, shop, "有没有猫粮狗粮", k=5)) is None


def test_filters_restrict_doc_types(demo: tuple[KnowledgeBase, int]) -> None:
    kb, shop = demo
    hits = search(kb, shop, "保温杯保修多久", k=10, filters=SearchFilters(doc_types=("product",))).hits
    assert hits and {h.doc_type for h in hits} == {"product"}


def test_other_shops_see_nothing(demo: tuple[KnowledgeBase, int]) -> None:
    kb, shop = demo
    assert search(kb, shop + 1, "ST-771有几种颜色", k=5).hits == []


def test_changed_policy_replaces_its_chunks_and_delete_removes_them(
    tmp_path: Path, real_embedder: Embedder
) -> None:
    store = _store(tmp_path)
    shop = int(uuid.uuid4().int % 1_000_000_000) + 1000
    kb = KnowledgeBase(store, real_embedder)
    shipping = next(d for d in load_documents() if d.source == "配送时效.md")
    try:
        v1 = index_document(kb, text_document(shop, "policy:配送时效.md", shipping.title, shipping.content))
        assert "99 元包邮" in search(kb, shop, "满多少包邮", k=1).hits[0].text
        changed = shipping.content.replace("99 元包邮", "129 元包邮")
        v2 = index_document(kb, text_document(shop, "policy:配送时效.md", shipping.title, changed, version=2))
        assert v2.changed and v2.removed == len(v1.chunk_ids)
        texts = [h.text for h in search(kb, shop, "满多少包邮", k=20).hits]
        assert any("129 元包邮" in t for t in texts)
        assert not any("99 元包邮" in t and "129" not in t for t in texts)
        unchanged = index_document(
            kb, text_document(shop, "policy:配送时效.md", shipping.title, changed, version=3)
        )
        assert not unchanged.changed and unchanged.chunk_ids == v2.chunk_ids
        assert sorted(delete_document(kb, shop, "policy:配送时效.md")) == sorted(v2.chunk_ids)
        assert search(kb, shop, "满多少包邮", k=5).hits == []
    finally:
        store.drop(shop)


def test_beir_eval_reports_all_three_modes(tmp_path: Path, real_embedder: Embedder) -> None:
    corpus = [
        CorpusDoc(f"d{i}", d.title, d.content)
        for i, d in enumerate(load_documents())
        if d.doc_type == "policy"
    ]
    by_title = {d.title: d.doc_id for d in corpus}
    queries = {"q1": "发票抬头写错了怎么办", "q2": "积分多久清零", "q3": "保温杯保修多久"}
    qrels = {
        "q1": {by_title["发票说明"]: 1},
        "q2": {by_title["会员与积分"]: 1},
        "q3": {by_title["售后保修"]: 1},
    }
    report = run_retrieval_eval(real_embedder, corpus, queries, qrels, workdir=tmp_path / "eval")
    assert set(report.metrics) == {"hybrid", "dense", "lexical"}
    assert report.documents == len(corpus) and report.queries == 3
    assert report.metrics["hybrid"]["recall@5"] == 1.0
    for metrics in report.metrics.values():
        assert all(0.0 <= v <= 1.0 for v in metrics.values())


def test_cli_eval_retrieval_prints_json(tmp_path: Path, real_embedder: Embedder) -> None:
    from api.cli import app
    from api.cli.common import runtime

    runtime().put("embedder", real_embedder)
    (tmp_path / "corpus.jsonl").write_text(
        "\n".join(
            json.dumps(r, ensure_ascii=False)
            for r in [
                {"_id": "a", "title": "退货", "text": "签收后七天内可以无理由退货，运费买家承担。"},
                {"_id": "b", "title": "发货", "text": "每天16点前付款当天发货。"},
            ]
        ),
        encoding="utf-8",
    )
    (tmp_path / "queries.jsonl").write_text(
        json.dumps({"_id": "q", "text": "几点前下单当天发"}, ensure_ascii=False), encoding="utf-8"
    )
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq\tb\t1\n", encoding="utf-8")
    result = CliRunner().invoke(
        app,
        [
            "kb",
            "eval-retrieval",
            "--corpus",
            str(tmp_path / "corpus.jsonl"),
            "--queries",
            str(tmp_path / "queries.jsonl"),
            "--qrels",
            str(tmp_path / "qrels.tsv"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["queries"] == 1 and payload["documents"] == 2
    assert payload["metrics"]["hybrid"]["recall@1"] == 1.0
