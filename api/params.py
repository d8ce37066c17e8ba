"""Numbers the routers take from paths, queries and bodies, bounded before any query runs.

An id beyond 64 bits used to reach SQLite as an `OverflowError` (a 500). Ids are bounded by
2^53 - 1, not the database's 2^63 - 1: it is the largest integer every JSON client reads
exactly (JavaScript's `Number.MAX_SAFE_INTEGER`), and the OpenAPI document, which FastAPI writes
with float bounds, states it exactly (2^63 - 1 would read as 2^63). Ids count up from 1 and
never come near it. An id out of range is a 422; one in range that names nothing, a 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

ID_MAX = 2**53 - 1

IdPath = Annotated[int, Path(ge=1, le=ID_MAX, description="A positive id.", examples=[1])]
Offset = Annotated[int, Query(ge=0, le=ID_MAX, description="How many items to skip.")]
IdField = Annotated[int, Field(ge=1, le=ID_MAX)]
