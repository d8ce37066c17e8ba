"""The per-process dependency container every entry point shares.

The API lifespan, the Celery `worker_process_init`, the CLI and the eval runner each build
one `Runtime` and hand it to the agent services, so no agent reads globals or knows which
edge called it. Heavy clients (embedder, vector store, LLM gateway) are created on first use
and then kept for the life of the process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from store.db import make_engine, make_session_factory
from store.settings import Settings

T = TypeVar("T")


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    _cache: dict[str, object] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        engine = make_engine(settings.resolved_database_url)
        return cls(settings=settings, engine=engine, sessions=make_session_factory(engine))

    def once(self, name: str, build: Callable[[], T]) -> T:
        """Build a long-lived client at most once per process, safely across threads."""
        with self._lock:
            if name not in self._cache:
                self._cache[name] = build()
            return self._cache[name]  # type: ignore[return-value]  # keyed by name, built by `build`

    def put(self, name: str, value: object) -> None:
        """Install a prepared client (tests inject fakes here instead of monkey-patching)."""
        with self._lock:
            self._cache[name] = value

    def close(self) -> None:
        self.engine.dispose()
