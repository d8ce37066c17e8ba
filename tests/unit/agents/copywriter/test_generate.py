"""The offline engine, the counting rules and the checks every variant passes."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from agents.copywriter.compliance import check
from agents.copywriter.generate import (
    MomentsSpec,
    OfflineEngine,
    ProductInfo,
    compliance_category,
    count_emoji,
    count_hashtags,
    format_price,
    measure,
    place_emoji,
    repair,
    verify,
)
from agents.copywriter.templates import AUDIENCES, GOALS, TONES, default_library

CUP = ProductInfo(
    sku="ST-771",
    title="清居 316不锈钢保温杯 500ml",
    category="家居日用",
    price=Decimal("89.00"),
    brand="清居",
    subcategory="杯壶",
    attributes={"容量": "500ml", "材质": "316不锈钢内胆", "保温时长": "12小时", "产地": "浙江永康"},
    description="一键弹盖单手开合，杯口圆润不刮嘴。",
)
CREAM = ProductInfo(
    sku="MZ-210",
    title="清研 神经酰胺修护面霜 50g",
    category="美妆护肤",
    price=Decimal("129.90"),
    brand="清研",
    subcategory="面霜",
    attributes={"净含量": "50g", "肤质": "干皮、敏感肌", "功效": "美白祛斑"},
    description="质地像云朵，全网最低价，一抹化水。",
)


@pytest.mark.parametrize(
    ("text", "emoji"),
    [
        ("✨", 1),
        ("❤️", 1),  # heart + VS16
        ("👍🏻", 1),  # with skin tone
        ("👨‍👩‍👧", 1),  # ZWJ family
        ("1️⃣", 1),  # keycap
        ("🇨🇳", 1),  # flag = two regional indicators
        ("®", 1),  # Extended_Pictographic
        ("★☆✓", 0),  # symbols, not pictographs
        ("好物🎉🎉分享😊", 3),
        ("纯文字 123", 0),
    ],
)
def test_emoji_counting_rule(text: str, emoji: int) -> None:
    assert count_emoji(text) == emoji


def test_hashtag_counting_rule() -> None:
    assert count_hashtags("#宝妈好物 #育儿_日常\n#Z世代") == 3
    assert count_hashtags("# 空格不算 ＃全角不算 价格#") == 0
    assert measure("你好😊\n#好物").chars == len("你好😊\n#好物") == 7


def test_price_format_and_category_map() -> None:
    assert [format_price(Decimal(p)) for p in ("129.00", "12.90", "9.99", "100")] == [
        "129",
        "12.9",
        "9.99",
        "100",
    ]
    assert [compliance_category(c) for c in ("母婴", "食品生鲜", "美妆护肤", "健康养生", "服饰运动")] == [
        "infant",
        "food",
        "cosmetics",
        "health",
        "general",
    ]
    assert compliance_category("进口零食") == "food"
    assert compliance_category("宠物用品") == "general"


def test_short_name_drops_brand_and_sizes() -> None:
    assert CUP.short_name == "316不锈钢保温杯"
    assert CREAM.short_name == "神经酰胺修护面霜"


def test_place_emoji_puts_exactly_n() -> None:
    assert place_emoji(["a", "b", "c"], ["1", "2", "3", "4"]) == ["a1", "b3", "c24"]
    assert place_emoji(["a"], ["1", "2"]) == ["a12"]
    assert place_emoji(["a", "b"], []) == ["a", "b"]


def test_library_has_30_plus_files_and_every_line_is_clean() -> None:
    lib = default_library()
    assert lib.files >= 30
    assert lib.version.startswith("tpl-")
    for where, line in lib.all_lines():
        text = line.format(name="保温杯", call="朋友们", key="材质", value="纯棉", price="99")
        for category in ("general", "cosmetics", "food", "health", "infant"):
            report = check(text, category)
            assert report.ok, (where, text, category, [v.term for v in report.violations])
        assert count_emoji(text) == 0, where
        assert count_hashtags(text) == (1 if where.startswith("hashtags/") else 0), where


@pytest.mark.parametrize(
    ("goal", "audience", "tone"),
    [
        ("种草", "宝妈", "亲切"),
        ("促销", "白领", "活泼"),
        ("干货", "银发", "专业"),
        ("会员日", "Z世代", "高级"),
    ],
)
def test_offline_variants_meet_every_constraint_and_differ(goal: str, audience: str, tone: str) -> None:
    spec = MomentsSpec(goal=goal, audience=audience, tone=tone, max_chars=90, emoji=3, hashtags=2)  # type: ignore[arg-type]
    drafts = list(itertools.islice(OfflineEngine().candidates([CUP], spec, seed=11), 5))
    assert len({d.text for d in drafts}) == 5
    for d in drafts:
        verdict = verify(d.text, [CUP], spec)
        assert verdict.ok, (d.text, verdict)
        assert (verdict.measure.emoji, verdict.measure.hashtags) == (3, 2)
        assert verdict.measure.chars <= 90
        assert "316不锈钢保温杯" in d.text
        assert d.engine == "offline" and d.templates["hook"].startswith(f"hooks/{goal}/{tone}#")
    if goal != "干货":
        assert all("¥89" in d.text for d in drafts)  # the store price, never another
    else:
        assert not any("¥" in d.text for d in drafts)


def test_tight_limit_drops_benefits_then_fails_cleanly() -> None:
    roomy = MomentsSpec(goal="新品", audience="通用", tone="专业", max_chars=200, emoji=1, hashtags=1)
    tight = MomentsSpec(goal="新品", audience="通用", tone="专业", max_chars=45, emoji=1, hashtags=1)
    long = next(OfflineEngine().candidates([CUP], roomy, seed=3)).text
    short = next(OfflineEngine().candidates([CUP], tight, seed=3)).text
    assert len(short) <= 45 < len(long)
    assert verify(short, [CUP], tight).ok
    impossible = MomentsSpec(goal="新品", audience="通用", tone="专业", max_chars=12, emoji=5, hashtags=5)
    assert list(OfflineEngine().candidates([CUP], impossible, seed=3)) == []


def test_bad_product_data_never_reaches_the_copy() -> None:
    """美白祛斑 (needs special approval) and 全网最低价 in the record are left out or rewritten."""
    spec = MomentsSpec(goal="种草", audience="Z世代", tone="活泼", max_chars=150, emoji=2, hashtags=2)
    for d in itertools.islice(OfflineEngine().candidates([CREAM], spec, seed=5), 10):
        verdict = verify(d.text, [CREAM], spec)
        assert verdict.ok, (d.text, [v.term for r in verdict.compliance for v in r.violations])
        assert "美白" not in d.text and "最低" not in d.text


def test_multi_product_post_names_both_with_their_store_prices() -> None:
    spec = MomentsSpec(goal="促销", audience="白领", tone="亲切", max_chars=160, emoji=2, hashtags=2)
    d = next(OfflineEngine().candidates([CUP, CREAM], spec, seed=1))
    assert "¥89" in d.text and "¥129.9" in d.text and "神经酰胺修护面霜" in d.text
    assert verify(d.text, [CUP, CREAM], spec).ok


def test_repair_uses_the_safe_rewrite_but_never_fixes_facts() -> None:
    spec = MomentsSpec(goal="种草", audience="通用", tone="亲切", max_chars=100, emoji=0, hashtags=0)
    fixable = verify("最好用的316不锈钢保温杯", [CUP], spec)
    assert not fixable.ok
    fixed = repair(fixable, [CUP], spec)
    assert fixed.ok and fixed.repaired and "最好用" not in fixed.text
    wrong_price = repair(verify("保温杯到手价¥59", [CUP], spec), [CUP], spec)
    assert not wrong_price.ok and not wrong_price.repaired
    assert [m.kind for m in wrong_price.facts.mismatches] == ["price"]


def test_every_goal_audience_tone_has_templates() -> None:
    lib = default_library()
    for goal, audience, tone in itertools.product(GOALS, AUDIENCES, TONES):
        assert lib.hooks[goal][tone] and lib.ctas[goal][tone] and lib.emoji[audience][tone]
        assert len(set(lib.hashtags[audience][goal]) | set(lib.hashtags[audience]["common"])) >= 5
