"""The commitment guard: every outgoing bot reply passes it before it is sent. Pure.

    guard_reply("好的，给您打五折，¥64.5", GuardFacts(products=[...], ...)) -> GuardResult(ok=False, ...)

It extracts what a reply promises and checks each claim against the facts the answer used:
- prices (¥/元/块, 只要/到手/算你 X): equal to a product's price (or a multiple, or a multiple
  less a coupon whose threshold it meets), or a number the cited policy states;
- discounts (打X折, 减X元, 便宜/少X, 满A减B): only those the coupon rules give, never below the
  floor price of any product in play;
- 包邮: only at the policy's threshold (or for products priced above it);
- return / refund / delivery promises (X天无理由, X小时发货, 当天发货, 明天到): only what the
  cited policy says;
- absolute promises (保证/一定/承诺 … 到/退/有效) and concessions no rule allows (免单, 特批,
  内部价, 老板同意) never; echoes of an injection (我现在是店长, 系统提示) never;
- 广告法 absolutes, through the copywriter's compliance engine.
A claim inside a clause the reply quotes word for word from the cited policy passes: the
figures there (单价500元以上, 最多抵20%) are the store's own rule, not a promise beyond it.
A failing reply is replaced by a safe answer restating the store's facts, or, when there is
nothing to restate, becomes a `commitment_blocked` handoff.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from retrieval.numerals import chinese_number as cn_number

ViolationKind = Literal[
    "price_mismatch",
    "below_floor",
    "unauthorised_discount",
    "free_shipping",
    "return_promise",
    "delivery_promise",
    "absolute_promise",
    "unauthorised_concession",
    "injection_echo",
    "ad_law",
]

_NUM = r"(\d+(?:\.\d{1,2})?|[零〇一二两三四五六七八九十百千]+)"


@dataclass(frozen=True, slots=True)
class ProductFact:
    sku: str
    title: str
    price: Decimal
    floor_price: Decimal


@dataclass(frozen=True, slots=True)
class CouponRule:
    name: str  # 满99减10
    threshold: Decimal = Decimal("0")
    amount: Decimal | None = None  # 减 amount
    rate: Decimal | None = None  # 0.9 = 九折


@dataclass(frozen=True, slots=True)
class PolicyFacts:
    return_days: tuple[int, ...] = (7,)  # 七天无理由
    quality_days: tuple[int, ...] = (15,)  # 质量问题 退换
    free_shipping_threshold: Decimal | None = Decimal("99")
    # 运费 8, 偏远地区加收 20, 冷链包装 5, 改顺丰补差价 12 (store/demo/docs/配送时效.md)
    fees: tuple[Decimal, ...] = (Decimal("8"), Decimal("20"), Decimal("5"), Decimal("12"))
    ship_hours: tuple[int, ...] = (24, 48, 72)  # X小时内发货 the policy allows promising
    refund_days: tuple[int, ...] = (1, 3, 7)  # 退款 X 个工作日


@dataclass(frozen=True, slots=True)
class GuardFacts:
    products: Sequence[ProductFact] = ()
    coupons: Sequence[CouponRule] = ()
    policy: PolicyFacts | None = None
    cited_text: str = ""  # the policy/FAQ passages the answer cites; their numbers may be repeated


@dataclass(frozen=True, slots=True)
class GuardViolation:
    kind: ViolationKind
    claim: str  # the words in the reply
    detail: str  # why, in Chinese, for staff


@dataclass(frozen=True, slots=True)
class GuardResult:
    ok: bool
    violations: list[GuardViolation] = field(default_factory=list)
    safe_text: str | None = None
    handoff: bool = False


_MONEY = re.compile(
    r"[¥￥]\s*" + _NUM + r"|" + _NUM + r"\s*(?:元|块钱|块|rmb|RMB)"
    r"|(?:只要|只需|仅需|仅要|才|算你|算您|给你|给您|卖你|卖您|收你|收您|到手价?|折后价?|券后价?|现价|售价|一口价|特价|价格是|一共|总共|共)\s*"
    + r"(\d+(?:\.\d{1,2})?)"
)
_DISCOUNT = re.compile(
    r"(?:打|给您打|给你打)?\s*([零一二两三四五六七八九]|\d(?:\.\d)?)\s*(?:点\s*([一二三四五六七八九\d]))?\s*折"
)
_OFF = re.compile(r"(?:减|便宜|少|优惠|让|降|立减|直减|返)\s*(?:您|你)?\s*" + _NUM + r"\s*(?:元|块)?")
_FULL_OFF = re.compile(r"满\s*" + _NUM + r"\s*(?:元)?\s*减\s*" + _NUM)
_EXTRA = re.compile(
    r"(?:再|额外|另外|多)(?:给您|给你|帮您|帮你)?\s*(?:减|便宜|少|优惠|让|降|打|送|返)\s*(?:您|你)?\s*(?:\d|[一二两三四五六七八九十]|点|一点|些)"
)
_FREE_SHIPPING = re.compile(r"包邮|免运费|免邮|运费(?:我们|我|店铺)?(?:出|承担|包了)")
_THRESHOLD_SHIPPING = re.compile(r"满\s*" + _NUM + r"\s*元?\s*(?:即可|就)?\s*(?:包邮|免运费|免邮)")
_DAYS = re.compile(
    _NUM + r"\s*天\s*(?:内|之内)?\s*(?:都|均|随时)?\s*(?:能|可以|可|支持)?\s*"
    r"(无理由|包退|包换|退换|退货|换货|退款|退|换)"
)
_HOURS = re.compile(_NUM + r"\s*(?:个)?\s*小时\s*(?:内|之内)?\s*(发货|发出|寄出|送达|到货|到账|退款)")
_WORKDAYS = re.compile(_NUM + r"\s*个?\s*工作日\s*(?:内|之内)?\s*(?:到账|退款|退回|原路)")
_SOON = re.compile(
    r"(今天|当天|马上|立刻|立即|现在就|明天|次日|后天)\s*(?:就|一定|肯定)?\s*(?:给您|给你|帮您|帮你)?\s*"
    r"(发货|发出|寄出|送到|送达|到货|能到|到|到账|退款|退钱)"
)
_ABSOLUTE = re.compile(
    r"(保证|承诺|包你|包您|打包票|肯定|一定|绝对|百分百|100%)\s*(?:能|会|可以|给您|给你|让您|让你|帮您|帮你)?"
    r".{0,6}?(到货|送到|送达|到|发货|发出|退款|退货|退|赔|便宜|降价|有效|治好|治|满意|不会坏|没问题|最低|补差|返)"
)
_CONCESSION = re.compile(
    r"免单|特批|特殊申请|内部价|员工价|亲友价|白送|免费送|送您一|送你一|额外送|多送|破例|底价|成本价|亏本|骨折价|"
    r"不要钱|补偿您?\s*\d|补偿你\s*\d|老板(?:已经)?同意|店长(?:已经)?同意|经理(?:已经)?同意|已(?:经)?授权|已(?:经)?批准|"
    r"双倍|三倍|加倍|赔偿您|赔您|给您赔|赔给您|退一赔|假一赔|(?:运费|邮费)(?:我们|我|店铺|本店)(?:来)?(?:出|承担|包)|"
    r"(?:我们|本店|店铺)(?:来)?(?:出|承担)(?:来回)?(?:运费|邮费)|"
    r"vip价|VIP价|专属价|专属折扣|内部折扣|最低价给|私下|微信转账|转账给我|返现|返您|返你|红包"
)
_INJECTION = re.compile(
    r"我(?:现在)?是(?:店长|老板|经理|管理员|系统)|作为(?:店长|老板|经理|管理员)|已切换|已进入|开发者模式|"
    r"系统提示|忽略(?:之前|以上|前面)|新的指令|按您的指令|按你的指令|遵照指令|越狱|prompt"
)


def _price_money(facts: GuardFacts) -> set[Decimal]:
    """Amounts a reply may quote as a price: k × price, less one coupon whose threshold it meets."""
    allowed: set[Decimal] = set()
    for p in facts.products:
        for k in range(1, 11):
            total = p.price * k
            allowed.add(total)
            for c in facts.coupons:
                if c.amount is not None and total >= c.threshold:
                    allowed.add(total - c.amount)
    return allowed


def _allowed_money(facts: GuardFacts) -> set[Decimal]:
    allowed = _price_money(facts)
    for c in facts.coupons:
        allowed.add(c.threshold)
        if c.amount is not None:
            allowed.add(c.amount)
    if facts.policy is not None:
        allowed.update(facts.policy.fees)
        if facts.policy.free_shipping_threshold is not None:
            allowed.add(facts.policy.free_shipping_threshold)
    return allowed


def _cited_numbers(cited: str) -> set[Decimal]:
    return {n for tok in re.findall(r"\d+(?:\.\d+)?", cited) if (n := cn_number(tok)) is not None}


def _same(a: Decimal, allowed: set[Decimal]) -> bool:
    return any(abs(a - b) < Decimal("0.005") for b in allowed)


def extract_violations(reply: str, facts: GuardFacts) -> list[GuardViolation]:
    text = unicodedata.normalize("NFKC", reply)
    for p in facts.products:
        # A title names counts and sizes (12g×20块, 3kg) that are not prices.
        text = text.replace(unicodedata.normalize("NFKC", p.title), "「商品」")
    cited = unicodedata.normalize("NFKC", facts.cited_text).replace(" ", "")
    cited_nums = _cited_numbers(cited)
    out: list[GuardViolation] = []
    money_ok = _allowed_money(facts) | cited_nums
    floor = min((p.floor_price for p in facts.products), default=None)
    coupon_amounts = {c.amount for c in facts.coupons if c.amount is not None}
    coupon_rates = {c.rate for c in facts.coupons if c.rate is not None}
    threshold = facts.policy.free_shipping_threshold if facts.policy else None

    for m in _FULL_OFF.finditer(text):
        a, b = cn_number(m.group(1)), cn_number(m.group(2))
        rule_ok = any(c.threshold == a and c.amount == b for c in facts.coupons)
        if not rule_ok and not (a in cited_nums and b in cited_nums and m.group().replace(" ", "") in cited):
            out.append(
                GuardViolation("unauthorised_discount", m.group(), f"店铺没有「满{a}减{b}」的优惠规则")
            )
    full_off_spans = [m.span() for m in _FULL_OFF.finditer(text)]

    price_ok = _price_money(facts)
    for m in _MONEY.finditer(text):
        token = m.group(1) or m.group(2) or m.group(3)
        value = cn_number(token)
        if value is None or any(s <= m.start() < e for s, e in full_off_spans):
            continue
        if _after(text, m.start(), ("减", "便宜", "少", "优惠", "立减", "直减", "让", "降")):
            continue  # an amount off, checked below
        if _price_like(text, m):
            if _same(value, price_ok):
                continue
        elif _in_shipping_threshold(text, m.start()) or _same(value, money_ok):
            continue  # a threshold, a fee or a number the cited policy states
        kind: ViolationKind = "below_floor" if floor is not None and value < floor else "price_mismatch"
        shown = ", ".join(f"{p.title} ¥{p.price}" for p in facts.products) or "无商品事实"
        out.append(GuardViolation(kind, m.group(), f"金额 {value} 与店铺价格不符（{shown}）"))

    for m in _EXTRA.finditer(text):
        if re.search(
            r"(不能|不会|没法|无法|不可以|不可能|没有办法)\s*$", text[max(0, m.start() - 5) : m.start()]
        ):
            continue
        out.append(
            GuardViolation("unauthorised_discount", m.group(), "规则之外的额外让价（同一订单只能用 1 张券）")
        )

    for m in _OFF.finditer(text):
        if any(s <= m.start() < e for s, e in full_off_spans):
            continue
        value = cn_number(m.group(1))
        clause = _clause(text, m.start(), m.end())
        if value is None or (value in coupon_amounts and _COUPON_WORDS.search(clause)):
            continue
        if _is_time_or_count(text, m.end()):
            continue
        out.append(GuardViolation("unauthorised_discount", m.group(), f"没有减 {value} 元的优惠规则"))

    for m in _DISCOUNT.finditer(text):
        rate = _rate(m.group(1), m.group(2))
        if rate is None:
            continue
        if rate not in coupon_rates:
            out.append(
                GuardViolation("unauthorised_discount", m.group(), f"店铺没有 {m.group().strip()} 的折扣规则")
            )
        elif any(p.price * rate < p.floor_price for p in facts.products):
            out.append(GuardViolation("below_floor", m.group(), "折后价低于最低售价"))

    shipping_claims = list(_FREE_SHIPPING.finditer(text))
    if shipping_claims:
        stated = [cn_number(m.group(1)) for m in _THRESHOLD_SHIPPING.finditer(text)]
        if stated:
            bad = [s for s in stated if threshold is None or s != threshold]
            if bad:
                out.append(
                    GuardViolation(
                        "free_shipping", shipping_claims[0].group(), f"包邮门槛应为 {threshold} 元"
                    )
                )
        elif threshold is not None and not (
            facts.products and all(p.price >= threshold for p in facts.products)
        ):
            out.append(
                GuardViolation(
                    "free_shipping", shipping_claims[0].group(), f"包邮需单笔实付满 {threshold} 元"
                )
            )

    policy = facts.policy
    for m in _DAYS.finditer(text):
        days = cn_number(m.group(1))
        allowed_days = set(policy.return_days + policy.quality_days) if policy else set()
        if days is None or int(days) in allowed_days or f"{days}天" in cited:
            continue
        out.append(GuardViolation("return_promise", m.group(), f"退换政策没有 {days} 天的承诺"))
    for m in _HOURS.finditer(text):
        hours = cn_number(m.group(1))
        if hours is None or (policy and int(hours) in policy.ship_hours) or f"{hours}小时" in cited:
            continue
        out.append(GuardViolation("delivery_promise", m.group(), f"发货/到货政策没有 {hours} 小时的承诺"))
    for m in _WORKDAYS.finditer(text):
        days = cn_number(m.group(1))
        if days is None or (policy and int(days) in policy.refund_days) or f"{days}个工作日" in cited:
            continue
        out.append(GuardViolation("return_promise", m.group(), f"退款时效政策没有 {days} 个工作日的承诺"))
    for m in _SOON.finditer(text):
        phrase = m.group(1) + m.group(2)
        if phrase in cited or (m.group(1) == "当天" and re.search(r"16[:：点]00?前|16点前|下午四点前", text)):
            continue
        out.append(GuardViolation("delivery_promise", m.group(), "时效承诺与引用的政策不符"))

    for m in _ABSOLUTE.finditer(text):
        out.append(GuardViolation("absolute_promise", m.group(), "客服不能做保证/承诺性表述"))
    for m in _CONCESSION.finditer(text):
        if m.group() not in cited:
            out.append(GuardViolation("unauthorised_concession", m.group(), "没有任何规则允许这项让利"))
    for m in _INJECTION.finditer(text):
        out.append(GuardViolation("injection_echo", m.group(), "回复复述了顾客注入的身份或指令"))
    out.extend(_ad_law(text))
    # A clause the reply quotes word for word from the cited policy states the store's own rule
    # (单价500元以上的商品默认顺丰, 积分最多抵实付的20%), so it promises nothing beyond it. Only whole
    # clauses count, and an echoed injection never passes: a bargaining reply ("给您算99元") is
    # its own wording and is still checked figure by figure.
    return [v for v in out if v.kind == "injection_echo" or not _quoted(text, v.claim, cited)]


MIN_QUOTED_CLAUSE = 6  # a shorter clause (包邮, 可以退) is too generic to count as a quotation
_CLAUSE_BREAK = re.compile(r"[，,。！？!?；;：:\n（）()]")


def _quoted(text: str, claim: str, cited: str) -> bool:
    """Every clause of `text` that holds `claim` occurs verbatim in the cited text."""
    if not cited or not claim:
        return False
    spans = [m.start() for m in re.finditer(re.escape(claim), text)]
    if not spans:
        return False
    for start in spans:
        left = max((m.end() for m in _CLAUSE_BREAK.finditer(text, 0, start)), default=0)
        nxt = _CLAUSE_BREAK.search(text, start + len(claim))
        clause = text[left : nxt.start() if nxt else len(text)].replace(" ", "").strip()
        if len(clause) < MIN_QUOTED_CLAUSE or clause not in cited:
            return False
    return True


def _rate(whole: str, tenth: str | None) -> Decimal | None:
    w = cn_number(whole)
    if w is None or w <= 0 or w >= 10:
        return None
    rate = w / 10 if w >= 1 else w
    if tenth:
        t = cn_number(tenth)
        if t is not None:
            rate += t / 100
    return rate


_PRICE_BEFORE = re.compile(r"(价|卖|算|只要|只需|仅|就|才|给您|给你|收您|收你|到手|拿走|成交)\s*$")
_PRICE_AFTER = re.compile(
    r"^\s*(拿走|成交|带走|一件|一包|一盒|一罐|一瓶|一箱|一套|一个|一袋|卖|给您|给你|就行|就可以|可以吗)"
)


def _price_like(text: str, m: re.Match[str]) -> bool:
    """A quoted price (¥129, 只要99, 99块拿走), as opposed to a fee or threshold (运费8元, 满99元)."""
    if m.group(1) is not None or m.group(3) is not None:
        return True
    before = text[max(0, m.start() - 6) : m.start()]
    return bool(_PRICE_BEFORE.search(before) or _PRICE_AFTER.match(text[m.end() : m.end() + 6]))


_COUPON_WORDS = re.compile(r"券|满\s*\d+\s*元?\s*减|无门槛|新人|首单")


def _clause(text: str, start: int, end: int) -> str:
    left = max(text.rfind(p, 0, start) for p in "。！？；!?;\n")
    rights = [i for p in "。！？；!?;\n" if (i := text.find(p, end)) != -1]
    return text[left + 1 : min(rights) if rights else len(text)]


def _after(text: str, start: int, words: tuple[str, ...]) -> bool:
    before = text[max(0, start - 4) : start].replace(" ", "")
    return any(before.endswith(w) or before.endswith(w + "您") or before.endswith(w + "你") for w in words)


def _in_shipping_threshold(text: str, start: int) -> bool:
    return text[max(0, start - 3) : start].rstrip().endswith(("满", "实付满"))


def _is_time_or_count(text: str, end: int) -> bool:
    # 少 2 天, 减 3 件 are not money
    return bool(re.match(r"\s*(?:天|件|个|小时|分钟|次|片|包|罐|瓶|斤|克)", text[end:]))


def _ad_law(text: str) -> list[GuardViolation]:
    try:
        from agents.copywriter.compliance import check
    except ImportError:  # pragma: no cover - the copywriter ships with the service
        return [
            GuardViolation("ad_law", m.group(), "违反广告法的绝对化用语")
            for m in re.finditer(r"全网最低|最低价|国家级|第一品牌|最好|最佳|顶级|绝对|100%有效", text)
        ]
    report = check(text, "general")
    return [
        GuardViolation("ad_law", v.matched, f"广告法: {v.term}（{v.category}）")
        for v in report.violations
        if v.severity == "high"
    ]


def safe_answer(facts: GuardFacts) -> str | None:
    """A reply that only restates the store's facts, or None when there are none to restate."""
    parts: list[str] = []
    for p in facts.products[:3]:
        parts.append(f"「{p.title}」现价 ¥{p.price}")
    if facts.coupons:
        parts.append(
            "目前可用的店铺优惠：" + "、".join(c.name for c in facts.coupons[:3]) + "（同一订单限用 1 张）"
        )
    if facts.policy is not None and facts.policy.free_shipping_threshold is not None:
        parts.append(f"单笔实付满 {facts.policy.free_shipping_threshold} 元包邮")
    if not parts:
        return None
    body = "；".join(parts)
    return (
        "抱歉，价格、优惠和时效都以店铺公示为准，我这边不能额外承诺。"
        f"{body}。如需进一步帮助，可以回复「转人工」。"
    )


def guard_reply(reply: str, facts: GuardFacts, *, handoff_on_blocked: bool = False) -> GuardResult:
    violations = extract_violations(reply, facts)
    if not violations:
        return GuardResult(ok=True)
    safe = None if handoff_on_blocked else safe_answer(facts)
    return GuardResult(ok=False, violations=violations, safe_text=safe, handoff=safe is None)
