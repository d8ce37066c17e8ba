"""Customer privacy (api/routers/customers.py)."""

from __future__ import annotations

from api.schemas.base import Schema, overlay
from store.repositories.conversations import ErasureCounts


class ErasurePublic(Schema):
    customer_ref: str
    messages: int
    conversations: int
    orders: int
    handoffs: int

    @classmethod
    def of(cls, customer_ref: str, counts: ErasureCounts) -> ErasurePublic:
        return cls.model_validate(overlay(counts, customer_ref=customer_ref))
