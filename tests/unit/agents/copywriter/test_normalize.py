from __future__ import annotations

import pytest

from agents.copywriter.normalize import normalize


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("最 好", "最好"),  # inserted space
        ("✨最✨佳", "最佳"),  # emoji between characters
        ("最-好.用", "最好用"),  # symbols between characters
        ("ＮＯ．１", "no1"),  # full-width
        ("Top 1", "top1"),
        ("頂級國家級", "顶级国家级"),  # traditional → simplified
        ("最最最好", "最好"),  # repeated characters
        ("第①", "第1"),  # circled digit
        ("第壹", "第一"),  # financial numeral
        ("NΟ1", "no1"),  # Greek capital omicron posing as O
        ("100%有效", "100有效"),
        ("㎖", "ml"),  # one character expanding to two
    ],
)
def test_folds_evasions(text: str, folded: str) -> None:
    assert normalize(text).text == folded


def test_index_maps_back_to_original_offsets() -> None:
    text = "买✨最✨佳的！"
    norm = normalize(text)
    assert norm.text == "买最佳的"
    assert list(norm.index) == [0, 2, 4, 5]
    start, end = norm.span(1, 3)
    assert text[start:end] == "最✨佳"


def test_collapsed_repeats_span_the_whole_run() -> None:
    text = "最最最好的"
    norm = normalize(text)
    assert norm.text == "最好的"
    assert text[slice(*norm.span(0, 2))] == "最最最好"


def test_repeated_digits_and_letters_are_kept() -> None:
    assert normalize("1000ml").text == "1000ml"
    assert normalize("好好学习").text == "好学习"


def test_expanded_character_maps_every_output_to_its_source() -> None:
    norm = normalize("容量㎖")
    assert norm.text == "容量ml"
    assert list(norm.index) == [0, 1, 2, 2]
