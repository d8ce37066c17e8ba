"""`siyu cs triage`: what the customer-service rules make of each message, one JSON object per line.

echo "转 人 工！！" | siyu cs triage --json
{"text": "转 人 工！！", "intent": "要求人工", "handoff": true, "reasons": ["customer_request"], ...}
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from agents.customer_service.intent import IntentClassifier
from agents.customer_service.schemas import ShopPolicy
from agents.customer_service.triage import TriageResult, triage
from api.cli.common import console, err_console, handle_errors, runtime
from retrieval.embedding import Embedder
from store.errors import InvalidInput, SiyuError
from store.repositories.shops import ShopRepository
from store.uploads import decode_text

log = logging.getLogger("siyu.cs")

cs_app = typer.Typer(help="客服: 转人工规则试跑", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(cs_app, name="cs")


def _policy(shop: str | None) -> ShopPolicy:
    if shop is None:
        return ShopPolicy()
    with runtime().sessions() as session:
        settings = dict(ShopRepository(session).require_by_name(shop).settings)
    return ShopPolicy.from_shop_settings(settings)


def _embedder() -> Embedder | None:
    try:
        return runtime().embedder()
    except (SiyuError, ImportError, OSError, RuntimeError) as exc:
        log.warning("cs.triage.embedder_unavailable", extra={"error": str(exc)})
        err_console.print(f"[yellow]向量模型不可用，仅用规则判断意图[/yellow]: {exc}")
        return None


def _lines(raw: bytes, name: str) -> list[str]:
    return [line.strip() for line in decode_text(raw, name).splitlines() if line.strip()]


@cs_app.command("triage")
@handle_errors
def triage_cmd(
    file: Annotated[Path | None, typer.Argument(help="每行一条顾客消息；省略则读标准输入")] = None,
    shop: Annotated[str | None, typer.Option("--shop", help="使用该店铺的客服设置 (settings.cs)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="每条一行 JSON（默认为表格）")] = False,
    knn: Annotated[bool, typer.Option("--knn/--rules-only", help="是否用向量近邻分类器辅助判断意图")] = True,
) -> None:
    """For each message, with no context: intent, handoff true/false and the reasons."""
    policy = _policy(shop)
    if file is not None:
        try:
            messages = _lines(file.read_bytes(), file.name)
        except OSError as exc:
            raise InvalidInput(f"无法读取文件: {exc.strerror}", file=str(file)) from exc
    else:
        messages = _lines(sys.stdin.buffer.read(), "<stdin>")
    classifier = IntentClassifier(_embedder() if knn else None)
    results = [triage(m, policy, classifier) for m in messages]
    if as_json:
        for r in results:
            console.print(
                json.dumps(r.as_dict(), ensure_ascii=False), soft_wrap=True, markup=False, highlight=False
            )
        return
    console.print(_table(results))


def _table(results: list[TriageResult]) -> Table:
    table = Table("消息", "意图", "转人工", "原因", "优先级", title=f"转人工试跑 ({len(results)} 条)")
    for r in results:
        d = r.as_dict()
        reasons = d["reasons"]
        assert isinstance(reasons, list)
        table.add_row(
            r.text, str(d["intent"]), "是" if r.handoff else "否", ", ".join(reasons), str(d["priority"])
        )
    return table
