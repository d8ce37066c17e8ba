"""`siyu eval SUITE|all` and `siyu bench NAME|all`."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from api.cli.common import console, handle_errors, runtime
from evals import bench as bench_harness
from evals import harness


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
    app.command("bench")(bench_command)


@handle_errors
def eval_command(
    suite: Annotated[str, typer.Argument(help="suite name, or 'all'")],
    quick: Annotated[bool, typer.Option("--quick", help="the subset CI runs")] = False,
) -> None:
    """Run a labelled eval suite through the real service code; exit 1 if a threshold fails."""
    harness.load_suites()
    names = sorted(harness.REGISTRY) if suite == "all" else [suite]
    if suite != "all" and suite not in harness.REGISTRY:
        raise typer.BadParameter(f"未知的评测集 {suite!r}，可选: {', '.join(sorted(harness.REGISTRY))}")
    failures: dict[str, list[str]] = {}
    for name in names:
        result = harness.run_suite(name, harness.EvalContext(runtime=runtime(), quick=quick, console=console))
        if fails := result.failures():
            failures[name] = fails
    if failures:
        for name, fails in failures.items():
            for msg in fails:
                console.print(f"[red]FAIL[/red] {name}: {msg}")
        raise typer.Exit(1)


@handle_errors
def bench_command(
    name: Annotated[str, typer.Argument(help="benchmark name, or 'all'")],
    quick: Annotated[bool, typer.Option("--quick", help="smaller sizes")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="print one JSON object per benchmark (the table goes to stderr)")
    ] = False,
) -> None:
    """Measure speed against a baseline run in the same process; prints ratios."""
    import evals.benches  # noqa: F401  # registration side effect

    names = sorted(bench_harness.REGISTRY) if name == "all" else [name]
    if name != "all" and name not in bench_harness.REGISTRY:
        raise typer.BadParameter(f"未知的基准 {name!r}，可选: {', '.join(sorted(bench_harness.REGISTRY))}")
    # With --json stdout carries only the JSON, so it can be piped; the table still shows.
    out = Console(stderr=True) if as_json else console
    for n in names:
        result = bench_harness.run_bench(
            n, bench_harness.BenchContext(runtime=runtime(), quick=quick, console=out)
        )
        if as_json:
            payload = {
                "bench": result.name,
                "columns": result.columns,
                "rows": result.rows,
                "figures": result.figures,
                "notes": result.notes,
            }
            typer.echo(json.dumps(payload, ensure_ascii=False, default=str))
