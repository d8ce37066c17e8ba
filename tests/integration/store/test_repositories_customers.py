from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.errors import AlreadyExists, NotFound
from store.models import Customer
from store.repositories.customers import CustomerRepository
from store.repositories.shops import ShopRepository

pytestmark = pytest.mark.integration


@pytest.fixture
def shops(session: Session) -> tuple[int, int]:
    a = ShopRepository(session).create("小鹿母婴").id
    b = ShopRepository(session).create("山野生鲜").id
    session.commit()
    return a, b


def test_create_and_get_by_ref_are_shop_scoped(session: Session, shops: tuple[int, int]) -> None:
    a, b = shops
    repo = CustomerRepository(session)
    created = repo.create(
        a, "wx_000123", nickname="朵朵妈", phone="138****5621", city="杭州", consent_marketing=True
    )
    session.commit()
    found = repo.get_by_ref(a, "wx_000123")
    assert found is not None and found.id == created.id
    assert (found.nickname, found.phone, found.city) == ("朵朵妈", "138****5621", "杭州")
    assert (found.consent_marketing, found.consent_profiling) == (True, True)
    assert repo.get_by_ref(b, "wx_000123") is None
    with pytest.raises(NotFound):
        repo.get(b, created.id)
    with pytest.raises(NotFound, match="wx_000123"):
        repo.require_by_ref(b, "wx_000123")
    with pytest.raises(AlreadyExists, match="wx_000123"):
        repo.create(a, "wx_000123")
    # The same ref is a different person in another shop.
    assert repo.create(b, "wx_000123").id != created.id


def test_get_or_create(session: Session, shops: tuple[int, int]) -> None:
    a, _ = shops
    repo = CustomerRepository(session)
    first, created = repo.get_or_create(a, "wx_000001", nickname="Lily")
    assert created is True and first.nickname == "Lily"
    again, created_again = repo.get_or_create(a, "wx_000001", nickname="别的名字")
    assert created_again is False and again.id == first.id and again.nickname == "Lily"
    assert repo.count(a) == 1


class StaleFirstRead(CustomerRepository):
    """Its first look-up misses, as if it ran just before another request committed the row."""

    stale = True

    def get_by_ref(self, shop_id: int, customer_ref: str) -> Customer | None:
        if self.stale:
            self.stale = False
            return None
        return super().get_by_ref(shop_id, customer_ref)


def test_get_or_create_loses_a_race_gracefully(
    session_factory: sessionmaker[Session], shops: tuple[int, int]
) -> None:
    a, _ = shops
    with session_factory() as first:
        winner, created = CustomerRepository(first).get_or_create(a, "wx_race", nickname="先到")
        first.commit()
        assert created is True
    with session_factory() as second:
        customer, created = StaleFirstRead(second).get_or_create(a, "wx_race", nickname="后到")
        assert created is False
        assert (customer.id, customer.nickname) == (winner.id, "先到")
        second.commit()  # the failed insert was only a savepoint: the session is still usable
        assert CustomerRepository(second).count(a) == 1


def test_list_is_paged_oldest_first(session: Session, shops: tuple[int, int]) -> None:
    a, b = shops
    repo = CustomerRepository(session)
    for i in range(1, 8):
        repo.create(a, f"wx_{i:06d}")
    repo.create(b, "wx_999999")
    session.commit()
    page = repo.list(a, limit=3, offset=3)
    assert [c.customer_ref for c in page.items] == ["wx_000004", "wx_000005", "wx_000006"]
    assert (page.total, page.limit, page.offset) == (7, 3, 3)
    last = repo.list(a, limit=3, offset=6)
    assert [c.customer_ref for c in last.items] == ["wx_000007"]
    assert repo.list(b).total == 1
