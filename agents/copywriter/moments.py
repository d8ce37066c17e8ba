"""Moments generation and drafts: the service the API, the CLI and the tour call.

    result = generate_moments(runtime, shop_id, MomentsRequest(skus=["MB-101"], goal="种草"), now=now)

1. Products come from the store (prices too: the request cannot set one).
2. The LLM engine writes first when one is configured (checked, rewritten up to N times),
   then the offline template engine fills the remaining variants.
3. Every variant passes the 广告法 check (each product's category), the fact check and the
   exact length/emoji/hashtag constraints; a failure is repaired with the safe rewrite or dropped.
4. A variant too close (cosine > `copy_novelty_threshold`) to the shop's last 30 approved posts
   or to a sibling is replaced by another template combination.
5. Each variant is stored as a CopyDraft with its reports and provenance.
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agents.copywriter.compliance import check
from agents.copywriter.errors import DraftAlreadyDecided, MomentsConstraintError, UnsafePromoText
from agents.copywriter.facts import FactReport, check_facts
from agents.copywriter.generate import (
    Draft,
    LLMEngine,
    MomentsSpec,
    OfflineEngine,
    ProductInfo,
    Verdict,
    combined_facts,
    repair,
    strip_emoji,
    verify,
)
from agents.copywriter.lexicon import ProductCategory
from agents.copywriter.novelty import APPROVED_WINDOW, NoveltyGate, NoveltyVerdict
from agents.copywriter.schemas import CopyCheckResult, ViolationPublic
from agents.copywriter.templates import Audience, Goal, Tone
from agents.runtime import Runtime
from store.db import session_scope
from store.errors import NotFound
from store.models import CopyDraft, DraftStatus, Product
from store.repositories.catalog import ProductRepository
from store.repositories.copy_drafts import CopyDraftRepository
from store.repositories.shops import ShopRepository

log = logging.getLogger("siyu.copywriter")

LLM_REWRITES = 2
# Candidates embedded per request (one batch): enough to find distinct variants, bounded in time.
POOL_PER_VARIANT = 4
POOL_MAX = 20


# ---- schemas -----------------------------------------------------------------------------------


class MomentsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skus: list[str] = Field(min_length=1, max_length=5, examples=[["MB-101"]])
    goal: Goal = "种草"
    audience: Audience = "通用"
    tone: Tone = "亲切"
    max_chars: int = Field(150, ge=40, le=1000, description="字数上限（Unicode 字符数，含换行、表情与话题）")
    emoji: int = Field(2, ge=0, le=10, description="表情个数，恰好这么多")
    hashtags: int = Field(2, ge=0, le=5, description="#话题 个数，恰好这么多")
    variants: int = Field(3, ge=1, le=5)
    promo_text: str | None = Field(
        None, max_length=60, description="店主的活动说明，如 “满199减30”；同样过合规和事实检查"
    )


class FactMismatchPublic(BaseModel):
    kind: str
    claimed: str
    start: int
    end: int
    expected: list[str]
    detail: str


class FactCheckPublic(BaseModel):
    ok: bool
    mismatches: list[FactMismatchPublic]

    @classmethod
    def of(cls, report: FactReport) -> FactCheckPublic:
        return cls(
            ok=report.ok,
            mismatches=[
                FactMismatchPublic(
                    kind=m.kind,
                    claimed=m.claimed,
                    start=m.start,
                    end=m.end,
                    expected=list(m.expected),
                    detail=m.detail,
                )
                for m in report.mismatches
            ],
        )


class NoveltyPublic(BaseModel):
    ok: bool = Field(description="false 只在换遍模板组合仍找不到足够不同的写法时出现")
    max_similarity: float
    nearest: str | None = Field(description="approved:<草稿 id> 或 sibling:<序号>")


class MomentsVariant(BaseModel):
    draft_id: int
    text: str
    chars: int
    emoji: int
    hashtags: int
    constraints_met: bool
    compliance: CopyCheckResult
    facts: FactCheckPublic
    novelty: NoveltyPublic
    engine: str = Field(description="offline | llm")
    prompt_version: str
    repaired: bool = Field(description="是否用安全改写自动修正过违规词")


class MomentsResult(BaseModel):
    skus: list[str]
    goal: Goal
    audience: Audience
    tone: Tone
    variants: list[MomentsVariant]
    dropped: dict[str, int] = Field(
        description="被丢弃重写的候选数，按原因: compliance | facts | constraints | novelty"
    )


class DraftPublic(BaseModel):
    draft_id: int
    status: DraftStatus
    skus: list[str]
    goal: str
    audience: str
    tone: str
    text: str
    compliance: dict[str, Any]
    facts: dict[str, Any]
    provenance: dict[str, Any]
    created_at: datetime
    decided_at: datetime | None

    @classmethod
    def of(cls, d: CopyDraft) -> DraftPublic:
        return cls(
            draft_id=d.id,
            status=d.status,
            skus=list(d.skus),
            goal=d.goal,
            audience=d.audience,
            tone=d.tone,
            text=d.text,
            compliance=dict(d.compliance),
            facts=dict(d.facts),
            provenance=dict(d.provenance),
            created_at=d.created_at,
            decided_at=d.decided_at,
        )


# ---- helpers -----------------------------------------------------------------------------------


def product_info(p: Product) -> ProductInfo:
    variant_prices = tuple(
        Decimal(str(v["price"])) for v in p.variants or () if isinstance(v, dict) and v.get("price")
    )
    return ProductInfo(
        sku=p.sku,
        title=p.title,
        category=p.category,
        price=p.price,
        brand=p.brand,
        subcategory=p.subcategory,
        attributes=dict(p.attributes or {}),
        description=p.description or "",
        extra_prices=variant_prices,
    )


def vet_promo(text: str | None, products: Sequence[ProductInfo]) -> str | None:
    """The owner's promo line, with safe rewrites applied; unfixable or unsupported → 400."""
    if text is None:
        return None
    line = " ".join(strip_emoji(text).replace("#", "").split())
    if not line:
        return None
    for category in dict.fromkeys(p.rules for p in products):
        report = check(line, category)
        if report.ok:
            continue
        if not all(v.fixable for v in report.violations):
            terms = "、".join(v.matched for v in report.violations if not v.fixable)
            raise UnsafePromoText(f"促销文案含违规用语「{terms}」，请修改后再生成")
        line = report.fixed
    facts = check_facts(line, combined_facts(products))
    if not facts.ok:
        raise UnsafePromoText("促销文案与商品资料不符: " + "；".join(m.detail for m in facts.mismatches))
    return line


def merged_compliance(verdict: Verdict, primary: ProductCategory) -> CopyCheckResult:
    violations = {
        (v.start, v.end, v.term): ViolationPublic.from_violation(v)
        for r in verdict.compliance
        for v in r.violations
    }
    first = verdict.compliance[0]
    return CopyCheckResult(
        ok=verdict.compliant,
        violations=sorted(violations.values(), key=lambda v: v.start),
        fixed=first.fixed if verdict.compliant else verdict.text,
        category=primary,
        lexicon_version=first.lexicon_version,
    )


def _why(verdict: Verdict) -> str:
    if not verdict.compliant:
        return "compliance"
    if not verdict.facts.ok:
        return "facts"
    return "constraints"


def _pool_size(variants: int) -> int:
    return min(POOL_MAX, variants * POOL_PER_VARIANT)


def _candidate_pool(
    runtime: Runtime,
    shop_id: int,
    shop_name: str,
    products: list[ProductInfo],
    spec: MomentsSpec,
    promo_line: str | None,
    seed: int,
) -> tuple[list[tuple[Draft, Verdict]], Counter[str]]:
    """Checked, distinct candidates: the LLM's first (when configured), then the offline engine's,
    up to a bounded pool the novelty step chooses from. Failed candidates are counted, not kept."""
    pool: list[tuple[Draft, Verdict]] = []
    dropped: Counter[str] = Counter()
    seen: set[str] = set()

    def take(draft: Draft, verdict: Verdict) -> None:
        if not verdict.ok:
            dropped[_why(verdict)] += 1
        elif verdict.text not in seen:
            seen.add(verdict.text)
            pool.append((draft, verdict))

    llm = runtime.llm()
    if llm is not None:
        engine = LLMEngine(llm, rewrites=LLM_REWRITES)
        for _ in range(spec.variants):
            for attempt in engine.write(
                products,
                spec,
                shop_name=shop_name,
                promo_line=promo_line,
                avoid=[v.text for _, v in pool],
                shop_id=shop_id,
            ):
                if attempt.error is not None:
                    dropped["llm_error"] += 1
                    log.warning("copy.llm.failed", extra={"shop_id": shop_id, "error": attempt.error})
                    break
                if attempt.draft is not None and attempt.verdict is not None:
                    take(attempt.draft, attempt.verdict)
    wanted = len(pool) + _pool_size(spec.variants)
    for draft in OfflineEngine().candidates(products, spec, seed=seed, promo_line=promo_line):
        take(draft, repair(verify(draft.text, products, spec), products, spec))
        if len(pool) >= wanted:
            break
    return pool, dropped


def _select(
    pool: list[tuple[Draft, Verdict]],
    vectors: list[list[float]],
    gate: NoveltyGate,
    n: int,
    dropped: Counter[str],
) -> list[_Accepted]:
    """In pool order, take each candidate that is novel against the approved posts and the
    variants taken so far. If too few are, fill with the least similar ones, flagged not novel."""
    accepted: list[_Accepted] = []
    rest: list[int] = []
    for i, (draft, verdict) in enumerate(pool):
        if len(accepted) >= n:
            break
        novelty = gate.judge(vectors[i])
        if novelty.ok:
            gate.accept(vectors[i])
            accepted.append(_Accepted(draft, verdict, vectors[i], novelty))
        else:
            dropped["novelty"] += 1
            rest.append(i)
    while len(accepted) < n and rest:
        best = min(rest, key=lambda i: gate.judge(vectors[i]).max_similarity)
        rest.remove(best)
        draft, verdict = pool[best]
        accepted.append(_Accepted(draft, verdict, vectors[best], gate.judge(vectors[best])))
        gate.accept(vectors[best])
    return accepted


# ---- generation --------------------------------------------------------------------------------


class _Accepted:
    def __init__(self, draft: Draft, verdict: Verdict, vector: list[float], novelty: NoveltyVerdict) -> None:
        self.draft, self.verdict, self.vector, self.novelty = draft, verdict, vector, novelty


def generate_moments(
    runtime: Runtime, shop_id: int, request: MomentsRequest, *, now: datetime
) -> MomentsResult:
    skus = list(dict.fromkeys(s.strip() for s in request.skus if s.strip()))
    with session_scope(runtime.sessions) as session:
        rows = ProductRepository(session).by_skus(shop_id, skus)
        missing = sorted(set(skus) - {p.sku for p in rows})
        if missing or not rows:
            raise NotFound(f"商品 {'、'.join(missing) or '（空）'} 不存在")
        products = [product_info(p) for p in rows]
        shop_name = ShopRepository(session).get(shop_id).name
        drafts = CopyDraftRepository(session)
        approved = drafts.recent_approved_vectors(shop_id, limit=APPROVED_WINDOW)
        previous = drafts.count(shop_id)

    promo_line = vet_promo(request.promo_text, products)
    spec = MomentsSpec(
        goal=request.goal,
        audience=request.audience,
        tone=request.tone,
        max_chars=request.max_chars,
        emoji=request.emoji,
        hashtags=request.hashtags,
        variants=request.variants,
        promo_text=promo_line,
    )
    seed = (
        zlib.crc32(f"{shop_id}|{'+'.join(skus)}|{spec.goal}|{spec.audience}|{spec.tone}".encode()) + previous
    )
    threshold = runtime.settings.copy_novelty_threshold
    pool, dropped = _candidate_pool(runtime, shop_id, shop_name, products, spec, promo_line, seed)
    if not pool:
        raise MomentsConstraintError(
            f"在 {request.max_chars} 字内放不下 {request.emoji} 个表情、{request.hashtags} 个话题"
            "和商品信息，请放宽字数上限"
        )
    embedder = runtime.embedder()
    vectors = [[float(x) for x in row] for row in embedder.embed_passages([v.text for _, v in pool])]
    gate = NoveltyGate(threshold=threshold, approved=approved)
    accepted = _select(pool, vectors, gate, spec.variants, dropped)
    primary = products[0].rules
    variants: list[MomentsVariant] = []
    with session_scope(runtime.sessions) as session:
        repo = CopyDraftRepository(session)
        for index, item in enumerate(accepted):
            compliance = merged_compliance(item.verdict, primary)
            facts = FactCheckPublic.of(item.verdict.facts)
            novelty_public = NoveltyPublic(
                ok=item.novelty.ok,
                max_similarity=round(item.novelty.max_similarity, 4),
                nearest=item.novelty.nearest,
            )
            provenance = {
                "engine": item.draft.engine,
                "prompt_id": item.draft.prompt_id,
                "prompt_version": item.draft.prompt_version,
                "model": item.draft.model,
                "templates": dict(item.draft.templates),
                "repaired": item.verdict.repaired,
                "variant_index": index,
                "seed": seed,
                "novelty": novelty_public.model_dump() | {"threshold": threshold, "embedder": embedder.name},
                "request": request.model_dump(),
                "product_prices": {p.sku: str(p.price) for p in products},
                "generated_at": now.isoformat(),
            }
            row = repo.add(
                shop_id,
                skus=[p.sku for p in products],
                goal=spec.goal,
                audience=spec.audience,
                tone=spec.tone,
                text=item.verdict.text,
                compliance=compliance.model_dump(mode="json"),
                facts=facts.model_dump(mode="json"),
                provenance=provenance,
                embedding=item.vector,
            )
            m = item.verdict.measure
            variants.append(
                MomentsVariant(
                    draft_id=row.id,
                    text=item.verdict.text,
                    chars=m.chars,
                    emoji=m.emoji,
                    hashtags=m.hashtags,
                    constraints_met=item.verdict.constraints_met,
                    compliance=compliance,
                    facts=facts,
                    novelty=novelty_public,
                    engine=item.draft.engine,
                    prompt_version=item.draft.prompt_version,
                    repaired=item.verdict.repaired,
                )
            )
    log.info(
        "copy.moments.generated",
        extra={"shop_id": shop_id, "variants": len(variants), "dropped": dict(dropped), "skus": skus},
    )
    return MomentsResult(
        skus=[p.sku for p in products],
        goal=spec.goal,
        audience=spec.audience,
        tone=spec.tone,
        variants=variants,
        dropped=dict(dropped),
    )


# ---- drafts ------------------------------------------------------------------------------------


def list_drafts(
    runtime: Runtime, shop_id: int, *, status: DraftStatus | None = None, limit: int = 50, offset: int = 0
) -> list[DraftPublic]:
    with session_scope(runtime.sessions) as session:
        rows = CopyDraftRepository(session).list_for_shop(shop_id, status=status, limit=limit, offset=offset)
        return [DraftPublic.of(d) for d in rows]


def decide_draft(
    runtime: Runtime, shop_id: int, draft_id: int, status: DraftStatus, *, now: datetime
) -> DraftPublic:
    """Approve or reject once; repeating the same decision is a no-op, reversing it is 409."""
    with session_scope(runtime.sessions) as session:
        draft, changed = CopyDraftRepository(session).decide(shop_id, draft_id, status, now=now)
        if not changed and draft.status is not status:
            raise DraftAlreadyDecided(f"草稿 {draft_id} 已是 {draft.status.value} 状态")
        if changed:
            log.info(
                "copy.draft.decided", extra={"shop_id": shop_id, "draft_id": draft_id, "status": status.value}
            )
        return DraftPublic.of(draft)
