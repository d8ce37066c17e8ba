"""Shared fixtures.

- Real model calls are blocked: any socket to a non-loopback address fails the test.
- Database isolation: on SQLite every test gets its own copy of a migrated template file;
  on Postgres (`SIYU_DATABASE_URL`) every test runs inside a transaction that is rolled back.
- `runtime` is the same container the API, Celery and the CLI use, built on that database.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from agents.runtime import Runtime
from api.app import create_app
from store import migrate
from store.db import make_engine
from store.models import Role
from store.repositories.shops import ApiKeyRepository, ShopRepository
from store.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise RuntimeError(f"tests may not reach the network (tried {address!r})")
    _real_connect(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]  # the network guard


def external_database_url() -> str | None:
    return os.environ.get("SIYU_DATABASE_URL") or None


def is_postgres() -> bool:
    url = external_database_url()
    return url is not None and url.startswith("postgresql")


@pytest.fixture(scope="session")
def template_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated once per test session."""
    url = external_database_url()
    if url is None:
        url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'siyu.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def _shared_engine(template_url: str) -> Iterator[Engine | None]:
    if external_database_url() is None:
        yield None
        return
    engine = make_engine(template_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_engine(template_url: str, _shared_engine: Engine | None, tmp_path: Path) -> Iterator[Engine]:
    if _shared_engine is not None:
        yield _shared_engine
        return
    path = tmp_path / "siyu.db"
    shutil.copyfile(template_url.removeprefix("sqlite:///"), path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(db_engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions whose commits are real on a per-test SQLite file, and rolled back on Postgres."""
    if db_engine.dialect.name == "sqlite":
        yield sessionmaker(bind=db_engine, expire_on_commit=False)
        return
    connection = db_engine.connect()
    outer = connection.begin()
    yield sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
    outer.rollback()
    connection.close()


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    s = session_factory()
    yield s
    s.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path / "var", env="test")


@pytest.fixture
def runtime(settings: Settings, db_engine: Engine, session_factory: sessionmaker[Session]) -> Runtime:
    return Runtime(settings=settings, engine=db_engine, sessions=session_factory)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime)) as c:
        yield c


class ShopKeys:
    """A shop with one raw key per role, for API tests."""

    def __init__(self, shop_id: int, name: str, keys: dict[Role, str]) -> None:
        self.shop_id, self.name, self.keys = shop_id, name, keys

    def headers(self, role: Role = Role.owner) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def make_shop(session_factory: sessionmaker[Session], name: str) -> ShopKeys:
    with session_factory() as s:
        shop = ShopRepository(s).create(name)
        keys = {r: ApiKeyRepository(s).issue(shop.id, r).raw for r in (Role.owner, Role.agent, Role.service)}
        s.commit()
        return ShopKeys(shop.id, name, keys)


@pytest.fixture
def shop_a(session_factory: sessionmaker[Session]) -> ShopKeys:
    return make_shop(session_factory, "小鹿母婴")


@pytest.fixture
def shop_b(session_factory: sessionmaker[Session]) -> ShopKeys:
    return make_shop(session_factory, "山野生鲜")


@pytest.fixture
def admin_key(session_factory: sessionmaker[Session]) -> str:
    with session_factory() as s:
        raw = ApiKeyRepository(s).issue(None, Role.admin).raw
        s.commit()
        return raw
