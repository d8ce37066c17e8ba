"""The LLM engine through the scripted chat model: checks, rewrites with reasons, exact counts."""

from __future__ import annotations

from decimal import Decimal

from agents.copywriter.generate import LLMEngine, MomentsOutput, MomentsSpec, ProductInfo, shape_llm_text
from agents.copywriter.templates import default_library
from evals.doubles.llm import ScriptedChatModel, scripted_gateway
from store.errors import LLMTimeout

CUP = ProductInfo(
    sku="ST-771",
    title="清居 316不锈钢保温杯 500ml",
    category="家居日用",
    price=Decimal("89.00"),
    brand="清居",
    attributes={"容量": "500ml", "保温时长": "12小时"},
    description="一键弹盖单手开合。",
)
SPEC = MomentsSpec(goal="种草", audience="白领", tone="亲切", max_chars=90, emoji=2, hashtags=2)


def test_shape_makes_emoji_and_hashtag_counts_exact() -> None:
    out = MomentsOutput(
        text="早上一杯热水☕☕🔥\n#通勤 保温杯陪我一整天", hashtags=["#打工人", "保温杯", "bad tag!"]
    )
    text = shape_llm_text(out, SPEC, default_library())
    assert text.count("#") == 2 and text.endswith("#打工人 #保温杯")  # "bad tag!" and #通勤 are not needed
    lines = text.split("\n")
    assert lines[0] == "早上一杯热水☕" and lines[1] == "保温杯陪我一整天😊"


def test_failed_draft_is_rewritten_with_the_reasons(scripted_llm: ScriptedChatModel) -> None:
    scripted_llm.add(
        {"text": "全网最低价！316不锈钢保温杯只要¥59，保温24小时", "hashtags": ["好物"]},
        {
            "text": "通勤路上的316不锈钢保温杯\n500ml刚好一天的量，保温12小时，售价¥89",
            "hashtags": ["通勤好物"],
        },
    )
    engine = LLMEngine(scripted_gateway(scripted_llm), rewrites=2)
    attempts = list(engine.write([CUP], SPEC, shop_name="鹿鸣优选", promo_line=None, avoid=["旧文案一条"]))
    assert len(attempts) == 2
    first, second = attempts
    assert first.verdict is not None and not first.verdict.ok
    assert second.verdict is not None and second.verdict.ok, second.verdict
    assert second.draft is not None and second.draft.engine == "llm"
    assert second.draft.prompt_id == "copywriter/moments" and second.draft.model == "scripted-model"
    m = second.verdict.measure
    assert (m.emoji, m.hashtags) == (2, 2) and m.chars <= 90
    # The rewrite request names what was wrong, and the product data travels delimited.
    retry = scripted_llm.calls[1].messages[-1]["content"]
    assert "¥59" in retry and "24小时" in retry and "全网最低" in retry
    assert "<product_data>" in retry and "<previous_posts>" in retry


def test_gives_up_after_n_rewrites(scripted_llm: ScriptedChatModel) -> None:
    bad = {"text": "国家级保温杯，售价¥19", "hashtags": []}
    scripted_llm.add(bad, bad)
    engine = LLMEngine(scripted_gateway(scripted_llm), rewrites=1)
    attempts = list(engine.write([CUP], SPEC, shop_name="店", promo_line=None))
    assert len(attempts) == 2 and not any(a.verdict and a.verdict.ok for a in attempts)


def test_llm_error_ends_the_attempts(scripted_llm: ScriptedChatModel) -> None:
    scripted_llm.add(LLMTimeout())
    engine = LLMEngine(scripted_gateway(scripted_llm))
    attempts = list(engine.write([CUP], SPEC, shop_name="店", promo_line=None))
    assert [(a.draft, a.error) for a in attempts] == [(None, "llm_timeout")]
