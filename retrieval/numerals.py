"""Chinese numerals as numbers: the one reader every layer uses (cn2an, "smart" mode).

    chinese_number("三千五") -> Decimal("3500")     chinese_number("1万2") -> Decimal("12000")
    chinese_number("四一")   -> Decimal("41")       chinese_number("十几") -> None

It lives in `retrieval/` because it is the lowest layer that reads Chinese text: the catalog
matcher here (一段 → 1段, 四十一码 → 41码), the commitment guard and the merchant question parser
in `agents/` all read numbers the same way. Spoken shorthand follows cn2an: 三千五 is 3500 and
三百五 is 350 (the trailing digit is one unit down), and digits typed one by one (四一) are 41.
Vague counts (十几, 几百) are not numbers: None, so a caller never acts on a guess.
"""

from __future__ import annotations

import re
from decimal import Decimal

_DIGITS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def chinese_number(token: str) -> Decimal | None:
    """`token` as one exact number (Arabic, Chinese or mixed like 1万2), or None."""
    if _DIGITS.fullmatch(token):
        return Decimal(token)  # the common case never pays cn2an's 0.1 s import
    import cn2an

    try:
        value = cn2an.cn2an(token, "smart")
    except (ValueError, KeyError):  # cn2an raises KeyError on some mixes of digits and numerals (三88)
        return None
    if isinstance(value, float) and not value.is_integer():
        return Decimal(str(value))
    return Decimal(int(value))
