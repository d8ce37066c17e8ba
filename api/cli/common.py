"""What every CLI command shares: one console, settings loaded once, a runtime, errors printed cleanly."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from agents.runtime import Runtime
from store.errors import SiyuError
from store.settings import Settings, load_settings

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def offline_env() -> None:
    """No model hub is reachable here or at many merchants: never let a library try one."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@functools.cache
def settings() -> Settings:
    offline_env()
    return load_settings()


@functools.cache
def runtime() -> Runtime:
    return Runtime.from_settings(settings())


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print a `SiyuError` as one clear line and exit 1, instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except SiyuError as exc:
            err_console.print(f"[red]错误[/red] ({exc.code}): {exc.detail}")
            raise typer.Exit(1) from None

    return wrapper
