"""The takeover state machine: `bot → waiting_human → human → bot | closed`. Pure.

    step(snapshot, HandoffDecided(handoff, now, ...), policy) -> Transition(snapshot', actions)

Guarantees, each tested exhaustively in tests/unit/agents/customer_service/test_state.py:
- in `waiting_human` and `human` the bot posts nothing, except ONE acknowledgement when the
  handoff is decided: the expected wait on shift, or when someone will reply off shift;
- a staff message in `bot` moves the chat to `human` (staff simply start typing);
- after `silence_minutes` of staff silence in `human` the chat returns to `bot` with a system note;
  an explicit release does the same;
- reasons that were handed off once are *settled*; a reopened chat never hands off again for a
  settled reason unless new customer input raises it (context reasons such as vip never again).
The caller persists `Snapshot` (conversation.state + settled reasons) and performs the actions.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from agents.customer_service.errors import InvalidTransition
from agents.customer_service.schemas import INPUT_REASONS, Handoff, Reason, ShopPolicy, priority_of
from store.models import ConversationState as State

__all__ = [
    "Action",
    "ActionKind",
    "Close",
    "CustomerMessage",
    "Event",
    "HandoffDecided",
    "SilenceTimeout",
    "Snapshot",
    "StaffClaim",
    "StaffMessage",
    "StaffRelease",
    "State",
    "Transition",
    "ack_text",
    "step",
]

_WEEKDAYS = "一二三四五六日"


class ActionKind(enum.StrEnum):
    bot_reply = "bot_reply"  # the bot may answer this customer message
    post_ack = "post_ack"  # post `text` to the customer once, at handoff
    post_nothing = "post_nothing"  # a human holds the chat: the bot stays silent
    system_note = "system_note"  # a note in the transcript for staff, never shown as a bot reply
    open_handoff = "open_handoff"  # create the queue item (with its brief) for these reasons
    close_handoff = "close_handoff"  # mark the open queue item resolved/released


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    text: str | None = None
    reasons: tuple[Reason, ...] = ()
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    state: State = State.bot
    active_reasons: tuple[Reason, ...] = ()  # reasons of the open handoff
    settled_reasons: frozenset[Reason] = frozenset()
    last_staff_message_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CustomerMessage:
    now: datetime


@dataclass(frozen=True, slots=True)
class HandoffDecided:
    handoff: Handoff
    now: datetime
    new_input: bool = True  # False when re-evaluating old input (e.g. a reopened chat)
    queue_length: int = 0  # handoffs already waiting in this shop
    staff_on_shift: int = 1


@dataclass(frozen=True, slots=True)
class StaffMessage:
    now: datetime


@dataclass(frozen=True, slots=True)
class StaffClaim:
    now: datetime


@dataclass(frozen=True, slots=True)
class StaffRelease:
    now: datetime


@dataclass(frozen=True, slots=True)
class SilenceTimeout:
    now: datetime


@dataclass(frozen=True, slots=True)
class Close:
    now: datetime


Event = CustomerMessage | HandoffDecided | StaffMessage | StaffClaim | StaffRelease | SilenceTimeout | Close


@dataclass(frozen=True, slots=True)
class Transition:
    snapshot: Snapshot
    actions: tuple[Action, ...] = field(default_factory=tuple)

    @property
    def state(self) -> State:
        return self.snapshot.state

    def texts(self, kind: ActionKind) -> list[str]:
        return [a.text for a in self.actions if a.kind is kind and a.text is not None]


def wait_minutes(queue_length: int, staff_on_shift: int, avg_handle_minutes: float) -> int:
    """Expected wait: the people ahead plus this one, shared by the staff on shift; at least 1."""
    return max(1, math.ceil((queue_length + 1) * avg_handle_minutes / max(1, staff_on_shift)))


def ack_text(now: datetime, policy: ShopPolicy, queue_length: int = 0, staff_on_shift: int = 1) -> str:
    """The one acknowledgement the customer gets at handoff."""
    hours = policy.business_hours
    if hours.on_shift(now) and staff_on_shift > 0:
        minutes = wait_minutes(queue_length, staff_on_shift, policy.avg_handle_minutes)
        return f"已为您转接人工客服，预计等待约{minutes}分钟"
    local, opens = hours.local(now), hours.next_open(now)
    days = (opens.date() - local.date()).days
    day = {0: "今天", 1: "明天", 2: "后天"}.get(days, f"周{_WEEKDAYS[opens.weekday()]}")
    return f"现在是非工作时间，客服将在{day} {opens:%H:%M} 后回复您，已为您登记转人工"


def step(snap: Snapshot, event: Event, policy: ShopPolicy) -> Transition:
    """Apply one event. Raises `InvalidTransition` for events a closed chat cannot take."""
    match event:
        case CustomerMessage():
            return _customer_message(snap)
        case HandoffDecided():
            return _handoff(snap, event, policy)
        case StaffMessage(now=now) | StaffClaim(now=now):
            return _staff_takes(snap, now, message=isinstance(event, StaffMessage))
        case StaffRelease():
            return _back_to_bot(snap, "客服已将会话交还给机器人")
        case SilenceTimeout(now=now):
            return _silence(snap, now, policy)
        case Close():
            return _close(snap)
    raise AssertionError(f"unknown event {event!r}")  # pragma: no cover


def _customer_message(snap: Snapshot) -> Transition:
    if snap.state is State.bot:
        return Transition(snap, (Action(ActionKind.bot_reply),))
    if snap.state is State.closed:
        reopened = replace(snap, state=State.bot, active_reasons=())
        return Transition(
            reopened, (Action(ActionKind.system_note, "顾客重新发起会话"), Action(ActionKind.bot_reply))
        )
    return Transition(snap, (Action(ActionKind.post_nothing),))


def _handoff(snap: Snapshot, event: HandoffDecided, policy: ShopPolicy) -> Transition:
    if snap.state is State.closed:
        raise InvalidTransition("会话已关闭，不能转人工；请先由顾客重新发起会话")
    reasons = [
        r
        for r in event.handoff.reasons
        if r not in snap.settled_reasons or (event.new_input and r in INPUT_REASONS)
    ]
    if not reasons:
        # Everything was handed off before and nothing new was said: the bot answers, no loop.
        if snap.state is State.bot:
            return Transition(snap, (Action(ActionKind.bot_reply),))
        return Transition(snap, (Action(ActionKind.post_nothing),))
    if snap.state is not State.bot:
        # Already with (or waiting for) a person: add the reasons, say nothing more.
        merged = tuple(dict.fromkeys((*snap.active_reasons, *reasons)))
        return Transition(
            replace(snap, active_reasons=merged),
            (Action(ActionKind.post_nothing), Action(ActionKind.system_note, _reasons_note(reasons))),
        )
    ack = ack_text(event.now, policy, event.queue_length, event.staff_on_shift)
    ordered = tuple(r for r in Reason if r in reasons)
    return Transition(
        replace(snap, state=State.waiting_human, active_reasons=ordered),
        (
            Action(ActionKind.open_handoff, reasons=ordered, priority=priority_of(list(ordered))),
            Action(ActionKind.post_ack, ack),
            Action(ActionKind.system_note, _reasons_note(list(ordered))),
        ),
    )


def _staff_takes(snap: Snapshot, now: datetime, *, message: bool) -> Transition:
    if snap.state is State.closed and not message:
        raise InvalidTransition("会话已关闭，无法认领")
    stamped = now if message else snap.last_staff_message_at
    if snap.state is State.human:
        return Transition(
            replace(snap, last_staff_message_at=stamped or now), (Action(ActionKind.post_nothing),)
        )
    note = "客服已接管会话" if snap.state is State.bot or snap.state is State.closed else "客服已认领会话"
    # The silence clock starts at the claim, so a claimed-but-quiet chat also returns to the bot.
    return Transition(
        replace(snap, state=State.human, last_staff_message_at=stamped or now),
        (Action(ActionKind.post_nothing), Action(ActionKind.system_note, note)),
    )


def _back_to_bot(snap: Snapshot, note: str) -> Transition:
    if snap.state is State.closed:
        raise InvalidTransition("会话已关闭，无法交还机器人")
    if snap.state is State.bot:
        return Transition(snap, ())
    settled = snap.settled_reasons | frozenset(snap.active_reasons)
    actions: list[Action] = [Action(ActionKind.close_handoff, reasons=snap.active_reasons)]
    actions.append(Action(ActionKind.system_note, note))
    return Transition(
        Snapshot(State.bot, (), settled, snap.last_staff_message_at),
        tuple(actions),
    )


def _silence(snap: Snapshot, now: datetime, policy: ShopPolicy) -> Transition:
    # Only a chat a person holds times out; one still waiting in the queue stays there.
    if snap.state is not State.human or snap.last_staff_message_at is None:
        return Transition(snap, ())
    if now - snap.last_staff_message_at < timedelta(minutes=policy.silence_minutes):
        return Transition(snap, ())
    return _back_to_bot(snap, f"客服 {policy.silence_minutes} 分钟未回复，会话已交还机器人")


def _close(snap: Snapshot) -> Transition:
    if snap.state is State.closed:
        return Transition(snap, ())
    settled = snap.settled_reasons | frozenset(snap.active_reasons)
    actions: tuple[Action, ...] = (Action(ActionKind.system_note, "会话已关闭"),)
    if snap.active_reasons:
        actions = (Action(ActionKind.close_handoff, reasons=snap.active_reasons), *actions)
    return Transition(Snapshot(State.closed, (), settled, snap.last_staff_message_at), actions)


def _reasons_note(reasons: list[Reason]) -> str:
    return "转人工原因: " + ", ".join(r.value for r in reasons)
