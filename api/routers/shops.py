"""Shops and keys over HTTP. Creating shops is the admin's; each shop's owner manages its keys."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import AdminDep, OwnerDep, SessionDep
from api.errors import error_responses
from api.params import IdPath
from api.schemas.shops import KeyCreate, KeyIssued, KeyPublic, ShopCreate, ShopCreated, ShopPublic
from store.errors import AlreadyExists, Forbidden, NotFound, Unauthenticated
from store.models import Role
from store.repositories.shops import ApiKeyRepository, ShopRepository

router = APIRouter(prefix="/v1", tags=["shops"])
AUTH_ERRORS = (Unauthenticated, Forbidden)


@router.post(
    "/shops",
    status_code=status.HTTP_201_CREATED,
    response_model=ShopCreated,
    responses=error_responses(*AUTH_ERRORS, AlreadyExists),
)
def create_shop(body: ShopCreate, _admin: AdminDep, session: SessionDep) -> ShopCreated:
    shop = ShopRepository(session).create(body.name)
    issued = ApiKeyRepository(session).issue(shop.id, Role.owner, name="owner")
    session.commit()
    return ShopCreated.of_new(shop, issued)


@router.get("/shop", response_model=ShopPublic, responses=error_responses(*AUTH_ERRORS))
def current_shop(caller: OwnerDep, session: SessionDep) -> ShopPublic:
    shop = ShopRepository(session).get(caller.shop_id)
    return ShopPublic.of(shop)


@router.get("/keys", response_model=list[KeyPublic], responses=error_responses(*AUTH_ERRORS))
def list_keys(caller: OwnerDep, session: SessionDep) -> list[KeyPublic]:
    return [KeyPublic.of(k) for k in ApiKeyRepository(session).list_for_shop(caller.shop_id)]


@router.post(
    "/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyIssued,
    responses=error_responses(*AUTH_ERRORS),
)
def create_key(body: KeyCreate, caller: OwnerDep, session: SessionDep) -> KeyIssued:
    if body.role is Role.admin:
        raise Forbidden("店铺的 owner 不能创建 admin Key")
    issued = ApiKeyRepository(session).issue(caller.shop_id, body.role, name=body.name)
    session.commit()
    return KeyIssued.of(issued)


@router.delete(
    "/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*AUTH_ERRORS, NotFound),
)
def revoke_key(key_id: IdPath, caller: OwnerDep, session: SessionDep) -> None:
    ApiKeyRepository(session).revoke(caller.shop_id, key_id)
    session.commit()
