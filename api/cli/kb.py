"""`siyu kb ...`: the knowledge base from the terminal. For now `siyu kb eval-retrieval`."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.cli.common import console, handle_errors, runtime
from retrieval.beir import METRICS, MODES, load_corpus, load_qrels, load_queries, run_retrieval_eval

kb_app = typer.Typer(help="知识库: 检索评测", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(kb_app, name="kb")


@kb_app.command("eval-retrieval")
@handle_errors
def eval_retrieval(
    corpus: Annotated[Path, typer.Option(help="BEIR corpus.jsonl: {_id, title, text} per line")],
    queries: Annotated[Path, typer.Option(help="BEIR queries.jsonl: {_id, text} per line")],
    qrels: Annotated[Path, typer.Option(help="TSV with header query-id, corpus-id, score")],
    k: Annotated[int, typer.Option(min=1, max=100, help="ranking depth for the runs")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Index a labelled corpus into a temporary collection and compare hybrid, dense and lexical
    search on it: recall@1/5/10, MRR@10 and nDCG@10, all measured in this run."""
    docs, questions, judgements = load_corpus(corpus), load_queries(queries), load_qrels(qrels)
    embedder = runtime().embedder()
    with (
        tempfile.TemporaryDirectory(prefix="siyu-eval-") as workdir,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
            transient=as_json,
        ) as progress,
    ):
        tasks = {
            "index": progress.add_task("索引语料 (chunks)", total=None),
            "search": progress.add_task("检索查询", total=None),
        }

        def report(phase: str, done: int, total: int) -> None:
            progress.update(tasks[phase], completed=done, total=total)

        result = run_retrieval_eval(
            embedder, docs, questions, judgements, workdir=Path(workdir), k=max(k, 10), progress=report
        )
    if as_json:
        payload = {
            "embedder": embedder.name,
            "documents": result.documents,
            "chunks": result.chunks,
            "queries": result.queries,
            "index_seconds": round(result.index_seconds, 3),
            "metrics": result.metrics,
        }
        console.print_json(json.dumps(payload, ensure_ascii=False))
        return
    table = Table("mode", *METRICS, title=f"检索评测 ({result.queries} 个查询, {result.documents} 篇文档)")
    for mode in MODES:
        table.add_row(mode, *[f"{result.metrics[mode][m]:.3f}" for m in METRICS])
    console.print(table)
    console.print(
        f"  embedder={embedder.name}  chunks={result.chunks}  "
        f"索引 {result.index_seconds:.1f}s ({result.chunks / max(result.index_seconds, 1e-9):.0f} chunks/s)"
    )
