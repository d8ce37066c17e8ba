from __future__ import annotations

import pytest

from retrieval.chunking import Chunk, ChunkingConfig, FaqPair, chunk_faq, chunk_text, split_sentences

DOC = """# 退换货政策

本店所有商品均按本政策执行。

## 一、七天无理由退货

签收后7天内可申请退货。商品需保持原包装完好！运费由买家承担；特价商品除外？

## 二、质量问题

| 问题类型 | 时限 |
|---|---|
| 破损 | 48 小时 |
| 质量问题 | 15 天 |

质量问题运费由本店承担。
"""


def test_split_sentences_keeps_chinese_sentence_ends() -> None:
    assert split_sentences("第一句。第二句！第三句？第四句；end. Next") == [
        "第一句。",
        "第二句！",
        "第三句？",
        "第四句；",
        "end.",
        "Next",
    ]


def test_heading_path_becomes_section_and_tables_stay_whole() -> None:
    chunks = chunk_text(DOC, ChunkingConfig(max_chars=200, overlap_chars=0))
    assert chunks == [
        Chunk("本店所有商品均按本政策执行。", "退换货政策"),
        Chunk(
            "签收后7天内可申请退货。商品需保持原包装完好！运费由买家承担；特价商品除外？",
            "退换货政策 > 一、七天无理由退货",
        ),
        Chunk(
            "| 问题类型 | 时限 |\n|---|---|\n| 破损 | 48 小时 |\n| 质量问题 | 15 天 |",
            "退换货政策 > 二、质量问题",
            "table",
        ),
        Chunk("质量问题运费由本店承担。", "退换货政策 > 二、质量问题"),
    ]


def test_long_paragraph_splits_at_sentence_ends_with_overlap() -> None:
    text = "".join(f"第{i}句话内容比较长一些。" for i in range(10))  # 10 sentences of 12 chars
    chunks = chunk_text(text, ChunkingConfig(max_chars=40, overlap_chars=12))
    assert all(len(c.text) <= 40 for c in chunks)
    assert all(c.text.endswith("。") for c in chunks)
    assert chunks[0].text == "第0句话内容比较长一些。第1句话内容比较长一些。第2句话内容比较长一些。"
    # The last sentence of one chunk opens the next one.
    assert chunks[1].text.startswith("第2句话内容比较长一些。第3句")
    joined = "".join(c.text for c in chunks)
    assert all(f"第{i}句" in joined for i in range(10))


def test_a_single_overlong_sentence_is_cut_to_size() -> None:
    chunks = chunk_text("啊" * 95, ChunkingConfig(max_chars=40, overlap_chars=0))
    assert [len(c.text) for c in chunks] == [40, 40, 15]


def test_a_large_table_is_not_split() -> None:
    table = "\n".join(["| a | b |", "|---|---|", *[f"| 行{i} | 值{i} |" for i in range(30)]])
    chunks = chunk_text(table, ChunkingConfig(max_chars=50, overlap_chars=0))
    assert len(chunks) == 1 and chunks[0].kind == "table" and chunks[0].text == table


def test_faq_pairs_are_single_chunks_under_their_section() -> None:
    chunks = chunk_faq(
        [FaqPair("满多少包邮？", "满99元包邮。"), FaqPair("发什么快递？", "默认中通。", 3, "配送")]
    )
    assert chunks == [
        Chunk("问：满多少包邮？\n答：满99元包邮。", "", "faq", question="满多少包邮？"),
        Chunk("问：发什么快递？\n答：默认中通。", "配送", "faq", question="发什么快递？"),
    ]


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="overlap_chars"):
        ChunkingConfig(max_chars=100, overlap_chars=100)
