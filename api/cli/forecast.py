"""`siyu forecast backtest`: check the forecaster on any sales history CSV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agents.forecaster.backtest import METHODS, BacktestReport, run_backtest
from agents.forecaster.panel import densify
from agents.forecaster.sales_import import parse_sales_csv
from agents.forecaster.selection import SelectionConfig
from api.cli.common import console, handle_errors, offline_env

forecast_app = typer.Typer(help="销量预测与补货", no_args_is_help=True)

METHOD_LABELS = {"selection": "按 SKU 选模型", "seasonal_naive": "季节朴素", "auto_ets": "AutoETS 单模型"}


def register(app: typer.Typer) -> None:
    app.add_typer(forecast_app, name="forecast")


@forecast_app.command("backtest")
@handle_errors
def backtest(
    sales: Annotated[
        Path, typer.Option("--sales", exists=True, dir_okay=False, help="CSV: sku,date,qty[,on_hand]")
    ],
    horizon: Annotated[int, typer.Option("--horizon", min=1, max=366, help="留出最后多少天")] = 28,
    season: Annotated[int, typer.Option("--season", min=1, max=366, help="季节周期（天）")] = 7,
    windows: Annotated[int, typer.Option("--windows", min=1, max=10, help="选模型用的回测窗口数")] = 3,
    n_jobs: Annotated[int, typer.Option("--jobs", min=1, max=64, help="statsforecast 进程数")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """Hold out the last HORIZON days of every SKU; WAPE/MASE, time and memory for each method."""
    offline_env()
    rows = parse_sales_csv(sales.read_bytes(), sales.name)
    panel = densify(rows)
    config = SelectionConfig(horizon=horizon, season=season, n_windows=windows, n_jobs=n_jobs)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=as_json,
        disable=as_json,
    ) as bar:
        tasks = {m: bar.add_task(METHOD_LABELS[m], total=1.0) for m in METHODS}

        def report(stage: str, fraction: float) -> None:
            method, _, _step = stage.partition(":")
            if method in tasks:
                bar.update(tasks[method], completed=fraction)

        result = run_backtest(panel, config, progress=report)
    if as_json:
        console.print_json(json.dumps(result.as_dict(), ensure_ascii=False, default=str))
        return
    render(result)


def render(result: BacktestReport) -> None:
    title = (
        f"回测: {result.n_skus} 个 SKU × {result.n_days} 天，"
        f"留出最后 {result.horizon} 天（季节 {result.season}）"
    )
    table = Table("方法", "范围", "SKU 数", "WAPE", "MASE", "耗时 s", "峰值内存 MB", title=title)
    for name, r in result.results.items():
        label = METHOD_LABELS.get(name, name)
        table.add_row(
            label,
            "全部",
            str(r.overall.n_skus),
            f"{r.overall.wape:.3f}",
            f"{r.overall.mase:.3f}",
            f"{r.seconds:.1f}",
            f"{r.peak_mb:.0f}",
        )
        for cls, s in r.by_class.items():
            table.add_row("", cls, str(s.n_skus), f"{s.wape:.3f}", f"{s.mase:.3f}", "", "")
        table.add_section()
    console.print(table)
    chosen = ", ".join(f"{k} {v}" for k, v in sorted(result.models_chosen.items(), key=lambda kv: -kv[1]))
    console.print(f"选中的模型: {chosen}")
    sel, ets = result.results.get("selection"), result.results.get("auto_ets")
    if sel and ets and ets.seconds > 0:
        console.print(f"耗时比 选模型 / AutoETS: {sel.seconds / ets.seconds:.2f}×")
