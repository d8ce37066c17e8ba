"""The customer-service conversation service: the one entry every edge (API, tour, bench) calls.

    handle_customer_message(runtime, shop_id, conversation_id, "我的快递到哪了", now) -> TurnResult

A customer turn, in order:
1. the message is persisted and COMMITTED before any model or tool runs (nothing is lost);
2. a lazy silence check: a chat a person holds but has not answered for `silence_minutes`
   returns to the bot, with a system note;
3. the state machine (state.py) says whether the bot may answer at all; while a person holds
   the chat the reply is None;
4. intent (rules + kNN; with an LLM, its label-constrained second opinion when those are unsure),
   tools (order, product, KB + curated FAQ), the offline composition (compose.py), the
   LLM phrasing when configured (any LLM failure → the offline answer), the commitment guard;
5. the handoff policy (handoff.py) with the answer's grounding; a handoff posts ONE
   acknowledgement and opens a queue item with its brief.
Staff actions (message, claim, release, resolve) run through the same state machine.
A handoff opened or claimed writes the shop's webhook delivery in the same transaction; it is
sent after the commit by `notify` (a worker), so a webhook never slows or fails a turn. With an
LLM, a new handoff's suggested reply is written the same way, after the commit (`suggest`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from agents.customer_service.brief import BriefInput, OrderRef, make_brief
from agents.customer_service.compose import Composed, best_evidence, compose
from agents.customer_service.errors import HandoffAlreadyClaimed, HandoffClosed
from agents.customer_service.guard import guard_reply
from agents.customer_service.handoff import HandoffInput, decide, score_sentiment
from agents.customer_service.intent import LABEL_DESCRIPTIONS, IntentClassifier, IntentResult, SecondOpinion
from agents.customer_service.normalize import fold
from agents.customer_service.schemas import (
    CustomerFacts,
    Handoff,
    Intent,
    OrderNumberFormat,
    Reason,
    ShopPolicy,
    Turn,
)
from agents.customer_service.state import (
    ActionKind,
    Close,
    CustomerMessage,
    HandoffDecided,
    SilenceTimeout,
    Snapshot,
    StaffClaim,
    StaffMessage,
    StaffRelease,
    Transition,
    step,
)
from agents.customer_service.suggest import SuggestDispatch
from agents.customer_service.suggest import send_after_commit as suggest_after_commit
from agents.customer_service.tools import (
    ToolResults,
    asks_order_status,
    coupons_of,
    faq_answer,
    find_order_no,
    guard_facts,
    kb_search,
    order_status,
    product_lookup,
)
from agents.customer_service.webhooks import (
    HANDOFF_CLAIMED,
    HANDOFF_CREATED,
    WebhookDispatch,
    record_event,
    send_after_commit,
)
from agents.runtime import Runtime
from store.errors import LLMError, NotFound
from store.models import (
    Conversation,
    ConversationState,
    HandoffStatus,
    Message,
    MessageRole,
)
from store.models import (
    Handoff as HandoffRow,
)
from store.repositories.conversations import ConversationRepository, ErasureCounts
from store.repositories.customers import CustomerRepository
from store.repositories.orders import OrderRepository
from store.repositories.shops import ShopRepository

log = logging.getLogger("siyu.cs")

AGENT = "customer_service"
PROMPT_ID = "customer_service/answer"
INTENT_PROMPT_ID = "customer_service/intent"
RECENT_TURNS = 8
# The evidence passages kept in a handoff brief (the LLM suggested reply is grounded in them).
BRIEF_SOURCES = 3
BRIEF_SOURCE_CHARS = 300
ORDER_INTENTS = (Intent.logistics, Intent.return_exchange, Intent.repair, Intent.complaint)


@dataclass(frozen=True)
class TurnResult:
    conversation_id: int
    message_id: int
    reply: str | None
    state: ConversationState
    intent: str | None = None
    citations: list[dict[str, Any]] = field(default_factory=list)
    engine: str | None = None
    handoff: dict[str, Any] | None = None
    # The LLM engine is configured but this reply is the offline one (the model failed, or its
    # text failed the commitment guard).
    degraded: bool = False


@dataclass
class _Answer:
    intent: IntentResult
    results: ToolResults
    composed: Composed
    text: str
    engine: str
    error: bool
    blocked: bool
    guard_violations: list[str]
    degraded: bool = False


# -- helpers ------------------------------------------------------------------------------


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _snapshot(conv: Conversation, repo: ConversationRepository) -> Snapshot:
    open_item = repo.open_handoff_of(conv.shop_id, conv.id)
    active = tuple(Reason(r) for r in open_item.reasons) if open_item is not None else ()
    return Snapshot(
        state=conv.state,
        active_reasons=active,
        settled_reasons=frozenset(Reason(r) for r in conv.settled_reasons or []),
        last_staff_message_at=_aware(conv.last_staff_message_at),
    )


def _store_snapshot(conv: Conversation, snap: Snapshot) -> None:
    conv.state = snap.state
    conv.settled_reasons = sorted(r.value for r in snap.settled_reasons)
    conv.last_staff_message_at = snap.last_staff_message_at


def _apply(
    repo: ConversationRepository,
    conv: Conversation,
    transition: Transition,
    now: datetime,
    *,
    close_status: HandoffStatus = HandoffStatus.released,
    brief: dict[str, Any] | None = None,
) -> tuple[str | None, HandoffRow | None]:
    """Persist a transition: state, notes, queue items, the acknowledgement. Returns (ack, handoff)."""
    _store_snapshot(conv, transition.snapshot)
    ack: str | None = None
    opened: HandoffRow | None = None
    for action in transition.actions:
        if action.kind is ActionKind.system_note and action.text:
            repo.add_message(conv, MessageRole.system, action.text, meta={"state": conv.state.value}, now=now)
        elif action.kind is ActionKind.close_handoff:
            repo.close_open_handoffs(conv.shop_id, conv.id, close_status, now)
        elif action.kind is ActionKind.open_handoff:
            opened = repo.open_handoff(
                conv, [r.value for r in action.reasons], action.priority, brief or {}, now
            )
        elif action.kind is ActionKind.post_ack and action.text:
            ack = action.text
            repo.add_message(
                conv,
                MessageRole.bot,
                ack,
                engine="ack",
                meta={"ack": True, "state": conv.state.value},
                now=now,
            )
    return ack, opened


# The runtime slot of the process's classifier (its examples are embedded on first use; tests
# share one across runtimes that hold the same embedder).
INTENT_CLASSIFIER = "cs_intent"


def classifier(runtime: Runtime) -> IntentClassifier:
    embedder = runtime.embedder()  # outside `once`: its lock is not re-entrant
    return runtime.once(INTENT_CLASSIFIER, lambda: IntentClassifier(embedder=embedder))


def _turns(messages: list[Message]) -> list[Turn]:
    return [Turn(m.role.value, m.text) for m in messages if m.role is not MessageRole.system]


def _customer_facts(session: Session, shop_id: int, customer_id: int, results: ToolResults) -> CustomerFacts:
    customer = CustomerRepository(session).get(shop_id, customer_id)
    segment = next((str(t) for t in customer.tags or [] if isinstance(t, str)), None)
    lifetime = OrderRepository(session).lifetime_value(shop_id, customer_id)
    order_value = results.order.total if results.order is not None else Decimal("0")
    return CustomerFacts(segment=segment, lifetime_value=lifetime, order_value=order_value)


# -- answering ----------------------------------------------------------------------------


def _run_tools(
    runtime: Runtime,
    session: Session,
    conv: Conversation,
    text: str,
    intent: Intent,
    order_number: OrderNumberFormat,
) -> ToolResults:
    results = ToolResults()
    results.kb = kb_search(runtime.knowledge_base(), conv.shop_id, text)
    results.faq = faq_answer(results.kb)
    named = find_order_no(text, order_number) is not None
    if intent in ORDER_INTENTS or named:
        results.order = order_status(session, conv.shop_id, conv.customer_id, text, order_number)
        # A 查询物流 question about the shipping policy (运费, 顺丰) is answered from the documents.
        status = intent is Intent.logistics and asks_order_status(fold(text))
        results.order_asked = results.order is None and status
        results.order_shown = status or named
    if results.faq is None and (
        intent in (Intent.product, Intent.promotion, Intent.other) or results.order is None
    ):
        results.products = product_lookup(session, conv.shop_id, text, results.hits)
    return results


def _intent_second_opinion(runtime: Runtime, shop_id: int) -> SecondOpinion | None:
    """The LLM's constrained pick among the labels, for the classifier to ask when it is not
    confident (intent.SECOND_OPINION_BELOW); None without an LLM. Any failure → None, and the
    deterministic intent stands: a second opinion never fails a turn."""
    gateway = runtime.llm()
    if gateway is None:
        return None
    from prompts.loader import load_prompt, render

    def ask(text: str, labels: Sequence[Intent]) -> str | None:
        try:
            # The gateway masks PII in the rendered prompt; the prompt wraps the text as data.
            prompt = render(
                load_prompt(INTENT_PROMPT_ID),
                {
                    "labels": [{"label": lb.value, "description": LABEL_DESCRIPTIONS[lb]} for lb in labels],
                    "message": text,
                },
            )
            return gateway.choose(
                prompt, agent=AGENT, choices=[lb.value for lb in labels], shop_id=shop_id
            ).output
        except LLMError as exc:
            log.warning("cs.intent_llm_failed", extra={"shop_id": shop_id, "code": exc.code})
        except Exception:
            log.exception("cs.intent_llm_failed", extra={"shop_id": shop_id})
        return None

    return ask


def _llm_phrase(
    runtime: Runtime, shop_name: str, shop_id: int, text: str, composed: Composed, *, stream: bool
) -> tuple[str | None, bool]:
    """(the model's phrasing or None, whether the model was asked at all)."""
    gateway = runtime.llm()
    if gateway is None or not composed.sources:
        return None, False
    from prompts.loader import load_prompt, render

    prompt = render(
        load_prompt(PROMPT_ID),
        {
            "shop_name": shop_name,
            "question": text,
            "sources": [{"ref": s.ref, "text": s.text} for s in composed.sources],
        },
    )
    try:
        if stream:
            # Buffered on purpose: the guard must see the COMPLETE reply before any of it reaches
            # the customer (see api/routers/conversations.py). A stream that breaks half-way is a
            # failed call and its partial text is dropped, never shown.
            out = "".join(gateway.stream(prompt, agent=AGENT, shop_id=shop_id)).strip()
        else:
            out = gateway.complete(prompt, agent=AGENT, shop_id=shop_id).output.strip()
    except LLMError as exc:
        log.warning("cs.llm_failed", extra={"shop_id": shop_id, "code": exc.code, "stream": stream})
        return None, True
    return out or None, True


def _answer(
    runtime: Runtime,
    session: Session,
    conv: Conversation,
    text: str,
    shop_name: str,
    shop_settings: dict[str, Any],
    policy: ShopPolicy,
    *,
    stream_llm: bool = False,
) -> _Answer:
    folded = fold(text)
    intent = classifier(runtime).classify(
        text, folded, second_opinion=_intent_second_opinion(runtime, conv.shop_id)
    )
    error = False
    try:
        results = _run_tools(runtime, session, conv, text, intent.intent, policy.order_number)
    except Exception:
        log.exception("cs.tool_failed", extra={"shop_id": conv.shop_id, "conversation_id": conv.id})
        session.rollback()
        results, error = ToolResults(), True
    # End the tools' read-only transaction before the model is asked to phrase: the connection goes
    # back to the pool instead of idling through seconds of LLM latency (200 waiting chats would
    # otherwise hold 200 connections; the pool has 80). expire_on_commit is off: nothing reloads.
    session.commit()
    composed = compose(
        text, intent.intent, results, min_evidence=policy.min_evidence, order_number=policy.order_number
    )
    coupons = coupons_of(shop_settings)
    facts = guard_facts(results, coupons, composed.cited_text)
    engine, reply = "offline", composed.text
    phrased, asked = (
        (None, False)
        if error
        else _llm_phrase(runtime, shop_name, conv.shop_id, text, composed, stream=stream_llm)
    )
    if phrased is not None:
        if guard_reply(phrased, facts).ok:
            engine, reply = "llm", phrased
        else:
            log.warning("cs.llm_reply_blocked", extra={"shop_id": conv.shop_id})
    degraded = asked and engine != "llm"
    checked = guard_reply(reply, facts, handoff_on_blocked=policy.handoff_on_commitment_blocked)
    blocked = False
    violations = [f"{v.kind}:{v.claim}" for v in checked.violations]
    if not checked.ok:
        if checked.safe_text is not None:
            reply, engine = checked.safe_text, "safe"
        else:
            blocked = True
    return _Answer(intent, results, composed, reply, engine, error, blocked, violations, degraded)


def _brief(turns: list[Turn], answer: _Answer, handoff: Handoff, sentiment: float) -> dict[str, Any]:
    order = answer.results.order
    ref = OrderRef(order.order_no, order.status_cn, "、".join(order.items)) if order is not None else None
    brief = make_brief(
        BriefInput(
            turns=turns,
            intent=answer.intent.intent,
            reasons=handoff.reasons,
            sentiment=sentiment,
            order=ref,
            evidence=best_evidence(answer.results),
        )
    )
    out = asdict(brief)
    out["intent"] = brief.intent.value
    out["intent_source"] = answer.intent.source
    out["reasons"] = [r.value for r in brief.reasons]
    out["evidence"] = {r.value: e for r, e in handoff.evidence.items()}
    out["sources"] = [
        {"title": e.source, "text": e.text[:BRIEF_SOURCE_CHARS]}
        for e in best_evidence(answer.results)[:BRIEF_SOURCES]
    ]
    return out


def handle_customer_message(
    runtime: Runtime,
    shop_id: int,
    conversation_id: int,
    text: str,
    now: datetime,
    *,
    notify: WebhookDispatch | None = None,
    suggest: SuggestDispatch | None = None,
) -> TurnResult:
    message_id = record_customer_message(runtime, shop_id, conversation_id, text, now)
    return answer_customer_message(
        runtime, shop_id, conversation_id, message_id, text, now, notify=notify, suggest=suggest
    )


def record_customer_message(
    runtime: Runtime, shop_id: int, conversation_id: int, text: str, now: datetime
) -> int:
    """Step 1, committed on its own: whatever fails later, the customer's words are stored.
    Raises `NotFound` for another shop's (or no) conversation. Returns the message id."""
    with runtime.sessions() as s:
        repo = ConversationRepository(s)
        conv = repo.get(shop_id, conversation_id)
        msg = repo.add_message(conv, MessageRole.customer, text, meta={"state": conv.state.value}, now=now)
        s.commit()
        return msg.id


def answer_customer_message(
    runtime: Runtime,
    shop_id: int,
    conversation_id: int,
    message_id: int,
    text: str,
    now: datetime,
    *,
    stream_llm: bool = False,
    notify: WebhookDispatch | None = None,
    suggest: SuggestDispatch | None = None,
) -> TurnResult:
    """Steps 2-5 for a customer message `record_customer_message` already stored.
    `stream_llm`: ask the model through its streaming API (the SSE endpoint).
    `notify`: where the shop's `handoff.created` webhook is sent after the commit.
    `suggest`: where a new handoff's LLM suggested reply is queued after the commit (suggest.py)."""
    with runtime.sessions() as s:
        repo = ConversationRepository(s)
        conv = repo.get(shop_id, conversation_id, for_update=True)
        shop = ShopRepository(s).get(shop_id)
        shop_name, shop_settings = shop.name, dict(shop.settings or {})
        policy = ShopPolicy.from_shop_settings(shop_settings)

        # 2. Lazy silence timeout, then 3. may the bot speak at all?
        _apply(repo, conv, step(_snapshot(conv, repo), SilenceTimeout(now), policy), now)
        transition = step(_snapshot(conv, repo), CustomerMessage(now), policy)
        _apply(repo, conv, transition, now)
        if not any(a.kind is ActionKind.bot_reply for a in transition.actions):
            s.commit()
            return TurnResult(conversation_id, message_id, None, conv.state)
        s.commit()  # the reopened/timed-out state is kept even if answering fails

        # 4. Answer.
        history = repo.messages(shop_id, conversation_id, last=RECENT_TURNS + 1)
        turns = _turns([m for m in history if m.id != message_id])
        answer = _answer(runtime, s, conv, text, shop_name, shop_settings, policy, stream_llm=stream_llm)
        # Answering took time (tools, maybe a model call); staff may have taken over meanwhile.
        # Re-read the conversation under the lock the writes below need, and stay silent if so.
        conv = repo.get(shop_id, conversation_id, for_update=True)
        if conv.state is not ConversationState.bot:
            s.commit()
            log.info("cs.reply_dropped", extra={"shop_id": shop_id, "conversation_id": conv.id})
            return TurnResult(conversation_id, message_id, None, conv.state)
        sentiment = score_sentiment(text)
        customer = _customer_facts(s, shop_id, conv.customer_id, answer.results)
        decision = decide(
            HandoffInput(
                text,
                intent=answer.intent.intent,
                intent_confidence=answer.intent.confidence,
                sentiment=sentiment,
                grounding=None if answer.error else answer.composed.grounding,
                evidence=None if answer.error else answer.composed.evidence,
                recent_turns=turns,
                error=answer.error,
                customer=customer,
                commitment_blocked=answer.blocked,
                settled_reasons=frozenset(Reason(r) for r in conv.settled_reasons or []),
            ),
            policy,
        )
        intent_label = answer.intent.intent.value

        # 5. Hand off, or reply.
        if decision is not None:
            queue = repo.count_waiting(shop_id)
            handed = step(_snapshot(conv, repo), HandoffDecided(decision, now, queue_length=queue), policy)
            if any(a.kind is ActionKind.open_handoff for a in handed.actions):
                all_turns = [*turns, Turn("customer", text)]
                brief = _brief(all_turns, answer, decision, sentiment.score)
                ack, opened = _apply(repo, conv, handed, now, brief=brief)
                assert opened is not None
                delivery = record_event(s, shop_id, HANDOFF_CREATED, _handoff_public(opened), now)
                s.commit()
                send_after_commit(runtime, notify, shop_id, delivery)
                suggest_after_commit(runtime, suggest, shop_id, opened.id)
                log.info(
                    "cs.handoff",
                    extra={
                        "shop_id": shop_id,
                        "conversation_id": conv.id,
                        "reasons": [r.value for r in decision.reasons],
                    },
                )
                return TurnResult(
                    conv.id,
                    message_id,
                    ack,
                    conv.state,
                    intent_label,
                    [],
                    "ack",
                    _handoff_public(opened),
                    answer.degraded,
                )
            _apply(repo, conv, handed, now)
            if not any(a.kind is ActionKind.bot_reply for a in handed.actions):
                s.commit()
                return TurnResult(conv.id, message_id, None, conv.state, intent_label)
        if answer.blocked or answer.error:
            # Settled reasons came back without new input: the bot may not repeat a blocked promise.
            reply_text, engine, citations = "这个问题我帮您记录下来，稍后由客服为您确认。", "safe", []
        else:
            reply_text, engine, citations = answer.text, answer.engine, answer.composed.citations
            if engine == "safe":
                citations = []
        repo.add_message(
            conv,
            MessageRole.bot,
            reply_text,
            intent=intent_label,
            engine=engine,
            citations=citations,
            meta={
                "state": conv.state.value,
                "grounding": round(answer.composed.grounding, 3),
                "guard": answer.guard_violations,
                "intent_source": answer.intent.source,
            },
            now=now,
        )
        s.commit()
        return TurnResult(
            conv.id,
            message_id,
            reply_text,
            conv.state,
            intent_label,
            citations,
            engine,
            None,
            answer.degraded,
        )


# -- staff side ---------------------------------------------------------------------------


def _policy(session: Session, shop_id: int) -> ShopPolicy:
    return ShopPolicy.from_shop_settings(ShopRepository(session).get(shop_id).settings)


def post_staff_message(
    runtime: Runtime,
    shop_id: int,
    conversation_id: int,
    text: str,
    author: str,
    now: datetime,
    *,
    notify: WebhookDispatch | None = None,
) -> ConversationState:
    """A staff message. In `bot` state staff simply take over; a waiting handoff becomes theirs
    (and the shop's `handoff.claimed` webhook fires, as for an explicit claim)."""
    delivery: int | None = None
    with runtime.sessions() as s:
        repo = ConversationRepository(s)
        conv = repo.get(shop_id, conversation_id, for_update=True)
        policy = _policy(s, shop_id)
        open_item = repo.open_handoff_of(shop_id, conversation_id)
        if (
            open_item is not None
            and open_item.status is HandoffStatus.waiting
            and repo.claim(shop_id, open_item.id, author, now)
        ):
            s.refresh(open_item)
            delivery = record_event(s, shop_id, HANDOFF_CLAIMED, _handoff_public(open_item), now)
        _apply(repo, conv, step(_snapshot(conv, repo), StaffMessage(now), policy), now)
        repo.add_message(
            conv, MessageRole.human, text, author=author, meta={"state": conv.state.value}, now=now
        )
        s.commit()
        send_after_commit(runtime, notify, shop_id, delivery)
        return conv.state


def claim_handoff(
    runtime: Runtime,
    shop_id: int,
    handoff_id: int,
    staff: str,
    now: datetime,
    *,
    notify: WebhookDispatch | None = None,
) -> dict[str, Any]:
    with runtime.sessions() as s:
        repo = ConversationRepository(s)
        item = repo.get_handoff(shop_id, handoff_id)
        if not repo.claim(shop_id, handoff_id, staff, now):
            s.rollback()
            item = repo.get_handoff(shop_id, handoff_id)
            raise HandoffAlreadyClaimed() if item.status is HandoffStatus.claimed else HandoffClosed()
        conv = repo.get(shop_id, item.conversation_id, for_update=True)
        _apply(repo, conv, step(_snapshot(conv, repo), StaffClaim(now), _policy(s, shop_id)), now)
        s.refresh(item)
        claimed = _handoff_public(item)
        delivery = record_event(s, shop_id, HANDOFF_CLAIMED, claimed, now)
        s.commit()
        send_after_commit(runtime, notify, shop_id, delivery)
        return claimed


def _finish(
    runtime: Runtime, shop_id: int, handoff_id: int, now: datetime, *, resolve: bool
) -> dict[str, Any]:
    with runtime.sessions() as s:
        repo = ConversationRepository(s)
        item = repo.get_handoff(shop_id, handoff_id)
        if item.status not in (HandoffStatus.waiting, HandoffStatus.claimed):
            raise HandoffClosed()
        conv = repo.get(shop_id, item.conversation_id, for_update=True)
        policy = _policy(s, shop_id)
        if resolve:
            t = step(_snapshot(conv, repo), Close(now), policy)
            _apply(repo, conv, t, now, close_status=HandoffStatus.resolved)
        else:
            t = step(_snapshot(conv, repo), StaffRelease(now), policy)
            _apply(repo, conv, t, now, close_status=HandoffStatus.released)
        s.commit()
        s.refresh(item)
        return _handoff_public(item)


def release_handoff(runtime: Runtime, shop_id: int, handoff_id: int, now: datetime) -> dict[str, Any]:
    """Back to the bot, with a system note; the handoff's reasons are settled."""
    return _finish(runtime, shop_id, handoff_id, now, resolve=False)


def resolve_handoff(runtime: Runtime, shop_id: int, handoff_id: int, now: datetime) -> dict[str, Any]:
    """Done: the conversation is closed (a new customer message reopens it with the bot)."""
    return _finish(runtime, shop_id, handoff_id, now, resolve=True)


def handoff_queue(runtime: Runtime, shop_id: int, status: HandoffStatus) -> list[dict[str, Any]]:
    with runtime.sessions() as s:
        return [_handoff_public(h) for h in ConversationRepository(s).queue(shop_id, status)]


# -- conversations ------------------------------------------------------------------------


def start_conversation(runtime: Runtime, shop_id: int, customer_ref: str, channel: str) -> dict[str, Any]:
    with runtime.sessions() as s:
        customer, _ = CustomerRepository(s).get_or_create(shop_id, customer_ref)
        conv = ConversationRepository(s).create(shop_id, customer.id, channel)
        s.commit()
        return {
            "id": conv.id,
            "customer_ref": customer_ref,
            "channel": conv.channel,
            "state": conv.state.value,
        }


def transcript(runtime: Runtime, shop_id: int, conversation_id: int) -> dict[str, Any]:
    with runtime.sessions() as s:
        repo = ConversationRepository(s)
        conv = repo.get(shop_id, conversation_id)
        customer = CustomerRepository(s).get(shop_id, conv.customer_id)
        return {
            "id": conv.id,
            "customer_ref": customer.customer_ref,
            "channel": conv.channel,
            "state": conv.state.value,
            "settled_reasons": list(conv.settled_reasons or []),
            "messages": [
                {
                    "id": m.id,
                    "role": m.role.value,
                    "text": m.text,
                    "author": m.author,
                    "intent": m.intent,
                    "engine": m.engine,
                    "citations": list(m.citations or []),
                    "state": (m.meta or {}).get("state"),
                    "created_at": _aware(m.created_at),
                }
                for m in repo.messages(shop_id, conversation_id)
            ],
            "handoffs": [_handoff_public(h) for h in repo.handoffs_of(shop_id, conversation_id)],
        }


def erase_customer(
    runtime: Runtime, shop_id: int, customer_ref: str, actor: str, now: datetime
) -> ErasureCounts:
    with runtime.sessions() as s:
        customer = CustomerRepository(s).get_by_ref(shop_id, customer_ref)
        if customer is None:
            raise NotFound(f"顾客 {customer_ref!r} 不存在")
        counts = ConversationRepository(s).erase_customer(shop_id, customer, actor, now)
        s.commit()
        log.info("cs.customer_erased", extra={"shop_id": shop_id, "messages": counts.messages})
        return counts


def _handoff_public(h: HandoffRow) -> dict[str, Any]:
    return {
        "id": h.id,
        "conversation_id": h.conversation_id,
        "status": h.status.value,
        "reasons": list(h.reasons or []),
        "priority": h.priority,
        "brief": dict(h.brief or {}),
        "claimed_by": h.claimed_by,
        "created_at": _aware(h.created_at),
        "claimed_at": _aware(h.claimed_at),
        "closed_at": _aware(h.closed_at),
    }
