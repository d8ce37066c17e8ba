"""`siyu rec evaluate`: check the recommender against two baselines on any purchase log."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from agents.recommender import evaluation
from api.cli.common import console, handle_errors

rec_app = typer.Typer(help="推荐: 离线评估", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(rec_app, name="rec")


@rec_app.command("evaluate")
@handle_errors
def evaluate(
    interactions: Annotated[
        Path, typer.Option("--interactions", help="CSV: customer_id,item_id,timestamp[,qty]")
    ],
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="top-k")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Hold out each customer's last basket (one customer, one day) and compare our recommender
    with popularity and item-kNN on the same split. Every SKU counts as in stock."""
    rows = evaluation.read_interactions_csv(interactions)
    result = evaluation.compare(evaluation.last_basket_split(rows), k)
    if as_json:
        payload = {
            "k": result.k,
            "customers": result.customers,
            "train_rows": result.train_rows,
            "catalog_size": result.catalog_size,
            "split": "last basket per customer (>= 2 baskets)",
            "results": [asdict(r) for r in result.rows],
        }
        console.print_json(json.dumps(payload, ensure_ascii=False))
        return
    table = Table(
        "recommender",
        f"hit@{k}",
        f"NDCG@{k}",
        f"recall@{k}",
        "coverage",
        title=f"{interactions.name}: {result.customers} 位顾客的最后一篮 (训练 {result.train_rows} 行)",
    )
    for r in result.rows:
        table.add_row(r.name, f"{r.hit:.3f}", f"{r.ndcg:.3f}", f"{r.recall:.3f}", f"{r.coverage:.3f}")
    console.print(table)
    ours, pop, knn = result.row("ours"), result.row("popularity"), result.row("item-kNN")
    console.print(
        f"hit@{k}: 热销基线的 {_ratio(ours.hit, pop.hit)} 倍，item-kNN 的 {_ratio(ours.hit, knn.hit)} 倍"
    )


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else "∞"
