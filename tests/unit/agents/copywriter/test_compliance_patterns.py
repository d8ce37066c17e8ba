"""Pattern rules (claims with a slot): each family flags its claims, keeps the finding's span,
article, category, severity and advice, folds evasions, and leaves its hard negatives clean."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agents.copywriter.compliance import ComplianceChecker, check
from agents.copywriter.errors import LexiconError
from agents.copywriter.lexicon import (
    VIOLATION_CATEGORIES,
    ProductCategory,
    default_lexicon,
    parse_lexicon,
)
from evals.suites.copy import load_all


def found(text: str, category: ProductCategory = "general") -> list[tuple[str, str]]:
    """(category, what was typed) of each violation, in text order."""
    return [(v.category, v.matched) for v in check(text, category).violations]


# (family, text, product category, expected (violation category, span)) — one claim per line
POSITIVES: list[tuple[str, str, ProductCategory, tuple[str, str]]] = [
    ("idiom", "做工在同价位里无人能及", "general", ("极限用语", "无人能及")),
    ("idiom", "这个口感不可替代", "food", ("极限用语", "不可替代")),
    ("idiom", "全城找不出第二家", "food", ("极限用语", "找不出第二")),
    ("idiom", "没有比它更舒服的枕头了", "general", ("极限用语", "没有比它更舒服")),
    ("grade", "史诗级升级的扫地机", "general", ("极限用语", "史诗级")),
    ("grade", "神仙级手感", "general", ("极限用语", "神仙级")),
    ("internet", "口碑直接封神", "general", ("极限用语", "封神")),
    ("absolute_qty", "百分百见效的面膜", "cosmetics", ("极限用语", "百分百见效")),
    ("absolute_qty", "上脸完全不卡粉", "cosmetics", ("极限用语", "完全不")),
    ("guarantee", "这个药膏包好", "general", ("虚假夸大", "包好")),
    ("guarantee", "保证一周就能看到变化", "cosmetics", ("虚假夸大", "保证一周就能看到变化")),
    ("zero_defect", "零添加的宝宝面条", "food", ("虚假夸大", "零添加")),
    ("zero_defect", "0甲醛板材", "general", ("虚假夸大", "0甲醛")),
    ("no_harm", "一点刺激都没有", "cosmetics", ("虚假夸大", "一点刺激都没有")),
    ("refund", "没效果立即全额退款", "cosmetics", ("虚假夸大", "没效果立即全额退")),
    ("refund", "不甜不要钱", "food", ("虚假夸大", "不甜不要钱")),
    ("weight", "十天瘦了6斤", "food", ("虚假夸大", "十天瘦了6斤")),
    ("weight", "腰围小了3cm", "general", ("虚假夸大", "腰围小了3cm")),
    ("weight", "随便吃都不胖", "food", ("虚假夸大", "随便吃都不胖")),
    ("onset", "精华液14天见效", "cosmetics", ("虚假夸大", "14天见效")),
    ("onset", "素颜霜一抹就白", "cosmetics", ("虚假夸大", "一抹就白")),
    ("ageing", "用了年轻8岁", "cosmetics", ("虚假夸大", "年轻8岁")),
    ("ageing", "抚平所有皱纹", "cosmetics", ("虚假夸大", "抚平所有皱纹")),
    ("medical_replace", "可以取代打针", "health", ("医疗功效", "取代打针")),
    ("medical_replace", "胰岛素都能停了", "health", ("医疗功效", "胰岛素都能停了")),
    ("medical_condition", "专门缓解鼻炎", "general", ("医疗功效", "缓解鼻炎")),
    ("medical_condition", "喝了血压稳稳的", "food", ("医疗功效", "血压稳")),
    ("infant_function", "提高宝宝抵抗力", "infant", ("医疗功效", "提高宝宝抵抗力")),
    ("breast_milk", "营养与母乳相同", "infant", ("医疗功效", "与母乳相同")),
    ("investment", "这个项目保本", "general", ("投资收益承诺", "保本")),
    ("investment", "年化收益12%", "general", ("投资收益承诺", "年化收益12")),  # % folds away
    ("investment", "开店8个月回本", "general", ("投资收益承诺", "8个月回本")),
    ("investment", "宝妈兼职日赚300", "general", ("投资收益承诺", "日赚300")),
    ("education", "二建培训包过", "general", ("教育培训承诺", "包过")),
    ("education", "考不上全额退费", "general", ("教育培训承诺", "考不上全额退")),
    ("education", "录取率高达95%", "general", ("教育培训承诺", "录取率高达95")),
    ("education", "请到了出题专家", "general", ("教育培训承诺", "出题专家")),
    ("disparage", "别家用的都是劣质棉", "general", ("对比贬低", "别家用的都是劣质")),
    ("disparage", "比同行的好用三倍", "general", ("对比贬低", "比同行的好用三倍")),
    ("pressure", "这辈子就一次的价格", "general", ("诱导/焦虑", "这辈子就一次")),
    ("superstition", "旺事业的摆件", "general", ("迷信", "旺事业")),
    ("price", "亏到姥姥家了", "general", ("价格欺诈", "亏到姥姥家")),
    ("price", "原来要299", "general", ("价格欺诈", "原来要299")),
    ("authority", "院士都在推荐", "general", ("权威背书/国家机关", "院士都在推荐")),
    ("authority", "亚运会指定用水", "food", ("权威背书/国家机关", "亚运会指定")),
]

# (family, clean text, product category): the hard negative next to each family
HARD_NEGATIVES: list[tuple[str, str, ProductCategory]] = [
    ("idiom", "没能及时回复，抱歉", "general"),
    ("idiom", "没有比价功能，需要手动对比", "general"),
    ("grade", "一级能效，IPX7级防水", "general"),
    ("grade", "食品级硅胶，特级初榨橄榄油", "food"),
    ("internet", "卷发棒有三档温度，登机箱20寸", "general"),
    ("absolute_qty", "面料100%棉，充满到100%要2小时", "general"),
    ("absolute_qty", "完全解冻后再下锅，完全不用担心尺码", "food"),
    ("guarantee", "礼物已经帮你包好了", "general"),
    ("guarantee", "书包好看又能装", "general"),
    ("guarantee", "全国包邮，包装换新", "general"),
    ("zero_defect", "零食礼包，零点开抢，零下20度能用", "food"),
    ("no_harm", "有一点刺激感是正常的，过两分钟就好", "cosmetics"),
    ("refund", "七天无理由，不满意可以退", "general"),
    ("weight", "一袋500g，一个人吃十天", "food"),
    ("weight", "三天内发货，满2件减10元", "general"),
    ("onset", "三天内发货", "general"),
    ("ageing", "年轻人喜欢的颜色", "general"),
    ("medical_replace", "本品不能代替药物", "health"),
    ("medical_replace", "保健食品不是药物，不能代替药物治疗疾病", "health"),
    ("medical_condition", "电子血压计测量稳定，误差小", "general"),
    ("infant_function", "有助于增强免疫力", "health"),
    ("breast_milk", "母乳是婴儿最理想的食物", "infant"),
    ("investment", "确保本店每一件都是正品", "general"),
    ("investment", "理财有风险，投资需谨慎", "general"),
    ("investment", "满300返30元券", "general"),
    ("education", "打包过程全程录像", "general"),
    ("education", "命题作文怎么写？这本书有范文", "general"),
    ("education", "课程一共24节，老师有十年经验", "general"),
    ("disparage", "外面下雨了，快递可能慢一点，不是假的别担心", "general"),
    ("pressure", "活动到周日晚上12点结束", "general"),
    ("superstition", "这个关节很灵活", "general"),
    ("superstition", "传感器超灵敏", "general"),
    ("price", "门店和线上同价", "general"),
    ("authority", "医生建议每天喝够水", "general"),
    ("authority", "最佳赏味期是收到后3天内", "food"),
    ("onset", "一次用量一颗黄豆大小，一天白天晚上各一次", "cosmetics"),
]


@pytest.mark.parametrize(("family", "text", "category", "expected"), POSITIVES)
def test_each_family_flags_its_claims(
    family: str, text: str, category: ProductCategory, expected: tuple[str, str]
) -> None:
    assert expected in found(text, category), family


@pytest.mark.parametrize(("family", "text", "category"), HARD_NEGATIVES)
def test_each_family_leaves_its_hard_negatives_clean(
    family: str, text: str, category: ProductCategory
) -> None:
    assert found(text, category) == [], family


def test_every_family_has_a_positive_and_a_hard_negative() -> None:
    assert {f for f, *_ in POSITIVES} == {f for f, *_ in HARD_NEGATIVES}


def test_a_pattern_finding_carries_article_severity_and_advice() -> None:
    (v,) = check("喝完这一盒包瘦").violations
    assert (v.term, v.category, v.matched, v.severity, v.fixable) == (
        "保证-包效果",
        "虚假夸大",
        "包瘦",
        "high",
        False,
    )
    assert "第二十八条" in v.article
    assert "删除" in v.suggestion
    (inv,) = check("稳赚不亏的项目").violations
    assert "第二十五条" in inv.article
    (edu,) = check("包教包会").violations
    assert "第二十四条" in edu.article


def test_pressure_tactics_are_low_severity() -> None:
    (v,) = check("错过今天就没有了").violations
    assert (v.category, v.severity) == ("诱导/焦虑", "low")


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("包 瘦", "包 瘦"),
        ("穩賺不賠", "穩賺"),
        ("３天瘦８斤", "３天瘦８斤"),
        ("无✨人✨能✨及", "无✨人✨能✨及"),
        ("保🔥本", "保🔥本"),
    ],
)
def test_evasions_fold_for_patterns_too(text: str, matched: str) -> None:
    assert [v.matched for v in check(text).violations][:1] == [matched]


def test_a_term_keeps_its_finding_and_safe_rewrite_where_a_pattern_overlaps() -> None:
    report = check("根治糖尿病")
    assert [v.term for v in report.violations] == ["根治", "糖尿病"]
    report = check("这款最好用，没有比它更好用的")
    assert report.violations[0].term == "最好用"
    assert report.fixed.startswith("这款超好用")


def test_same_clause_rules_do_not_reach_across_punctuation() -> None:
    assert found("别家的包装很好看。我们的不是假的") == []
    assert found("别家的都是假的") == [("对比贬低", "别家的都是假的")]


def test_every_entry_and_pattern_names_a_known_source() -> None:
    lexicon = default_lexicon()
    assert lexicon.version == "ad_lexicon.v2"
    assert all(e.source for e in lexicon.entries)
    assert all(p.entry.source for p in lexicon.patterns)
    assert {p.entry.category for p in lexicon.patterns} == set(VIOLATION_CATEGORIES)


def _with_pattern(**spec: object) -> dict[str, object]:
    base = {
        "id": "r",
        "category": "极限用语",
        "article": "A",
        "severity": "high",
        "advice": "删",
        "regex": "x",
    }
    return {
        "version": "t",
        "articles": {"A": "《广告法》第九条"},
        "sources": {"law": "广告法"},
        "fragments": {"NUM": r"\d+"},
        "groups": [{"category": "极限用语", "article": "A", "severity": "high", "terms": {"最佳": []}}],
        "patterns": [base | spec],
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"category": "随便"}, "未知违规类别"),
        ({"article": "B"}, "未定义的法条"),
        ({"source": "blog"}, "未定义的来源"),
        ({"regex": "(unclosed"}, "正则无效"),
        ({"regex": "a*"}, "空串"),
        ({"regex": "%PRICE%"}, "未定义的片段"),
        ({"regex": "宝宝"}, "叠字"),
        ({"advice": ""}, "需要 advice"),
        ({"colour": "red"}, "未知字段"),
    ],
)
def test_malformed_patterns_are_rejected_with_the_reason(spec: dict[str, object], message: str) -> None:
    with pytest.raises(LexiconError, match=message):
        parse_lexicon(_with_pattern(**spec))


def test_fragments_expand_inside_a_pattern() -> None:
    lexicon = parse_lexicon(_with_pattern(regex="瘦%NUM%斤", source="law"))
    (rule,) = lexicon.patterns
    assert any(r.search("一周瘦10斤") for r in rule.regexes)
    assert rule.entry.source == "law"


def test_character_gates_never_skip_a_match() -> None:
    """The gates only save time: without them every text gets the same findings."""
    lexicon = default_lexicon()
    ungated = ComplianceChecker(
        replace(
            lexicon, patterns=tuple(replace(p, gates=tuple(() for _ in p.regexes)) for p in lexicon.patterns)
        )
    )
    gated = ComplianceChecker(lexicon)
    texts = [c.text for c in load_all()] + [t for _, t, *_ in POSITIVES] + [t for _, t, _ in HARD_NEGATIVES]
    assert len(texts) > 600
    for text in texts:
        assert gated.check(text).violations == ungated.check(text).violations, text


@pytest.mark.parametrize(
    ("regex", "gates"),
    [
        ("保(?<![确担]保)(?:本|息)", [{"保"}, {"本", "息"}]),
        ("(?:怎么|随便)(?:吃|喝)(?:多少)?都不胖", [{"怎", "随"}, {"吃", "喝"}, {"都"}, {"不"}, {"胖"}]),
        (
            "[0-9一二]+天.{0,3}?瘦",
            [{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "一", "二"}, {"天"}, {"瘦"}],
        ),
        ("(?:a|b?)c", [{"c"}]),
    ],
)
def test_gates_are_the_required_first_characters(regex: str, gates: list[set[str]]) -> None:
    lexicon = parse_lexicon(_with_pattern(regex=regex))
    assert [set(g) for g in lexicon.patterns[0].gates[0]] == gates
