"""`Schema`, the base of every API model, and `overlay`, for the fields the wire spells differently.

A response model reads a domain object (a store row, an agent's dataclass or pydantic model) by
attribute name: `XPublic.model_validate(obj)`. When the wire renames a field, computes or rounds
it, or takes it from elsewhere, the model has one classmethod, `of`, that says only that:
`cls.model_validate(overlay(obj, key_id=obj.id))`. Routers never copy fields one by one.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _Overlay:
    __slots__ = ("_fields", "_obj")

    def __init__(self, obj: object, fields: dict[str, Any]) -> None:
        self._obj = obj
        self._fields = fields

    def __getattr__(self, name: str) -> Any:
        # Called only for names that are not the two slots: every field pydantic reads.
        return self._fields[name] if name in self._fields else getattr(self._obj, name)

    def __repr__(self) -> str:
        return f"overlay({self._obj!r}, {self._fields!r})"


def overlay(obj: object, **fields: Any) -> object:
    """`obj` as `Schema.model_validate` reads it, with `fields` taken from here instead."""
    return _Overlay(obj, fields)
