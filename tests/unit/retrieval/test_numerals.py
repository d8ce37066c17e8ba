from __future__ import annotations

from decimal import Decimal

import pytest

from retrieval.numerals import chinese_number


@pytest.mark.parametrize(
    ("token", "value"),
    [
        # Arabic, as the guard and the merchant parser meet them in replies and questions
        ("7", "7"),
        ("5000", "5000"),
        ("12.5", "12.5"),
        ("129.5", "129.5"),
        ("007", "7"),
        # Chinese, as all three old parsers read them
        ("七", "7"),
        ("〇", "0"),
        ("零", "0"),
        ("一", "1"),
        ("两", "2"),
        ("十", "10"),
        ("十一", "11"),
        ("十五", "15"),
        ("二十", "20"),
        ("三十", "30"),
        ("四十一", "41"),
        ("一百零五", "105"),
        ("一百二十", "120"),
        ("一百二十九", "129"),
        ("两百", "200"),
        ("五千", "5000"),
        ("两万", "20000"),
        # spoken shorthand: the trailing digit is one unit down (the guard read 三千五 as 3005)
        ("三千五", "3500"),
        ("三百五", "350"),
        ("一万二", "12000"),
        ("三万五", "35000"),
        # digit by digit, as typed for a size (四一码)
        ("四一", "41"),
        # mixed, as merchants type budgets
        ("1万2", "12000"),
        ("3千5", "3500"),
        ("一点五", "1.5"),
    ],
)
def test_reads_one_exact_number(token: str, value: str) -> None:
    assert chinese_number(token) == Decimal(value)


@pytest.mark.parametrize("token", ["十几", "几百", "十十", "万", "abc", "", "半", "三88"])
def test_vague_or_malformed_is_none(token: str) -> None:
    assert chinese_number(token) is None


def test_common_substring_length_is_the_longest_shared_run() -> None:
    from retrieval.lexical import common_substring_length

    assert common_substring_length("保温杯", "清居保温杯补货") == 3
    assert common_substring_length("纸尿裤", "拉拉裤") == 1
    assert common_substring_length("", "保温杯") == 0
    # autojunk off: a long text's most frequent characters still count.
    assert common_substring_length("纸尿裤", "纸" * 300 + "尿裤" + "纸" * 300) == 3
