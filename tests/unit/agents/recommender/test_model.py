from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from numpy.testing import assert_allclose

from agents.recommender import model as rec_model
from agents.recommender.model import ModelConfig, estimate_cycles
from agents.recommender.rank import RankConfig
from agents.recommender.schemas import Interaction, ProductRecord, ReasonCode
from store.errors import InvalidInput

from .conftest import at


def test_a_co_bought_item_comes_first_with_its_reason(
    log: list[Interaction], products: list[ProductRecord]
) -> None:
    model = rec_model.fit(log, at(21), products=products)

    recs = model.recommend("u", 5, now=at(25))

    assert [r.sku for r in recs] == ["B", "E", "D", "F", "G"]
    assert recs[0].reason_code is ReasonCode.bought_together
    assert recs[0].reason == "因为您买过轻薄纸尿裤M码"
    assert recs[0].because_of == "A"
    assert recs[-1].reason == "本店热销"
    assert all(r.reason for r in recs)


def test_out_of_stock_and_items_within_their_cycle_are_never_shown(
    log: list[Interaction], products: list[ProductRecord]
) -> None:
    model = rec_model.fit(log, at(21), products=products)

    shown = {r.sku for r in model.recommend("u", 10, now=at(25))}

    assert "C" not in shown  # stock 0, although c3 bought it with A
    assert "A" not in shown  # bought on day 20, 20-day cycle: not due until day 40


def test_a_consumable_comes_back_as_a_repurchase_reminder_when_due(
    log: list[Interaction], products: list[ProductRecord]
) -> None:
    model = rec_model.fit(log, at(21), products=products)

    # due on day 40; the reminder window is min(21 days, half the 20-day cycle) = 10 days
    assert "A" not in {r.sku for r in model.recommend("u", 10, now=at(29))}
    recs = model.recommend("u", 10, now=at(30))

    assert recs[0].sku == "A"
    assert recs[0].reason_code is ReasonCode.repurchase_due
    assert recs[0].reason == "您上次买的轻薄纸尿裤M码快用完了"  # bought once: not "常买"


def test_a_durable_item_already_bought_is_not_shown_again(products: list[ProductRecord]) -> None:
    log = [Interaction("x", "F", at(1)), Interaction("x", "D", at(1)), Interaction("y", "F", at(2))]
    model = rec_model.fit(log, at(3), products=products)

    assert "F" not in {r.sku for r in model.recommend("x", 10, now=at(300))}


def test_packs_bought_stretch_the_cycle_and_reminders_list_due_dates(products: list[ProductRecord]) -> None:
    log = [
        Interaction("one", "A", at(0), qty=1),
        Interaction("two", "A", at(0), qty=2),
        Interaction("late", "A", at(0).replace(year=2025), qty=1),  # overdue by many cycles: dropped
    ]
    model = rec_model.fit(log, at(1), products=products)

    due = model.reminders(at(18), within_days=7)

    assert [(r.customer_id, r.sku, r.due_date, r.last_bought, r.times_bought) for r in due] == [
        ("one", "A", date(2026, 6, 21), date(2026, 6, 1), 1)
    ]
    assert due[0].reason == "您上次买的轻薄纸尿裤M码快用完了"
    assert [r.customer_id for r in model.reminders(at(25), within_days=7)] == ["one"]  # missed by 5 days
    # day 42: "one" missed it 3 weeks ago and drops off; "two" bought 2 packs, so due on day 40
    assert [(r.customer_id, r.due_date) for r in model.reminders(at(42), within_days=7)] == [
        ("two", date(2026, 7, 11))
    ]


def test_a_new_visitor_gets_bestsellers_in_popularity_order(
    log: list[Interaction], products: list[ProductRecord]
) -> None:
    model = rec_model.fit(log, at(21), products=products)

    recs = model.recommend(None, 3, now=at(25))

    assert [r.sku for r in recs] == ["D", "A", "B"]
    assert {r.reason_code for r in recs} == {ReasonCode.bestseller}
    assert model.recommend("never-seen", 3, now=at(25)) == recs


def test_cart_items_drive_the_list_and_are_not_recommended_back(
    log: list[Interaction], products: list[ProductRecord]
) -> None:
    model = rec_model.fit(log, at(21), products=products)

    recs = model.recommend("u", 3, now=at(25), context_items=["D", "not-a-sku"])

    assert "D" not in {r.sku for r in recs}
    assert recs[0].sku == "B"
    assert recs[0].reason_code is ReasonCode.with_context
    assert recs[0].reason == "买每日坚果的顾客常一起买"


def test_content_similarity_surfaces_a_new_card_nobody_bought_yet(
    log: list[Interaction], products: list[ProductRecord]
) -> None:
    skus = ["D", "E", "G", "F"]
    emb = np.array([[1.0, 0.1, 0.0], [0.2, 1.0, 0.0], [1.0, 0.0, 0.05], [0.0, 0.0, 1.0]])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    model = rec_model.fit(log, at(21), products=products, item_embeddings=emb, embedding_skus=skus)
    plain = rec_model.fit(log, at(21), products=products)

    recs = {r.sku: r for r in model.recommend("c4", 7, now=at(25))}

    assert recs["G"].reason_code is ReasonCode.similar_item
    assert recs["G"].reason == "和您买过的每日坚果很像"
    assert recs["G"].score > {r.sku: r for r in plain.recommend("c4", 7, now=at(25))}["G"].score


def test_time_decay_halves_affinity_every_half_life(products: list[ProductRecord]) -> None:
    log = [Interaction("x", "A", at(0)), Interaction("x", "B", at(10)), Interaction("x", "D", at(20))]
    model = rec_model.fit(log, at(20), products=products, config=ModelConfig(half_life_days=10))

    row = model.affinity[model.customer_index["x"]].toarray().ravel()
    idx = [model.item_index[s] for s in ("A", "B", "D")]
    assert_allclose(row[idx], [0.25, 0.5, 1.0])


def test_rows_after_now_are_ignored(log: list[Interaction], products: list[ProductRecord]) -> None:
    model = rec_model.fit(log, at(15), products=products)
    assert "u" not in model.customer_index


def test_repurchase_cycles_are_estimated_from_the_log_when_the_card_has_none() -> None:
    users = np.array([0, 0, 0, 1, 1, 2])
    items = np.array([0, 0, 0, 0, 0, 1])
    days = np.array([0, 30, 50, 10, 50, 5])
    cycles = estimate_cycles(users, items, days, n_items=2, min_observations=3)
    assert_allclose(cycles, [30.0, np.nan])  # gaps 30, 20, 40 → median 30; item 1 never repurchased


def test_a_reminder_for_something_bought_again_and_again_says_so(products: list[ProductRecord]) -> None:
    log = [Interaction("x", "A", at(d)) for d in (0, 20, 40)]
    model = rec_model.fit(log, at(41), products=products)

    recs = model.recommend("x", 3, now=at(55))

    assert recs[0].sku == "A" and recs[0].reason == "您常买的轻薄纸尿裤M码快用完了"
    assert model.reminders(at(60), within_days=7)[0].reason == "您常买的轻薄纸尿裤M码快用完了"
    # due on day 60 with a 20-day cycle: by day 90 it ran out long ago
    assert model.recommend("x", 3, now=at(90))[0].reason == "您常买的轻薄纸尿裤M码该补货了"


def test_items_repurchased_by_few_of_their_buyers_get_no_estimated_cycle() -> None:
    # item 0: 1 of 5 buyers came back (3 gaps); item 1: 2 of 2 buyers came back (3 gaps)
    users = np.array([0, 0, 0, 0, 1, 2, 3, 4, 5, 5, 6, 6, 6])
    items = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    days = np.array([0, 100, 250, 400, 3, 4, 5, 6, 0, 10, 0, 12, 20])
    loose = estimate_cycles(users, items, days, n_items=2, min_observations=3)
    strict = estimate_cycles(users, items, days, n_items=2, min_observations=3, min_repeat_share=0.5)
    assert_allclose(loose, [150.0, 10.0])
    assert_allclose(strict, [np.nan, 10.0])  # one customer's second T-shirt is not a cycle


def test_mmr_spreads_categories(products: list[ProductRecord]) -> None:
    cats = {p.sku: p.category for p in products}
    log = [Interaction(c, s, at(d)) for d, c in enumerate(["p", "q", "r"]) for s in ("B", "D", "E", "G")]
    log.append(Interaction("me", "B", at(5)))
    strict = rec_model.fit(log, at(6), products=products, config=ModelConfig(rank=RankConfig(mmr_lambda=0.1)))

    top2 = [r.sku for r in strict.recommend("me", 2, now=at(7))]

    assert len({cats[s] for s in top2}) == 2


def test_price_band_damps_items_far_from_what_the_customer_pays(products: list[ProductRecord]) -> None:
    log = [Interaction(c, s, at(1)) for c in ("p", "q") for s in ("D", "E", "F")]
    log.append(Interaction("me", "D", at(2)))
    config = ModelConfig(category_weight=0.0)  # E and F then differ by price alone
    model = rec_model.fit(log, at(3), products=products, config=config)

    recs = {r.sku: r.score for r in model.recommend("me", 5, now=at(4))}

    # E and F co-occur with D equally; F costs 2000 against a median of 30 (ratio 66.7, band 2)
    assert recs["F"] == pytest.approx(recs["E"] * 2 / (2000 / 30), rel=1e-3)


def test_same_input_same_output(log: list[Interaction], products: list[ProductRecord]) -> None:
    a = rec_model.fit(log, at(21), products=products).recommend("c4", 5, now=at(25))
    b = rec_model.fit(list(reversed(log)), at(21), products=list(reversed(products))).recommend(
        "c4", 5, now=at(25)
    )
    assert a == b


def test_with_products_refreshes_stock_without_a_refit(
    log: list[Interaction], products: list[ProductRecord]
) -> None:
    model = rec_model.fit(log, at(21), products=products)
    sold_out = [
        ProductRecord(
            p.sku, p.category, p.price, 0 if p.sku == "B" else p.stock, p.repurchase_cycle_days, p.title
        )
        for p in products
    ]

    refreshed = model.with_products(sold_out)

    assert "B" not in {r.sku for r in refreshed.recommend("u", 5, now=at(25))}
    assert "B" in {r.sku for r in model.recommend("u", 5, now=at(25))}


def test_bad_arguments_are_invalid_input(log: list[Interaction]) -> None:
    with pytest.raises(InvalidInput):
        rec_model.fit([], at(1))
    with pytest.raises(InvalidInput):
        ModelConfig(half_life_days=0)
    model = rec_model.fit(log, at(21))
    with pytest.raises(InvalidInput):
        model.recommend("u", 0, now=at(25))
    with pytest.raises(InvalidInput):
        rec_model.fit(log, at(21), item_embeddings=np.eye(2), embedding_skus=["A"])
