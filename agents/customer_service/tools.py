"""The tools the customer-service agent uses; plain code over the store and the knowledge base.

- `order_status`: an order number in the message (in the shop's `cs.order_number` format), else
  the customer's most recent order; with its items and latest logistics events.
- `product_lookup`: price, stock and variants, always read from the store (never from a chunk).
- `kb_search`: policy/FAQ search with its `grounding`; `faq_answer`: a curated FAQ answered verbatim.
Each result names its source so the answer can cite it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from agents.customer_service.guard import CouponRule, GuardFacts, PolicyFacts, ProductFact
from agents.customer_service.schemas import OrderNumberFormat
from retrieval.faq import DirectAnswer, direct_answer
from retrieval.index import KnowledgeBase
from retrieval.search import Hit, SearchResult, search
from store.models import Order, Product
from store.repositories.catalog import ProductRepository
from store.repositories.orders import OrderRepository

SKU_CODE = re.compile(r"(?<![A-Za-z])([A-Za-z]{1,3})\s*[-－_ ]?\s*(\d{2,4})(?!\d)")

DEFAULT_ORDER_NUMBER = OrderNumberFormat()

STATUS_CN = {
    "pending_payment": "待付款",
    "paid": "已付款，待发货",
    "shipped": "已发货，运输中",
    "delivered": "已签收",
    "completed": "已完成",
    "cancelled": "已取消",
    "refunded": "已退款",
    "refunding": "退款处理中",
}

# The demo shop's coupon rules (store/demo/docs/优惠券规则.md); a shop overrides them with
# settings {"coupons": [{"name": "满99减10", "threshold": "99", "amount": "10"}, ...]}.
DEFAULT_COUPONS: tuple[CouponRule, ...] = (
    CouponRule("满99减10", Decimal("99"), Decimal("10")),
    CouponRule("满199减30", Decimal("199"), Decimal("30")),
    CouponRule("5元无门槛券", Decimal("0"), Decimal("5")),
    CouponRule("母婴满299减40", Decimal("299"), Decimal("40")),
    CouponRule("新人首单立减15元", Decimal("0"), Decimal("15")),
)


@dataclass(frozen=True)
class VariantInfo:
    name: str
    price: Decimal
    stock: int


@dataclass(frozen=True)
class ProductInfo:
    sku: str
    title: str
    price: Decimal
    floor_price: Decimal
    stock: int
    active: bool
    variants: tuple[VariantInfo, ...] = ()


@dataclass(frozen=True)
class EventInfo:
    when: str
    status: str
    location: str | None
    description: str


@dataclass(frozen=True)
class OrderInfo:
    order_no: str
    status: str
    status_cn: str
    total: Decimal
    items: tuple[str, ...]
    carrier: str | None
    tracking_no: str | None
    events: tuple[EventInfo, ...]
    guessed: bool  # True: no number in the message, the customer's most recent order was used


@dataclass
class ToolResults:
    order: OrderInfo | None = None
    order_asked: bool = False  # an order question, but no order found
    order_shown: bool = True  # False: the order is context for the brief, not part of the reply
    products: list[ProductInfo] = field(default_factory=list)
    kb: SearchResult | None = None
    faq: DirectAnswer | None = None

    @property
    def hits(self) -> list[Hit]:
        return self.kb.hits if self.kb is not None else []


# Words that ask where THIS customer's order is (到哪了, 发货了没, 帮我催一下快递). A 查询物流 question
# without them asks about the shipping policy (运费, 能发顺丰吗, 江浙沪几天到, 今天下单啥时候发):
# it is answered from the documents, not with the customer's latest order. Matched on folded text.
_ORDER_STATUS = re.compile(
    r"到哪|在哪了|哪儿了|到了(没|吗|么)|到没到|还没(到|发|收到)|还不(到|发)|怎么还|咋还|"
    r"发(货)?了(没|吗|么)|发没发|没发货(?!前)|(啥|什么|几)时候.{0,3}(到|送)|送到了|"
    r"物流|单号|运单|催|还在路上|派送|派件|揽收|退回|更新|"
    r"我的(快递|包裹|订单|货|东西)|我买的|我拍的|下的单|买的东西|(快递|包裹|东西|货)(呢|到)"
)
# 今天下单 / 几点前下单 / 下单后: a purchase not made yet, so no order to look up.
_NOT_YET_ORDERED = re.compile(r"(今天|现在|明天|几点前|如果|要是|假如|马上)(下单|拍|买)|下单(后|以后|之后)")


def asks_order_status(folded: str) -> bool:
    """Does a (folded) 查询物流 message ask about the customer's own order?"""
    return bool(_ORDER_STATUS.search(folded)) and not _NOT_YET_ORDERED.search(folded)


def find_order_no(text: str, order_number: OrderNumberFormat = DEFAULT_ORDER_NUMBER) -> str | None:
    """An order number in the shop's format (`cs.order_number`), or None."""
    return order_number.find(text)


def _order_info(order: Order, *, guessed: bool) -> OrderInfo:
    events = sorted(order.events, key=lambda e: e.occurred_at)
    return OrderInfo(
        order_no=order.order_no,
        status=order.status,
        status_cn=STATUS_CN.get(order.status, order.status),
        total=order.total_amount,
        items=tuple(f"{i.sku}{'（' + i.variant + '）' if i.variant else ''}×{i.qty}" for i in order.items),
        carrier=order.carrier,
        tracking_no=order.tracking_no,
        events=tuple(
            EventInfo(f"{e.occurred_at:%m-%d %H:%M}", e.status, e.location, e.description) for e in events
        ),
        guessed=guessed,
    )


def order_status(
    session: Session,
    shop_id: int,
    customer_id: int,
    text: str,
    order_number: OrderNumberFormat = DEFAULT_ORDER_NUMBER,
) -> OrderInfo | None:
    """The order named in `text` (only if it is this customer's), else their most recent one."""
    repo = OrderRepository(session)
    number = find_order_no(text, order_number)
    if number is not None:
        order = repo.get_by_no(shop_id, number)
        if order is not None and order.customer_id == customer_id:
            return _order_info(order, guessed=False)
        return None
    recent = repo.recent_for_customer(shop_id, customer_id, limit=1)
    return _order_info(recent[0], guessed=True) if recent else None


def _product_info(p: Product) -> ProductInfo:
    variants: list[VariantInfo] = []
    for raw in p.variants or []:
        if isinstance(raw, dict) and raw.get("name"):
            variants.append(
                VariantInfo(
                    str(raw["name"]), Decimal(str(raw.get("price", p.price))), int(raw.get("stock", 0))
                )
            )
    return ProductInfo(p.sku, p.title, p.price, p.floor_price, p.stock, p.active, tuple(variants))


def card_skus(hits: list[Hit], depth: int = 3) -> list[str]:
    """The SKUs of the product cards among the top `depth` hits, best first. When the top hit is
    a card matched literally (the size, stage or colour the customer named: 1段奶粉, 跑鞋41码),
    only literally matched cards are kept, not a 3段 card or a 拉拉裤 that merely sounds alike."""
    top = [h for h in hits[:depth] if h.doc_type == "product" and h.sku]
    if top and hits[0] is top[0] and top[0].matched_by == "exact":
        top = [h for h in top if h.matched_by == "exact"]
    return list(dict.fromkeys(h.sku for h in top))


def product_lookup(
    session: Session, shop_id: int, text: str, hits: list[Hit], *, limit: int = 2
) -> list[ProductInfo]:
    """Products named by a SKU code in the message, else those whose cards the KB ranked on top
    (`card_skus`)."""
    repo = ProductRepository(session)
    found: dict[str, Product] = {}
    for m in SKU_CODE.finditer(text):
        for p in repo.search_code(shop_id, m.group(1) + m.group(2), limit=1):
            found.setdefault(p.sku, p)
    if not found:
        for p in repo.by_skus(shop_id, card_skus(hits)[:limit]):
            found.setdefault(p.sku, p)
    return [_product_info(p) for p in list(found.values())[:limit]]


def kb_search(kb: KnowledgeBase, shop_id: int, text: str, *, k: int = 5) -> SearchResult:
    return search(kb, shop_id, text, k=k)


def faq_answer(result: SearchResult) -> DirectAnswer | None:
    return direct_answer(result)


def coupons_of(shop_settings: dict[str, Any] | None) -> tuple[CouponRule, ...]:
    raw = (shop_settings or {}).get("coupons")
    if not isinstance(raw, list):
        return DEFAULT_COUPONS
    out: list[CouponRule] = []
    for item in raw:
        if isinstance(item, dict) and item.get("name"):
            out.append(
                CouponRule(
                    str(item["name"]),
                    Decimal(str(item.get("threshold", "0"))),
                    Decimal(str(item["amount"])) if item.get("amount") is not None else None,
                    Decimal(str(item["rate"])) if item.get("rate") is not None else None,
                )
            )
    return tuple(out)


def guard_facts(results: ToolResults, coupons: tuple[CouponRule, ...], cited_text: str) -> GuardFacts:
    facts: list[ProductFact] = []
    for p in results.products:
        facts.append(ProductFact(p.sku, p.title, p.price, p.floor_price))
        for v in p.variants:
            facts.append(ProductFact(p.sku, f"{p.title} {v.name}", v.price, p.floor_price))
    return GuardFacts(products=facts, coupons=coupons, policy=PolicyFacts(), cited_text=cited_text)
