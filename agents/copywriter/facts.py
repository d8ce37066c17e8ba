"""Fact check: the numbers, units and named specs in a piece of copy must match the product record.

    check_facts("316不锈钢内胆，500ml，到手价¥89", product) -> FactReport(mismatches=(...))

Checked: price (¥/元/到手价), capacity (ml/L), weight (g/kg/斤), hours (小时/h) and materials
(316不锈钢, 纯棉, 硅胶 …). A claim the record does not support is a mismatch too: copy may only
state facts the record holds. Pure: takes a plain `ProductFacts`, needs no database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

FactKind = Literal["price", "capacity", "weight", "duration", "material"]

_KIND_LABEL: dict[FactKind, str] = {
    "price": "价格",
    "capacity": "容量",
    "weight": "重量",
    "duration": "时长",
    "material": "材质",
}
# unit → (kind, factor to the base unit: ml, g, minutes)
_UNITS: dict[str, tuple[FactKind, Decimal]] = {
    "ml": ("capacity", Decimal(1)),
    "mL": ("capacity", Decimal(1)),
    "ML": ("capacity", Decimal(1)),
    "毫升": ("capacity", Decimal(1)),
    "L": ("capacity", Decimal(1000)),
    "l": ("capacity", Decimal(1000)),
    "升": ("capacity", Decimal(1000)),
    "kg": ("weight", Decimal(1000)),
    "KG": ("weight", Decimal(1000)),
    "Kg": ("weight", Decimal(1000)),
    "千克": ("weight", Decimal(1000)),
    "公斤": ("weight", Decimal(1000)),
    "g": ("weight", Decimal(1)),
    "克": ("weight", Decimal(1)),
    "斤": ("weight", Decimal(500)),
    "小时": ("duration", Decimal(60)),
    "h": ("duration", Decimal(60)),
    "分钟": ("duration", Decimal(1)),
}
_NUM = r"(?P<num>\d+(?:\.\d+)?)"
_QUANTITY = re.compile(
    _NUM
    + r"\s*(?:个)?(?P<unit>"
    + "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True))
    + r")(?![a-zA-Z])"
)
_PRICE = re.compile(
    r"(?:[¥￥]\s*" + _NUM.replace("num", "a") + r")"
    r"|(?:" + _NUM.replace("num", "b") + r"\s*(?:元|块钱|块)(?![a-zA-Z]))"
    r"|(?:(?:到手价|售价|价格|券后价|活动价|秒杀价|特价|现价|只要|仅需|仅售)\s*[:：]?\s*"
    + _NUM.replace("num", "c")
    + r")"
)
# Amounts around these words are discounts or thresholds, not the product's price.
_PROMO_BEFORE = (
    "减",
    "券",
    "满",
    "省",
    "返",
    "送",
    "红包",
    "优惠",
    "补贴",
    "抵",
    "差价",
    "立减",
    "降",
    "加",
    "运费",
    "邮费",
)
_PROMO_AFTER = ("包邮", "券", "红包", "优惠", "立减", "无门槛", "/件", "/2件", "起")
# Hours that are service promises (24小时发货), not product specs.
_SERVICE_AFTER = ("内", "发货", "发出", "客服", "在线", "售后", "之内", "送达", "到达", "响应", "退")

MATERIALS: tuple[str, ...] = (
    "316L不锈钢",
    "316不锈钢",
    "304不锈钢",
    "201不锈钢",
    "430不锈钢",
    "不锈钢",
    "纯钛",
    "钛合金",
    "铝合金",
    "铸铁",
    "生铁",
    "纯铜",
    "黄铜",
    "紫铜",
    "陶瓷",
    "骨瓷",
    "高硼硅玻璃",
    "钢化玻璃",
    "玻璃",
    "食品级硅胶",
    "铂金硅胶",
    "硅胶",
    "胡桃木",
    "橡木",
    "松木",
    "实木",
    "竹纤维",
    "长绒棉",
    "新疆棉",
    "纯棉",
    "全棉",
    "棉麻",
    "亚麻",
    "桑蚕丝",
    "真丝",
    "美利奴羊毛",
    "羊毛",
    "山羊绒",
    "羊绒",
    "头层牛皮",
    "牛皮",
    "羊皮",
    "PU皮",
    "聚酯纤维",
    "涤纶",
    "锦纶",
    "尼龙",
    "莫代尔",
    "天丝",
    "氨纶",
    "白鹅绒",
    "鹅绒",
    "鸭绒",
    "乳胶",
    "记忆棉",
    "PPSU",
    "Tritan",
    "ABS",
    "PET",
)
_MATERIAL = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    + "|".join(map(re.escape, sorted(MATERIALS, key=len, reverse=True)))
    + r"|\d{3}L?不锈钢)(?![A-Za-z])",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ProductFacts:
    """What the record says. `extra_prices` holds other prices the owner stated (floor, variant, promo)."""

    sku: str
    title: str
    price: Decimal | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    extra_prices: tuple[Decimal, ...] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ProductFacts:
        """From a plain dict: {sku, title, price, attributes, description?, variants?: [{price}]}."""
        extra = [_decimal(v.get("price")) for v in data.get("variants") or () if isinstance(v, Mapping)]
        extra.append(_decimal(data.get("floor_price")))
        return cls(
            sku=str(data["sku"]),
            title=str(data.get("title", "")),
            price=_decimal(data.get("price")),
            attributes=dict(data.get("attributes") or {}),
            description=str(data.get("description") or ""),
            extra_prices=tuple(p for p in extra if p is not None),
        )

    def record_text(self) -> str:
        parts = [self.title, self.description]
        parts += [f"{k} {v}" for k, v in self.attributes.items()]
        return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class FactMismatch:
    kind: FactKind
    claimed: str  # as written in the copy
    start: int
    end: int
    expected: tuple[str, ...]  # what the record says; empty when it says nothing
    detail: str


@dataclass(frozen=True, slots=True)
class FactReport:
    mismatches: tuple[FactMismatch, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _quantities(text: str) -> list[tuple[FactKind, Decimal, re.Match[str]]]:
    out = []
    for m in _QUANTITY.finditer(text):
        kind, factor = _UNITS[m["unit"]]
        if kind == "duration" and text[m.end() : m.end() + 3].startswith(_SERVICE_AFTER):
            continue
        out.append((kind, Decimal(m["num"]) * factor, m))
    return out


def _prices(text: str) -> list[tuple[Decimal, re.Match[str]]]:
    out = []
    for m in _PRICE.finditer(text):
        before = text[max(0, m.start() - 4) : m.start()]
        after = text[m.end() : m.end() + 4]
        if any(w in before for w in _PROMO_BEFORE) or after.startswith(_PROMO_AFTER):
            continue
        out.append((Decimal(m["a"] or m["b"] or m["c"]), m))
    return out


def check_facts(text: str, product: ProductFacts, *, allowed_prices: Iterable[Decimal] = ()) -> FactReport:
    record = product.record_text()
    mismatches: list[FactMismatch] = []

    known_prices = {
        _cents(p) for p in (product.price, *product.extra_prices, *allowed_prices) if p is not None
    }
    for value, m in _prices(text):
        if _cents(value) not in known_prices:
            expected = tuple(f"¥{p}" for p in sorted(known_prices))
            mismatches.append(
                FactMismatch(
                    "price", m.group(0), m.start(), m.end(), expected, _detail("price", m.group(0), expected)
                )
            )

    record_quantities: dict[FactKind, list[tuple[Decimal, str]]] = {}
    for kind, value, m in _quantities(record):
        record_quantities.setdefault(kind, []).append((value, m.group(0)))
    for kind, value, m in _quantities(text):
        known = record_quantities.get(kind, [])
        if not any(value == v for v, _ in known):
            expected = tuple(dict.fromkeys(s for _, s in known))
            mismatches.append(
                FactMismatch(
                    kind, m.group(0), m.start(), m.end(), expected, _detail(kind, m.group(0), expected)
                )
            )

    record_lower = record.lower()
    record_materials = tuple(dict.fromkeys(m.group(0) for m in _MATERIAL.finditer(record)))
    for m in _MATERIAL.finditer(text):
        if m.group(0).lower() not in record_lower:
            mismatches.append(
                FactMismatch(
                    "material",
                    m.group(0),
                    m.start(),
                    m.end(),
                    record_materials,
                    _detail("material", m.group(0), record_materials),
                )
            )
    mismatches.sort(key=lambda x: x.start)
    return FactReport(tuple(mismatches))


def _detail(kind: FactKind, claimed: str, expected: tuple[str, ...]) -> str:
    label = _KIND_LABEL[kind]
    if not expected:
        return f"文案写了{label} {claimed!r}，但商品资料里没有{label}信息，请删除或先补充资料"
    return f"文案写的{label} {claimed!r} 与商品资料不符，资料中为: {'、'.join(expected)}"
