from __future__ import annotations

import random
from typing import Any

import pytest

from agents.copywriter.compliance import ComplianceChecker, check
from agents.copywriter.errors import LexiconError, UnknownProductCategory
from agents.copywriter.lexicon import (
    PRODUCT_CATEGORIES,
    VIOLATION_CATEGORIES,
    ProductCategory,
    default_lexicon,
    parse_lexicon,
)


def hits(text: str, category: ProductCategory = "general") -> list[tuple[str, str, str]]:
    """(term, category, matched) of each violation, in text order."""
    return [(v.term, v.category, v.matched) for v in check(text, category).violations]


# ---------------------------------------------------------------- the lexicon file


def test_lexicon_is_versioned_and_covers_every_category() -> None:
    lexicon = default_lexicon()
    assert lexicon.version == "ad_lexicon.v2"
    assert len(lexicon.entries) >= 400
    assert {e.category for e in lexicon.entries} == set(VIOLATION_CATEGORIES)
    assert all(e.article.startswith("《") for e in lexicon.entries)
    assert all(e.suggestion for e in lexicon.entries)


def test_every_safe_rewrite_is_itself_clean() -> None:
    fixes = {e.fix for e in default_lexicon().entries if e.fix is not None}
    assert len(fixes) > 50
    dirty = {fix: hits(fix) for fix in fixes if hits(fix)}
    assert dirty == {}


def _lexicon(**group: Any) -> dict[str, Any]:
    base = {"category": "极限用语", "article": "A", "severity": "high", "terms": {"最佳": ["优选"]}}
    return {"version": "t", "articles": {"A": "《广告法》第九条"}, "groups": [base | group]}


@pytest.mark.parametrize(
    ("group", "message"),
    [
        ({"category": "随便"}, "未知违规类别"),
        ({"article": "B"}, "未定义的法条"),
        ({"severity": "critical"}, "未知严重程度"),
        ({"terms": {"最佳": {"suggest": ["优选"], "colour": "red"}}}, "未知字段"),
        ({"terms": {"最佳": {"only_in": ["toys"]}}}, "未知商品类目"),
        ({"fix": "always"}, "fix 只能是"),
    ],
)
def test_malformed_lexicon_is_rejected_with_the_reason(group: dict[str, Any], message: str) -> None:
    with pytest.raises(LexiconError, match=message):
        parse_lexicon(_lexicon(**group))


def test_terms_that_normalise_to_the_same_key_are_rejected() -> None:
    lexicon = parse_lexicon(_lexicon(terms={"最佳": [], "最 佳": []}))
    with pytest.raises(LexiconError, match="规范化后重复"):
        ComplianceChecker(lexicon)


# ---------------------------------------------------------------- hits, spans and fixes


def test_each_hit_carries_term_category_span_article_severity_and_suggestion() -> None:
    report = check("姐妹们，全网最低价！")
    assert not report.ok
    (v,) = report.violations
    assert (v.term, v.category, v.start, v.end, v.severity) == ("全网最低价", "价格欺诈", 4, 9, "high")
    assert "第二十八条" in v.article
    assert v.suggestion == "优惠价"
    assert v.fixable
    assert report.fixed == "姐妹们，优惠价！"
    assert report.lexicon_version == "ad_lexicon.v2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("顶级面料", [("顶级", "极限用语", "顶级")]),
        ("本店销量第一", [("销量第一", "极限用语", "销量第一")]),
        ("国家级品质", [("国家级", "权威背书/国家机关", "国家级")]),
        (
            "100%有效，根治脚气",
            [
                ("100%有效", "虚假夸大", "100%有效"),
                ("根治", "医疗功效", "根治"),
                ("脚气", "医疗功效", "脚气"),
            ],
        ),
        ("吃了能抗癌", [("抗癌", "医疗功效", "抗癌")]),
        ("点击有惊喜", [("点击有惊喜", "诱导/焦虑", "点击有惊喜")]),
        ("央视推荐品牌", [("央视推荐", "权威背书/国家机关", "央视推荐")]),
        ("特供茶叶", [("特供", "权威背书/国家机关", "特供")]),
        ("招财进宝摆件", [("招财进宝", "迷信", "招财进宝")]),
        ("秒杀全网", [("秒杀全网", "对比贬低", "秒杀全网")]),
        ("这款最水润", [("最", "极限用语", "最")]),  # 最 + any adjective not in the lexicon
    ],
)
def test_plain_violations(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert hits(text) == expected


def test_leftmost_longest_wins_over_overlapping_terms() -> None:
    assert hits("史上最低价") == [("史上最低价", "价格欺诈", "史上最低价")]
    assert hits("这款最好用") == [("最好用", "极限用语", "最好用")]


@pytest.mark.parametrize(
    ("text", "term", "matched"),
    [
        ("最 好 用的杯子", "最好用", "最 好 用"),
        ("✨最✨佳✨选择", "最佳", "最✨佳"),
        ("頂級面料", "顶级", "頂級"),
        ("最最最好的", "最好", "最最最好"),
        ("品质NO.1", "NO.1", "NO.1"),
        ("品质 No 1", "NO.1", "No 1"),
        ("ＮＯ．１单品", "NO.1", "ＮＯ．１"),
        ("Top1爆款", "NO.1", "Top1"),
        ("N0.1爆款", "NO.1", "N0.1"),
        ("排名第①", "排名第一", "排名第①"),
        ("品质第①", "第一", "第①"),
        ("第1名", "第一名", "第1名"),
        ("国 家 级", "国家级", "国 家 级"),
        ("全-网-最-低-价", "全网最低价", "全-网-最-低-价"),
        ("點擊有驚喜", "点击有惊喜", "點擊有驚喜"),
    ],
)
def test_evasions_are_caught_and_spans_point_at_what_was_typed(text: str, term: str, matched: str) -> None:
    report = check(text)
    assert [(v.term, v.matched) for v in report.violations] == [(term, matched)]
    v = report.violations[0]
    assert text[v.start : v.end] == matched


def test_fixed_rewrites_only_where_safe() -> None:
    report = check("✨最✨好✨用的锅，能根治失眠")
    assert [v.fixable for v in report.violations] == [True, False]
    assert report.fixed == "✨超好用的锅，能根治失眠"


# ---------------------------------------------------------------- context rules and allow-list


@pytest.mark.parametrize(
    "text",
    [
        "最大容量500ml",
        "最高支持128GB",
        "最低温度-18℃",
        "冷冻室最低温度可达-24℃",
        "最长续航12小时",
        "最大承重150kg",
        "最多可叠加2张券",
        "最高立减100元",
        "最 大 容 量 1.5L",
        "最长1.5米",
    ],
)
def test_objective_specs_are_not_flagged(text: str) -> None:
    assert hits(text) == []


def test_spec_exemption_needs_the_spec_in_the_same_clause() -> None:
    assert hits("这是最大的。500ml装") == [("最大", "极限用语", "最大")]
    assert hits("最大的优惠") == [("最大", "极限用语", "最大")]
    assert hits("最高品质") == [("最高", "极限用语", "最高")]
    assert hits("最低价格500元") == [("最低价", "价格欺诈", "最低价")]


@pytest.mark.parametrize(
    "text",
    ["第一步先洗脸", "第一次购买", "首次下单", "第一批货到了", "第1步：拆滤芯", "第一时间发货", "第一件原价"],
)
def test_ordinals_are_not_flagged(text: str) -> None:
    assert hits(text) == []


def test_ordinal_claims_still_are() -> None:
    assert hits("行业第一") == [("行业第一", "极限用语", "行业第一")]
    assert hits("第一品牌") == [("第一品牌", "极限用语", "第一品牌")]


@pytest.mark.parametrize(
    "text",
    ["执行国家标准 GB/T 12345-2019", "符合国家规定", "支持国家三包", "参加国家补贴", "国标GB 10765"],
)
def test_factual_national_standards_are_not_flagged(text: str) -> None:
    assert hits(text) == []


def test_state_endorsement_is_flagged_even_next_to_a_standard() -> None:
    assert hits("国家推荐，符合国家标准") == [("国家推荐", "权威背书/国家机关", "国家推荐")]


@pytest.mark.parametrize(
    "text", ["最近很火", "活动最后一天", "最终解释权归本店", "最迟周五发出", "最快明天发货"]
)
def test_time_words_are_not_flagged(text: str) -> None:
    assert hits(text) == []


def test_urgency_with_zui_is_flagged_as_inducement() -> None:
    assert hits("最后一波") == [("最后一波", "诱导/焦虑", "最后一波")]


@pytest.mark.parametrize("text", ["开封后最好冷藏", "最好提前一天下单", "最好7天内吃完"])
def test_advice_zui_hao_is_not_a_claim(text: str) -> None:
    assert hits(text) == []


def test_boundaries_keep_numbers_and_words_whole() -> None:
    assert hits("NO.10款") == []
    assert hits("第12期") == []
    assert hits("stop1") == []


def test_allow_listed_product_names() -> None:
    assert hits("招财猫摆件") == []
    assert hits("快递到转运中心了") == []


# ---------------------------------------------------------------- category-aware rules


@pytest.mark.parametrize("term", ["美白", "祛斑", "防脱"])
def test_special_cosmetic_claims_need_the_registered_category(term: str) -> None:
    assert [h[0] for h in hits(f"{term}精华", "cosmetics")] == [term]
    assert [h[0] for h in hits(f"{term}精华", "general")] == [term]
    assert hits(f"{term}精华", "cosmetics_special") == []


def test_cosmetic_label_rules_only_apply_to_cosmetics() -> None:
    assert hits("纯天然配方", "cosmetics") == [("纯天然", "医疗功效", "纯天然")]
    assert hits("纯天然配方", "food") == []


def test_food_may_not_claim_disease_or_health_functions() -> None:
    assert hits("喝了降血压", "food") == [("降血压", "医疗功效", "降血压")]
    assert hits("增强免疫力", "food") == [("增强免疫力", "医疗功效", "增强免疫力")]
    assert hits("有保健功效", "food") == [("保健功效", "医疗功效", "保健功效")]


def test_health_food_may_state_approved_functions_but_not_cures() -> None:
    assert hits("有助于增强免疫力", "health") == []
    assert hits("改善睡眠", "health") == []
    assert hits("根治糖尿病", "health") == [("根治", "医疗功效", "根治"), ("糖尿病", "医疗功效", "糖尿病")]
    assert hits("比药还好", "health") == [("比药还好", "医疗功效", "比药还好")]
    assert hits("人人必备", "health") == [("人人必备", "医疗功效", "人人必备")]


def test_mandated_disclaimers_are_not_claims() -> None:
    assert hits("本品不能代替药物", "health") == []
    assert hits("本品可代替药物", "health") == [("代替药物", "医疗功效", "代替药物")]
    assert hits("母乳是婴儿最好的食物", "infant") == []


def test_infant_products_may_not_claim_to_replace_breast_milk() -> None:
    assert hits("可以替代母乳", "infant") == [("替代母乳", "医疗功效", "替代母乳")]
    assert hits("益智配方", "infant") == [("益智", "医疗功效", "益智")]
    assert hits("益智积木", "general") == []


def test_unknown_category_is_a_clear_error() -> None:
    with pytest.raises(UnknownProductCategory, match="toys"):
        check("你好", "toys")  # type: ignore[arg-type]  # the invalid value is the point


def test_categories_are_the_documented_set() -> None:
    assert PRODUCT_CATEGORIES == ("general", "cosmetics", "cosmetics_special", "food", "health", "infant")


def test_clean_selling_copy_passes() -> None:
    report = check("新疆长绒棉四件套，洗了不起球，今晚8点群内开团，满199减30")
    assert report.ok
    assert report.fixed == report.text


def test_promotion_superlatives_are_claims_not_specs() -> None:
    assert hits("最大优惠") == [("最大", "极限用语", "最大")]
    assert hits("全网最快发货") == [("最", "极限用语", "最")]
    assert hits("最多送3件") == []


def test_factual_filings_and_slogans_are_allowed() -> None:
    assert hits("已在国家药监局备案", "cosmetics") == []
    assert hits("安全第一，质量可查") == []
    assert hits("历史上第一次降价") == []


def test_spans_stay_valid_on_noisy_seeded_text() -> None:
    rng = random.Random(20261122)
    alphabet = "最好佳顶级國家级第一步容量500mlNO.１✨🔥 ，。！-~㎖①壹最最" + "".join(
        chr(c) for c in range(0x4E00, 0x4E40)
    )
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        report = check(text)
        previous_end = 0
        for v in report.violations:
            assert 0 <= v.start < v.end <= len(text)
            assert v.start >= previous_end  # non-overlapping, in order
            assert text[v.start : v.end] == v.matched
            previous_end = v.end


def test_empty_and_symbol_only_texts_are_clean() -> None:
    assert check("").ok
    assert check("✨🔥，。！").ok
