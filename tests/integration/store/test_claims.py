"""The handoff claim is one conditional UPDATE: of many concurrent claims exactly one wins.

Runs on SQLite by default and on Postgres when SIYU_DATABASE_URL is a postgres URL (the
conftest fixtures commit for real on both, each session on its own pooled connection).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.models import Customer, Handoff, HandoffStatus
from store.repositories.conversations import ConversationRepository
from store.repositories.shops import ShopRepository

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLAIMS = 240
WORKERS = 24  # within the Postgres pool (10 + 20 overflow); SQLite serialises the writes
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


def _waiting_handoff(factory: sessionmaker[Session]) -> tuple[int, int]:
    with factory() as s:
        shop = ShopRepository(s).create("抢单测试店")
        customer = Customer(shop_id=shop.id, customer_ref="wx_claim")
        s.add(customer)
        s.flush()
        repo = ConversationRepository(s)
        conv = repo.create(shop.id, customer.id, "wechat")
        item = repo.open_handoff(conv, ["customer_request"], 40, {"request": "转人工"}, NOW)
        s.commit()
        return shop.id, item.id


def test_exactly_one_of_many_concurrent_claims_wins(session_factory: sessionmaker[Session]) -> None:
    shop_id, handoff_id = _waiting_handoff(session_factory)
    start = threading.Barrier(WORKERS)

    def claim(n: int) -> bool:
        if n < WORKERS:
            start.wait()  # the first wave leaves together
        with session_factory() as s:
            won = ConversationRepository(s).claim(shop_id, handoff_id, f"agent:{n}", NOW)
            s.commit()
            return won

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(claim, range(CLAIMS)))

    assert len(results) == CLAIMS
    assert results.count(True) == 1
    with session_factory() as s:
        item = s.get_one(Handoff, handoff_id)
        assert item.status is HandoffStatus.claimed
        assert item.claimed_by == f"agent:{results.index(True)}"


def test_claim_is_scoped_to_the_shop(session_factory: sessionmaker[Session]) -> None:
    shop_id, handoff_id = _waiting_handoff(session_factory)
    with session_factory() as s:
        other = ShopRepository(s).create("别家店")
        s.commit()
        repo = ConversationRepository(s)
        assert repo.claim(other.id, handoff_id, "agent:x", NOW) is False
        assert repo.claim(shop_id, handoff_id, "agent:y", NOW) is True
        assert repo.claim(shop_id, handoff_id, "agent:z", NOW) is False
        s.commit()
