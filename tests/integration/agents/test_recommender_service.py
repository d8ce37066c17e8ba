"""The recommender service on the demo shop, with the real embedder: cold fit, cache and
artifact, the refresh job, live stock and prices, privacy, segments and reminders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from agents.jobs import JobView, install_runtime, read_job, run_job, submit_job
from agents.recommender import service
from agents.recommender.rfm import Segment
from agents.recommender.schemas import ReasonCode
from agents.recommender.tasks import REFRESH_KIND, nightly_refresh
from agents.runtime import Runtime
from retrieval.embedding import Embedder, Vectors
from store.demo import load_demo
from store.errors import NotFound
from store.models import Customer, JobStatus, Product
from store.repositories.catalog import ProductRepository
from store.repositories.jobs import JobRepository
from store.repositories.shops import ShopRepository
from store.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

END = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai, after the demo's last order


class NoEmbedding:
    """Fails the test if anything embeds: proves a request was served without a refit."""

    name = "must-not-embed"
    dim = 384

    def embed_queries(self, texts: object) -> Vectors:
        raise AssertionError("embedded a query: the model was refit")

    def embed_passages(self, texts: object) -> Vectors:
        raise AssertionError("embedded product cards: the model was refit")


@dataclass
class Demo:
    runtime: Runtime
    shop_id: int


@pytest.fixture
def demo(runtime: Runtime, memo_embedder: Embedder, tmp_path: Path) -> Demo:
    report = load_demo(runtime.sessions, end_date=END, keys_path=tmp_path / "keys.json", customers=300)
    runtime.put("embedder", memo_embedder)
    return Demo(runtime, report.shop_id)


def _vip_ref(demo: Demo) -> str:
    page = service.segment_customers(demo.runtime, demo.shop_id, "vip", now=NOW, limit=1)
    assert page.total > 0 and page.items
    return page.items[0].customer_ref


def test_first_request_fits_once_then_cache_and_artifact_serve_without_refit(
    demo: Demo, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    path = service.artifact_path(demo.runtime, demo.shop_id)
    assert not path.exists()
    ref = _vip_ref(demo)  # cold: fits and saves the artifact
    assert path.is_file()
    first = service.recommend(demo.runtime, demo.shop_id, now=NOW, customer_ref=ref, k=10)
    assert first.model_version.startswith("inline-") and first.personalised

    # Same process: no embedder needed any more.
    demo.runtime.put("embedder", NoEmbedding())
    again = service.recommend(demo.runtime, demo.shop_id, now=NOW, customer_ref=ref, k=10)
    assert [i.sku for i in again.items] == [i.sku for i in first.items]

    # Another process (a second API worker) loads the artifact instead of fitting.
    other = Runtime(settings=settings, engine=demo.runtime.engine, sessions=session_factory)
    other.put("embedder", NoEmbedding())
    loaded = service.recommend(other, demo.shop_id, now=NOW, customer_ref=ref, k=10)
    assert loaded.model_version == first.model_version
    assert [(i.sku, i.reason) for i in loaded.items] == [(i.sku, i.reason) for i in first.items]


def test_recommendations_are_in_stock_priced_from_the_store_and_explained(demo: Demo) -> None:
    ref = _vip_ref(demo)
    result = service.recommend(demo.runtime, demo.shop_id, now=NOW, customer_ref=ref, k=10)
    assert len(result.items) == 10
    assert result.segment is not None and result.segment.segment is Segment.vip
    assert result.segment.copy_goal == "会员日"
    assert len({i.sku for i in result.items}) == 10
    for item in result.items:
        assert item.reason.strip() and item.reason_code in ReasonCode
    top = result.items[0]

    # The store changes after the model was built: sold out and repriced, seen at once.
    with demo.runtime.sessions() as s:
        s.execute(
            update(Product).where(Product.shop_id == demo.shop_id, Product.sku == top.sku).values(stock=0)
        )
        second = result.items[1].sku
        s.execute(
            update(Product)
            .where(Product.shop_id == demo.shop_id, Product.sku == second)
            .values(price=Decimal("12.34"))
        )
        s.commit()
    after = service.recommend(demo.runtime, demo.shop_id, now=NOW, customer_ref=ref, k=10)
    assert top.sku not in [i.sku for i in after.items]
    assert len(after.items) == 10
    assert {i.sku: i.price for i in after.items}[second] == Decimal("12.34")
    with demo.runtime.sessions() as s:
        live = ProductRepository(s).by_skus(demo.shop_id, [i.sku for i in after.items])
        assert len(live) == 10 and all(p.stock > 0 and p.active for p in live)


def test_cart_context_recommends_companions_with_a_reason_naming_the_cart_item(demo: Demo) -> None:
    result = service.recommend(demo.runtime, demo.shop_id, now=NOW, context_skus=["MB-101"], k=5)
    assert result.customer_ref is None and not result.personalised and result.segment is None
    assert "MB-101" not in [i.sku for i in result.items]
    assert any(i.reason_code is ReasonCode.with_context and i.because_of == "MB-101" for i in result.items)
    with_context = next(i for i in result.items if i.reason_code is ReasonCode.with_context)
    assert with_context.reason.startswith("买") and with_context.reason.endswith("的顾客常一起买")


def test_erased_and_no_consent_customers_get_bestsellers_only(demo: Demo) -> None:
    ref = _vip_ref(demo)
    personal = service.recommend(demo.runtime, demo.shop_id, now=NOW, customer_ref=ref, k=10)
    assert any(i.reason_code is not ReasonCode.bestseller for i in personal.items)
    visitor = service.recommend(demo.runtime, demo.shop_id, now=NOW, k=10)
    assert {i.reason_code for i in visitor.items} == {ReasonCode.bestseller}

    for change in ({"consent_profiling": False}, {"consent_profiling": True, "erased_at": NOW}):
        with demo.runtime.sessions() as s:
            s.execute(
                update(Customer)
                .where(Customer.shop_id == demo.shop_id, Customer.customer_ref == ref)
                .values(**change)
            )
            s.commit()
        result = service.recommend(
            demo.runtime, demo.shop_id, now=NOW, customer_ref=ref, context_skus=["MB-101"], k=10
        )
        assert not result.personalised and result.segment is None
        assert {i.reason for i in result.items} == {"本店热销"}
        assert [i.sku for i in result.items] == [i.sku for i in visitor.items]
        # Nor is the customer listed for marketing.
        due = service.reminders(demo.runtime, demo.shop_id, now=NOW, within_days=90, limit=500)
        assert ref not in {r.customer_ref for r in due.items}
        vip = service.segment_customers(demo.runtime, demo.shop_id, "vip", now=NOW, limit=200)
        assert ref not in {c.customer_ref for c in vip.items}


def test_unknown_or_foreign_customer_is_not_found(demo: Demo, session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(NotFound, match="顾客"):
        service.recommend(demo.runtime, demo.shop_id, now=NOW, customer_ref="wx_nobody", k=5)
    with session_factory() as s:
        other = ShopRepository(s).create("别家小店")
        s.add(Customer(shop_id=other.id, customer_ref="wx_elsewhere"))
        s.commit()
        other_id = other.id
    with pytest.raises(NotFound):
        service.recommend(demo.runtime, demo.shop_id, now=NOW, customer_ref="wx_elsewhere", k=5)
    # The other shop has no products and no orders: empty answers, not errors.
    empty = service.recommend(demo.runtime, other_id, now=NOW, customer_ref="wx_elsewhere", k=5)
    assert empty.items == [] and empty.segment is None
    assert service.segments(demo.runtime, other_id, now=NOW).customers == 0


def test_segments_count_every_profiled_customer_with_a_trend_and_pages(demo: Demo) -> None:
    report = service.segments(demo.runtime, demo.shop_id, now=NOW)
    assert report.as_of == END and report.compare_to == END - timedelta(days=30)
    assert [c.segment for c in report.segments] == list(Segment)
    assert sum(c.count for c in report.segments) == report.customers > 0
    assert sum(c.previous_count for c in report.segments) <= report.customers
    goals = {c.segment: c.copy_goal for c in report.segments}
    assert goals[Segment.dormant] == "唤醒" and goals[Segment.vip] == "会员日"
    assert all(c.next_action for c in report.segments)

    dormant = next(c for c in report.segments if c.segment is Segment.dormant)
    by_label = service.segment_customers(demo.runtime, demo.shop_id, "沉睡", now=NOW, limit=5, offset=0)
    assert by_label.segment is Segment.dormant and by_label.total == dormant.count
    rest = service.segment_customers(demo.runtime, demo.shop_id, "dormant", now=NOW, limit=500, offset=5)
    assert len(rest.items) == max(dormant.count - 5, 0)
    refs = [c.customer_ref for c in by_label.items] + [c.customer_ref for c in rest.items]
    assert len(set(refs)) == dormant.count
    assert all(c.recency_days > report.thresholds["dormant_days"] for c in rest.items)
    spend = [c.monetary for c in by_label.items]
    assert spend == sorted(spend, reverse=True)
    with pytest.raises(NotFound, match="未知的客户分层"):
        service.segment_customers(demo.runtime, demo.shop_id, "土豪", now=NOW)


def test_shop_threshold_overrides_move_customers_between_segments(demo: Demo) -> None:
    before = {c.segment: c.count for c in service.segments(demo.runtime, demo.shop_id, now=NOW).segments}
    with demo.runtime.sessions() as s:
        ShopRepository(s).update_settings(demo.shop_id, {"rfm": {"vip_min_orders": 1, "vip_min_monetary": 0}})
        s.commit()
    after = service.segments(demo.runtime, demo.shop_id, now=NOW)
    assert after.thresholds["vip_min_orders"] == 1
    counts = {c.segment: c.count for c in after.segments}
    assert counts[Segment.vip] > before[Segment.vip]
    assert counts[Segment.high_potential] == counts[Segment.active] == 0


def test_reminders_are_due_this_week_and_sold_in_the_shop(demo: Demo) -> None:
    page = service.reminders(demo.runtime, demo.shop_id, now=NOW, within_days=7, limit=50)
    assert page.total > 0 and len(page.items) == min(50, page.total)
    for r in page.items:
        assert abs((r.due_date - END).days) <= 7
        assert r.last_bought < r.due_date and r.times_bought >= 1
        assert r.reason.endswith("快用完了")
    dues = [r.due_date for r in page.items]
    assert dues == sorted(dues)
    nxt = service.reminders(demo.runtime, demo.shop_id, now=NOW, within_days=7, limit=50, offset=50)
    assert nxt.total == page.total
    assert not {(r.customer_ref, r.sku) for r in nxt.items} & {(r.customer_ref, r.sku) for r in page.items}


def test_refresh_job_rebuilds_reuses_card_vectors_and_every_process_picks_it_up(
    demo: Demo, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    ref = _vip_ref(demo)
    old = service.recommend(demo.runtime, demo.shop_id, now=NOW, customer_ref=ref, k=5)
    reader = Runtime(settings=settings, engine=demo.runtime.engine, sessions=session_factory)
    reader.put("embedder", NoEmbedding())
    assert (
        service.recommend(reader, demo.shop_id, now=NOW, customer_ref=ref, k=5).model_version
        == old.model_version
    )

    enqueued: list[tuple[str, str, int]] = []
    job = submit_job(
        demo.runtime, lambda *a: enqueued.append(a), shop_id=demo.shop_id, kind=REFRESH_KIND, params={}
    )
    assert enqueued == [(REFRESH_KIND, job.job_id, demo.shop_id)]
    # No card changed since the cold fit: the job embeds nothing.
    demo.runtime.put("embedder", NoEmbedding())
    assert run_job(demo.runtime, job.job_id, demo.shop_id) is JobStatus.succeeded
    done: JobView = read_job(demo.runtime, demo.shop_id, job.job_id)
    assert done.progress == 1.0 and done.result is not None
    assert done.result["version"] == job.job_id and done.result["embedded_cards"] == 0
    assert done.result["products"] == 88

    # The reader process sees the new artifact on its next request, without refitting.
    fresh = service.recommend(reader, demo.shop_id, now=NOW, customer_ref=ref, k=5)
    assert fresh.model_version == job.job_id


def test_nightly_refresh_runs_one_job_per_shop_that_keeps_it_on(
    demo: Demo, session_factory: sessionmaker[Session]
) -> None:
    service.segments(demo.runtime, demo.shop_id, now=NOW)  # cold fit: card vectors are cached
    with session_factory() as s:
        off = ShopRepository(s).create("不要夜间刷新", settings={"rec": {"nightly_refresh": False}})
        s.commit()
        off_id = off.id
    nightly = service.nightly_shop_ids(demo.runtime)
    assert demo.shop_id in nightly and off_id not in nightly

    demo.runtime.put("embedder", NoEmbedding())
    previous = install_runtime(demo.runtime)
    try:
        nightly_refresh()
    finally:
        install_runtime(previous)
    with session_factory() as s:
        jobs = JobRepository(s).list_for_shop(demo.shop_id, kind=REFRESH_KIND)
        assert [(j.status, j.params) for j in jobs] == [(JobStatus.succeeded, {"trigger": "nightly"})]
        assert JobRepository(s).list_for_shop(off_id) == []
    result = service.recommend(demo.runtime, demo.shop_id, now=NOW, k=3)
    assert result.model_version == jobs[0].id


def test_an_empty_shop_is_served_and_its_first_product_shows_up_without_a_refresh(
    runtime: Runtime, real_embedder: Embedder, session_factory: sessionmaker[Session]
) -> None:
    runtime.put("embedder", real_embedder)
    with session_factory() as s:
        shop_id = ShopRepository(s).create("新开的小店").id
        s.commit()
    built = service.refresh(runtime, shop_id, now=NOW, version="job-1")
    assert built.model is None and not service.artifact_path(runtime, shop_id).exists()
    assert service.recommend(runtime, shop_id, now=NOW, k=5).items == []
    assert service.reminders(runtime, shop_id, now=NOW).total == 0

    with session_factory() as s:
        s.add(
            Product(
                shop_id=shop_id,
                sku="XD-001",
                title="新品 手工红糖 500g",
                category="食品",
                price=Decimal("29.90"),
                floor_price=Decimal("25.00"),
                stock=5,
            )
        )
        s.commit()
    items = service.recommend(runtime, shop_id, now=NOW, k=5).items
    assert [(i.sku, i.price, i.reason) for i in items] == [("XD-001", Decimal("29.90"), "本店热销")]
