"""`siyu copy check`: 广告法 check of texts, one per line, from a file or stdin.
`siyu copy moments`: checked 朋友圈 variants for a shop's products (the demo shop by default)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.panel import Panel

from agents.copywriter.compliance import ComplianceReport, check
from agents.copywriter.lexicon import PRODUCT_CATEGORIES
from agents.copywriter.moments import MomentsRequest, MomentsResult, generate_moments
from agents.copywriter.templates import AUDIENCES, GOALS, TONES
from api.cli.common import console, handle_errors, runtime
from store.demo.loader import DEMO_SHOP_NAME
from store.errors import InvalidInput
from store.repositories.shops import ShopRepository
from store.uploads import decode_text

copy_app = typer.Typer(help="朋友圈文案：生成与广告法合规检查", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(copy_app, name="copy")


def report_line(report: ComplianceReport) -> dict[str, object]:
    """The CLI's JSON-lines record for one text."""
    return {
        "text": report.text,
        "violations": [
            {
                "term": v.term,
                "category": v.category,
                "start": v.start,
                "end": v.end,
                "article": v.article,
                "severity": v.severity,
                "suggestion": v.suggestion,
            }
            for v in report.violations
        ],
        "fixed": report.fixed,
    }


@copy_app.command("check")
@handle_errors
def check_command(
    source: Annotated[
        Path | None, typer.Argument(help="文本文件，每行一条；省略或为 - 时读标准输入", show_default=False)
    ] = None,
    category: Annotated[
        str, typer.Option("--category", "-c", help="商品类目: " + " | ".join(PRODUCT_CATEGORIES))
    ] = "general",
    as_json: Annotated[bool, typer.Option("--json", help="每行输出一个 JSON 对象")] = False,
) -> None:
    """Check each line for 广告法 violations and print the hits and a fixed text."""
    if category not in PRODUCT_CATEGORIES:
        raise typer.BadParameter(f"未知类目 {category!r}，可选: {', '.join(PRODUCT_CATEGORIES)}")
    if source is None or str(source) == "-":
        name, raw = "<stdin>", sys.stdin.buffer.read()
    else:
        try:
            name, raw = str(source), source.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"无法读取: {exc.strerror}", file=str(source)) from exc
    texts = [line.strip() for line in decode_text(raw, name).splitlines()]
    flagged = 0
    for text in filter(None, texts):
        report = check(text, category)
        flagged += not report.ok
        if as_json:
            typer.echo(json.dumps(report_line(report), ensure_ascii=False))
            continue
        if report.ok:
            console.print(f"[green]✓[/green] {escape(text)}")
            continue
        console.print(f"[red]✗[/red] {escape(text)}")
        for v in report.violations:
            console.print(
                f"    [{_SEVERITY_STYLE[v.severity]}]{v.severity}[/] {escape(v.category)} "
                f"[bold]{escape(v.matched)}[/bold] [{v.start},{v.end}) → {escape(v.suggestion)}  "
                f"[dim]{escape(v.article)}[/dim]"
            )
        console.print(f"    [cyan]改写[/cyan] {escape(report.fixed)}")
    if not as_json:
        console.print(f"共 {len([t for t in texts if t])} 条，{flagged} 条有违规")


_SEVERITY_STYLE = {"high": "red", "medium": "yellow", "low": "dim"}


def _choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise typer.BadParameter(f"未知{name} {value!r}，可选: {' | '.join(allowed)}")
    return value


def print_moments(result: MomentsResult) -> None:
    for i, v in enumerate(result.variants, 1):
        marks = [
            "[green]广告法 ✓[/green]" if v.compliance.ok else "[red]广告法 ✗[/red]",
            "[green]事实 ✓[/green]" if v.facts.ok else "[red]事实 ✗[/red]",
            f"{v.chars} 字 · {v.emoji} 表情 · {v.hashtags} 话题",
            f"相似度 {v.novelty.max_similarity:.2f}" + ("" if v.novelty.ok else " [yellow](偏相似)[/yellow]"),
        ]
        title = f"变体 {i} · 草稿 #{v.draft_id} · {v.engine} {v.prompt_version}" + (
            " · 已自动改写" if v.repaired else ""
        )
        console.print(Panel(escape(v.text), title=title, subtitle=" | ".join(marks), expand=False))
    if result.dropped:
        dropped = ", ".join(f"{k} {n}" for k, n in sorted(result.dropped.items()))
        console.print(f"[dim]已丢弃并重写的候选: {dropped}[/dim]")


@copy_app.command("moments")
@handle_errors
def moments_command(
    sku: Annotated[list[str], typer.Option("--sku", help="商品 SKU，可重复")],
    goal: Annotated[str, typer.Option("--goal", help=" | ".join(GOALS))] = "种草",
    audience: Annotated[str, typer.Option("--audience", help=" | ".join(AUDIENCES))] = "通用",
    tone: Annotated[str, typer.Option("--tone", help=" | ".join(TONES))] = "亲切",
    variants: Annotated[int, typer.Option("--variants", min=1, max=5)] = 3,
    max_chars: Annotated[int, typer.Option("--max-chars", min=40, max=1000)] = 150,
    emoji: Annotated[int, typer.Option("--emoji", min=0, max=10)] = 2,
    hashtags: Annotated[int, typer.Option("--hashtags", min=0, max=5)] = 2,
    promo: Annotated[str | None, typer.Option("--promo", help="活动说明，如 满199减30")] = None,
    shop: Annotated[str, typer.Option("--shop", help="店铺名称")] = DEMO_SHOP_NAME,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """Generate checked Moments variants (saved as drafts) for the shop's products."""
    request = MomentsRequest(
        skus=sku,
        goal=_choice(goal, GOALS, "目标"),
        audience=_choice(audience, AUDIENCES, "人群"),
        tone=_choice(tone, TONES, "语气"),
        max_chars=max_chars,
        emoji=emoji,
        hashtags=hashtags,
        variants=variants,
        promo_text=promo,
    )
    rt = runtime()
    with rt.sessions() as session:
        shop_id = ShopRepository(session).require_by_name(shop).id
    result = generate_moments(rt, shop_id, request, now=datetime.now(UTC))
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    console.print(f"[bold]{escape(shop)}[/bold] · {' + '.join(result.skus)} · {goal}/{audience}/{tone}")
    print_moments(result)
