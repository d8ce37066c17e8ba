"""PII masking for text that leaves the process (LLM requests) or lands in logs.

`mask_pii` is pure: it replaces Chinese ID-card numbers (18 and old 15 digits), bank cards,
mobile and landline numbers, e-mail addresses, WeChat IDs, names given after a cue (收货人,
姓名 …) and the street or village part of postal addresses with placeholders. The
province/city/district/county stay, so a human or a model can still reason about shipping zones.
Free-standing names without a cue are not detected: no pattern tells 王芳 from 芒果.

Full-width digits and punctuation (１３８－００１３…) are matched as if they were ASCII: a
one-to-one character map builds a normalised copy, matches run on that copy, and the
replacements are applied to the original text at the same offsets.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MOBILE = "[手机号]"
LANDLINE = "[电话]"
ID_CARD = "[身份证号]"
BANK_CARD = "[银行卡号]"
EMAIL = "[邮箱]"
ADDRESS = "[地址]"
WECHAT = "[微信号]"
NAME = "[姓名]"

# One character in, one character out: offsets in the normalised copy equal the original's.
_NORMALISE = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {
    0x3000: ord(" "),
    0x2010: ord("-"),
    0x2011: ord("-"),
    0x2012: ord("-"),
    0x2013: ord("-"),
    0x2014: ord("-"),
    0x2212: ord("-"),
    0x00A0: ord(" "),
}

_SEP = r"[ -]?"

# Inside numbers, people type single spaces or dashes: 138 0013 8000, 010-12345678.
_ID_CARD = re.compile(
    r"(?<![\dA-Za-z])[1-9]\d{5}[ -]?(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    r"[ -]?\d{3}[\dXx](?![\dA-Za-z])"
)
# First-generation cards (still valid for people who never renewed): area, YYMMDD, 3 digits.
_ID_CARD_15 = re.compile(
    r"(?<![\dA-Za-z])[1-9]\d{5}[ -]?\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[ -]?\d{3}(?![\dA-Za-z])"
)
# 15 to 19 digits, optionally grouped; `_not_a_card` decides whether the run is a card.
_DIGIT_RUN = re.compile(r"(?<![\d-])\d(?:[ -]?\d){14,18}(?!\d)")
_GROUPED_4 = re.compile(r"\d{4}(?:[ -]\d{4}){3}(?:[ -]\d{1,3})?")
_ORDER_CONTEXT = re.compile(r"(?:订单|单号|快递|运单|物流)\D{0,6}$")
_CARD_CONTEXT = re.compile(r"(?:卡号|银行卡|储蓄卡|信用卡|借记卡|卡)\D{0,6}$")
_MOBILE = re.compile(r"(?<![\d+])(?:\(?(?:\+|00)86\)?[ -]?)?1[ -]?[3-9](?:[ -]?\d){9}(?!\d)")
_AREA = r"(?:10|2\d|[3-9]\d{2})"
_LANDLINE = re.compile(
    rf"(?<![\d+])(?:(?:\+|00)86[ -]?{_AREA}|\(0{_AREA}\)|0{_AREA})"
    r"[ -]?\d{3,4}[ -]?\d{4}(?:[ -]?(?:转|分机|ext\.?|#)\d{1,5})?(?!\d)",
    re.IGNORECASE,
)
# A WeChat ID (6–20 characters, starting with a letter) needs a cue; `wxid_…` is one by itself.
# Our own customer refs (wx_000123) start with an underscore after "wx" and stay readable.
_WECHAT = re.compile(
    r"(?<![A-Za-z0-9])(wxid_[A-Za-z0-9]{6,30})"
    r"|(?:微信号?|薇信|威信|V信|v信|vx|VX|Vx|wx|WX|weixin|WeChat)[:： ]*(?:是|为)?[ ]*"
    r"([A-Za-z][-_A-Za-z0-9]{5,19})(?![-_A-Za-z0-9])"
)
# A name only after a cue; lazy, so 收货人张三电话… stops before 电话.
_NAME = re.compile(
    r"(?:收货人|收件人|联系人|姓名|真实姓名|实名)[:： ]*(?:是|为|叫)?[ ]*"
    r"([\u4e00-\u9fff·]{2,4}?)(?=$|[^\u4e00-\u9fff·]|电话|手机|地址|联系|号码|先生|女士|收|的)"
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")

# Characters that never belong to a street name: admin-level suffixes (kept), punctuation
# handled by the class itself, and function words that would drag the match leftwards.
_NOT_STREET = "省市区县旗州盟我你您他她它的了是在把给和与到从要想请帮寄发送收货址填写改成换为"
_NAME_CHAR = r"(?:(?![" + _NOT_STREET + r"])[\u4e00-\u9fffA-Za-z0-9])"
_NUM = r"[0-9一二三四五六七八九十百零〇]+"
_UNIT = r"(?:号楼|号院|栋|幢|座|单元|楼|层|室|号|户|弄|巷|#)"
_PLACE = r"(?:小区|花园|公寓|大厦|苑|园|广场|中心|大楼|家园|新村|社区|公馆|府|城)"
_STREET = "(?:大道|大街|胡同|路|街|道|巷|弄)"
_ADDRESS = re.compile(
    "".join(
        [
            # a street with a door number: 文三路100号, 南京东路88弄3号, 人民南路四段27号 ...
            f"(?:{_NAME_CHAR}{{1,12}}?{_STREET}(?:{_NUM}段)?{_SEP}{_NUM} ?{_UNIT}",
            # ... or a residential compound with a building: 华星小区3栋 ...
            f"|{_NAME_CHAR}{{1,12}}?{_PLACE} ?[0-9A-Za-z一二三四五六七八九十]+ ?{_UNIT})",
            # then any further compound names, buildings, units, floors and rooms
            f"(?:[ ,，-]?(?:{_NAME_CHAR}{{1,12}}?{_PLACE})?[ -]?[0-9A-Za-z]+ ?{_UNIT})*",
            r"(?:[ -]?\d{1,5}(?!\d))?",
        ]
    )
)


# Villages have no streets: 宁平镇张庄村3组15号, 朱家林村128号. A number after 村 is required,
# so 农村 and 我们村 stay.
_RURAL = re.compile(f"{_NAME_CHAR}{{1,10}}?村 ?{_NUM} ?(?:组|队|社|号)(?: ?{_NUM} ?(?:号|户))?")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _sub(
    pattern: re.Pattern[str],
    text: str,
    placeholder: str,
    keep: Callable[[re.Match[str], str], bool] | None = None,
    *,
    groups: bool = False,
) -> str:
    """Replace matches found on the normalised copy of `text` in `text` itself.

    With `groups`, only the first participating capture group is replaced, so a cue such as
    收货人： stays readable and only the value goes.
    """
    normalised = text.translate(_NORMALISE)
    out: list[str] = []
    last = 0
    for match in pattern.finditer(normalised):
        if keep is not None and keep(match, normalised):
            continue
        start, end = match.span()
        if groups:
            start, end = next(match.span(g) for g in range(1, len(match.groups()) + 1) if match.group(g))
        out.append(text[last:start])
        out.append(placeholder)
        last = end
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _is_order_number(match: re.Match[str], normalised: str) -> bool:
    return bool(_ORDER_CONTEXT.search(normalised[max(0, match.start() - 12) : match.start()]))


def _not_a_card(match: re.Match[str], normalised: str) -> bool:
    digits = re.sub(r"\D", "", match.group())
    if not 15 <= len(digits) <= 19:
        return True
    if _CARD_CONTEXT.search(normalised[max(0, match.start() - 12) : match.start()]):
        return False
    if _ORDER_CONTEXT.search(normalised[max(0, match.start() - 12) : match.start()]):
        return True
    if _GROUPED_4.fullmatch(match.group()):
        return False
    # Without a 卡号 cue, only Luhn-valid numbers that start like a payment card count:
    # order numbers are long digit runs too and must stay readable.
    return not (len(digits) >= 16 and digits[0] in "3456" and _luhn_ok(digits))


def mask_pii(text: str) -> str:
    """Mask personal data in `text`; returns it unchanged when nothing matches."""
    if not text:
        return text
    text = _sub(_EMAIL, text, EMAIL)
    text = _sub(_ID_CARD, text, ID_CARD)
    text = _sub(_ID_CARD_15, text, ID_CARD, keep=_is_order_number)
    text = _sub(_DIGIT_RUN, text, BANK_CARD, keep=_not_a_card)
    text = _sub(_MOBILE, text, MOBILE)
    text = _sub(_LANDLINE, text, LANDLINE)
    text = _sub(_WECHAT, text, WECHAT, groups=True)
    text = _sub(_NAME, text, NAME, groups=True)
    text = _sub(_ADDRESS, text, ADDRESS)
    return _sub(_RURAL, text, ADDRESS)
