"""The offline engine's template library: `prompts/copywriter/library/**/*.toml`.

    lib = default_library()
    lib.hooks["种草"]["亲切"]       # opening lines with {name} and {call}
    lib.benefit_lines("材质")       # lines with {key} and {value}, or () for an unknown attribute
    lib.ctas["促销"]["专业"], lib.emoji["宝妈"]["活泼"], lib.hashtags["宝妈"]["种草"]

Loaded once per process. A malformed file is a `TemplateLibraryError` naming the file. The
library version is a short digest of every file, recorded in each draft's provenance.
"""

from __future__ import annotations

import functools
import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Literal, get_args

from agents.copywriter.errors import TemplateLibraryError

Goal = Literal["新品", "促销", "种草", "干货", "节日", "会员日", "唤醒"]
Audience = Literal["宝妈", "Z世代", "白领", "银发", "学生", "通用"]
Tone = Literal["亲切", "专业", "活泼", "高级"]

GOALS: tuple[Goal, ...] = get_args(Goal)
AUDIENCES: tuple[Audience, ...] = get_args(Audience)
TONES: tuple[Tone, ...] = get_args(Tone)

# Package data, read through importlib.resources so an installed wheel finds it as a checkout does.
LIBRARY_DIR = files("prompts") / "copywriter" / "library"


@dataclass(frozen=True)
class BenefitGroup:
    name: str
    attributes: tuple[str, ...]
    lines: tuple[str, ...]


@dataclass(frozen=True)
class TemplateLibrary:
    version: str
    hooks: Mapping[str, Mapping[str, tuple[str, ...]]]  # goal → tone → lines
    ctas: Mapping[str, Mapping[str, tuple[str, ...]]]  # goal → tone → lines
    emoji: Mapping[str, Mapping[str, tuple[str, ...]]]  # audience → tone → emoji
    hashtags: Mapping[str, Mapping[str, tuple[str, ...]]]  # audience → goal|"common" → tags
    prices: Mapping[str, tuple[str, ...]]  # goal → lines with {price}
    calls: Mapping[str, tuple[str, ...]]  # audience → how we address them
    benefits: tuple[BenefitGroup, ...]
    files: int

    def benefit_group(self, attribute: str) -> BenefitGroup | None:
        for group in self.benefits:
            if attribute in group.attributes:
                return group
        return None

    def all_lines(self) -> list[tuple[str, str]]:
        """(where, text) of every authored line, for the library's own compliance test."""
        out: list[tuple[str, str]] = []
        for kind, table in (("hooks", self.hooks), ("ctas", self.ctas)):
            for goal, by_tone in table.items():
                out += [(f"{kind}/{goal}/{tone}", line) for tone, lines in by_tone.items() for line in lines]
        for audience, by_goal in self.hashtags.items():
            out += [(f"hashtags/{audience}/{g}", "#" + t) for g, tags in by_goal.items() for t in tags]
        out += [(f"prices/{g}", line) for g, lines in self.prices.items() for line in lines]
        out += [(f"calls/{a}", line) for a, lines in self.calls.items() for line in lines]
        out += [(f"benefits/{g.name}", line) for g in self.benefits for line in g.lines]
        return out


def _read(path: Traversable) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TemplateLibraryError(f"模板文件 {path.name} 无法读取: {exc}") from exc


def _lines(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise TemplateLibraryError(f"模板文件 {where}: 需要非空字符串列表")
    return tuple(value)


def _per_key(data: Mapping[str, Any], keys: tuple[str, ...], where: str) -> dict[str, tuple[str, ...]]:
    missing = [k for k in keys if k not in data]
    if missing:
        raise TemplateLibraryError(f"模板文件 {where}: 缺少 {', '.join(missing)}")
    return {k: _lines(data[k], f"{where}:{k}") for k in keys}


def _toml_files(folder: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    """(relative posix path, file) of every `*.toml` under `folder`, sorted by path."""
    found: list[tuple[str, Traversable]] = []
    for entry in folder.iterdir():
        if entry.is_dir():
            found += _toml_files(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".toml"):
            found.append((prefix + entry.name, entry))
    return sorted(found, key=lambda item: item[0])


def load_library(root: Traversable = LIBRARY_DIR) -> TemplateLibrary:
    if not root.is_dir():
        raise TemplateLibraryError(f"找不到模板库目录 {root}")
    digest = hashlib.sha256()
    toml_files = _toml_files(root)
    for relative, path in toml_files:
        digest.update(relative.encode())
        digest.update(path.read_bytes())

    def folder(
        name: str, keys: tuple[str, ...], inner: tuple[str, ...]
    ) -> dict[str, dict[str, tuple[str, ...]]]:
        out = {}
        for key in keys:
            path = root / name / f"{key}.toml"
            if not path.is_file():
                raise TemplateLibraryError(f"缺少模板文件 {name}/{key}.toml")
            out[key] = _per_key(_read(path), inner, f"{name}/{key}.toml")
        return out

    benefits = []
    for relative, path in toml_files:
        if not relative.startswith("benefits/") or relative.count("/") != 1:
            continue
        data = _read(path)
        benefits.append(
            BenefitGroup(
                path.name.removesuffix(".toml"),
                _lines(data.get("attributes"), relative),
                _lines(data.get("lines"), relative),
            )
        )
    if not benefits:
        raise TemplateLibraryError("缺少 benefits/*.toml 模板")
    return TemplateLibrary(
        version="tpl-" + digest.hexdigest()[:10],
        hooks=folder("hooks", GOALS, TONES),
        ctas=folder("ctas", GOALS, TONES),
        emoji=folder("emoji", AUDIENCES, TONES),
        hashtags=folder("hashtags", AUDIENCES, ("common", *GOALS)),
        prices=_per_key(_read(root / "prices.toml"), GOALS, "prices.toml"),
        calls=_per_key(_read(root / "calls.toml"), AUDIENCES, "calls.toml"),
        benefits=tuple(benefits),
        files=len(toml_files),
    )


@functools.cache
def default_library() -> TemplateLibrary:
    return load_library()
