from __future__ import annotations

import pytest
from pydantic import BaseModel

from agents.llm import ChatRequest, ChatResponse
from evals.doubles.llm import ScriptedChatModel
from store.errors import LLMTimeout

REQUEST = ChatRequest(messages=({"role": "user", "content": "在吗"},), model="m", temperature=0.3)


class Reply(BaseModel):
    answer: str


def test_replies_in_order_and_records_every_call() -> None:
    model = ScriptedChatModel(["第一句", {"a": 1}, Reply(answer="好")])
    assert model.chat(REQUEST).text == "第一句"
    assert model.chat(REQUEST).text == '{"a": 1}'
    assert model.chat(REQUEST).text == '{"answer":"好"}'
    assert model.calls == [REQUEST, REQUEST, REQUEST]
    model.assert_exhausted()


def test_scripted_exception_is_raised() -> None:
    model = ScriptedChatModel([LLMTimeout()])
    with pytest.raises(LLMTimeout):
        model.chat(REQUEST)
    model.assert_exhausted()


def test_a_scripted_response_passes_through_with_its_usage() -> None:
    response = ChatResponse(text="x", model="other", input_tokens=11, output_tokens=1)
    assert ScriptedChatModel([response]).chat(REQUEST) == response


def test_one_call_too_many_fails_and_stays_failed() -> None:
    model = ScriptedChatModel(["只有一句"])
    model.chat(REQUEST)
    with pytest.raises(AssertionError, match="only 1 replies were scripted"):
        model.chat(REQUEST)
    # even if the caller swallowed the AssertionError, the teardown check still fails
    with pytest.raises(AssertionError, match="1 time"):
        model.assert_exhausted()


def test_unused_replies_fail_the_exhaustion_check() -> None:
    model = ScriptedChatModel(["a", "b"])
    model.chat(REQUEST)
    with pytest.raises(AssertionError, match="1 scripted replies were never used"):
        model.assert_exhausted()
    model.chat(REQUEST)


def test_stream_splits_the_text_and_reports_usage() -> None:
    model = ScriptedChatModel(["您好，满99包邮"], chunk_chars=3)
    usage: dict[str, int] = {}
    assert list(model.stream(REQUEST, usage)) == ["您好，", "满99", "包邮"]
    assert usage == {"input_tokens": 2, "output_tokens": 8}


def test_scripted_llm_fixture_is_strict(scripted_llm: ScriptedChatModel) -> None:
    scripted_llm.add("好")
    assert scripted_llm.chat(REQUEST).text == "好"
