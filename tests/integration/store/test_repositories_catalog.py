from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from store.errors import NotFound
from store.models import Product
from store.repositories.catalog import ProductRepository, normalize_code
from store.repositories.shops import ShopRepository

pytestmark = pytest.mark.integration


def add_product(session: Session, shop_id: int, sku: str, category: str, *, active: bool = True) -> Product:
    product = Product(
        shop_id=shop_id,
        sku=sku,
        title=f"商品 {sku}",
        category=category,
        price=Decimal("99.00"),
        floor_price=Decimal("79.00"),
        attributes={"容量": "500ml"},
        active=active,
    )
    session.add(product)
    session.flush()
    return product


@pytest.fixture
def shops(session: Session) -> tuple[int, int]:
    a = ShopRepository(session).create("小鹿母婴").id
    b = ShopRepository(session).create("山野生鲜").id
    add_product(session, a, "ST-771", "家居日用")
    add_product(session, a, "ST-7710", "家居日用")
    add_product(session, a, "MB-102", "母婴")
    add_product(session, a, "MB-101", "母婴")
    add_product(session, a, "MB-999", "母婴", active=False)
    add_product(session, b, "ST-771", "食品生鲜")
    add_product(session, b, "SX-301", "食品生鲜")
    session.commit()
    return a, b


def test_get_by_sku_is_shop_scoped(session: Session, shops: tuple[int, int]) -> None:
    a, b = shops
    repo = ProductRepository(session)
    mine = repo.get_by_sku(a, "ST-771")
    theirs = repo.get_by_sku(b, "ST-771")
    assert mine is not None and theirs is not None
    assert (mine.shop_id, mine.category) == (a, "家居日用")
    assert (theirs.shop_id, theirs.category) == (b, "食品生鲜")
    assert repo.get_by_sku(a, "SX-301") is None
    with pytest.raises(NotFound, match="SX-301"):
        repo.require_by_sku(a, "SX-301")
    with pytest.raises(NotFound):
        repo.get(a, theirs.id)
    assert repo.get(a, mine.id).sku == "ST-771"


def test_list_and_filter_by_category(session: Session, shops: tuple[int, int]) -> None:
    a, _ = shops
    repo = ProductRepository(session)
    assert [p.sku for p in repo.list(a)] == ["MB-101", "MB-102", "ST-771", "ST-7710"]
    assert [p.sku for p in repo.list(a, category="母婴")] == ["MB-101", "MB-102"]
    assert [p.sku for p in repo.list(a, category="母婴", active_only=False)] == ["MB-101", "MB-102", "MB-999"]
    assert [p.sku for p in repo.list(a, limit=2, offset=1)] == ["MB-102", "ST-771"]
    assert repo.categories(a) == [("家居日用", 2), ("母婴", 2)]
    assert repo.count(a) == 5
    assert repo.count(a, active_only=True) == 4


def test_by_ids_and_skus_keep_the_order_asked_and_drop_other_shops(
    session: Session, shops: tuple[int, int]
) -> None:
    a, b = shops
    repo = ProductRepository(session)
    mb102 = repo.require_by_sku(a, "MB-102")
    st771 = repo.require_by_sku(a, "ST-771")
    foreign = repo.require_by_sku(b, "SX-301")
    assert [p.sku for p in repo.by_ids(a, [st771.id, foreign.id, mb102.id, st771.id])] == ["ST-771", "MB-102"]
    assert repo.by_ids(a, []) == []
    assert [p.sku for p in repo.by_skus(a, ["MB-102", "SX-301", "ST-771"])] == ["MB-102", "ST-771"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ST-771", ["ST-771", "ST-7710"]),
        ("st771", ["ST-771", "ST-7710"]),
        ("ｓｔ－７７１", ["ST-771", "ST-7710"]),
        ("771", ["ST-771", "ST-7710"]),
        ("mb-10", ["MB-101", "MB-102"]),
        ("7710", ["ST-7710"]),
        ("XX-000", []),
        ("--", []),
        ("%", []),
    ],
)
def test_search_by_code_fragment(
    session: Session, shops: tuple[int, int], typed: str, expected: list[str]
) -> None:
    a, _ = shops
    assert [p.sku for p in ProductRepository(session).search_code(a, typed)] == expected


def test_search_by_code_puts_the_exact_match_first(session: Session, shops: tuple[int, int]) -> None:
    a, _ = shops
    add_product(session, a, "AST-771", "家居日用")
    assert [p.sku for p in ProductRepository(session).search_code(a, "ST771")][:1] == ["ST-771"]


def test_normalize_code() -> None:
    assert normalize_code(" ｓｔ－７７１ ") == "ST771"
    assert normalize_code("MB_102") == "MB102"
