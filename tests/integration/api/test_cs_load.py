"""A small version of `siyu bench cs-load`: the real API over HTTP on 127.0.0.1, concurrent
conversations, the stub LLM failing 20% of calls. Invariants only, never timings."""

from __future__ import annotations

import pytest

from evals.benches.cs_load import FAILURES, LoadConfig, load_run
from retrieval.embedding import Embedder
from store.settings import Settings
from tests import TEST_CACHE_DIR

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_concurrent_conversations_lose_nothing_and_every_failed_llm_turn_degrades(
    real_embedder: Embedder,
) -> None:
    report = load_run(
        # Where `real_embedder` keeps the converted model: the API process loads its own from there.
        Settings(env="test", cache_dir=TEST_CACHE_DIR),
        real_embedder,
        LoadConfig(conversations=20, messages=3),
        customers=60,
    )

    assert report.errors == []
    assert report.turns_sent == 60
    assert dict(report.http_status) == {"200": 60}
    assert report.lost == 0 and report.lost_after_reply == 0
    # Every LLM request was one of our turns, so the check below covers every failed call.
    assert report.unmatched_requests == 0
    assert report.llm_calls > 20
    # The stub really failed calls, of every kind (blocks of 20 hold one of each).
    assert all(report.call_kinds[k] >= 1 for k in FAILURES), report.call_kinds
    assert report.failed_turns == sum(report.call_kinds[k] for k in FAILURES)
    assert report.failed_violations == []
    assert report.failed_answered_offline + report.failed_handed_off == report.failed_turns
    assert report.llm_engine_without_ok_call == 0
    # Good calls were used (the LLM path is live), and the gateway recorded each transport/HTTP/
    # parse failure; the off-policy reply is a successful call the guard refused.
    assert report.engines["llm"] > 0
    # Intent second-opinion calls (asked on unsure messages) fail the same way and are recorded too.
    calls = report.call_kinds + report.intent_call_kinds
    assert sum(calls.values()) == report.llm_calls
    gateway_failures = calls["timeout"] + calls["http_500"] + calls["malformed"]
    assert report.stored_failed_calls == gateway_failures
    # Every handoff opened with the LLM configured queued its suggested reply, after the commit.
    assert report.handoffs > 0 and report.suggestions_queued == report.handoffs
    assert report.ok
