"""Engines and sessions. Sync SQLAlchemy 2: the same code serves FastAPI's threadpool, Celery and the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # A pooled SQLite connection is a file handle, so the pool covers every FastAPI
            # worker thread (40) twice over: a customer turn holds its session while the LLM
            # usage sink writes through a second one. 5 + 10 ran dry under 20 concurrent chats.
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 60)
        # Threads from FastAPI's pool share the engine; WAL lets readers run beside one writer.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own implicit transactions break SAVEPOINT; we take over BEGIN so every
        # transaction is explicit, and begin it lazily at its first statement (see below).
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "before_cursor_execute", _sqlite_lazy_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# An execution option a read sets when it is the start of a read-modify-write (`SELECT … FOR
# UPDATE` on Postgres, which SQLite's compiler drops): on SQLite it takes the write lock first, so
# what it reads is current and stays so until the commit.
WRITE_INTENT = "siyu_write_intent"
_TX = "siyu_sqlite_tx"  # per connection: None (not begun), "read" (deferred) or "write" (IMMEDIATE)
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "SAVEPOINT")


def _sqlite_begin(conn: Any) -> None:
    conn.info[_TX] = None


def _sqlite_lazy_begin(
    conn: Any, cursor: Any, statement: str, _params: Any, context: Any, _executemany: bool
) -> None:
    """A transaction that reads starts deferred, so a long read never blocks writers. Its first
    write (or savepoint) restarts it as BEGIN IMMEDIATE, which waits for the write lock.

    Without the restart, a deferred transaction that read and then writes fails at once with
    "database is locked" whenever another connection committed in between: busy_timeout cannot
    help, SQLite refuses to upgrade a stale snapshot. Under concurrent chats that lost customer
    messages (`siyu bench cs-load`). Restarting is safe because nothing was written yet; the
    reads before it behave as under Postgres' READ COMMITTED, and conditional UPDATEs (claims)
    stay atomic. A locking read (`WRITE_INTENT`, set by `for_update` reads) also restarts it, and
    then reads the current row: the reads before it may be stale, the locked one is not.
    """
    state = conn.info.get(_TX, "outside")
    if state == "outside" or state == "write" or not conn.in_transaction():
        return
    writes = statement.lstrip().upper().startswith(_WRITES) or bool(
        context is not None and context.execution_options.get(WRITE_INTENT)
    )
    if state is None:
        cursor.execute("BEGIN IMMEDIATE" if writes else "BEGIN")
        conn.info[_TX] = "write" if writes else "read"
    elif writes:
        cursor.execute("ROLLBACK")
        cursor.execute("BEGIN IMMEDIATE")
        conn.info[_TX] = "write"


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
