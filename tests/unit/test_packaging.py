"""The wheel carries every data file, and the lock files say what pyproject says.

`make wheel-smoke` proves the same on a built wheel in about two minutes; these checks run on the
source tree in milliseconds, so a new kind of data file or an undeclared pin fails early.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGES = ("api", "agents", "retrieval", "prompts", "evals", "store")
DEV_ONLY = {"pytest", "pytest-xdist", "pytest-timeout", "mypy", "ruff", "deptry", "import-linter"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _data_files() -> list[Path]:
    return sorted(
        path.relative_to(ROOT)
        for package in PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts
    )


def _pins(lock: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / lock).read_text(encoding="utf-8").splitlines():
        name, sep, version = line.partition("==")
        if sep:
            pins[_normalise(name)] = version
    return pins


def test_every_data_file_matches_a_package_data_glob() -> None:
    globs = PYPROJECT["tool"]["setuptools"]["package-data"]["*"]
    files = _data_files()
    assert len(files) > 50  # the template library alone has 37
    unmatched = [p.as_posix() for p in files if not any(fnmatch.fnmatch(p.name, g) for g in globs)]
    assert not unmatched, f"add their suffix to [tool.setuptools.package-data] in pyproject.toml: {unmatched}"


def test_the_packages_found_are_the_ones_holding_code_and_data() -> None:
    include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert sorted(include) == sorted(f"{p}*" for p in PACKAGES)
    assert "tests*" not in include


def test_production_code_reads_package_data_through_importlib_resources() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{no}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "Path(__file__)" in line
    ]
    assert not offenders, f"use importlib.resources.files(<package>) / ... instead: {offenders}"


def test_the_runtime_lock_pins_every_runtime_dependency_and_no_dev_tool() -> None:
    runtime = _pins("requirements.lock")
    declared = {_normalise(Requirement(d).name) for d in PYPROJECT["project"]["dependencies"]}
    # torch is installed in its own step before the lock (a plain `torch` pulls a CUDA build).
    assert "torch" in declared and "torch" not in runtime
    assert sorted(declared - {"torch"} - set(runtime)) == []
    assert sorted(DEV_ONLY & set(runtime)) == []
    assert [n for n in runtime if n.startswith("types-")] == []


def test_the_dev_lock_is_the_runtime_lock_plus_the_dev_extra() -> None:
    text = (ROOT / "requirements-dev.lock").read_text(encoding="utf-8")
    assert "-r requirements.lock" in text.splitlines()
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert sorted(set(runtime) & set(dev)) == []
    extra = {_normalise(Requirement(d).name) for d in PYPROJECT["project"]["optional-dependencies"]["dev"]}
    assert sorted(extra - set(runtime) - set(dev)) == []
    assert sorted(DEV_ONLY - set(dev)) == []
