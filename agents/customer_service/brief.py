"""The brief a staff member reads when claiming a handoff. Pure and extractive.

    make_brief(BriefInput(turns=[...], intent=..., reasons=[...], evidence=[...]))
      -> Brief(request="奶粉罐子压瘪了，要退货", intent=退换货, ..., suggested_reply="破损、漏液…")

The suggested reply offline is the one evidence sentence that best overlaps the customer's request
(char-bigram overlap weighted by the evidence score); the LLM path may replace it later.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agents.customer_service.handoff import char_bigrams
from agents.customer_service.schemas import Intent, Reason, Turn

REQUEST_MAX_CHARS = 80
_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]?")
_MARKDOWN = re.compile(r"^[#>\-*|\s\d.、]+|\*\*|\|")


@dataclass(frozen=True, slots=True)
class OrderRef:
    order_no: str
    status: str
    summary: str = ""  # "纸尿裤M码×2，¥258"


@dataclass(frozen=True, slots=True)
class Evidence:
    text: str
    score: float
    source: str = ""  # document title or tool name


@dataclass(frozen=True, slots=True)
class BriefInput:
    turns: Sequence[Turn]
    intent: Intent
    reasons: Sequence[Reason]
    sentiment: float = 0.0
    order: OrderRef | None = None
    evidence: Sequence[Evidence] = ()


@dataclass(frozen=True, slots=True)
class Brief:
    request: str
    intent: Intent
    sentiment: float
    reasons: list[Reason]
    order: OrderRef | None
    bot_answers: list[str] = field(default_factory=list)
    suggested_reply: str | None = None
    suggested_source: str | None = None


def one_line(texts: Sequence[str], limit: int = REQUEST_MAX_CHARS) -> str:
    """The customer's last messages, deduplicated, on one line, cut at `limit` characters."""
    seen: list[str] = []
    for t in texts:
        clean = " ".join(t.split())
        if clean and clean not in seen:
            seen.append(clean)
    line = " / ".join(seen)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def sentences(text: str) -> list[str]:
    out: list[str] = []
    for raw in text.splitlines():
        cleaned = _MARKDOWN.sub("", raw.strip()).strip()
        out.extend(s.strip() for s in _SENTENCE.findall(cleaned) if len(s.strip()) >= 6)
    return out


def best_sentence(request: str, evidence: Sequence[Evidence]) -> tuple[str, str] | None:
    """(sentence, source) of the evidence sentence sharing most bigrams with the request."""
    want = char_bigrams(request)
    best: tuple[float, str, str] | None = None
    for ev in evidence:
        for s in sentences(ev.text):
            have = char_bigrams(s)
            overlap = len(want & have) / (len(want) or 1)
            score = overlap * (0.5 + max(0.0, ev.score))
            if best is None or score > best[0]:
                best = (score, s, ev.source)
    if best is None or best[0] <= 0:
        return None
    return best[1], best[2]


def make_brief(inp: BriefInput) -> Brief:
    # What the customer said since the last bot/staff turn is what the person must answer.
    recent: list[str] = []
    for t in reversed(inp.turns):
        if t.role != "customer":
            if recent:
                break
            continue
        recent.append(t.text)
    recent.reverse()
    request = one_line(recent[-3:])
    answers = [t.text for t in inp.turns if t.role == "bot"]
    suggestion = best_sentence(request, inp.evidence)
    return Brief(
        request=request,
        intent=inp.intent,
        sentiment=inp.sentiment,
        reasons=list(inp.reasons),
        order=inp.order,
        bot_answers=answers[-3:],
        suggested_reply=suggestion[0] if suggestion else None,
        suggested_source=suggestion[1] if suggestion else None,
    )
