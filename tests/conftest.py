"""Shared fixtures.

- Real model calls are blocked: any socket to a non-loopback address fails the test.
- Database isolation: on SQLite every test gets its own copy of a migrated template file;
  on Postgres (`SIYU_DATABASE_URL`) every test starts and ends with every table emptied (one
  database per xdist worker). Commits are real on both, and every session has its own
  connection, as in production: a Celery worker thread, a streaming response or two racing
  claims see exactly what they would see live.
- `runtime` is the same container the API, Celery and the CLI use, built on that database.
- `demo_kb` is the demo shop's knowledge base, copied from a template embedded once per machine
  (tests/demo_kb.py), with the session's intent classifier.
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
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from agents.customer_service.intent import IntentClassifier
from agents.runtime import Runtime
from api.app import create_app
from evals.doubles.llm import ScriptedChatModel
from retrieval.embedding import Embedder
from store import migrate
from store.db import make_engine
from store.models import Base, Role
from store.repositories.shops import ApiKeyRepository, ShopRepository
from store.settings import Settings
from tests import TEST_CACHE_DIR
from tests.demo_kb import DemoKB, demo_kb_in
from tests.memo_embedder import MemoEmbedder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# pytest-xdist runs one worker per core on the same cores: each takes its share of threads for
# the embedder's bulk passes (`retrieval.embedders.torch_threads`), and so do the processes tests
# start. On a busy 2-core box, 2 threads took 1.7x the CPU of 1 for the same 205 passages, and
# longer (torch's threads spin while they wait for a core).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, len(os.sched_getaffinity(0)) // _WORKERS)))

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
def template_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated once per test session (on Postgres under xdist: one per worker)."""
    url = external_database_url()
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if url is None:
        url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'siyu.db'}"
    elif worker:
        _worker_database(url, worker, create=True)
        url = _worker_url(url, worker)
    migrate.upgrade(url)
    yield url
    configured = external_database_url()
    if configured is not None and worker:
        _worker_database(configured, worker, create=False)


def _worker_url(url: str, worker: str) -> str:
    base, _, name = url.partition("?")[0].rpartition("/")
    return f"{base}/{name}_{worker}"


def _worker_database(url: str, worker: str, *, create: bool) -> None:
    """Drop `<db>_<worker>` next to the configured Postgres database, then create it empty."""
    name = _worker_url(url, worker).rpartition("/")[2]
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def _empty_all_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        # A test that left a transaction open must fail loudly here, not hang the run.
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


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
        _empty_all_tables(_shared_engine)
        yield _shared_engine
        _empty_all_tables(_shared_engine)
        return
    path = tmp_path / "siyu.db"
    shutil.copyfile(template_url.removeprefix("sqlite:///"), path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(db_engine: Engine) -> sessionmaker[Session]:
    """Sessions with real commits, each on its own pooled connection (see the module docstring)."""
    return sessionmaker(bind=db_engine, expire_on_commit=False)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    s = session_factory()
    yield s
    s.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The tests' webhook receivers listen on 127.0.0.1: allowed by name, as an operator would
    # allow an internal receiver; the outbound check itself stays on (agents/outbound.py).
    return Settings(var_dir=tmp_path / "var", env="test", outbound_allow=["127.0.0.1"])


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


@pytest.fixture
def scripted_llm() -> Iterator[ScriptedChatModel]:
    """A strict scripted chat model: `scripted_llm.add("回复", {...}, LLMTimeout())`.

    Wrap it with `evals.doubles.llm.scripted_gateway(scripted_llm)` (or install that in the
    runtime with `runtime.put("llm", ...)`). Unused replies fail the test at teardown.
    """
    model = ScriptedChatModel()
    yield model
    model.assert_exhausted()


@pytest.fixture(scope="session")
def real_embedder() -> Embedder:
    """The real multilingual-e5-small, for integration tests (mark them integration + slow).

    Converted once per machine into `<repo>/var/test-cache` (not per test run), loaded once per
    test session.
    """
    from retrieval.embedders import build_embedder

    return build_embedder(Settings(env="test", embedder="e5-small", cache_dir=TEST_CACHE_DIR))


@pytest.fixture(scope="session")
def memo_embedder(real_embedder: Embedder) -> Embedder:
    """The real embedder remembering its passages for the session, for tests where embedding
    is a step and not the subject (tests/memo_embedder.py)."""
    return MemoEmbedder(real_embedder)


@pytest.fixture(scope="session")
def real_intents(real_embedder: Embedder) -> IntentClassifier:
    """The customer-service intent classifier on the real embedder, its examples embedded once
    per session (272 of them: seconds of CPU per runtime otherwise)."""
    return IntentClassifier(embedder=real_embedder)


@pytest.fixture(scope="module")
def demo_kb(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder, real_intents: IntentClassifier
) -> Iterator[DemoKB]:
    """The demo shop's knowledge base, one per module: `demo_kb.install(runtime, shop_id)`
    (tests/demo_kb.py: copied from a template, not re-embedded)."""
    yield from demo_kb_in(tmp_path_factory.mktemp("demo-kb"), real_embedder, real_intents)
