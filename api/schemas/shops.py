"""Shops and their API keys (api/routers/shops.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.schemas.base import Schema, overlay
from store.models import ApiKey, Role, Shop
from store.repositories.shops import IssuedKey


class ShopCreate(Schema):
    name: str = Field(min_length=1, max_length=100, examples=["小鹿母婴"])


class ShopPublic(Schema):
    shop_id: int
    name: str
    created_at: datetime

    @classmethod
    def of(cls, shop: Shop) -> ShopPublic:
        return cls.model_validate(overlay(shop, shop_id=shop.id))


class KeyCreate(Schema):
    role: Role = Field(description="owner | agent | service")
    name: str = Field("", max_length=100)


class KeyIssued(Schema):
    key_id: int
    role: Role
    api_key: str = Field(description="Shown once; only its hash is stored.")

    @classmethod
    def of(cls, issued: IssuedKey) -> KeyIssued:
        return cls.model_validate(overlay(issued, api_key=issued.raw))


class ShopCreated(ShopPublic):
    owner_key: KeyIssued

    @classmethod
    def of_new(cls, shop: Shop, owner_key: IssuedKey) -> ShopCreated:
        return cls.model_validate(overlay(shop, shop_id=shop.id, owner_key=KeyIssued.of(owner_key)))


class KeyPublic(Schema):
    key_id: int
    role: Role
    prefix: str
    name: str
    created_at: datetime
    revoked: bool

    @classmethod
    def of(cls, key: ApiKey) -> KeyPublic:
        return cls.model_validate(overlay(key, key_id=key.id, revoked=key.revoked_at is not None))
