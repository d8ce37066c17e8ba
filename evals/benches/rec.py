"""Bench `rec`: model build time, per-request latency and peak memory at 5k products × 50k
customers (synthetic, seeded), each beside the popularity baseline in the same process.

Goal: p95 < 20 ms per request for our recommender (filters, reminders, MMR and reasons
included). `--quick` uses 1k products × 10k customers.
"""

from __future__ import annotations

import random
import time
from datetime import date, timedelta

import numpy as np
import scipy.sparse as sp

from agents.recommender import model as rec_model
from agents.recommender.evaluation import PopularityBaseline
from agents.recommender.synthetic import synthetic_shop
from evals.bench import BenchContext, BenchResult, bench, measure_peak_python_mb, time_calls

END = date(2026, 6, 30)


def _model_mb(m: rec_model.RecommenderModel) -> float:
    total = 0
    for matrix in (m.affinity, m.sim_cooc, m.sim_content, m.last_day, m.last_qty, m.times_bought):
        csr = sp.csr_matrix(matrix)
        total += csr.data.nbytes + csr.indices.nbytes + csr.indptr.nbytes
    total += m.popularity.nbytes + m.cycle_days.nbytes + m.prices.nbytes
    return total / 1e6


@bench("rec", "推荐: 5k 商品 × 5 万顾客的建模时间、单次请求 p95 延迟与内存峰值 (对比热销基线)")
def run(ctx: BenchContext) -> BenchResult:
    n_products, n_customers = (1_000, 10_000) if ctx.quick else (5_000, 50_000)
    t0 = time.perf_counter()
    shop = synthetic_shop(seed=11, n_products=n_products, n_customers=n_customers, days=540, end=END)
    gen_s = time.perf_counter() - t0
    rows, products = shop.interactions, shop.products
    now = END + timedelta(days=1)

    t0 = time.perf_counter()
    pop = PopularityBaseline(rows)
    pop_build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = rec_model.fit(rows, END, products=products)
    ours_build_s = time.perf_counter() - t0

    _, pop_peak = measure_peak_python_mb(lambda: PopularityBaseline(rows))
    _, ours_peak = measure_peak_python_mb(lambda: rec_model.fit(rows, END, products=products))

    rng = random.Random(5)
    customers = sorted(model.customer_index)
    requests = [rng.choice(customers) for _ in range(300 if ctx.quick else 1000)]
    it_ours, it_pop = iter(requests * 2), iter(requests * 2)
    ours_t = time_calls(lambda: model.recommend(next(it_ours), 10, now=now), n=len(requests))
    in_stock = {p.sku for p in products if (p.stock or 0) > 0}
    pop_t = time_calls(
        lambda: [s for s in pop.recommend(next(it_pop), 40) if s in in_stock][:10], n=len(requests)
    )
    skus = [p.sku for p in products]
    carts = [rng.sample(skus, 2) for _ in range(len(requests))]
    it_cart = iter(list(zip(requests, carts, strict=True)) * 2)

    def cart_request() -> object:
        cust, cart = next(it_cart)
        return model.recommend(cust, 10, now=now, context_items=cart)

    cart_t = time_calls(cart_request, n=len(requests))
    t0 = time.perf_counter()
    reminders = model.reminders(now, within_days=7)
    reminders_s = time.perf_counter() - t0

    rows_out: list[list[object]] = [
        ["build time (s)", round(ours_build_s, 2), round(pop_build_s, 2), _ratio(ours_build_s, pop_build_s)],
        ["request p50 (ms)", ours_t.p50, pop_t.p50, _ratio(ours_t.p50, pop_t.p50)],
        ["request p95 (ms)", ours_t.p95, pop_t.p95, _ratio(ours_t.p95, pop_t.p95)],
        ["cart request p95 (ms)", cart_t.p95, pop_t.p95, _ratio(cart_t.p95, pop_t.p95)],
        ["peak Python heap while building (MB)", ours_peak, pop_peak, _ratio(ours_peak, pop_peak)],
    ]
    return BenchResult(
        name="rec",
        columns=["figure", "ours", "popularity", "ours / popularity"],
        rows=rows_out,
        notes=[
            f"{n_products} products × {n_customers} customers, {len(rows)} purchase lines "
            f"(generated in {gen_s:.1f}s); {len(requests)} requests each",
            f"fitted model arrays: {_model_mb(model):.1f} MB; "
            f"reminders due within 7 days: {len(reminders)} in {reminders_s * 1000:.0f} ms",
            f"goal p95 < 20 ms: {'met' if ours_t.p95 < 20 else 'NOT met'} ({ours_t.p95:.2f} ms)",
        ],
        figures={
            "build_s": ours_build_s,
            "build_s_popularity": pop_build_s,
            "p50_ms": ours_t.p50,
            "p95_ms": ours_t.p95,
            "cart_p95_ms": cart_t.p95,
            "p95_ms_popularity": pop_t.p95,
            "peak_mb": ours_peak,
            "peak_mb_popularity": pop_peak,
            "model_mb": _model_mb(model),
            "interactions": float(len(rows)),
            "mean_recs": float(np.mean([len(model.recommend(c, 10, now=now)) for c in requests[:50]])),
        },
    )


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}×" if b > 0 else "n/a"
