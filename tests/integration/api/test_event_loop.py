"""Uploads never stall the event loop: while an import is held inside its database write, the
same server still answers `GET /v1/health`.

The real app runs under uvicorn on 127.0.0.1. A SQLAlchemy hook holds the import at its first
INSERT (so it is provably in flight: parsed, inside its transaction, not yet answered) until the
test has had its health answers. A route that did that work on the loop would hold the loop
with it, and no health request could be answered until the import was released.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import event

from agents.runtime import Runtime
from api.app import create_app
from api.routers.jobs import get_enqueue
from evals.doubles.local_server import LocalServer
from tests.conftest import ShopKeys

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HEALTH_ANSWERS = 5
# Generous: only a deadlock (the loop held by the import) ever reaches these.
HOLD_S = 120.0
HTTP_TIMEOUT_S = 30.0


@dataclass
class InsertGate:
    """Holds the first INSERT into `table` until released; records that it was reached."""

    table: str
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.reached.is_set() or not statement.lstrip().upper().startswith(
            f"INSERT INTO {self.table.upper()}"
        ):
            return
        self.reached.set()
        self.released.wait(HOLD_S)


@dataclass
class Call:
    """An HTTP request sent from its own thread, so the test can act while it is in flight."""

    thread: threading.Thread
    response: httpx2.Response | None = None
    error: BaseException | None = None


@pytest.fixture
def server(runtime: Runtime) -> Iterator[str]:
    app = create_app(runtime=runtime)
    # Large KB uploads queue a job; no worker runs here, the job row is what the test waits on.
    app.dependency_overrides[get_enqueue] = lambda: lambda _kind, _job_id, _shop_id: None
    local = LocalServer(app, start_timeout_s=30, join_timeout_s=30)
    local.start()
    try:
        yield f"http://127.0.0.1:{local.port}"
    finally:
        local.stop()


def _post_in_thread(url: str, headers: dict[str, str], files: dict[str, tuple[str, bytes]]) -> Call:
    def send() -> None:
        try:
            call.response = httpx2.post(url, headers=headers, files=files, timeout=HOLD_S + HTTP_TIMEOUT_S)
        except BaseException as exc:  # re-raised in the test thread
            call.error = exc

    call = Call(threading.Thread(target=send, daemon=True))
    call.thread.start()
    return call


@contextmanager
def held_at_insert(runtime: Runtime, table: str) -> Iterator[InsertGate]:
    gate = InsertGate(table)
    event.listen(runtime.engine, "before_cursor_execute", gate)
    try:
        yield gate
    finally:
        gate.released.set()
        event.remove(runtime.engine, "before_cursor_execute", gate)


def _health_while_held(base: str, gate: InsertGate, call: Call) -> list[int]:
    """Wait until the upload is held at its INSERT, ask for health, then let the upload finish."""
    statuses: list[int] = []
    try:
        while not gate.reached.wait(0.05):
            assert call.thread.is_alive(), (call.response and call.response.text, call.error)
        with httpx2.Client(base_url=base, timeout=HTTP_TIMEOUT_S) as client:
            for _ in range(HEALTH_ANSWERS):
                try:
                    statuses.append(client.get("/v1/health").status_code)
                except httpx2.TimeoutException:
                    pytest.fail(
                        f"no health answer while {gate.table!r} was being written: the loop is blocked"
                    )
                # The upload cannot have finished: its write is still held.
                assert call.thread.is_alive()
    finally:
        gate.released.set()
        call.thread.join(HOLD_S + HTTP_TIMEOUT_S)
    if call.error is not None:
        raise call.error
    return statuses


def _sales_csv(target_bytes: int) -> tuple[bytes, int]:
    """Daily sales of long-coded SKUs (as ERP exports have), about `target_bytes` of CSV."""
    lines = ["sku,date,qty,price,promo,on_hand"]
    size, sku = len(lines[0]) + 1, 0
    start = date(2024, 1, 1)
    while size < target_bytes:
        code = f"BWB-500-316L-真空保温杯-{sku:05d}-黑色-礼盒装"
        for day in range(365):
            line = (
                f"{code},{start + timedelta(days=day)},{(sku + day) % 7},59.90,{day % 2},{(sku * day) % 50}"
            )
            lines.append(line)
            size += len(line.encode()) + 1
        sku += 1
    return ("\n".join(lines) + "\n").encode(), len(lines) - 1


def test_health_answers_while_a_large_sales_import_is_in_flight(
    runtime: Runtime, server: str, shop_a: ShopKeys
) -> None:
    data, rows = _sales_csv(3 * 1024 * 1024)
    assert len(data) > 3 * 1024 * 1024
    with held_at_insert(runtime, "sales_records") as gate:
        call = _post_in_thread(f"{server}/v1/sales/import", shop_a.headers(), {"file": ("销售.csv", data)})
        statuses = _health_while_held(server, gate, call)

    assert statuses == [200] * HEALTH_ANSWERS
    assert call.response is not None
    assert call.response.status_code == 200, call.response.text
    assert call.response.json()["rows"] == rows == call.response.json()["inserted"]


@pytest.mark.parametrize(
    ("path", "name"),
    [("/v1/kb/documents", "退换货政策.md"), ("/v1/kb/products/import", "商品.csv")],
)
def test_health_answers_while_a_large_kb_upload_is_queued(
    runtime: Runtime, server: str, shop_a: ShopKeys, path: str, name: str
) -> None:
    if name.endswith(".md"):
        data = ("# 退换货政策\n\n" + "签收后七天内可申请无理由退货，生鲜商品除外。\n" * 8000).encode()
    else:
        data = (
            "sku,title,category,price,stock\n"
            + "".join(f"SKU-{i:05d},保温杯 {i},家居日用,89,{i % 40}\n" for i in range(8000))
        ).encode()
    with held_at_insert(runtime, "jobs") as gate:
        call = _post_in_thread(f"{server}{path}", shop_a.headers(), {"file": (name, data)})
        statuses = _health_while_held(server, gate, call)

    assert statuses == [200] * HEALTH_ANSWERS
    assert call.response is not None
    assert call.response.status_code == 202, call.response.text
    assert call.response.json()["status"] == "queued"
