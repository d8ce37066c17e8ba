from __future__ import annotations

from store.errors import InvalidInput, LLMTimeout, NotFound, SiyuError


def test_invalid_input_names_file_line_and_field() -> None:
    err = InvalidInput("不是合法的日期", file="sales.csv", line=17, field="date")
    assert err.detail == "文件 'sales.csv', 第 17 行, 字段 'date': 不是合法的日期"
    assert (err.code, err.status) == ("invalid_input", 400)


def test_tree_codes_and_statuses() -> None:
    assert isinstance(LLMTimeout(), SiyuError)
    assert (LLMTimeout.code, LLMTimeout.status) == ("llm_timeout", 504)
    assert NotFound("订单 'X1' 不存在").detail == "订单 'X1' 不存在"
    assert NotFound().detail == "未找到"
