"""The offline engine: a reply composed from tool results and the best grounded chunks. Pure.

    compose(question, intent, ToolResults(...)) -> Composed(text, citations, grounding)

Every fact comes from a tool (order, product) or from a cited chunk, and every reply says
where it came from. The citations are also the numbered `sources` the LLM engine phrases from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agents.customer_service.brief import Evidence, best_sentence, sentences
from agents.customer_service.handoff import char_bigrams
from agents.customer_service.schemas import Intent, OrderNumberFormat, ShopPolicy
from agents.customer_service.tools import DEFAULT_ORDER_NUMBER, OrderInfo, ProductInfo, ToolResults
from retrieval.search import DEFAULT_EVIDENCE, Hit

MAX_CHUNK_SENTENCES = 2
MIN_HIT_SCORE_SHARE = 0.5  # chunks after the top one must score at least half of it to be used
# The answer rests on the best-evidenced of this many top policy/FAQ chunks: fusion ranks by
# similarity, but a chunk that holds the question's key words is the better answer.
EVIDENCE_DEPTH = 3
# ShopPolicy.min_evidence's default, for callers without a shop policy.
DEFAULT_MIN_EVIDENCE: float = ShopPolicy.model_fields["min_evidence"].default


@dataclass(frozen=True)
class Source:
    ref: str  # S1, S2 … as shown to the LLM and stored with the reply
    kind: str  # "order" | "product" | "faq" | "document"
    title: str
    text: str
    doc_id: str = ""
    chunk_id: str = ""
    section: str = ""

    def citation(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "kind": self.kind,
            "title": self.title,
            "doc_id": self.doc_id,
            "chunk_id": self.chunk_id,
            "section": self.section,
        }


@dataclass(frozen=True)
class Composed:
    text: str
    sources: list[Source] = field(default_factory=list)
    grounding: float = 0.0
    answered_by_tool: bool = False
    # The evidence score (retrieval.search.EvidenceModel) of the chunk a document-only answer
    # rests on; None when a tool or a curated FAQ answered, or nothing was said.
    evidence: float | None = None

    @property
    def citations(self) -> list[dict[str, Any]]:
        return [s.citation() for s in self.sources]

    @property
    def cited_text(self) -> str:
        return "\n".join(s.text for s in self.sources if s.kind in ("faq", "document"))


def order_text(o: OrderInfo) -> str:
    head = "您近期的订单" if o.guessed else "您的订单"
    parts = [f"{head} {o.order_no}（{'、'.join(o.items)}）当前状态：{o.status_cn}"]
    if o.carrier and o.tracking_no:
        parts.append(f"{o.carrier} 运单号 {o.tracking_no}")
    if o.events:
        last = o.events[-1]
        where = f"{last.location} " if last.location else ""
        parts.append(f"物流动态（{last.when}）：{where}{last.description}")
    elif o.status == "paid":
        parts.append("仓库正在安排发货，发出后这里可以查到物流")
    return "，".join(parts) + "。（来自订单系统）"


def product_text(p: ProductInfo) -> str:
    if not p.active:
        return f"「{p.title}」目前已下架。"
    stock = "有货" if p.stock > 0 else "暂时缺货"
    line = f"「{p.title}」现价 ¥{p.price}，{stock}"
    if p.variants:
        shown = "、".join(f"{v.name}（¥{v.price}，{'有货' if v.stock > 0 else '缺货'}）" for v in p.variants)
        line += f"；可选款式：{shown}"
    return line + "。（来自店铺商品库，以实时价格为准）"


def _untable(sentence: str) -> str:
    """A markdown table row's cells ('水果坏果  按重量退款') read as one clause."""
    return re.sub(r"\s{2,}", "，", sentence.strip())


def _header_like(sentence: str) -> bool:
    """A table header ('问题，赔付标准，需要提供'): only short cells, no figures."""
    cells = [c for c in re.split(r"[，。]", sentence) if c]
    return len(cells) > 1 and all(len(c) <= 4 for c in cells) and not re.search(r"\d", sentence)


def _chunk_excerpt(question: str, hit: Hit) -> str:
    body = hit.text
    if hit.question and "\n答：" in body:
        body = body.split("\n答：", 1)[1]
    picked: list[str] = []
    want = char_bigrams(question)
    candidates = [_untable(s) for s in sentences(body)]
    ranked = sorted(
        (s for s in candidates if s and not _header_like(s)),
        key=lambda s: -len(want & char_bigrams(s)),
    )
    for s in ranked[:MAX_CHUNK_SENTENCES]:
        picked.append(s.rstrip("。；;") + "。")
    if not picked:
        return ""
    # keep the document's own order
    order = {s: body.find(s.rstrip("。")) for s in picked}
    return "".join(sorted(picked, key=lambda s: order[s]))


def evidence_score(hit: Hit) -> float:
    return DEFAULT_EVIDENCE.score(hit)


def _policy_outranks_products(hits: list[Hit], min_evidence: float) -> bool:
    """The search put a policy/FAQ chunk above every product card, and that chunk answers the
    question (牛奶到了鼓包了: the 生鲜售后 rule, not just the milk's price card)."""
    return bool(hits) and hits[0].doc_type != "product" and evidence_score(hits[0]) >= min_evidence


def compose(
    question: str,
    intent: Intent,
    results: ToolResults,
    *,
    min_evidence: float = DEFAULT_MIN_EVIDENCE,
    order_number: OrderNumberFormat = DEFAULT_ORDER_NUMBER,
) -> Composed:
    """The offline reply. `grounding` is 1 when a tool answered, else the KB search's.
    `min_evidence`: how strong a policy chunk must be to join a product answer; `order_number`:
    the shop's format, whose example the bot shows when it asks for a number."""
    kb_grounding = results.kb.grounding if results.kb is not None else 0.0
    if intent is Intent.chitchat and results.order is None and not results.products:
        return Composed("您好，我是店铺的智能客服，商品、订单物流、售后政策都可以问我哦～", [], 1.0, True)

    sources: list[Source] = []
    lines: list[str] = []
    tool = False
    evidence: float | None = None
    if results.order is not None and results.order_shown:
        o = results.order
        sources.append(
            Source(f"S{len(sources) + 1}", "order", f"订单 {o.order_no}", order_text(o), o.order_no)
        )
        lines.append(order_text(o))
        tool = True
    elif results.order_asked:
        lines.append(f"暂时没有查到您的订单，{order_number.request}，我马上帮您查。")
        tool = True
    for p in results.products:
        text = product_text(p)
        sources.append(Source(f"S{len(sources) + 1}", "product", p.title, text, f"product:{p.sku}"))
        lines.append(text)
        tool = True

    if results.faq is not None:
        f = results.faq
        # Cited by its question: in a help centre of hundreds of entries the document's title
        # says little about where the answer came from.
        sources.append(
            Source(f"S{len(sources) + 1}", "faq", f.question, f.answer, f.doc_id, f.chunk_id, f.section)
        )
        lines.append(f"{f.answer}（出自《{f.title}》）")
    elif (
        not tool
        or intent in (Intent.return_exchange, Intent.repair, Intent.promotion)
        or (results.products and _policy_outranks_products(results.hits, min_evidence))
    ):
        top = [h for h in results.hits if h.doc_type != "product"]
        if top:
            # max() keeps the higher-ranked chunk on ties
            best = max(top[:EVIDENCE_DEPTH], key=evidence_score)
            if not tool:
                evidence = evidence_score(best)
            rest = [h for h in top if h is not best]
            used = [best] + [
                h for h in rest[:1] if h.score >= best.score * MIN_HIT_SCORE_SHARE and h.doc_id != best.doc_id
            ]
            for h in used:
                excerpt = _chunk_excerpt(question, h)
                if not excerpt:
                    continue
                title = h.title or h.doc_id
                # A FAQ entry is cited by its question, a passage by its document and heading path.
                sources.append(
                    Source(
                        f"S{len(sources) + 1}",
                        "document",
                        h.question or title,
                        h.text,
                        h.doc_id,
                        h.chunk_id,
                        h.section,
                    )
                )
                label = h.question or h.section
                where = f"《{title}》" + (f"「{label}」" if label else "")
                lines.append(f"{excerpt}（依据{where}）")

    if not lines:
        return Composed("这个问题我帮您转给人工客服确认。", [], kb_grounding, False)
    grounding = 1.0 if tool else kb_grounding
    return Composed("".join(lines), sources, grounding, tool, evidence)


def best_evidence(results: ToolResults) -> list[Evidence]:
    """Evidence for the staff brief's suggested reply."""
    out = [Evidence(h.text, h.score, h.title) for h in results.hits if h.doc_type != "product"]
    if results.faq is not None:
        out.insert(0, Evidence(results.faq.answer, 1.0, results.faq.title))
    return out


__all__ = ["Composed", "Source", "best_evidence", "best_sentence", "compose", "order_text", "product_text"]
