"""The LLM-written suggested reply of a handoff brief, written in a worker after the handoff commits.

    write_llm_suggestion(runtime, shop_id, handoff_id) -> "ready" | "failed" | "blocked" | "skipped"

The turn that opens a handoff stores the brief with its extractive `suggested_reply` and, when an
LLM is configured, sends `siyu.cs.suggest_reply(shop_id, handoff_id)` after its commit (like a
webhook delivery): a model call never runs inside the turn's transaction nor slows the
acknowledgement. The worker asks the model for a reply grounded only in the brief (request,
order, what the bot said) and its evidence passages (`brief["sources"]`), runs it through the
commitment guard with the shop's coupon rules and that evidence as the cited text, and stores it
beside the extractive one:

    brief["suggested_reply_llm"]          the guarded text, or None
    brief["suggested_reply_llm_status"]   ready | failed (model error) | blocked (guard)

The extractive reply is never replaced. A failure or a guard refusal is logged and recorded in
the status; staff still have the extractive reply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from agents.customer_service.guard import guard_reply
from agents.customer_service.tools import ToolResults, coupons_of, guard_facts
from agents.runtime import Runtime
from store.db import session_scope
from store.errors import LLMError, NotFound
from store.repositories.conversations import ConversationRepository
from store.repositories.shops import ShopRepository

log = logging.getLogger("siyu.cs.suggest")

AGENT = "customer_service"
PROMPT_ID = "customer_service/handoff_reply"
REPLY_MAX_CHARS = 300

SuggestDispatch = Callable[[int, int], None]
"""`suggest(shop_id, handoff_id)`: write the brief's LLM suggested reply in a worker. Called only
after the handoff's transaction committed."""

Outcome = Literal["ready", "failed", "blocked", "skipped"]


def send_after_commit(
    runtime: Runtime, suggest: SuggestDispatch | None, shop_id: int, handoff_id: int
) -> None:
    """Queue the suggestion when an LLM is configured. Never raises: the extractive reply stands."""
    if suggest is None or runtime.llm() is None:
        return
    try:
        suggest(shop_id, handoff_id)
    except Exception:
        log.exception("cs.suggest.enqueue_failed", extra={"shop_id": shop_id, "handoff_id": handoff_id})


def _order_line(order: Any) -> str:
    if not isinstance(order, dict):
        return ""
    return " ".join(str(order.get(k) or "") for k in ("order_no", "status", "summary")).strip()


def write_llm_suggestion(runtime: Runtime, shop_id: int, handoff_id: int) -> Outcome:
    gateway = runtime.llm()
    if gateway is None:
        return "skipped"
    with session_scope(runtime.sessions) as s:
        try:
            item = ConversationRepository(s).get_handoff(shop_id, handoff_id)
        except NotFound:
            log.warning("cs.suggest.missing", extra={"shop_id": shop_id, "handoff_id": handoff_id})
            return "skipped"
        brief = dict(item.brief or {})
        shop = ShopRepository(s).get(shop_id)
        shop_name, settings = shop.name, dict(shop.settings or {})
    # Erased (the customer asked), or already written by an earlier delivery of this task.
    if not brief.get("request") or brief.get("suggested_reply_llm_status") is not None:
        return "skipped"
    sources = [s for s in brief.get("sources") or [] if isinstance(s, dict) and s.get("text")]
    order = _order_line(brief.get("order"))
    from prompts.loader import load_prompt, render

    prompt = render(
        load_prompt(PROMPT_ID),
        {
            "shop_name": shop_name,
            "reasons": [str(r) for r in brief.get("reasons") or []],
            "request": str(brief["request"]),
            "order": order or "（无）",
            "bot_answers": [str(a) for a in brief.get("bot_answers") or []],
            "sources": [{"ref": f"S{i}", "text": str(src["text"])} for i, src in enumerate(sources, 1)],
        },
    )
    fields = {"shop_id": shop_id, "handoff_id": handoff_id}
    text: str | None = None
    try:
        text = gateway.complete(prompt, agent=AGENT, shop_id=shop_id).output.strip()[:REPLY_MAX_CHARS] or None
    except LLMError as exc:
        log.warning("cs.suggest.llm_failed", extra=fields | {"code": exc.code})
    if text is None:
        return _store(runtime, shop_id, handoff_id, None, "failed")
    # The evidence the model saw is all it may repeat: the guard treats it as the cited policy.
    cited = "\n".join([order, *(str(src["text"]) for src in sources)])
    checked = guard_reply(text, guard_facts(ToolResults(), coupons_of(settings), cited))
    if not checked.ok:
        log.warning(
            "cs.suggest.blocked",
            extra=fields | {"violations": [f"{v.kind}:{v.claim}" for v in checked.violations]},
        )
        return _store(runtime, shop_id, handoff_id, None, "blocked")
    return _store(runtime, shop_id, handoff_id, text, "ready")


def _store(runtime: Runtime, shop_id: int, handoff_id: int, text: str | None, status: Outcome) -> Outcome:
    with session_scope(runtime.sessions) as s:
        # Locked and re-read: an erasure committed while the model was writing must win.
        try:
            item = ConversationRepository(s).get_handoff(shop_id, handoff_id, for_update=True)
        except NotFound:
            return "skipped"
        brief = dict(item.brief or {})
        if not brief.get("request"):
            return "skipped"  # erased while the model was writing
        # A new dict, so the JSON column sees the change.
        item.brief = brief | {"suggested_reply_llm": text, "suggested_reply_llm_status": status}
    log.info("cs.suggest.stored", extra={"shop_id": shop_id, "handoff_id": handoff_id, "status": status})
    return status
