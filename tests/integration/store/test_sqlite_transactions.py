"""SQLite transactions begin lazily: deferred while they read, restarted as IMMEDIATE at their
first write, so a transaction that read a stale snapshot can still write (see store/db.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from store.db import make_engine

pytestmark = [pytest.mark.integration]


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'tx.db'}")
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY, who TEXT)")
    return engine


def _who(engine: Engine) -> list[str]:
    with engine.connect() as c:
        return sorted(c.exec_driver_sql("SELECT who FROM notes").scalars())


def test_a_transaction_that_read_writes_after_another_connection_committed(engine: Engine) -> None:
    with engine.connect() as a, engine.connect() as b:
        assert a.exec_driver_sql("SELECT count(*) FROM notes").scalar() == 0  # a's snapshot
        b.exec_driver_sql("INSERT INTO notes (who) VALUES ('b')")
        b.commit()
        # With a plain deferred BEGIN this raised "database is locked" at once.
        a.exec_driver_sql("INSERT INTO notes (who) VALUES ('a')")
        a.commit()
    assert _who(engine) == ["a", "b"]


def test_a_savepoint_after_a_read_also_restarts(engine: Engine) -> None:
    with Session(engine) as a, engine.connect() as b:
        assert a.execute(text("SELECT count(*) FROM notes")).scalar() == 0
        b.exec_driver_sql("INSERT INTO notes (who) VALUES ('b')")
        b.commit()
        with a.begin_nested():
            a.execute(text("INSERT INTO notes (who) VALUES ('a')"))
        a.commit()
    assert _who(engine) == ["a", "b"]


def test_a_rolled_back_write_leaves_nothing_and_reads_stay_deferred(engine: Engine) -> None:
    with engine.connect() as a, engine.connect() as b:
        a.exec_driver_sql("INSERT INTO notes (who) VALUES ('a')")
        a.rollback()
        # An open read does not hold the write lock: b writes without waiting on it.
        a.exec_driver_sql("SELECT count(*) FROM notes").scalar()
        b.exec_driver_sql("INSERT INTO notes (who) VALUES ('b')")
        b.commit()
        a.rollback()
    assert _who(engine) == ["b"]
