"""The OpenAPI document, read as a client would: what it promises about requests and responses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from api.app import create_app
from api.params import ID_MAX

DOC: dict[str, Any] = create_app().openapi()
OPERATIONS = [
    (method.upper(), path, operation)
    for path, item in DOC["paths"].items()
    for method, operation in item.items()
]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    node: Any = DOC
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return _resolve(node)


def _integers(
    schema: dict[str, Any], where: str, seen: frozenset[str] = frozenset()
) -> Iterator[tuple[str, Any]]:
    """Every integer schema reachable from `schema`, with where it sits."""
    ref = schema.get("$ref")
    if ref is not None:
        if ref in seen:
            return
        yield from _integers(_resolve(schema), where, seen | {ref})
        return
    if schema.get("type") == "integer":
        yield where, schema
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            yield from _integers(sub, where, seen)
    for name, sub in schema.get("properties", {}).items():
        yield from _integers(sub, f"{where}.{name}", seen)
    if isinstance(schema.get("items"), dict):
        yield from _integers(schema["items"], f"{where}[]", seen)


def _request_integers() -> Iterator[tuple[str, Any]]:
    for method, path, operation in OPERATIONS:
        for param in operation.get("parameters", []):
            yield from _integers(param["schema"], f"{method} {path} {param['in']}.{param['name']}")
        for media in operation.get("requestBody", {}).get("content", {}).values():
            yield from _integers(media.get("schema", {}), f"{method} {path} body")


def test_the_walk_finds_integers() -> None:
    where = {w for w, _ in _request_integers()}
    assert "DELETE /v1/keys/{key_id} path.key_id" in where
    assert "POST /v1/kb/search body.filters.doc_ids[]" in where


@pytest.mark.parametrize(("where", "schema"), list(_request_integers()), ids=lambda v: str(v)[:80])
def test_every_integer_a_request_carries_is_bounded(where: str, schema: dict[str, Any]) -> None:
    """No number the database cannot hold gets past validation: a 422 instead of an overflow."""
    assert "minimum" in schema or "exclusiveMinimum" in schema, where
    assert schema.get("maximum", ID_MAX + 1) <= ID_MAX, where
