"""Product → structured card text, plus the catalog terms the exact matcher looks for.

A card carries what a shopper asks about (title, code, category, brand, specs, variants,
description) and only *references* to price and stock: those change hourly and are read
from the store at answer time, so the indexed text never holds a number that can go stale.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from retrieval.lexical import normalise
from retrieval.numerals import chinese_number

# Prices written into free text ("¥59", "59元", "原价 99") are dropped from the card.
_PRICE = re.compile(
    r"(?:(?:原价|售价|特价|到手价|现价|价格)\s*[:：]?\s*)?"
    r"(?:[¥￥]\s*\d+(?:\.\d+)?(?:\s*元)?|\d+(?:\.\d+)?\s*(?:元|块钱|块))"
    r"|(?:原价|售价|特价|到手价|现价)\s*[:：]?\s*\d+(?:\.\d+)?"
)
_CODE = re.compile(r"(?<![a-z0-9])[a-z0-9]+(?:[-_/.][a-z0-9]+)*(?![a-z0-9])")
_SIZE = re.compile(
    r"(?<![a-z0-9.])\d+(?:\.\d+)?\s*(?:ml|l|g|kg|cm|mm|m|寸|码|斤|片|粒|支|包|段|岁|个月)(?![a-z])"
)
# Shoppers type numbers before a unit in Chinese (一段奶粉, 四十一码, 两包) where the catalog writes
# digits (1段, 41码); the numeral is read as digits before terms are extracted. Not before the
# words that make 一段 a stretch of time or road (用了一段时间), nor inside 统一/唯一/万一.
_CN_NUMBER = re.compile(
    r"(?<![统唯万之期])([零一二两三四五六七八九十百]+)"
    r"(?=(?:码|寸|斤|片|粒|支|包|段|岁|个月)(?!时间|日子|时|路|距离|话|经历|落|子|持))"
)
# A bare two- or three-digit number in a variant name ('白灰 41', '黑 43') is a shoe or clothing
# size, asked as 41码; '#05' shades and '01' tones are not sizes.
_VARIANT_SIZE = re.compile(r"[1-9]\d{1,2}")
# "jj 422" typed with a space instead of the dash.
_SPACED_CODE = re.compile(r"(?<![a-z0-9])[a-z]{1,4}\s+\d{2,}(?![a-z0-9])")
_LETTER_SIZE = re.compile(r"(?<![a-z0-9])(?:xxs|xs|s|m|l|xl|xxl|xxxl|[2-6]xl)(?![a-z0-9])")
_COLOURS_TEXT = (
    "红色 黑色 白色 蓝色 绿色 黄色 粉色 紫色 灰色 棕色 橙色 米色 卡其色 "
    "咖啡色 藏青色 银色 金色 透明 原木色 深灰 浅灰 酒红 "
    "墨绿 天蓝 奶白 杏色 香槟色 玫红 藏蓝 军绿 "
)
COLOURS = tuple(_COLOURS_TEXT.split())


class ProductLike(Protocol):
    """`store.models.Product`, the demo catalog's products or any object with these fields."""

    @property
    def sku(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def category(self) -> str: ...

    @property
    def subcategory(self) -> str | None: ...

    @property
    def brand(self) -> str | None: ...

    @property
    def description(self) -> str: ...

    @property
    def attributes(self) -> Mapping[str, Any]: ...

    @property
    def variants(self) -> Sequence[Any]: ...


@dataclass(frozen=True)
class ProductCard:
    sku: str
    title: str
    text: str
    # Normalised codes, sizes and colours for `retrieval.catalog`, joined with '|' in metadata.
    terms: tuple[str, ...]
    content_hash: str


def _variant_name(variant: Any) -> tuple[str, str]:
    if isinstance(variant, Mapping):
        return str(variant.get("name", "")).strip(), str(variant.get("sku_suffix", "") or "").strip()
    if hasattr(variant, "name"):
        return str(variant.name).strip(), str(getattr(variant, "sku_suffix", "") or "").strip()
    return str(variant).strip(), ""


def scrub_prices(text: str) -> str:
    return _PRICE.sub("", text)


def product_card(product: ProductLike) -> ProductCard:
    """Build the card; identical product content gives an identical hash (no re-index)."""
    category = product.category + (f" / {product.subcategory}" if product.subcategory else "")
    lines = [f"商品：{product.title}", f"货号：{product.sku}", f"类目：{category}"]
    if product.brand:
        lines.append(f"品牌：{product.brand}")
    specs = [
        f"{k}：{v}" for k, v in product.attributes.items() if v not in (None, "") and not _is_money_key(k)
    ]
    if specs:
        lines.append("规格：" + "；".join(specs))
    variant_lines = []
    variant_codes: list[str] = []
    for variant in product.variants:
        name, suffix = _variant_name(variant)
        if not name:
            continue
        code = f"{product.sku}-{suffix}" if suffix else ""
        variant_lines.append(f"{name}（货号 {code}）" if code else name)
        if code:
            variant_codes.append(code)
    if variant_lines:
        lines.append("款式：" + "；".join(variant_lines))
    description = scrub_prices(product.description).strip()
    if description:
        lines.append(f"简介：{description}")
    lines.append(f"价格：以店铺实时价格为准（查询 sku={product.sku}）")
    lines.append(f"库存：以店铺实时库存为准（查询 sku={product.sku}）")
    text = "\n".join(lines)
    names = [_variant_name(v)[0] for v in product.variants]
    terms = catalog_terms(product.sku, variant_codes, [product.title, *specs, *variant_lines])
    terms += tuple(p for name in names for p in variant_parts(name) if p not in terms)
    # The terms are in the hash too: a card whose text is unchanged but whose terms are read
    # differently (a new unit, variant sizes) must be re-indexed, or the old terms stay live.
    digest = hashlib.sha256((text + "\n" + "|".join(terms)).encode("utf-8")).hexdigest()
    return ProductCard(product.sku, product.title, text, terms, digest)


def _is_money_key(key: str) -> bool:
    return any(word in key for word in ("价", "price", "库存", "stock", "成本"))


def arabic_numerals(text: str) -> str:
    """Chinese numerals before a unit or stage word as digits: '一段奶粉' → '1段奶粉'."""

    def digits(m: re.Match[str]) -> str:
        value = chinese_number(m.group(1))
        return m.group(1) if value is None else str(int(value))

    return _CN_NUMBER.sub(digits, text)


def extract_terms(text: str) -> list[str]:
    """Codes, model numbers, sizes and colours found in free text, normalised."""
    norm = arabic_numerals(normalise(text))
    found: list[str] = []
    found += [
        m.group(0)
        for m in _CODE.finditer(norm)
        if re.search(r"\d", m.group(0))
        and re.search(r"[a-z]", m.group(0))
        or re.fullmatch(r"\d{5,}", m.group(0))
    ]
    found += [re.sub(r"\s+", "-", m.group(0)) for m in _SPACED_CODE.finditer(norm)]
    found += [re.sub(r"\s+", "", m.group(0)) for m in _SIZE.finditer(norm)]
    found += [m.group(0) for m in _LETTER_SIZE.finditer(norm)]
    found += [c for c in COLOURS if c in norm]
    return found


def variant_parts(name: str) -> list[str]:
    """'黑色 XL' → ['黑色', 'xl']; '白灰 41' → ['白灰', '41码']; '#05 豆沙' → ['豆沙']: other bare
    numbers (shade numbers) are dropped."""
    parts = []
    sizes = {p + "码" for p in normalise(name).split() if _VARIANT_SIZE.fullmatch(p)}
    for part in re.split(r"[\s/,，;；()（）#]+", normalise(name)):
        if len(part) >= 2 and not part.isdigit() or _LETTER_SIZE.fullmatch(part):
            parts.append(part)
        elif part + "码" in sizes:
            parts.append(part + "码")
    return parts


def catalog_terms(sku: str, variant_codes: Sequence[str], texts: Sequence[str]) -> tuple[str, ...]:
    terms: dict[str, None] = {}
    for code in (sku, *variant_codes):
        terms[normalise(code)] = None
    for text in texts:
        for term in extract_terms(text):
            terms[term] = None
    return tuple(terms)
