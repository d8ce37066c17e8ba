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
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from store.db import make_engine, make_session_factory
from store.settings import Settings

if TYPE_CHECKING:
    from agents.llm import LLMGateway
    from retrieval.embedding import Embedder
    from retrieval.index import KnowledgeBase

T = TypeVar("T")


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    _cache: dict[str, object] = field(default_factory=dict, repr=False)
    # Re-entrant: a client's build may ask for another client (the KB builds the embedder).
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

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

    def embedder(self) -> Embedder:
        from retrieval.embedders import build_embedder

        return self.once("embedder", lambda: build_embedder(self.settings))

    def knowledge_base(self) -> KnowledgeBase:
        """Chroma (persistent or SIYU_CHROMA_URL) + the embedder + the per-shop lexical cache."""
        from retrieval.index import KnowledgeBase
        from retrieval.vectorstore import VectorStore

        return self.once(
            "kb", lambda: KnowledgeBase(VectorStore.from_settings(self.settings), self.embedder())
        )

    def llm(self) -> LLMGateway | None:
        """The chat-model gateway, or None when no SIYU_LLM_BASE_URL is set (offline engine)."""
        from agents.llm import SessionCallSink, build_gateway

        return self.once("llm", lambda: build_gateway(self.settings, sink=SessionCallSink(self.sessions)))

    def close(self) -> None:
        self.engine.dispose()
