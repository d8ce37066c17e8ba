"""API models: one home (`api/schemas/`), each read from domain objects by attribute name."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from types import ModuleType

import pytest
from pydantic import BaseModel, ValidationError

import api.routers
import api.schemas
from api.schemas.base import Schema, overlay
from api.schemas.jobs import JobPublic


@dataclass(frozen=True)
class _Row:
    id: int
    name: str
    revoked_at: str | None = None


class _KeyOut(Schema):
    key_id: int
    name: str
    revoked: bool


def _modules(package: ModuleType) -> list[ModuleType]:
    return [
        importlib.import_module(f"{package.__name__}.{m.name}")
        for m in pkgutil.iter_modules(package.__path__)
    ]


def _models_declared_in(module: ModuleType) -> list[type[BaseModel]]:
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseModel) and cls.__module__ == module.__name__
    ]


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


def test_routers_declare_no_models() -> None:
    declared = {m.__name__: _models_declared_in(m) for m in _modules(api.routers)}

    assert {name: models for name, models in declared.items() if models} == {}


def test_every_api_model_is_a_schema() -> None:
    models = [cls for m in _modules(api.schemas) for cls in _models_declared_in(m)]

    assert JobPublic in models  # the walk reached the modules
    assert [cls.__name__ for cls in models if not issubclass(cls, Schema)] == []
