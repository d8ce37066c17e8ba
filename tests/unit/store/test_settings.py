from __future__ import annotations

from pathlib import Path

import pytest

from store.errors import ConfigError
from store.settings import Settings, load_settings


def test_embedded_defaults_live_under_var_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The Postgres + Redis CI pass sets these; the defaults are what applies without them.
    for name in ("SIYU_DATABASE_URL", "SIYU_CELERY_BROKER_URL", "SIYU_CELERY_RESULT_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    s = Settings(var_dir=tmp_path)
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'siyu.db'}"
    assert s.resolved_chroma_path == tmp_path / "chroma"
    assert s.resolved_broker_url == f"sqla+sqlite:///{tmp_path / 'celery-broker.db'}"
    assert s.resolved_result_backend == f"db+sqlite:///{tmp_path / 'celery-results.db'}"
    assert s.engine_name == "offline"


def test_environment_points_at_postgres_redis_and_chroma_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIYU_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/siyu")
    monkeypatch.setenv("SIYU_CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("SIYU_CHROMA_URL", "http://127.0.0.1:8001")
    monkeypatch.setenv("SIYU_LLM_BASE_URL", "http://127.0.0.1:8080/v1")
    s = load_settings()
    assert s.resolved_database_url == "postgresql+psycopg://u@127.0.0.1/siyu"
    assert s.resolved_broker_url == "redis://127.0.0.1:6379/0"
    assert str(s.chroma_url) == "http://127.0.0.1:8001/"
    assert s.engine_name == "llm"


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("SIYU_LLM_TIMEOUT_S", "-3"),
        ("SIYU_API_PORT", "99999"),
        ("SIYU_DATABASE_URL", "siyu.db"),
        ("SIYU_CHROMA_URL", "not a url"),
    ],
)
def test_a_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert var in info.value.detail
    assert repr(value) in info.value.detail
