from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agents.customer_service.errors import InvalidTransition
from agents.customer_service.schemas import Handoff, Reason, ShopPolicy, priority_of
from agents.customer_service.state import (
    ActionKind,
    Close,
    CustomerMessage,
    Event,
    HandoffDecided,
    SilenceTimeout,
    Snapshot,
    StaffClaim,
    StaffMessage,
    StaffRelease,
    State,
    ack_text,
    step,
    wait_minutes,
)

POLICY = ShopPolicy()
# 2026-11-23 is a Monday. 10:00 in Shanghai = 02:00 UTC.
ON_SHIFT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
LATE_NIGHT = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 23:00 Shanghai
REQUEST = Handoff([Reason.customer_request], priority_of([Reason.customer_request]))


def kinds(t: object) -> list[ActionKind]:
    return [a.kind for a in t.actions]  # type: ignore[attr-defined]


def handoff(snap: Snapshot, h: Handoff = REQUEST, **kw: object) -> Snapshot:
    t = step(snap, HandoffDecided(h, ON_SHIFT, **kw), POLICY)  # type: ignore[arg-type]
    return t.snapshot


def test_handoff_posts_exactly_one_ack_with_the_wait() -> None:
    t = step(Snapshot(), HandoffDecided(REQUEST, ON_SHIFT, queue_length=3, staff_on_shift=2), POLICY)
    assert t.state is State.waiting_human
    assert kinds(t) == [ActionKind.open_handoff, ActionKind.post_ack, ActionKind.system_note]
    assert t.texts(ActionKind.post_ack) == ["已为您转接人工客服，预计等待约6分钟"]  # 4 × 3 min / 2 staff
    assert t.actions[0].reasons == (Reason.customer_request,) and t.actions[0].priority == 40
    assert t.snapshot.active_reasons == (Reason.customer_request,)


@pytest.mark.parametrize("state", [State.waiting_human, State.human])
def test_while_a_human_holds_the_chat_the_bot_posts_nothing(state: State) -> None:
    snap = Snapshot(state, (Reason.customer_request,), last_staff_message_at=ON_SHIFT)
    t = step(snap, CustomerMessage(ON_SHIFT), POLICY)
    assert t.snapshot == snap and kinds(t) == [ActionKind.post_nothing]
    again = step(snap, HandoffDecided(Handoff([Reason.complaint_or_anger], 55), ON_SHIFT), POLICY)
    assert again.state is state
    assert ActionKind.post_ack not in kinds(again) and ActionKind.bot_reply not in kinds(again)
    assert again.snapshot.active_reasons == (Reason.customer_request, Reason.complaint_or_anger)


def test_bot_state_lets_the_bot_answer() -> None:
    t = step(Snapshot(), CustomerMessage(ON_SHIFT), POLICY)
    assert t.state is State.bot and kinds(t) == [ActionKind.bot_reply]


def test_off_hours_ack_says_when_someone_replies() -> None:
    t = step(Snapshot(), HandoffDecided(REQUEST, LATE_NIGHT), POLICY)
    assert t.texts(ActionKind.post_ack) == ["现在是非工作时间，客服将在明天 09:00 后回复您，已为您登记转人工"]
    early = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 08:00 Shanghai, Monday
    assert "今天 09:00" in ack_text(early, POLICY)
    weekdays = ShopPolicy.model_validate({"business_hours": {"weekdays": [0, 1, 2, 3, 4]}})
    friday_night = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)  # Fri 22:00 Shanghai
    assert "周一 09:00" in ack_text(friday_night, weekdays)
    assert ack_text(ON_SHIFT, POLICY, staff_on_shift=0).startswith("现在是非工作时间")


def test_wait_minutes() -> None:
    assert wait_minutes(0, 1, 3.0) == 3
    assert wait_minutes(0, 5, 0.5) == 1
    assert wait_minutes(9, 2, 3.0) == 15


@pytest.mark.parametrize("state", [State.bot, State.waiting_human])
def test_staff_message_takes_over(state: State) -> None:
    t = step(Snapshot(state), StaffMessage(ON_SHIFT), POLICY)
    assert t.state is State.human and t.snapshot.last_staff_message_at == ON_SHIFT
    assert kinds(t) == [ActionKind.post_nothing, ActionKind.system_note]


def test_staff_message_in_human_restarts_the_silence_clock() -> None:
    later = ON_SHIFT + timedelta(minutes=20)
    snap = Snapshot(State.human, (Reason.vip,), last_staff_message_at=ON_SHIFT)
    t = step(snap, StaffMessage(later), POLICY)
    assert t.state is State.human and t.snapshot.last_staff_message_at == later
    assert step(t.snapshot, SilenceTimeout(later + timedelta(minutes=29)), POLICY).state is State.human
    assert step(t.snapshot, SilenceTimeout(later + timedelta(minutes=30)), POLICY).state is State.bot


def test_claim_moves_waiting_to_human_and_starts_the_clock() -> None:
    t = step(Snapshot(State.waiting_human, (Reason.customer_request,)), StaffClaim(ON_SHIFT), POLICY)
    assert t.state is State.human and t.snapshot.last_staff_message_at == ON_SHIFT
    assert t.texts(ActionKind.system_note) == ["客服已认领会话"]
    again = step(t.snapshot, StaffClaim(ON_SHIFT + timedelta(minutes=1)), POLICY)
    assert again.state is State.human and again.snapshot.last_staff_message_at == ON_SHIFT


def test_silence_returns_to_bot_with_a_note_and_settles_reasons() -> None:
    snap = Snapshot(State.human, (Reason.customer_request,), last_staff_message_at=ON_SHIFT)
    assert step(snap, SilenceTimeout(ON_SHIFT + timedelta(minutes=29, seconds=59)), POLICY).snapshot == snap
    t = step(snap, SilenceTimeout(ON_SHIFT + timedelta(minutes=30)), POLICY)
    assert t.state is State.bot
    assert t.texts(ActionKind.system_note) == ["客服 30 分钟未回复，会话已交还机器人"]
    assert ActionKind.close_handoff in kinds(t)
    assert t.snapshot.settled_reasons == {Reason.customer_request} and t.snapshot.active_reasons == ()
    short = ShopPolicy(silence_minutes=5)
    assert step(snap, SilenceTimeout(ON_SHIFT + timedelta(minutes=5)), short).state is State.bot


@pytest.mark.parametrize("state", [State.bot, State.waiting_human, State.closed])
def test_silence_only_times_out_a_held_chat(state: State) -> None:
    snap = Snapshot(state, last_staff_message_at=ON_SHIFT)
    t = step(snap, SilenceTimeout(ON_SHIFT + timedelta(hours=5)), POLICY)
    assert t.snapshot == snap and t.actions == ()


def test_explicit_release_returns_to_bot() -> None:
    for state in (State.human, State.waiting_human):
        t = step(Snapshot(state, (Reason.refund_dispute,)), StaffRelease(ON_SHIFT), POLICY)
        assert t.state is State.bot
        assert t.texts(ActionKind.system_note) == ["客服已将会话交还给机器人"]
        assert t.snapshot.settled_reasons == {Reason.refund_dispute}
    noop = step(Snapshot(), StaffRelease(ON_SHIFT), POLICY)
    assert noop.snapshot == Snapshot() and noop.actions == ()


def test_no_loop_back_into_handoff_without_new_input() -> None:
    vip_request = Handoff([Reason.customer_request, Reason.vip], 41)
    held = handoff(Snapshot(), vip_request)
    back = step(held, StaffRelease(ON_SHIFT), POLICY).snapshot
    assert back.state is State.bot and back.settled_reasons == {Reason.customer_request, Reason.vip}
    # the same decision re-evaluated on old input: the bot answers, no second handoff
    t = step(back, HandoffDecided(vip_request, ON_SHIFT, new_input=False), POLICY)
    assert t.state is State.bot and kinds(t) == [ActionKind.bot_reply]
    # context reasons never come back, even with new input
    t = step(back, HandoffDecided(Handoff([Reason.vip], 35), ON_SHIFT, new_input=True), POLICY)
    assert t.state is State.bot and kinds(t) == [ActionKind.bot_reply]
    # new customer input can raise an input reason again
    t = step(back, HandoffDecided(vip_request, ON_SHIFT, new_input=True), POLICY)
    assert t.state is State.waiting_human and t.snapshot.active_reasons == (Reason.customer_request,)
    # a new reason needs no new input
    legal = Handoff([Reason.legal_or_regulator], 100)
    assert step(back, HandoffDecided(legal, ON_SHIFT, new_input=False), POLICY).state is State.waiting_human


def test_reopened_chat_keeps_settled_reasons() -> None:
    held = handoff(Snapshot(), Handoff([Reason.vip, Reason.low_grounding], 36))
    closed = step(held, Close(ON_SHIFT), POLICY)
    assert closed.state is State.closed and ActionKind.close_handoff in kinds(closed)
    reopened = step(closed.snapshot, CustomerMessage(ON_SHIFT), POLICY)
    assert reopened.state is State.bot and kinds(reopened) == [ActionKind.system_note, ActionKind.bot_reply]
    t = step(reopened.snapshot, HandoffDecided(Handoff([Reason.vip], 35), ON_SHIFT, new_input=False), POLICY)
    assert t.state is State.bot


@pytest.mark.parametrize(
    "event",
    [HandoffDecided(REQUEST, ON_SHIFT), StaffClaim(ON_SHIFT), StaffRelease(ON_SHIFT)],
)
def test_closed_chat_rejects_staff_and_handoff_events(event: Event) -> None:
    with pytest.raises(InvalidTransition):
        step(Snapshot(State.closed), event, POLICY)


def test_staff_message_reopens_a_closed_chat_into_human() -> None:
    t = step(Snapshot(State.closed), StaffMessage(ON_SHIFT), POLICY)
    assert t.state is State.human


@pytest.mark.parametrize("state", list(State))
def test_close_from_every_state(state: State) -> None:
    t = step(Snapshot(state), Close(ON_SHIFT), POLICY)
    assert t.state is State.closed
    if state is State.closed:
        assert t.actions == ()


# The full table: every state × every event → the resulting state.
TABLE: dict[tuple[State, str], State | None] = {
    (State.bot, "customer"): State.bot,
    (State.bot, "handoff"): State.waiting_human,
    (State.bot, "staff_message"): State.human,
    (State.bot, "claim"): State.human,
    (State.bot, "release"): State.bot,
    (State.bot, "silence"): State.bot,
    (State.bot, "close"): State.closed,
    (State.waiting_human, "customer"): State.waiting_human,
    (State.waiting_human, "handoff"): State.waiting_human,
    (State.waiting_human, "staff_message"): State.human,
    (State.waiting_human, "claim"): State.human,
    (State.waiting_human, "release"): State.bot,
    (State.waiting_human, "silence"): State.waiting_human,
    (State.waiting_human, "close"): State.closed,
    (State.human, "customer"): State.human,
    (State.human, "handoff"): State.human,
    (State.human, "staff_message"): State.human,
    (State.human, "claim"): State.human,
    (State.human, "release"): State.bot,
    (State.human, "silence"): State.bot,
    (State.human, "close"): State.closed,
    (State.closed, "customer"): State.bot,
    (State.closed, "handoff"): None,
    (State.closed, "staff_message"): State.human,
    (State.closed, "claim"): None,
    (State.closed, "release"): None,
    (State.closed, "silence"): State.closed,
    (State.closed, "close"): State.closed,
}
LATER = ON_SHIFT + timedelta(minutes=31)
EVENTS: dict[str, Event] = {
    "customer": CustomerMessage(LATER),
    "handoff": HandoffDecided(Handoff([Reason.complaint_or_anger], 55), LATER),
    "staff_message": StaffMessage(LATER),
    "claim": StaffClaim(LATER),
    "release": StaffRelease(LATER),
    "silence": SilenceTimeout(LATER),
    "close": Close(LATER),
}


@pytest.mark.parametrize(("state", "name"), list(TABLE))
def test_transition_table(state: State, name: str) -> None:
    snap = Snapshot(
        state,
        (Reason.customer_request,) if state in (State.waiting_human, State.human) else (),
        last_staff_message_at=ON_SHIFT,
    )
    expected = TABLE[(state, name)]
    if expected is None:
        with pytest.raises(InvalidTransition):
            step(snap, EVENTS[name], POLICY)
        return
    t = step(snap, EVENTS[name], POLICY)
    assert t.state is expected
    acks = t.texts(ActionKind.post_ack)
    # the only time the bot speaks outside `bot` is the one acknowledgement, from `bot` itself
    assert len(acks) == (1 if (state, name) == (State.bot, "handoff") else 0)
    if expected in (State.waiting_human, State.human):
        assert ActionKind.bot_reply not in kinds(t)
