"""The README's configuration table is the merchant's reference: it must name every setting."""

from __future__ import annotations

from pathlib import Path

from store.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [
        f"SIYU_{name.upper()}" for name in Settings.model_fields if f"`SIYU_{name.upper()}`" not in text
    ]
    assert missing == []


def test_readme_shows_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text
