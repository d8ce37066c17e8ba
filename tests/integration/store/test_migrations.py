"""Migrations run from empty to head and back, on SQLite and (when configured) on Postgres."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from store import migrate
from store.models import Base
from tests.conftest import external_database_url

pytestmark = pytest.mark.integration


def _roundtrip(url: str) -> None:
    migrate.upgrade(url)
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    migrate.downgrade(url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_sqlite_from_empty_to_head_and_back(tmp_path: Path) -> None:
    _roundtrip(f"sqlite:///{tmp_path / 'm.db'}")


def test_models_and_migrations_agree(tmp_path: Path) -> None:
    """Autogenerate against a migrated database finds nothing to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    url = f"sqlite:///{tmp_path / 'diff.db'}"
    migrate.upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


@pytest.mark.postgres
@pytest.mark.skipif(
    not (external_database_url() or "").startswith("postgresql"), reason="needs SIYU_DATABASE_URL=postgresql"
)
def test_postgres_from_empty_to_head_and_back() -> None:
    url = external_database_url()
    assert url is not None
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS siyu_migration_test WITH (FORCE)"))
        conn.execute(text("CREATE DATABASE siyu_migration_test"))
    try:
        _roundtrip(url.rsplit("/", 1)[0] + "/siyu_migration_test")
    finally:
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS siyu_migration_test WITH (FORCE)"))
        admin.dispose()
