"""`siyu kb ...`: the knowledge base from the terminal.

- `siyu kb ingest PATH... [--shop NAME] [--doc-type policy|faq|manual]`: index files (a folder:
  every .md/.txt/.html/.docx/.pdf/.csv in it), replacing earlier versions of the same file name.
- `siyu kb sync-products [--shop NAME]`: (re)index the store's product cards.
- `siyu kb import-products FILE [--shop NAME]`: upsert products (CSV/XLSX/JSON) by SKU into the
  store, all or nothing, then re-index the changed cards.
- `siyu kb search "问题" [--shop NAME] [--k 5]`: the 命中测试, as a table with grounding.
- `siyu kb eval-retrieval ...`: BEIR-format retrieval eval.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agents.knowledge import catalog_import, service
from api.cli.common import console, handle_errors, runtime
from retrieval.beir import METRICS, MODES, load_corpus, load_qrels, load_queries, run_retrieval_eval
from store.demo.loader import DEMO_SHOP_NAME
from store.errors import InvalidInput, SiyuError
from store.uploads import read_path

kb_app = typer.Typer(help="知识库: 导入文档、同步商品、检索 (命中测试) 与检索评测", no_args_is_help=True)
SUPPORTED = (".md", ".markdown", ".txt", ".html", ".htm", ".docx", ".pdf", ".csv")
ShopOption = Annotated[str, typer.Option("--shop", help="店铺名称 (默认演示店铺)")]


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


def _files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED)
        elif path.exists():
            files.append(path)
        else:
            raise InvalidInput("文件不存在", file=str(path))
    return files


@kb_app.command("ingest")
@handle_errors
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="文件或文件夹 (.md .txt .html .docx .pdf, FAQ 用 .csv)")
    ],
    shop: ShopOption = DEMO_SHOP_NAME,
    doc_type: Annotated[str, typer.Option("--doc-type", help="policy | manual (CSV 总是 faq)")] = "policy",
) -> None:
    """Index files into the shop's knowledge base. The file name is the document's identity:
    ingesting it again replaces the old version (unchanged files are skipped)."""
    rt = runtime()
    shop_id = service.shop_id_by_name(rt, shop)
    files = _files(paths)
    if not files:
        raise InvalidInput("没有找到可导入的文件 (.md .txt .html .docx .pdf .csv)")
    table = Table("文件", "类型", "版本", "分段", "结果", title=f"导入到「{shop}」")
    failed = 0
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        for path in files:
            task = progress.add_task(path.name, total=None)

            def report(done: int, total: int, task_id: Any = task) -> None:
                progress.update(task_id, completed=done, total=total)

            started = time.perf_counter()
            try:
                data = read_path(path, rt.settings.max_upload_bytes)
                view = service.ingest_bytes(rt, shop_id, path.name, data, doc_type=doc_type, progress=report)
            except SiyuError as exc:
                failed += 1
                table.add_row(path.name, "", "", "", f"[red]失败[/red]: {exc.detail}")
                continue
            finally:
                progress.update(task, visible=False)
            outcome = "未变化，跳过" if view.unchanged else f"已索引 {time.perf_counter() - started:.2f}s"
            table.add_row(view.source, view.doc_type, str(view.version), str(view.chunks), outcome)
    console.print(table)
    if failed:
        raise typer.Exit(1)


@kb_app.command("sync-products")
@handle_errors
def sync_products(shop: ShopOption = DEMO_SHOP_NAME) -> None:
    """(Re)index the product cards from the store; delete the cards of removed products."""
    report = service.sync_products(runtime(), service.shop_id_by_name(runtime(), shop))
    console.print(
        f"商品 {report.products} 个: 新索引/更新 {report.indexed}, 未变化 {report.unchanged}, "
        f"删除 {report.removed}  ({report.seconds:.2f}s)",
        highlight=False,
    )


@kb_app.command("import-products")
@handle_errors
def import_products(
    file: Annotated[Path, typer.Argument(help="商品文件 .csv (UTF-8/GBK) / .xlsx / .json")],
    shop: ShopOption = DEMO_SHOP_NAME,
) -> None:
    """Upsert the file's products by SKU into the store (one transaction: a bad row imports
    nothing), then re-index the product cards that changed. Re-importing the same file does no work."""
    rt = runtime()
    shop_id = service.shop_id_by_name(rt, shop)
    data = read_path(file, rt.settings.max_upload_bytes)
    report = catalog_import.import_products(rt, shop_id, file.name, data)
    console.print(
        f"「{shop}」导入 {report.file}: 新增 {report.created}, 更新 {report.updated}, "
        f"未变化 {report.unchanged}  ({report.seconds:.2f}s)",
        highlight=False,
    )
    if report.index is not None:
        console.print(
            f"商品卡片: 新索引/更新 {report.index.indexed}, 未变化 {report.index.unchanged}, "
            f"删除 {report.index.removed}",
            highlight=False,
        )
    if report.index_error:
        console.print(f"[yellow]{report.index_error}[/yellow]", highlight=False)
        raise typer.Exit(1)


@kb_app.command("search")
@handle_errors
def search(
    query: Annotated[str, typer.Argument(help='问题, 例如 "退货运费谁出"')],
    shop: ShopOption = DEMO_SHOP_NAME,
    k: Annotated[int, typer.Option("--k", min=1, max=service.K_MAX, help="返回条数")] = 5,
    doc_type: Annotated[list[str] | None, typer.Option("--doc-type", help="只搜这些类型 (可重复)")] = None,
) -> None:
    """Search the shop's knowledge base (命中测试): hits with score and source, plus grounding."""
    rt = runtime()
    found = service.search_kb(rt, service.shop_id_by_name(rt, shop), query, k=k, doc_types=doc_type or ())
    table = Table(
        "#", "来源", "类型", "章节", "内容", "分数", "命中方式", title=f"「{query}」", show_lines=True
    )
    for n, h in enumerate(found.hits, 1):
        text = h.hit.text.replace("\n", " ")
        table.add_row(
            str(n),
            h.hit.doc_id,
            h.hit.doc_type,
            h.hit.section,
            text if len(text) <= 120 else text[:119] + "…",
            f"{h.hit.score:.4f}",
            h.hit.matched_by,
        )
    console.print(table)
    verdict = "[green]有依据[/green]" if found.grounding >= 0.5 else "[yellow]依据不足，建议转人工[/yellow]"
    console.print(f"grounding = {found.grounding:.3f} {verdict}  ({found.took_ms:.1f} ms)")
    if found.direct_answer is not None:
        d = found.direct_answer.answer
        console.print(
            f"FAQ 直接回答 (匹配 {d.score:.2f}): [bold]{d.question}[/bold] → {d.answer}", highlight=False
        )
