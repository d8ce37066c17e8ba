"""The handoff policy: a pure function from one customer turn and its context to a typed decision.

    decide(HandoffInput(message="转 人 工！！", ...), policy) -> Handoff([customer_request], 40)

Reasons come from four places:
- the customer's words (folded, so 转 人 工 / ｒｇ / 轉人工 meet one keyword list per reason);
- an anger score from a small Chinese lexicon plus punctuation (！！！, ？？？);
- the answer the bot could give (grounding of its best evidence, tool/LLM failure, a blocked promise);
- the customer (VIP by segment or by order value) and the recent turns (a rephrase after a bot answer,
  or words saying that answer missed: 我问的是…, 答非所问, 到底能不能…).
Keywords, thresholds, VIP rules and hours are per-shop `ShopPolicy` settings. No I/O, no clock.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agents.customer_service.normalize import fold, punctuation_runs
from agents.customer_service.schemas import (
    CustomerFacts,
    Handoff,
    Intent,
    Reason,
    ShopPolicy,
    Turn,
    priority_of,
)

# Anger lexicon: weight per folded term. A score >= policy.anger_threshold (0.6) is anger on its own.
_ANGER_TERMS: dict[str, float] = {
    "垃圾": 0.6,
    "骗子": 0.7,
    "骗人": 0.6,
    "气死": 0.6,
    "什么破": 0.6,
    "破玩意": 0.6,
    "差评": 0.5,
    "坑人": 0.6,
    "坑爹": 0.5,
    "黑店": 0.7,
    "恶心": 0.5,
    "无语": 0.3,
    "服了": 0.3,
    "太差": 0.4,
    "离谱": 0.3,
    "过分": 0.3,
    "投诉": 0.4,
    "受够": 0.5,
    "忍无可忍": 0.7,
    "傻逼": 0.8,
    "智障": 0.6,
    "脑残": 0.6,
    "滚蛋": 0.6,
    "妈的": 0.6,
    "tmd": 0.6,
    "什么态度": 0.5,
    "什么服务": 0.5,
    "敷衍": 0.4,
    "忽悠": 0.5,
    "糊弄": 0.4,
    "再也不买": 0.5,
    "失望": 0.3,
    "生气": 0.4,
    "着急": 0.2,
    "到底": 0.2,
    "怎么回事": 0.2,
    "搞什么": 0.4,
    "有病": 0.5,
    "垃鸡": 0.6,
    "辣鸡": 0.6,
    "干嘛": 0.2,
    "凭什么": 0.3,
    # Being ignored: 等了三天都没人理？？？ is anger with the punctuation, a plain remark without.
    "没人理": 0.4,
    "没人管": 0.4,
    "没人回": 0.4,
    "倒闭": 0.3,
}
_ANGER_PATTERN = re.compile("|".join(sorted(map(re.escape, _ANGER_TERMS), key=len, reverse=True)))
_POSITIVE = re.compile("谢|感谢|好评|满意|喜欢|不错|很好|好用|赞|给力|辛苦")


@dataclass(frozen=True, slots=True)
class Sentiment:
    score: float  # -1 (furious) .. +1 (happy)
    anger: float  # 0 .. 1
    terms: tuple[str, ...]


def score_sentiment(text: str, folded: str | None = None) -> Sentiment:
    """Lexicon-based anger: terms add their weights; each run of ！！！ or ？？？ adds 0.2 (0.4 at most)."""
    folded = fold(text) if folded is None else folded
    terms = tuple(dict.fromkeys(m.group() for m in _ANGER_PATTERN.finditer(folded)))
    anger = sum(_ANGER_TERMS[t] for t in terms)
    anger += min(0.4, 0.2 * punctuation_runs(text))
    anger = min(1.0, anger)
    positive = 0.3 * len(_POSITIVE.findall(folded))
    return Sentiment(
        score=round(max(-1.0, min(1.0, positive - anger)), 3), anger=round(anger, 3), terms=terms
    )


def char_bigrams(text: str) -> set[str]:
    folded = fold(text)
    if len(folded) < 2:
        return {folded} if folded else set()
    return {folded[i : i + 2] for i in range(len(folded) - 1)}


def jaccard(a: str, b: str) -> float:
    x, y = char_bigrams(a), char_bigrams(b)
    if not x or not y:
        return 0.0
    return len(x & y) / len(x | y)


def is_repeat(turns: Sequence[Turn], message: str, threshold: float, similarity: float | None = None) -> bool:
    """The customer says (nearly) the same thing again after a bot answer.

    `turns` are the recent turns before `message`, oldest first. `similarity` (e.g. an embedding
    cosine computed by the caller) replaces the char-bigram Jaccard when given.
    """
    last_bot = next((i for i in range(len(turns) - 1, -1, -1) if turns[i].role == "bot"), None)
    if last_bot is None:
        return False
    previous = next((t.text for t in reversed(turns[:last_bot]) if t.role == "customer"), None)
    if previous is None:
        return False
    if any(t.role == "human" for t in turns[last_bot:]):
        return False
    score = jaccard(previous, message) if similarity is None else similarity
    return score >= threshold


def _last_is_bot_answer(turns: Sequence[Turn]) -> bool:
    spoken = [t for t in turns if t.role != "system"]
    return bool(spoken) and spoken[-1].role == "bot"


@functools.cache
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def answer_missed(turns: Sequence[Turn], folded: str, policy: ShopPolicy) -> str | None:
    """The customer says the bot's last answer missed (我问的是…, 答非所问, 到底能不能…): the matched
    words, or None. Such words mean nothing without a bot answer just before, so they are matched
    only then; a rephrase that shares few characters with the first question is caught here."""
    if not _last_is_bot_answer(turns):
        return None
    pattern = _compiled(policy.patterns(Reason.repeated_failure))
    m = pattern.search(folded) if pattern is not None else None
    return m.group() if m is not None else None


@dataclass(frozen=True, slots=True)
class HandoffInput:
    message: str
    intent: Intent | None = None
    intent_confidence: float = 1.0  # IntentResult.confidence; a weak 要求人工 guess is not a request
    folded: str | None = None  # fold(message), when the caller has it already
    sentiment: Sentiment | None = None
    grounding: float | None = None  # best evidence score; None = no answer attempted (e.g. triage)
    # The evidence score of the one chunk a document-only answer rests on (Composed.evidence);
    # None when a tool or a curated FAQ answered.
    evidence: float | None = None
    recent_turns: Sequence[Turn] = ()
    repeat_similarity: float | None = None  # caller-computed similarity to the previous customer message
    error: bool = False  # a tool or the LLM failed on this turn
    customer: CustomerFacts | None = None
    commitment_blocked: bool = False
    settled_reasons: frozenset[Reason] = field(default_factory=frozenset)


def keyword_reasons(folded: str, policy: ShopPolicy) -> dict[Reason, str]:
    """Reason -> the first matched words, for each keyword reason whose patterns match."""
    found: dict[Reason, str] = {}
    for reason, pattern in policy.compiled.items():
        m = pattern.search(folded)
        if m is not None:
            found[reason] = m.group() or folded
    return found


def is_vip(customer: CustomerFacts, policy: ShopPolicy) -> bool:
    if customer.segment is not None and customer.segment in policy.vip_segments:
        return True
    if policy.vip_min_lifetime_value is not None and customer.lifetime_value >= policy.vip_min_lifetime_value:
        return True
    return policy.vip_min_order_value is not None and customer.order_value >= policy.vip_min_order_value


def decide(inp: HandoffInput, policy: ShopPolicy) -> Handoff | None:
    """A typed handoff decision for one customer turn, or None when the bot keeps the chat.

    Context reasons (vip) already settled in this conversation are not raised again; see state.py.
    """
    folded = fold(inp.message) if inp.folded is None else inp.folded
    evidence = keyword_reasons(folded, policy)
    # The intent is a fallback for words no keyword list knows (能让客服小姐姐来一下吗, 被你们气笑了).
    if not evidence and inp.intent_confidence >= policy.intent_confidence:
        if inp.intent is Intent.human:
            evidence[Reason.customer_request] = f"intent=要求人工 ({inp.intent_confidence:.2f})"
        elif inp.intent is Intent.complaint:
            evidence[Reason.complaint_or_anger] = f"intent=投诉 ({inp.intent_confidence:.2f})"
    sentiment = inp.sentiment or score_sentiment(inp.message, folded)
    if sentiment.anger >= policy.anger_threshold:
        evidence.setdefault(Reason.complaint_or_anger, f"anger={sentiment.anger:.2f}")
    if not _small_talk(inp.intent):
        if inp.grounding is not None and inp.grounding < policy.low_grounding:
            evidence[Reason.low_grounding] = f"grounding={inp.grounding:.2f}"
        elif inp.evidence is not None and inp.evidence < policy.min_evidence:
            # The search found something, but the chunk the answer rests on does not hold what
            # was asked (花呗分期 answered with the 货到付款 FAQ): a person should answer.
            evidence[Reason.low_grounding] = f"evidence={inp.evidence:.2f}"
    if is_repeat(inp.recent_turns, inp.message, policy.repeat_similarity, inp.repeat_similarity):
        evidence[Reason.repeated_failure] = "rephrased after a bot answer"
    elif (missed := answer_missed(inp.recent_turns, folded, policy)) is not None:
        evidence[Reason.repeated_failure] = f"answer missed: {missed}"
    if inp.error:
        evidence[Reason.tool_or_llm_error] = "tool or LLM failed"
    if inp.commitment_blocked:
        evidence[Reason.commitment_blocked] = "reply blocked by the commitment guard"
    # By default VIP alone does not hand off every message: it joins (and raises the priority of) a
    # chat that needs a person anyway. Shops that serve VIPs by hand set vip_always_handoff.
    if (
        inp.customer is not None
        and Reason.vip not in inp.settled_reasons
        and is_vip(inp.customer, policy)
        and (evidence or (policy.vip_always_handoff and not _small_talk(inp.intent)))
    ):
        evidence[Reason.vip] = f"segment={inp.customer.segment} ltv={inp.customer.lifetime_value}"
    if not evidence:
        return None
    reasons = [r for r in Reason if r in evidence]
    return Handoff(reasons=reasons, priority=priority_of(reasons), evidence={r: evidence[r] for r in reasons})


def _small_talk(intent: Intent | None) -> bool:
    # 你好 / 谢谢 have no evidence to ground on, and need no person.
    return intent is Intent.chitchat
