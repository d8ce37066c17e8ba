"""API models read domain objects by attribute name, with `overlay` for what the wire spells differently."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from api.schemas.base import Schema, overlay


@dataclass(frozen=True)
class _Row:
    id: int
    name: str
    revoked_at: str | None = None


class _KeyOut(Schema):
    key_id: int
    name: str
    revoked: bool


def test_a_model_reads_the_object_and_takes_overlaid_fields_from_the_overlay() -> None:
    row = _Row(id=7, name="owner", revoked_at="2024-05-01")

    out = _KeyOut.model_validate(overlay(row, key_id=row.id, revoked=row.revoked_at is not None))

    assert out == _KeyOut(key_id=7, name="owner", revoked=True)


def test_an_overlaid_field_wins_over_the_objects_own_attribute() -> None:
    out = _KeyOut.model_validate(overlay(_Row(id=7, name="owner"), key_id=1, name="renamed", revoked=False))

    assert (out.key_id, out.name) == (1, "renamed")


def test_a_field_neither_the_object_nor_the_overlay_has_is_reported_by_name() -> None:
    with pytest.raises(ValidationError) as failed:
        _KeyOut.model_validate(overlay(_Row(id=7, name="owner"), key_id=7))

    assert [e["loc"] for e in failed.value.errors()] == [("revoked",)]
