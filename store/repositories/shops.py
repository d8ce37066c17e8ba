from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.errors import AlreadyExists, NotFound
from store.models import ApiKey, Role, Shop

KEY_PREFIX = "sk_siyu_"


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    """A freshly created key. `raw` exists only here: it is shown once and never stored."""

    key_id: int
    shop_id: int | None
    role: Role
    raw: str


@dataclass(frozen=True)
class Principal:
    key_id: int
    shop_id: int | None
    role: Role


class ShopRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, name: str, settings: dict[str, object] | None = None) -> Shop:
        if self.get_by_name(name) is not None:
            raise AlreadyExists(f"店铺 {name!r} 已存在")
        shop = Shop(name=name, settings=dict(settings or {}))
        self.session.add(shop)
        self.session.flush()
        return shop

    def get(self, shop_id: int) -> Shop:
        shop = self.session.get(Shop, shop_id)
        if shop is None:
            raise NotFound(f"店铺 {shop_id!r} 不存在")
        return shop

    def get_by_name(self, name: str) -> Shop | None:
        return self.session.scalar(select(Shop).where(Shop.name == name))

    def require_by_name(self, name: str) -> Shop:
        shop = self.get_by_name(name)
        if shop is None:
            raise NotFound(f"店铺 {name!r} 不存在，请先运行 `siyu shop create {name}`")
        return shop

    def list(self) -> list[Shop]:
        return list(self.session.scalars(select(Shop).order_by(Shop.id)))

    def update_settings(self, shop_id: int, settings: dict[str, object]) -> Shop:
        shop = self.get(shop_id)
        shop.settings = {**shop.settings, **settings}
        self.session.flush()
        return shop


class ApiKeyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def issue(self, shop_id: int | None, role: Role, name: str = "") -> IssuedKey:
        if role is Role.admin and shop_id is not None:
            raise ValueError("admin keys are not bound to a shop")
        if role is not Role.admin and shop_id is None:
            raise ValueError(f"a {role.value!r} key needs a shop")
        raw = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(shop_id=shop_id, role=role, key_hash=hash_key(raw), prefix=raw[:12], name=name)
        self.session.add(key)
        self.session.flush()
        return IssuedKey(key_id=key.id, shop_id=shop_id, role=role, raw=raw)

    def authenticate(self, raw_key: str) -> Principal | None:
        key = self.session.scalar(
            select(ApiKey).where(ApiKey.key_hash == hash_key(raw_key), ApiKey.revoked_at.is_(None))
        )
        if key is None:
            return None
        return Principal(key_id=key.id, shop_id=key.shop_id, role=key.role)

    def revoke(self, shop_id: int, key_id: int) -> None:
        result = self.session.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.shop_id == shop_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]  # CursorResult on DML
            raise NotFound(f"API Key {key_id!r} 不存在")

    def list_for_shop(self, shop_id: int) -> list[ApiKey]:
        return list(self.session.scalars(select(ApiKey).where(ApiKey.shop_id == shop_id).order_by(ApiKey.id)))
