"""Bench `cs-load`: a bounded load run of the customer-service API with a failing LLM.

The API runs the way an operator runs it: its own process (`python -m uvicorn --factory
api.app:create_app`, configured only by `SIYU_*` variables) on a free 127.0.0.1 port, serving
the demo shop from a throwaway database. The bench never imports the app: it talks HTTP, as
the load does, and client and server do not share one interpreter's lock. Its LLM engine
points at `StubOpenAIServer`, scripted so that 20% of calls fail, in blocks of 20 with one of
each kind: a timeout (the stub answers after the client's timeout), an HTTP 500, a malformed 200
body, and an off-policy reply (a valid completion that promises a discount, which the commitment
guard must refuse). 200 conversations (default) then talk to the API at once over HTTP (httpx2
async), several messages each; customers keep typing after a 转人工.

Afterwards, from the store, never from the HTTP responses:
- 0 messages lost: each conversation's customer messages are exactly the texts sent;
- each turn whose LLM call failed was answered by the offline path (a bot message with engine
  `offline` or `safe`) or handed off (the acknowledgement, engine `ack`); a bot message with
  engine `llm` is only ever the answer to a successful call.
LLM requests map back to their turn by the customer's text (every scripted text is unique).
Two kinds of request reach the stub: the answer phrasing, and the intent second opinion (JSON
mode, asked only when the offline classifier is unsure). Only the answer's outcome decides the
turn's engine, so the checks above use answer calls; intent calls are matched to their turn too
(unmatched_requests counts both) and reported on their own. The stub's good reply is prose, so
every intent opinion here fails to parse (after one repair round) and the offline intent stands.

A handoff's LLM suggested reply is sent to a throwaway Celery broker (a SQLite file beside the
database) that no worker reads, so the stub's script stays the turns' own; the bench counts
the messages queued there afterwards.

Sizes: `SIYU_BENCH_CS_CONVERSATIONS` (default 200; `--quick` 50), `SIYU_BENCH_CS_MESSAGES`
(default 4). The LLM client timeout is 1 s and retries are off, so a failed call fails the turn's
LLM phrasing outright (with the default single retry most 500s would be hidden).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import httpx2
from kombu.connection import Connection
from pydantic import SecretStr

from agents.customer_service.tasks import SUGGEST_TASK
from agents.privacy import mask_pii
from evals.bench import BenchContext, BenchResult, bench, percentile
from evals.benches.cs import DemoShop, Kind, ScriptedConversation, conversation_script, demo_shop
from evals.doubles.llm import Behaviour, Delay, Malformed, Reply, Status, StubOpenAIServer
from retrieval.embedding import Embedder
from store.models import MessageRole, Role
from store.repositories.conversations import ConversationRepository
from store.repositories.llm_calls import LlmCallRepository
from store.settings import Settings

CallKind = Literal["ok", "timeout", "http_500", "malformed", "off_policy"]
FAILURES: tuple[CallKind, ...] = ("timeout", "http_500", "malformed", "off_policy")
# A reply with no facts of its own: the guard lets it through, so the turn's engine is `llm`.
GOOD_REPLY = "亲，帮您查到了，具体情况以上面的资料为准哦 [S1]"
# What a model talked into a bargain says; the guard must block it (五折 and 9.9元 break the rules).
OFF_POLICY_REPLY = "亲，老板说了今天全场五折，这款只要9.9元，拍下就给您改价！[S1]"
LLM_TIMEOUT_S = 1.0
_QUESTION = re.compile(r"<customer_message>\n(.*?)\n</customer_message>", re.DOTALL)


@dataclass(frozen=True)
class LoadConfig:
    conversations: int = 200
    messages: int = 4
    seed: int = 5
    # Generous: on an oversubscribed machine a queued turn can wait a minute for a worker
    # thread, and a client that gives up early turns a slow reply into an unsent message.
    request_timeout_s: float = 300.0

    @classmethod
    def from_env(cls, quick: bool) -> LoadConfig:
        default = 50 if quick else 200
        return cls(
            conversations=int(os.environ.get("SIYU_BENCH_CS_CONVERSATIONS", default)),
            messages=int(os.environ.get("SIYU_BENCH_CS_MESSAGES", 4)),
        )


def llm_script(n: int, seed: int) -> list[tuple[CallKind, Behaviour]]:
    """`n` stub behaviours: in every block of 20, 16 good replies and one failure of each kind."""
    rng = random.Random(seed)
    out: list[tuple[CallKind, Behaviour]] = []
    while len(out) < n:
        block: list[CallKind] = [*FAILURES, *(("ok",) * 16)]
        rng.shuffle(block)
        out += [(k, _behaviour(k)) for k in block]
    return out[:n]


def _behaviour(kind: CallKind) -> Behaviour:
    if kind == "timeout":
        return Delay(LLM_TIMEOUT_S + 0.6, Reply(GOOD_REPLY))
    if kind == "http_500":
        return Status(500, "stub: upstream overloaded")
    if kind == "malformed":
        return Malformed()
    if kind == "off_policy":
        return Reply(OFF_POLICY_REPLY)
    return Reply(GOOD_REPLY)


# -- the API in its own process ----------------------------------------------------------------

API_START_TIMEOUT_S = 120.0
API_STOP_TIMEOUT_S = 15.0


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes `load_settings()` in a child process equal `settings`.

    Every inherited `SIYU_*` variable is dropped first: a field left unset here must stay unset
    there (CI exports a Redis broker and a Chroma server this scratch shop must not use)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIYU_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        env[f"SIYU_{name.upper()}"] = text
    env["HF_HUB_OFFLINE"] = "1"
    return env


def _free_port() -> int:
    # The child binds it a moment later; the window is tiny, and a clash fails the start loudly.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ApiProcess:
    """`with ApiProcess(settings, log_path) as api: api.base_url` — `uvicorn --factory
    api.app:create_app` in a child process, ready once `/v1/health` answers."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self.port = _free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ApiProcess:
        argv = [
            sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app",
            "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                argv, env=settings_env(self.settings), stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self._wait_healthy()
        except BaseException:
            self._stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + API_START_TIMEOUT_S
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the API exited with {self._proc.returncode}: {self._log_tail()}")
            try:
                if httpx2.get(f"{self.base_url}/v1/health", timeout=2.0).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the API did not answer /v1/health in {API_START_TIMEOUT_S:.0f} s")
            time.sleep(0.2)

    def _log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]

    def _stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        # SIGINT: uvicorn's graceful shutdown, so the app's lifespan closes the runtime.
        self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(timeout=API_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()


def warm_up(base_url: str, api_key: str) -> None:
    """One KB search loads the embedder and the index, as an operator's readiness probe would:
    the first turns must not time the model load. It asks no LLM, so the stub's script is intact."""
    r = httpx2.post(
        f"{base_url}/v1/kb/search",
        json={"query": "退货运费谁出"},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=API_START_TIMEOUT_S,
    )
    r.raise_for_status()


def queued_tasks(broker_url: str, task: str) -> int:
    """How many `task` messages wait in the default queue of a broker no worker reads."""
    count = 0
    with Connection(broker_url) as conn:  # type: ignore[no-untyped-call]  # kombu leaves __init__ unannotated
        queue = conn.SimpleQueue("celery")
        try:
            while True:
                try:
                    message = queue.get(block=False)
                except queue.Empty:
                    return count
                count += message.headers.get("task") == task
                message.ack()
        finally:
            queue.close()


# -- driving it ------------------------------------------------------------------------------


@dataclass
class SentTurn:
    conversation_id: int
    kind: Kind
    text: str
    status: int | None  # None: the request itself failed (transport error, client timeout)
    ms: float
    engine: str | None = None
    replied: bool = False
    error: str | None = None  # the transport error's type, when status is None


@dataclass
class DrivenConversation:
    script: ScriptedConversation
    conversation_id: int | None = None
    turns: list[SentTurn] = field(default_factory=list)
    error: str | None = None


async def _one(client: httpx2.AsyncClient, convo: ScriptedConversation) -> DrivenConversation:
    out = DrivenConversation(convo)
    try:
        r = await client.post("/v1/conversations", json={"customer_ref": convo.customer_ref})
        r.raise_for_status()
        out.conversation_id = int(r.json()["id"])
    except httpx2.HTTPError as exc:
        out.error = f"create: {exc!r}"
        return out
    for kind, text in convo.messages:
        t0 = time.perf_counter()
        try:
            r = await client.post(f"/v1/conversations/{out.conversation_id}/messages", json={"text": text})
        except httpx2.HTTPError as exc:
            ms = (time.perf_counter() - t0) * 1000
            out.turns.append(SentTurn(out.conversation_id, kind, text, None, ms, error=type(exc).__name__))
            continue
        ms = (time.perf_counter() - t0) * 1000
        body = r.json() if r.status_code == 200 else {}
        out.turns.append(
            SentTurn(
                out.conversation_id,
                kind,
                text,
                r.status_code,
                ms,
                body.get("engine"),
                body.get("reply") is not None,
            )
        )
    return out


async def drive(
    base_url: str, service_key: str, script: list[ScriptedConversation], timeout_s: float
) -> list[DrivenConversation]:
    """All conversations at once; each sends its next message when the previous reply is in."""
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends, or a request sent on a
    # connection the server is just closing fails with ReadError without reaching the app.
    limits = httpx2.Limits(
        max_connections=len(script), max_keepalive_connections=len(script), keepalive_expiry=2.0
    )
    async with httpx2.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {service_key}"},
        timeout=httpx2.Timeout(timeout_s),
        limits=limits,
    ) as client:
        return list(await asyncio.gather(*(_one(client, c) for c in script)))


# -- checking it, from the store -------------------------------------------------------------


@dataclass
class LoadReport:
    conversations: int
    turns_sent: int
    http_status: Counter[str]
    wall_s: float
    latencies_ms: list[float]
    lost: int  # customer messages sent but not in the transcript
    lost_after_reply: int  # of those, the ones the API had answered (any HTTP status)
    llm_calls: int
    call_kinds: Counter[str]  # answer calls only
    intent_call_kinds: Counter[str]  # second-opinion calls (with their repair rounds)
    failed_turns: int
    failed_answered_offline: int
    failed_handed_off: int
    failed_violations: list[str]  # failed turns neither answered offline nor handed off
    llm_engine_without_ok_call: int  # bot messages claiming `llm` whose call did not succeed
    unmatched_requests: int  # LLM requests whose question matches no sent message
    suggestions_queued: int  # handoffs whose LLM suggested reply was queued (never run here)
    engines: Counter[str]
    handoffs: int
    stored_failed_calls: int  # llm_calls rows with ok=False
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and not self.failed_violations
            and self.llm_engine_without_ok_call == 0
            and self.unmatched_requests == 0
            and not self.errors
            and self.http_status.get("200", 0) == self.turns_sent
        )


def verify(
    shop: DemoShop,
    driven: list[DrivenConversation],
    requests: list[dict[str, Any]],
    kinds: list[CallKind],
    wall_s: float,
    suggestions_queued: int = 0,
) -> LoadReport:
    by_text: dict[str, tuple[int, str]] = {}
    for d in driven:
        for t in d.turns:
            by_text[mask_pii(t.text).strip()] = (t.conversation_id, t.text)
    call_of: dict[tuple[int, str], CallKind] = {}
    answer_kinds, intent_kinds = Counter[str](), Counter[str]()
    unmatched = 0
    for body, call in zip(requests, kinds, strict=False):
        user = next((m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"), "")
        found = _QUESTION.search(user)
        key = found.group(1).strip() if found else None
        if key is None or key not in by_text:
            unmatched += 1
            continue
        if _is_intent_request(body):
            intent_kinds[call] += 1
            continue
        answer_kinds[call] += 1
        call_of[by_text[key]] = call

    lost, lost_after_reply, engines, violations, llm_bad = 0, 0, Counter[str](), [], 0
    answered_offline = handed_off = failed = handoffs = 0
    errors = [f"conversation of {d.script.customer_ref}: {d.error}" for d in driven if d.error]
    with shop.runtime.sessions() as s:
        repo = ConversationRepository(s)
        for d in driven:
            if d.conversation_id is None:
                continue
            messages = repo.messages(shop.shop_id, d.conversation_id)
            handoffs += len(repo.handoffs_of(shop.shop_id, d.conversation_id))
            stored = [m.text for m in messages if m.role is MessageRole.customer]
            sent = [t.text for t in d.turns]
            lost += sum((Counter(sent) - Counter(stored)).values())
            answered = [t.text for t in d.turns if t.status is not None]
            lost_after_reply += sum((Counter(answered) - Counter(stored)).values())
            if len(stored) > len(sent):
                errors.append(f"conversation {d.conversation_id}: {len(stored)} stored, {len(sent)} sent")
            # The bot's messages after each customer message, up to the next customer message.
            after: dict[str, list[str | None]] = {}
            current: str | None = None
            for m in messages:
                if m.role is MessageRole.customer:
                    current = m.text
                    after[current] = []
                elif m.role is MessageRole.bot and current is not None:
                    after[current].append(m.engine)
                    engines[m.engine or "none"] += 1
            for text, bot_engines in after.items():
                kind = call_of.get((d.conversation_id, text))
                if "llm" in bot_engines and kind != "ok":
                    llm_bad += 1
                if kind is None or kind == "ok":
                    continue
                failed += 1
                if "ack" in bot_engines:
                    handed_off += 1
                elif any(e in ("offline", "safe") for e in bot_engines):
                    answered_offline += 1
                else:
                    violations.append(f"conv {d.conversation_id} {kind}: {text!r} → {bot_engines}")
        stored_failed = sum(
            1 for c in LlmCallRepository(s).list_for_shop(shop.shop_id, limit=100_000) if not c.ok
        )
    turns = [t for d in driven for t in d.turns]
    return LoadReport(
        conversations=len(driven),
        turns_sent=len(turns),
        http_status=Counter(str(t.status) if t.status is not None else f"transport {t.error}" for t in turns),
        wall_s=wall_s,
        latencies_ms=[t.ms for t in turns],
        lost=lost,
        lost_after_reply=lost_after_reply,
        llm_calls=len(requests),
        call_kinds=answer_kinds,
        intent_call_kinds=intent_kinds,
        failed_turns=failed,
        failed_answered_offline=answered_offline,
        failed_handed_off=handed_off,
        failed_violations=violations,
        llm_engine_without_ok_call=llm_bad,
        unmatched_requests=unmatched,
        suggestions_queued=suggestions_queued,
        engines=engines,
        handoffs=handoffs,
        stored_failed_calls=stored_failed,
        errors=errors,
    )


def _is_intent_request(body: dict[str, Any]) -> bool:
    # The gateway's `choose` (the intent second opinion) is the only JSON-mode call of a turn.
    response_format = body.get("response_format")
    return isinstance(response_format, dict) and response_format.get("type") == "json_object"


def load_run(base: Settings, embedder: Embedder, config: LoadConfig, *, customers: int = 200) -> LoadReport:
    """Set up the demo shop, the stub LLM and the API process; drive it; verify from the store.

    `base.resolved_cache_dir` must hold the converted embedding model: the API process loads
    its own from there (`embedder` serves this process: indexing the demo shop)."""
    # Up to three calls a turn: an intent opinion and its repair round, then the answer.
    script = llm_script(3 * config.conversations * config.messages + 20, config.seed)
    with (
        tempfile.TemporaryDirectory(prefix="siyu-bench-cs-load-") as tmp,
        StubOpenAIServer([b for _, b in script], max_lifetime_s=900) as stub,
    ):
        root = Path(tmp)
        overrides: dict[str, Any] = {
            "llm_base_url": stub.base_url,
            "llm_api_key": "sk-stub",
            "llm_timeout_s": LLM_TIMEOUT_S,
            "llm_max_retries": 0,
            "log_level": "ERROR",
            "cache_dir": base.resolved_cache_dir.resolve(),
            # Suggested replies land in a broker of their own that no worker reads.
            "celery_broker_url": f"sqla+sqlite:///{root / 'celery-broker.db'}",
            "celery_result_backend": f"db+sqlite:///{root / 'celery-results.db'}",
        }
        with demo_shop(base, embedder, customers=customers, workdir=root, overrides=overrides) as shop:
            convos = conversation_script(shop, config.conversations, config.messages, seed=config.seed)
            service_key = shop.keys.for_role(Role.service)
            settings = shop.runtime.settings
            with ApiProcess(settings, root / "api.log") as api:
                warm_up(api.base_url, service_key)
                t0 = time.perf_counter()
                driven = asyncio.run(drive(api.base_url, service_key, convos, config.request_timeout_s))
                wall = time.perf_counter() - t0
            requests = list(stub.requests)
            queued = queued_tasks(settings.resolved_broker_url, SUGGEST_TASK)
            return verify(shop, driven, requests, [k for k, _ in script], wall, queued)


@bench("cs-load", "客服: 200 个并发会话走 HTTP, LLM 20% 失败 (超时/500/格式错/越权承诺), 校验 0 丢失与降级")
def run(ctx: BenchContext) -> BenchResult:
    config = LoadConfig.from_env(ctx.quick)
    load_before = os.getloadavg()[0]
    report = load_run(ctx.runtime.settings, ctx.runtime.embedder(), config)
    lat = report.latencies_ms
    rows: list[list[Any]] = [
        ["conversations × messages", f"{report.conversations} × {config.messages}"],
        [
            "turns sent / HTTP status",
            f"{report.turns_sent}: " + ", ".join(f"{k} {v}" for k, v in sorted(report.http_status.items())),
        ],
        ["messages lost (sent, not in the transcript)", report.lost],
        ["  of which the API had answered", report.lost_after_reply],
        ["LLM calls (stub)", report.llm_calls],
        ["LLM answer call mix", ", ".join(f"{k} {v}" for k, v in sorted(report.call_kinds.items()))],
        [
            "LLM intent second-opinion calls",
            ", ".join(f"{k} {v}" for k, v in sorted(report.intent_call_kinds.items())) or "0",
        ],
        ["failed LLM calls recorded in llm_calls", report.stored_failed_calls],
        ["turns whose LLM call failed", report.failed_turns],
        ["  → answered offline", report.failed_answered_offline],
        ["  → handed off", report.failed_handed_off],
        ["  → neither (must be 0)", len(report.failed_violations)],
        ["bot replies claiming llm without a good call", report.llm_engine_without_ok_call],
        ["unmatched LLM requests", report.unmatched_requests],
        ["bot messages by engine", ", ".join(f"{k} {v}" for k, v in sorted(report.engines.items()))],
        ["handoffs opened", report.handoffs],
        ["  LLM suggested replies queued", report.suggestions_queued],
        ["turn latency p50 / p95 (ms)", f"{percentile(lat, 50):.0f} / {percentile(lat, 95):.0f}"],
        ["wall time (s)", round(report.wall_s, 1)],
        ["throughput (turns/s)", round(report.turns_sent / report.wall_s, 1) if report.wall_s else 0],
    ]
    notes = [
        f"invariants: {'PASS' if report.ok else 'FAIL'}",
        f"load average (1 min) before/after: {load_before:.1f} / {os.getloadavg()[0]:.1f}",
        *report.failed_violations[:10],
        *report.errors[:10],
    ]
    return BenchResult(
        name="cs-load",
        columns=["figure", "value"],
        rows=rows,
        notes=notes,
        figures={
            "conversations": float(report.conversations),
            "turns": float(report.turns_sent),
            "lost": float(report.lost),
            "lost_after_reply": float(report.lost_after_reply),
            "llm_calls": float(report.llm_calls),
            "intent_llm_calls": float(sum(report.intent_call_kinds.values())),
            "failed_turns": float(report.failed_turns),
            "failed_answered_offline": float(report.failed_answered_offline),
            "failed_handed_off": float(report.failed_handed_off),
            "failed_violations": float(len(report.failed_violations)),
            "p50_ms": percentile(lat, 50),
            "p95_ms": percentile(lat, 95),
            "wall_s": report.wall_s,
            "invariants_ok": float(report.ok),
        },
    )
