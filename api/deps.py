"""FastAPI dependencies: the runtime, a session per request, and the authenticated caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from agents.runtime import Runtime
from store.errors import Forbidden, Unauthenticated
from store.models import Role
from store.repositories.shops import ApiKeyRepository, Principal
from store.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <siyu API key>")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_settings(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Settings:
    return runtime.settings


def get_session(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Iterator[Session]:
    """One session per request. Services commit their own writes before they return;
    this only rolls back whatever an error left behind."""
    session = runtime.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthenticated()
    principal = ApiKeyRepository(session).authenticate(credentials.credentials.strip())
    # End the key lookup's read transaction so its pooled connection goes back now. Held for
    # the whole request, it doubled each request's need (the services open sessions of their
    # own): under load (`siyu bench cs-load`) requests waited on each other's connections
    # until the pool timed out and answered 500.
    session.commit()
    if principal is None:
        raise Unauthenticated()
    return principal


@dataclass(frozen=True)
class Caller:
    """An authenticated caller bound to one shop. Every query it makes is scoped to `shop_id`."""

    shop_id: int
    role: Role
    key_id: int


def require_roles(*roles: Role) -> Callable[[Principal], Caller]:
    """Allow these roles; `owner` is always allowed, since it may do everything in its shop."""
    allowed = {*roles, Role.owner}

    def dependency(principal: Annotated[Principal, Depends(get_principal)]) -> Caller:
        if principal.role not in allowed or principal.shop_id is None:
            raise Forbidden(
                f"角色 {principal.role.value!r} 无权执行此操作，需要: "
                + ", ".join(sorted(r.value for r in allowed))
            )
        return Caller(shop_id=principal.shop_id, role=principal.role, key_id=principal.key_id)

    return dependency


def require_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if principal.role is not Role.admin:
        raise Forbidden("需要 admin 角色的 API Key")
    return principal


OwnerDep = Annotated[Caller, Depends(require_roles(Role.owner))]
AgentDep = Annotated[Caller, Depends(require_roles(Role.agent))]
ServiceDep = Annotated[Caller, Depends(require_roles(Role.service))]
StaffOrChannelDep = Annotated[Caller, Depends(require_roles(Role.agent, Role.service))]
AdminDep = Annotated[Principal, Depends(require_admin)]
