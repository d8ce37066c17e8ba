"""Chinese reasons for each reason code: what a shop's staff can read to a customer as is."""

from __future__ import annotations

from agents.recommender.schemas import ReasonCode

_TITLE_MAX = 20


def short_title(title: str, sku: str) -> str:
    """A product name short enough for one line of chat; falls back to the SKU."""
    text = (title or "").strip() or sku
    return text if len(text) <= _TITLE_MAX else text[: _TITLE_MAX - 1] + "…"


def reason_text(code: ReasonCode, *, because_title: str = "", category: str = "") -> str:
    """The reason line for `code`. `because_title` names the product the reason refers to."""
    if code is ReasonCode.bought_together:
        return f"因为您买过{because_title}"
    if code is ReasonCode.similar_item:
        return f"和您买过的{because_title}很像"
    if code is ReasonCode.with_context:
        return f"买{because_title}的顾客常一起买"
    if code is ReasonCode.category_bestseller:
        return f"{category}同类热销" if category else "同类热销"
    if code is ReasonCode.repurchase_due:
        return f"您常买的{because_title}快用完了"
    return "本店热销"
