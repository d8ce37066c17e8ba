"""`siyu migrate`, `siyu shop ...` and `siyu key ...`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from api.cli.common import console, handle_errors, runtime, settings
from store import migrate as migrations
from store.db import session_scope
from store.models import Role
from store.repositories.shops import ApiKeyRepository, ShopRepository

shop_app = typer.Typer(help="店铺管理", no_args_is_help=True)
key_app = typer.Typer(help="API Key 管理 (Key 只显示一次，库中只存哈希)", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)
    app.add_typer(shop_app, name="shop")
    app.add_typer(key_app, name="key")


@handle_errors
def migrate() -> None:
    """Apply all database migrations (safe to re-run)."""
    migrations.upgrade(settings().resolved_database_url)
    console.print("数据库已迁移到最新版本")


@shop_app.command("create")
@handle_errors
def shop_create(name: str) -> None:
    """Create a shop."""
    with session_scope(runtime().sessions) as session:
        shop = ShopRepository(session).create(name)
        console.print(f"已创建店铺 [bold]{shop.name}[/bold] (shop_id={shop.id})")


@shop_app.command("list")
@handle_errors
def shop_list() -> None:
    """List shops."""
    with session_scope(runtime().sessions) as session:
        table = Table("shop_id", "name", "created_at")
        for shop in ShopRepository(session).list():
            table.add_row(str(shop.id), shop.name, str(shop.created_at))
        console.print(table)


@key_app.command("create")
@handle_errors
def key_create(
    role: Annotated[Role, typer.Option("--role", help="owner | agent | service | admin")],
    shop: Annotated[str | None, typer.Option("--shop", help="店铺名称 (admin Key 不需要)")] = None,
    name: Annotated[str, typer.Option("--name", help="备注")] = "",
) -> None:
    """Create an API key and print it once."""
    if role is not Role.admin and not shop:
        raise typer.BadParameter(f"{role.value} Key 需要 --shop 店铺名称", param_hint="--shop")
    with session_scope(runtime().sessions) as session:
        shop_id = None if role is Role.admin else ShopRepository(session).require_by_name(shop or "").id
        issued = ApiKeyRepository(session).issue(shop_id, role, name=name)
    console.print(f"role={issued.role.value} key_id={issued.key_id}")
    console.print("请妥善保存，此 Key 只显示这一次:")
    console.print(issued.raw, soft_wrap=True, highlight=False)
