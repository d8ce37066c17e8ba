from __future__ import annotations

import numpy as np

from retrieval.lexical import BIGRAM_PREFIX, JiebaDictionary, LexicalIndex, normalise, tokenize


def test_normalise_folds_width_and_case() -> None:
    assert normalise("ＳＴ－７７１ Ｘl") == "st-771 xl"


def test_codes_stay_whole_and_also_match_compact_form() -> None:
    tokens = tokenize("请问ST-771有货吗", JiebaDictionary())
    assert "st-771" in tokens and "st771" in tokens
    assert tokenize("ＳＴ－７７１")[:1] == tokenize("st-771")[:1]


def test_shop_words_join_the_dictionary() -> None:
    dictionary = JiebaDictionary()
    before = tokenize("小鹿贝贝纸尿裤", dictionary, bigrams=False)
    assert "小鹿贝贝" not in before
    assert dictionary.add_words(["小鹿贝贝", "ST-771", "小鹿贝贝"]) == 2
    after = tokenize("小鹿贝贝纸尿裤", dictionary, bigrams=False)
    assert "小鹿贝贝" in after
    assert "st-771" in tokenize("ST-771", dictionary, bigrams=False)


def test_bigrams_and_stopwords() -> None:
    tokens = tokenize("的退货")
    assert "的" not in tokens
    assert BIGRAM_PREFIX + "退货" in tokens and BIGRAM_PREFIX + "的退" in tokens


def test_bm25_ranks_and_respects_the_mask() -> None:
    index = LexicalIndex(
        ["签收后七天内可以无理由退货", "每天16点前付款当天发货", "ST-771 保温杯 500ml", "优惠券不可叠加"]
    )
    hits = index.search("怎么退货", k=2)
    assert hits[0].index == 0
    assert index.search("st771", k=1)[0].index == 2
    mask = np.array([False, True, True, True])
    assert all(h.index != 0 for h in index.search("怎么退货", k=4, mask=mask))
    assert index.search("完全无关的火星文", k=3) == []


def test_empty_index_returns_nothing() -> None:
    assert LexicalIndex([]).search("退货", k=3) == []
