"""Chinese reasons for each reason code: what a shop's staff can read to a customer as is."""

from __future__ import annotations

from agents.recommender.schemas import ReasonCode

_TITLE_MAX = 20


def short_title(title: str, sku: str) -> str:
    """A product name short enough for one line of chat; falls back to the SKU."""
    text = (title or "").strip() or sku
    return text if len(text) <= _TITLE_MAX else text[: _TITLE_MAX - 1] + "…"


def reason_text(
    code: ReasonCode,
    *,
    because_title: str = "",
    category: str = "",
    times_bought: int = 0,
    long_overdue: bool = False,
) -> str:
    """The reason line for `code`. `because_title` names the product the reason refers to. For
    repurchase reminders, `times_bought` says whether "常买" is true or it was bought once, and
    `long_overdue` (more than a cycle past due) says it ran out long ago, not "快用完了"."""
    if code is ReasonCode.bought_together:
        return f"因为您买过{because_title}"
    if code is ReasonCode.similar_item:
        return f"和您买过的{because_title}很像"
    if code is ReasonCode.with_context:
        return f"买{because_title}的顾客常一起买"
    if code is ReasonCode.category_bestseller:
        return f"{category}同类热销" if category else "同类热销"
    if code is ReasonCode.repurchase_due:
        bought = "常买" if times_bought >= 2 else "上次买"
        if long_overdue:
            return f"您{bought}的{because_title}该补货了"
        return f"您{bought}的{because_title}快用完了"
    return "本店热销"
