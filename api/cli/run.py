"""`siyu run` (what `make run` calls): migrate, load the demo shop if absent, then run the API and
one Celery worker as child processes until Ctrl-C.

Children start in their own session, so a terminal's Ctrl-C reaches only this supervisor, which
then stops them in order (SIGTERM, wait, SIGKILL as a last resort) and exits 0. If a child dies
on its own, the other is stopped too and `siyu run` exits 1.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Annotated

import httpx2
import typer

from api.cli.common import console, handle_errors, runtime, settings
from api.cli.demo import index_demo_kb, keys_path, print_load_report
from store import migrate as migrations
from store.demo.loader import DemoKeys, load_demo

log = logging.getLogger("siyu.run")

STOP_TIMEOUT_S = 15.0
HEALTH_TIMEOUT_S = 120.0


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def api_command(host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app",
        "--host", host, "--port", str(port), "--log-level", "info",
    ]  # fmt: skip


def worker_command() -> list[str]:
    # solo: one process, no fork; enough for a demo and kind to a small machine.
    return [
        sys.executable, "-m", "celery", "-A", "api.worker", "worker",
        "--pool=solo", "--concurrency=1", "--loglevel=INFO",
    ]  # fmt: skip


@dataclass
class Supervisor:
    """Starts children, watches them, and stops them all on a signal or when one dies."""

    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    stop_requested: bool = False

    def start(self, name: str, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(list(argv), start_new_session=True)
        self.children[name] = proc
        return proc

    def install_signal_handlers(self) -> None:
        def request_stop(signum: int, _frame: FrameType | None) -> None:
            self.stop_requested = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

    def dead_child(self) -> str | None:
        for name, proc in self.children.items():
            if proc.poll() is not None:
                return name
        return None

    def stop_all(self, timeout: float = STOP_TIMEOUT_S) -> None:
        # Reverse start order: the worker first, then the API.
        for proc in reversed(self.children.values()):
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for name, proc in reversed(self.children.items()):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("run.child_killed", extra={"child": name, "pid": proc.pid})
                proc.kill()
                proc.wait()

    def wait_healthy(self, url: str, timeout: float = HEALTH_TIMEOUT_S) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stop_requested and self.dead_child() is None:
            try:
                if httpx2.get(url, timeout=2.0).status_code == 200:
                    return True
            except httpx2.TransportError:
                pass
            time.sleep(0.3)
        return False

    def watch(self) -> str | None:
        """Block until a stop is requested (→ None) or a child dies (→ its name)."""
        while not self.stop_requested:
            if (name := self.dead_child()) is not None:
                return name
            time.sleep(0.3)
        return None


def print_banner(keys: DemoKeys, base_url: str, pids: dict[str, int]) -> None:
    console.rule("[bold green]siyu 已启动[/bold green]")
    for name, pid in pids.items():
        console.print(f"{name} pid={pid}", highlight=False)
    console.print(f"API 文档: {base_url}/docs", highlight=False)
    console.print(f"演示店铺: {keys.shop_name} (shop_id={keys.shop_id})", highlight=False)
    # soft_wrap: a key must stay on one line so it can be copied (and parsed).
    console.print(f"owner   key: {keys.owner}", highlight=False, soft_wrap=True)
    console.print(f"agent   key: {keys.agent}", highlight=False, soft_wrap=True)
    console.print(f"service key: {keys.service}", highlight=False, soft_wrap=True)
    console.print("试一试:", highlight=False)
    console.print(f"  curl -s {base_url}/v1/health", highlight=False, soft_wrap=True)
    console.print(
        f'  curl -s -H "Authorization: Bearer {keys.owner}" {base_url}/v1/shop',
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f'  curl -s -H "Authorization: Bearer {keys.owner}" {base_url}/v1/keys',
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"  siyu demo tour --base-url {base_url}", highlight=False, soft_wrap=True)
    console.print("按 Ctrl-C 停止", highlight=False)


@handle_errors
def run(
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="同时启动一个 Celery worker")] = True,
) -> None:
    """Migrate, load the demo shop if absent, and run the API plus one worker until Ctrl-C."""
    cfg = settings()
    migrations.upgrade(cfg.resolved_database_url)
    report = load_demo(runtime().sessions, keys_path=keys_path())
    print_load_report(report)
    index_demo_kb(report.shop_id)
    runtime().close()  # the children open their own connections

    base_url = f"http://{cfg.api_host}:{cfg.api_port}"
    supervisor = Supervisor()
    supervisor.install_signal_handlers()
    supervisor.start("api", api_command(cfg.api_host, cfg.api_port))
    if worker:
        supervisor.start("worker", worker_command())

    try:
        if not supervisor.wait_healthy(f"{base_url}/v1/health"):
            if supervisor.stop_requested:
                return
            dead = supervisor.dead_child()
            reason = f"{dead} 进程已退出" if dead else f"{HEALTH_TIMEOUT_S:.0f} 秒内未就绪"
            console.print(f"[red]启动失败[/red]: {reason}")
            raise typer.Exit(1)
        print_banner(report.keys, base_url, {name: p.pid for name, p in supervisor.children.items()})
        dead = supervisor.watch()
        if dead is not None:
            console.print(f"[red]{dead} 进程意外退出[/red] (exit {supervisor.children[dead].returncode})")
            raise typer.Exit(1)
        console.print("正在停止...")
    finally:
        supervisor.stop_all()
    console.print("已停止")
