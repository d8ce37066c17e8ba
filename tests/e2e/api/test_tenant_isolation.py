"""Tenant isolation: shop B's key never sees, changes or learns of shop A's data.

Every /v1 route is in `ROUTES` (or in `NOT_TENANT`, with the reason), and
`test_every_v1_route_is_covered` fails when a route is in neither, so no endpoint escapes.

How a route is checked (always with B's OWNER key, the most powerful role in a shop):
- a route whose path names an object (`/v1/jobs/{job_id}`): `make` creates A's object;
  B calling it with A's ids gets 404 and none of A's markers; then A's owner makes the SAME
  call and gets `ok` (proof the object exists and the 404 meant "not yours").
- a shop-level route (`GET /v1/jobs`, `POST /v1/keys`): B gets `ok` and none of A's markers.
  With `lists_a=True`, A's own call must show A's markers, so B's silence means something.

To add your route: write a maker that creates A's object through the API or a repository and
returns `Made(params=<path params>, markers=<strings only A's data contains>)`, then add one
`Route(...)` line to ROUTES. Put any dependency override your route needs (fake LLM, inline
enqueue) in the `world` fixture.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from agents.runtime import Runtime
from api.app import create_app
from api.routers.jobs import EVAL_SUITES, get_enqueue, get_eval_suites
from retrieval.embedding import Embedder
from store.models import ConversationState, Customer, MessageRole, Order, OrderItem, Product, Role
from store.repositories.conversations import ConversationRepository
from store.repositories.copy_drafts import CopyDraftRepository
from store.repositories.jobs import JobRepository
from store.repositories.shops import ShopRepository
from tests.conftest import ShopKeys

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Made:
    params: dict[str, Any] = field(default_factory=dict)
    markers: tuple[str, ...] = ()


@dataclass
class World:
    client: TestClient
    runtime: Runtime
    a: ShopKeys
    b: ShopKeys
    enqueued: list[tuple[str, str, int]]
    eval_suite: str


Maker = Callable[[World], Made]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    make: Maker
    body: Callable[[World, Made], dict[str, Any]] | None = None
    # Multipart uploads: {"file": (name, bytes, content type)}, sent instead of a JSON body.
    files: Callable[[World, Made], dict[str, Any]] | None = None
    ok: int = 200
    lists_a: bool = False
    # None: the route names one of A's objects when its path has a parameter. Set it when the
    # object is named in the body (True) or the path parameter is not shop data (False).
    object_ref: bool | None = None

    @property
    def names_object(self) -> bool:
        return self.object_ref if self.object_ref is not None else "{" in self.path


def _marker(kind: str) -> str:
    return f"A-{kind}-{uuid.uuid4().hex[:10]}"


# ---- makers: create shop A's data ------------------------------------------------------


def nothing(world: World) -> Made:
    return Made()


def a_shop(world: World) -> Made:
    return Made(markers=(world.a.name,))


def a_key(world: World) -> Made:
    name = _marker("key")
    r = world.client.post("/v1/keys", json={"role": "agent", "name": name}, headers=world.a.headers())
    assert r.status_code == 201, r.text
    return Made(params={"key_id": r.json()["key_id"]}, markers=(name,))


def a_finished_job(world: World) -> Made:
    secret = _marker("job-result")
    with world.runtime.sessions() as s:
        repo = JobRepository(s)
        job = repo.create(world.a.shop_id, "eval", {"suite": secret})
        repo.succeed(world.a.shop_id, job.id, {"secret": secret})
        s.commit()
        # Not the id itself: B sent it, and a 404 may quote it back.
        return Made(params={"job_id": job.id}, markers=(secret,))


def a_buying_customer(world: World) -> Made:
    """A's product (monthly repurchase) bought twice, 60 and 30 days ago: a reminder due now."""
    title, ref = _marker("product"), _marker("customer")
    now = datetime.now(UTC)
    with world.runtime.sessions() as s:
        ShopRepository(s).update_settings(world.a.shop_id, {"rfm": {"vip_min_monetary": 98765.43}})
        product = Product(
            shop_id=world.a.shop_id,
            sku="A-SKU-1",
            title=title,
            category="母婴",
            price=Decimal("59.00"),
            floor_price=Decimal("50.00"),
            stock=10,
            repurchase_cycle_days=30,
        )
        customer = Customer(shop_id=world.a.shop_id, customer_ref=ref)
        s.add_all([product, customer])
        s.flush()
        for n, days in enumerate((60, 30)):
            order = Order(
                shop_id=world.a.shop_id,
                order_no=f"A{n}{uuid.uuid4().hex[:8]}",
                customer_id=customer.id,
                status="completed",
                total_amount=Decimal("59.00"),
                created_at=now - timedelta(days=days),
            )
            order.items.append(
                OrderItem(
                    shop_id=world.a.shop_id,
                    product_id=product.id,
                    sku="A-SKU-1",
                    qty=1,
                    unit_price=Decimal("59.00"),
                )
            )
            s.add(order)
        s.commit()
    return Made(params={"customer_ref": ref}, markers=(title,))


def a_segment_member(world: World) -> Made:
    made = a_buying_customer(world)
    r = world.client.get("/v1/segments", headers=world.a.headers())
    assert r.status_code == 200, r.text
    name = next(seg["segment"] for seg in r.json()["segments"] if seg["count"])
    return Made(params={"name": name}, markers=(made.params["customer_ref"],))


def a_reminder(world: World) -> Made:
    made = a_buying_customer(world)
    return Made(markers=(made.params["customer_ref"], *made.markers))


def a_rfm_setting(world: World) -> Made:
    a_buying_customer(world)
    return Made(markers=("98765.43",))


def a_copy_product(world: World) -> Made:
    """A product whose attribute only A's data holds; the Moments copy quotes it."""
    marker = _marker("copy")
    with world.runtime.sessions() as s:
        s.add(
            Product(
                shop_id=world.a.shop_id,
                sku="A-COPY-1",
                title="清居 保温杯",
                category="家居日用",
                price=Decimal("89.00"),
                floor_price=Decimal("69.00"),
                stock=50,
                attributes={"产地": marker},
            )
        )
        s.commit()
    return Made(params={"sku": "A-COPY-1"}, markers=(marker,))


def a_copy_draft(world: World) -> Made:
    marker = _marker("draft")
    with world.runtime.sessions() as s:
        draft = CopyDraftRepository(s).add(
            world.a.shop_id,
            skus=["A-COPY-1"],
            goal="种草",
            audience="通用",
            tone="亲切",
            text=f"好物分享 {marker}",
            compliance={"ok": True},
            facts={"ok": True},
            provenance={"engine": "offline"},
        )
        s.commit()
        return Made(params={"draft_id": draft.id}, markers=(marker,))


def a_calendar_job(world: World) -> Made:
    marker = _marker("calendar")
    with world.runtime.sessions() as s:
        repo = JobRepository(s)
        job = repo.create(world.a.shop_id, "copy_calendar", {"days": 1})
        item = {"date": "2026-12-01", "slot": 1, "kind": "种草", "goal": "种草", "sku": "A-COPY-1"}
        repo.succeed(world.a.shop_id, job.id, {"items": [item | {"title": marker, "reason": "库存充足"}]})
        s.commit()
        return Made(params={"job_id": job.id}, markers=(marker,))


def a_sales_import(world: World) -> Made:
    """A's imported sales history under a SKU only A has."""
    sku = _marker("sales")[:30]
    csv = f"sku,date,qty\n{sku},2025-11-01,3\n".encode()
    r = world.client.post(
        "/v1/sales/import", files={"file": ("a.csv", csv, "text/csv")}, headers=world.a.headers()
    )
    assert r.status_code == 200, r.text
    return Made(markers=(sku,))


def _forecast_rows(world: World, shop_id: int, sku: str, title: str, stock: int) -> None:
    from store.repositories.sales import SalesRepository

    start = datetime(2025, 12, 1).date()
    mean = [5.0] * 28
    payload = {
        "mean": mean,
        "lo80": [3.0] * 28,
        "hi80": [7.0] * 28,
        "lo95": [2.0] * 28,
        "hi95": [8.0] * 28,
        "backtest": {"TSB": 1.0},
        "history": {
            "start": "2025-11-29",
            "qty": [4.0, 6.0],
            "stockout": [False, False],
            "corrected": [4.0, 6.0],
        },
    }
    with world.runtime.sessions() as s:
        s.add(
            Product(
                shop_id=shop_id,
                sku=sku,
                title=title,
                category="家居日用",
                price=Decimal("20.00"),
                floor_price=Decimal("15.00"),
                unit_cost=Decimal("10.00"),
                stock=stock,
            )
        )
        forecast = {
            "sku": sku,
            "model": "TSB",
            "demand_class": "smooth",
            "start_date": start,
            "horizon_days": 28,
        }
        SalesRepository(s).save_run(shop_id, uuid.uuid4().hex, [forecast | {"payload": payload}], [])
        s.commit()


def a_forecast(world: World) -> Made:
    """A forecast run in A (a sold-out SKU that needs restocking) and one in B (so B's reads answer)."""
    title = _marker("forecast")
    _forecast_rows(world, world.a.shop_id, "A-FC-1", title, stock=0)
    _forecast_rows(world, world.b.shop_id, "B-FC-1", "山野 竹编果篮", stock=500)
    return Made(params={"sku": "A-FC-1"}, markers=(title,))


def a_conversation(world: World) -> Made:
    """A's conversation with a customer message and a waiting handoff whose brief quotes it."""
    ref, said = _marker("cs-customer"), _marker("cs-said")
    with world.runtime.sessions() as s:
        customer = Customer(shop_id=world.a.shop_id, customer_ref=ref, nickname=_marker("nick"))
        s.add(customer)
        s.flush()
        repo = ConversationRepository(s)
        conv = repo.create(world.a.shop_id, customer.id, "wechat")
        repo.add_message(conv, MessageRole.customer, said)
        conv.state = ConversationState.waiting_human
        item = repo.open_handoff(conv, ["customer_request"], 40, {"request": said}, datetime.now(UTC))
        s.commit()
        return Made(
            params={"conversation_id": conv.id, "handoff_id": item.id, "customer_ref": ref},
            markers=(said,),
        )


def a_webhook(world: World) -> Made:
    """A's handoff webhook, its URL naming only A."""
    url = f"http://127.0.0.1:9/{_marker('webhook')}"
    r = world.client.put(
        "/v1/shop/webhook", json={"url": url, "secret": "a-secret-0123456789"}, headers=world.a.headers()
    )
    assert r.status_code == 200, r.text
    return Made(markers=(url,))


def a_kb_document(world: World) -> Made:
    marker = _marker("kb")
    r = world.client.post(
        "/v1/kb/documents",
        json={"title": f"政策 {marker}", "text": f"本店保温杯专属暗号 {marker}，七天无理由退货。"},
        headers=world.a.headers(),
    )
    assert r.status_code == 201, r.text
    return Made(params={"document_id": r.json()["id"]}, markers=(marker,))


def a_kb_product(world: World) -> Made:
    made = a_copy_product(world)
    r = world.client.post("/v1/kb/sync-products", headers=world.a.headers())
    assert r.status_code == 200, r.text
    return made


def a_kb_imported_product(world: World) -> Made:
    """A's product imported from a file under A's own SKU code, so B's import must not touch it."""
    sku, title = _marker("imp")[:30], _marker("imp-title")
    csv = f"sku,title,category,price\n{sku},{title},家居,19\n".encode()
    r = world.client.post(
        "/v1/kb/products/import", files={"file": ("a.csv", csv, "text/csv")}, headers=world.a.headers()
    )
    assert r.status_code == 200, r.text
    return Made(markers=(sku, title))


# ---- the registry: ONE entry per /v1 route ----------------------------------------------

ROUTES: list[Route] = [
    # shops & keys
    Route("GET", "/v1/shop", a_shop, lists_a=True),
    Route("GET", "/v1/keys", a_key, lists_a=True),
    Route("POST", "/v1/keys", a_key, body=lambda w, m: {"role": "agent", "name": "b-key"}, ok=201),
    Route("DELETE", "/v1/keys/{key_id}", a_key, ok=204),
    # jobs
    Route("GET", "/v1/jobs", a_finished_job, lists_a=True),
    Route("GET", "/v1/jobs/{job_id}", a_finished_job),
    Route("GET", "/v1/jobs/{job_id}/events", a_finished_job),
    Route("POST", "/v1/evals", a_finished_job, body=lambda w, m: {"suite": w.eval_suite}, ok=202),
    # recommender
    Route("GET", "/v1/customers/{customer_ref}/recommendations", a_buying_customer),
    Route(
        "POST",
        "/v1/recommendations",
        a_buying_customer,
        body=lambda w, m: {"customer_ref": m.params["customer_ref"], "context_skus": ["A-SKU-1"]},
        object_ref=True,
    ),
    Route("GET", "/v1/reminders", a_reminder, lists_a=True),
    Route("GET", "/v1/segments", a_rfm_setting, lists_a=True),
    Route("GET", "/v1/segments/{name}/customers", a_segment_member, lists_a=True, object_ref=False),
    Route("POST", "/v1/recommendations/refresh", a_finished_job, ok=202),
    # copywriter
    Route(
        "POST",
        "/v1/copy/moments",
        a_copy_product,
        body=lambda w, m: {"skus": [m.params["sku"]], "max_chars": 300, "variants": 1},
        object_ref=True,
        lists_a=True,
    ),
    Route("GET", "/v1/copy/drafts", a_copy_draft, lists_a=True),
    Route("POST", "/v1/copy/drafts/{draft_id}/approve", a_copy_draft, lists_a=True),
    Route("POST", "/v1/copy/drafts/{draft_id}/reject", a_copy_draft, lists_a=True),
    Route(
        "POST",
        "/v1/copy/calendar",
        a_copy_product,
        body=lambda w, m: {"start_date": "2026-12-01", "days": 3},
        ok=202,
    ),
    Route("GET", "/v1/copy/calendar/{job_id}.csv", a_calendar_job, lists_a=True),
    # knowledge base
    Route("GET", "/v1/kb/documents", a_kb_document, lists_a=True),
    Route("GET", "/v1/kb/documents/{document_id}", a_kb_document, lists_a=True),
    Route("DELETE", "/v1/kb/documents/{document_id}", a_kb_document, ok=204),
    Route(
        "POST",
        "/v1/kb/documents",
        a_kb_document,
        body=lambda w, m: {"title": "b-doc", "text": "B 店的说明。"},
        ok=201,
    ),
    Route(
        "POST",
        "/v1/kb/search",
        a_kb_document,
        body=lambda w, m: {"query": "保温杯专属暗号是什么", "k": 10},
        lists_a=True,
    ),
    Route("POST", "/v1/kb/sync-products", a_kb_product),
    Route(
        "POST",
        "/v1/kb/products/import",
        a_kb_imported_product,
        files=lambda w, m: {
            "file": ("b.csv", "sku,title,category,price\nB-IMP-1,B 店杯子,家居,9\n".encode())
        },
    ),
    # customer service
    Route(
        "POST",
        "/v1/conversations",
        a_conversation,
        body=lambda w, m: {"customer_ref": "b-customer", "channel": "wechat"},
        ok=201,
    ),
    Route(
        "POST",
        "/v1/conversations/{conversation_id}/messages",
        a_conversation,
        body=lambda w, m: {"text": "您好，我是客服"},
    ),
    Route("GET", "/v1/conversations/{conversation_id}", a_conversation, lists_a=True),
    Route("GET", "/v1/handoffs", a_conversation, lists_a=True),
    Route("POST", "/v1/handoffs/{handoff_id}/claim", a_conversation, lists_a=True),
    Route("POST", "/v1/handoffs/{handoff_id}/release", a_conversation, lists_a=True),
    Route("POST", "/v1/handoffs/{handoff_id}/resolve", a_conversation, lists_a=True),
    Route("DELETE", "/v1/customers/{customer_ref}", a_conversation),
    Route("GET", "/v1/shop/webhook", a_webhook, lists_a=True),
    Route(
        "PUT",
        "/v1/shop/webhook",
        a_webhook,
        body=lambda w, m: {"url": "http://127.0.0.1:9/b", "secret": "b-secret-0123456789"},
    ),
    Route("DELETE", "/v1/shop/webhook", a_webhook, ok=204),
    # forecaster
    Route(
        "POST",
        "/v1/sales/import",
        a_sales_import,
        files=lambda w, m: {"file": ("b.csv", b"sku,date,qty\nB-1,2025-11-01,1\n", "text/csv")},
    ),
    Route("POST", "/v1/forecast/run", a_forecast, ok=202),
    Route("GET", "/v1/forecast/{sku}", a_forecast),
    Route("GET", "/v1/restock/suggestions", a_forecast, lists_a=True),
    Route(
        "POST",
        "/v1/merchant/ask",
        a_forecast,
        body=lambda w, m: {"question": "下周哪些要补货?"},
        lists_a=True,
    ),
]

# Routes that hold no shop's data, each with the reason. Keep this list short.
NOT_TENANT: dict[tuple[str, str], str] = {
    ("GET", "/v1/health"): "service liveness; reads no table, open without a key",
    ("POST", "/v1/shops"): "admin only (owner keys get 403, tested in test_auth); creates a tenant",
    ("POST", "/v1/copy/check"): "checks the posted text against the 广告法 lexicon; reads no table",
}


@pytest.fixture
def world(runtime: Runtime, shop_a: ShopKeys, shop_b: ShopKeys, real_embedder: Embedder) -> Iterator[World]:
    runtime.put("embedder", real_embedder)  # the recommender embeds product cards
    enqueued: list[tuple[str, str, int]] = []
    # Jobs are only recorded here, so the suite needs no body: the API just has to accept it.
    suite_name = f"isolation_{uuid.uuid4().hex[:6]}"
    app = create_app(runtime=runtime)
    app.dependency_overrides[get_enqueue] = lambda: lambda *job: enqueued.append(job)
    app.dependency_overrides[get_eval_suites] = lambda: EVAL_SUITES | {suite_name}
    with TestClient(app) as client:
        yield World(client, runtime, shop_a, shop_b, enqueued, suite_name)


def _call(world: World, route: Route, made: Made, shop: ShopKeys) -> tuple[int, str]:
    path = route.path.format(**made.params)
    body = route.body(world, made) if route.body else None
    files = route.files(world, made) if route.files else None
    r = world.client.request(route.method, path, json=body, files=files, headers=shop.headers(Role.owner))
    return r.status_code, r.text


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_shop_b_cannot_reach_shop_a_data(world: World, route: Route) -> None:
    made = route.make(world)
    assert made.markers, f"{route.method} {route.path}: its maker must name A's data (markers)"
    status, text = _call(world, route, made, world.b)
    leaked = [m for m in made.markers if m in text]
    assert not leaked, f"{route.method} {route.path} showed shop A's data to shop B: {leaked}"
    if route.names_object:
        assert status == 404, f"{route.method} {route.path} with A's ids gave B {status}: {text}"
        assert '"not_found"' in text
    else:
        assert status == route.ok, f"{route.method} {route.path} gave B {status}: {text}"

    status, text = _call(world, route, made, world.a)
    assert status == route.ok, f"control: A's own call of {route.method} {route.path} gave {status}: {text}"
    if route.lists_a:
        assert all(m in text for m in made.markers), f"control: A does not see its own data: {text}"


def _v1_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every /v1 route, including those of nested routers."""
    return {
        (method, ctx.path)
        for ctx in iter_route_contexts(app.routes)
        if ctx.path and ctx.path.startswith("/v1")
        for method in ctx.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }


def test_every_v1_route_is_covered(runtime: Runtime) -> None:
    served = _v1_routes(create_app(runtime=runtime))
    assert ("GET", "/v1/health") in served, "the route walker found nothing: FastAPI's routing changed?"
    registered = {(r.method, r.path) for r in ROUTES}
    missing = sorted(served - registered - set(NOT_TENANT))
    assert not missing, f"add these routes to ROUTES in {__name__} (or NOT_TENANT with a reason): {missing}"
    stale = sorted((registered | set(NOT_TENANT)) - served)
    assert not stale, f"these entries name routes the app no longer serves: {stale}"
    assert len(registered) == len(ROUTES), "a route is registered twice"
