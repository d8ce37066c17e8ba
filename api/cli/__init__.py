"""The `siyu` command. Each domain registers its own sub-app from a module in this package."""

from __future__ import annotations

import typer

from api.cli import admin, evals, rec
from api.cli import copy as copy_cli
from api.cli import cs as cs_cli
from api.cli import demo as demo_cli
from api.cli import forecast as forecast_cli
from api.cli import kb as kb_cli
from api.cli import run as run_cli
from api.cli import worker as worker_cli
from api.cli.common import console

app = typer.Typer(
    name="siyu",
    help="私域 AI 运营服务 siyu: 客服、朋友圈文案、推荐与补货预测。",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
admin.register(app)
evals.register(app)
copy_cli.register(app)
rec.register(app)
worker_cli.register(app)
demo_cli.register(app)
run_cli.register(app)
kb_cli.register(app)
cs_cli.register(app)
forecast_cli.register(app)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        console.print("[yellow]已中断[/yellow]")
        raise SystemExit(130) from None


__all__ = ["app", "main"]
