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

Each kind of claim is one `Rule` in `RULES`: a small function of a `ReplyContext` (the normalised
reply and the figures it may use, built once per reply). A new claim is a new rule in the table.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
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


def _same(a: Decimal, allowed: AbstractSet[Decimal]) -> bool:
    return any(abs(a - b) < Decimal("0.005") for b in allowed)


@dataclass(frozen=True, slots=True)
class ReplyContext:
    """One reply with the facts it is checked against, computed once for every rule."""

    text: str  # NFKC, product titles replaced by 「商品」
    cited: str  # the cited passages, NFKC, spaces removed
    facts: GuardFacts
    cited_nums: frozenset[Decimal]
    price_money: frozenset[Decimal]  # what may be quoted as a price
    money_ok: frozenset[Decimal]  # prices, coupon figures, fees, thresholds and cited numbers
    floor: Decimal | None
    coupon_amounts: frozenset[Decimal]
    coupon_rates: frozenset[Decimal]
    threshold: Decimal | None  # 包邮 threshold
    full_off_spans: tuple[tuple[int, int], ...]  # where 满A减B claims sit; their figures are not prices

    @classmethod
    def build(cls, reply: str, facts: GuardFacts) -> ReplyContext:
        text = unicodedata.normalize("NFKC", reply)
        for p in facts.products:
            # A title names counts and sizes (12g×20块, 3kg) that are not prices.
            text = text.replace(unicodedata.normalize("NFKC", p.title), "「商品」")
        cited = unicodedata.normalize("NFKC", facts.cited_text).replace(" ", "")
        cited_nums = frozenset(_cited_numbers(cited))
        return cls(
            text=text,
            cited=cited,
            facts=facts,
            cited_nums=cited_nums,
            price_money=frozenset(_price_money(facts)),
            money_ok=frozenset(_allowed_money(facts)) | cited_nums,
            floor=min((p.floor_price for p in facts.products), default=None),
            coupon_amounts=frozenset(c.amount for c in facts.coupons if c.amount is not None),
            coupon_rates=frozenset(c.rate for c in facts.coupons if c.rate is not None),
            threshold=facts.policy.free_shipping_threshold if facts.policy else None,
            full_off_spans=tuple(m.span() for m in _FULL_OFF.finditer(text)),
        )

    def in_full_off(self, start: int) -> bool:
        return any(s <= start < e for s, e in self.full_off_spans)


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    check: Callable[[ReplyContext], list[GuardViolation]]
    # False: a violation stands even inside a clause quoted word for word from the cited policy.
    quotable: bool = True


def _check_full_off(ctx: ReplyContext) -> list[GuardViolation]:
    """满A减B: only a coupon the shop has, or one the cited policy states in those words."""
    out = []
    for m in _FULL_OFF.finditer(ctx.text):
        a, b = cn_number(m.group(1)), cn_number(m.group(2))
        if any(c.threshold == a and c.amount == b for c in ctx.facts.coupons):
            continue
        if a in ctx.cited_nums and b in ctx.cited_nums and m.group().replace(" ", "") in ctx.cited:
            continue
        out.append(GuardViolation("unauthorised_discount", m.group(), f"店铺没有「满{a}减{b}」的优惠规则"))
    return out


_OFF_WORDS = ("减", "便宜", "少", "优惠", "立减", "直减", "让", "降")


def _money_explained(ctx: ReplyContext, m: re.Match[str], value: Decimal) -> bool:
    if _after(ctx.text, m.start(), _OFF_WORDS):
        return True  # an amount off: `_check_amount_off` reads it
    if _price_like(ctx.text, m):
        return _same(value, ctx.price_money)
    # a threshold, a fee or a number the cited policy states
    return _in_shipping_threshold(ctx.text, m.start()) or _same(value, ctx.money_ok)


def _check_quoted_amount(ctx: ReplyContext) -> list[GuardViolation]:
    """¥X, X元, 只要X: a product's price (times a count, less a coupon) or a figure the shop states."""
    out = []
    for m in _MONEY.finditer(ctx.text):
        value = cn_number(m.group(1) or m.group(2) or m.group(3))
        if value is None or ctx.in_full_off(m.start()) or _money_explained(ctx, m, value):
            continue
        kind: ViolationKind = (
            "below_floor" if ctx.floor is not None and value < ctx.floor else "price_mismatch"
        )
        shown = ", ".join(f"{p.title} ¥{p.price}" for p in ctx.facts.products) or "无商品事实"
        out.append(GuardViolation(kind, m.group(), f"金额 {value} 与店铺价格不符（{shown}）"))
    return out


_REFUSAL_BEFORE = re.compile(r"(不能|不会|没法|无法|不可以|不可能|没有办法)\s*$")


def _check_extra_concession(ctx: ReplyContext) -> list[GuardViolation]:
    """再减/额外送/多便宜点: any give beyond the one coupon, unless the reply refuses it."""
    return [
        GuardViolation("unauthorised_discount", m.group(), "规则之外的额外让价（同一订单只能用 1 张券）")
        for m in _EXTRA.finditer(ctx.text)
        if not _REFUSAL_BEFORE.search(ctx.text[max(0, m.start() - 5) : m.start()])
    ]


def _check_amount_off(ctx: ReplyContext) -> list[GuardViolation]:
    """减/便宜/少 X: only a coupon's amount, named as a coupon in the same sentence."""
    out = []
    for m in _OFF.finditer(ctx.text):
        if ctx.in_full_off(m.start()):
            continue
        value = cn_number(m.group(1))
        clause = _clause(ctx.text, m.start(), m.end())
        if value is None or (value in ctx.coupon_amounts and _COUPON_WORDS.search(clause)):
            continue
        if _is_time_or_count(ctx.text, m.end()):
            continue
        out.append(GuardViolation("unauthorised_discount", m.group(), f"没有减 {value} 元的优惠规则"))
    return out


def _check_discount_rate(ctx: ReplyContext) -> list[GuardViolation]:
    """打X折: only a coupon's rate, and never below any product's floor price."""
    out = []
    for m in _DISCOUNT.finditer(ctx.text):
        rate = _rate(m.group(1), m.group(2))
        if rate is None:
            continue
        if rate not in ctx.coupon_rates:
            out.append(
                GuardViolation("unauthorised_discount", m.group(), f"店铺没有 {m.group().strip()} 的折扣规则")
            )
        elif any(p.price * rate < p.floor_price for p in ctx.facts.products):
            out.append(GuardViolation("below_floor", m.group(), "折后价低于最低售价"))
    return out


def _check_free_shipping(ctx: ReplyContext) -> list[GuardViolation]:
    """包邮: at the policy's threshold, or for products all priced above it. One finding per reply."""
    first = _FREE_SHIPPING.search(ctx.text)
    if first is None:
        return []
    threshold = ctx.threshold
    stated = [cn_number(m.group(1)) for m in _THRESHOLD_SHIPPING.finditer(ctx.text)]
    if stated:
        if any(threshold is None or s != threshold for s in stated):
            return [GuardViolation("free_shipping", first.group(), f"包邮门槛应为 {threshold} 元")]
        return []
    products = ctx.facts.products
    if threshold is not None and not (products and all(p.price >= threshold for p in products)):
        return [GuardViolation("free_shipping", first.group(), f"包邮需单笔实付满 {threshold} 元")]
    return []


def _check_return_days(ctx: ReplyContext) -> list[GuardViolation]:
    """X天无理由/包退: the policy's return or quality days, or a day count the cited text states."""
    policy = ctx.facts.policy
    allowed = set(policy.return_days + policy.quality_days) if policy else set()
    out = []
    for m in _DAYS.finditer(ctx.text):
        days = cn_number(m.group(1))
        if days is None or int(days) in allowed or f"{days}天" in ctx.cited:
            continue
        out.append(GuardViolation("return_promise", m.group(), f"退换政策没有 {days} 天的承诺"))
    return out


def _check_delivery_hours(ctx: ReplyContext) -> list[GuardViolation]:
    """X小时内发货/送达: the policy's hours, or an hour count the cited text states."""
    policy = ctx.facts.policy
    out = []
    for m in _HOURS.finditer(ctx.text):
        hours = cn_number(m.group(1))
        if hours is None or (policy and int(hours) in policy.ship_hours) or f"{hours}小时" in ctx.cited:
            continue
        out.append(GuardViolation("delivery_promise", m.group(), f"发货/到货政策没有 {hours} 小时的承诺"))
    return out


def _check_refund_workdays(ctx: ReplyContext) -> list[GuardViolation]:
    """退款X个工作日到账: the policy's refund days, or a count the cited text states."""
    policy = ctx.facts.policy
    out = []
    for m in _WORKDAYS.finditer(ctx.text):
        days = cn_number(m.group(1))
        if days is None or (policy and int(days) in policy.refund_days) or f"{days}个工作日" in ctx.cited:
            continue
        out.append(GuardViolation("return_promise", m.group(), f"退款时效政策没有 {days} 个工作日的承诺"))
    return out


_SAME_DAY_CUTOFF = re.compile(r"16[:：点]00?前|16点前|下午四点前")


def _check_soon(ctx: ReplyContext) -> list[GuardViolation]:
    """今天/明天发货/到: only in the cited policy's words, or 当天 with the 16:00 cut-off stated."""
    out = []
    for m in _SOON.finditer(ctx.text):
        if m.group(1) + m.group(2) in ctx.cited:
            continue
        if m.group(1) == "当天" and _SAME_DAY_CUTOFF.search(ctx.text):
            continue
        out.append(GuardViolation("delivery_promise", m.group(), "时效承诺与引用的政策不符"))
    return out


def _check_absolute(ctx: ReplyContext) -> list[GuardViolation]:
    """保证/一定/绝对 … 到/退/有效: never."""
    return [
        GuardViolation("absolute_promise", m.group(), "客服不能做保证/承诺性表述")
        for m in _ABSOLUTE.finditer(ctx.text)
    ]


def _check_concession(ctx: ReplyContext) -> list[GuardViolation]:
    """免单/特批/内部价/老板同意: only where the cited policy itself says it."""
    return [
        GuardViolation("unauthorised_concession", m.group(), "没有任何规则允许这项让利")
        for m in _CONCESSION.finditer(ctx.text)
        if m.group() not in ctx.cited
    ]


def _check_injection_echo(ctx: ReplyContext) -> list[GuardViolation]:
    """我现在是店长/系统提示: the bot repeating an injected identity or instruction, never."""
    return [
        GuardViolation("injection_echo", m.group(), "回复复述了顾客注入的身份或指令")
        for m in _INJECTION.finditer(ctx.text)
    ]


def _check_ad_law(ctx: ReplyContext) -> list[GuardViolation]:
    """广告法 absolutes (全网最低, 国家级), through the copywriter's compliance engine."""
    try:
        from agents.copywriter.compliance import check
    except ImportError:  # pragma: no cover - the copywriter ships with the service
        return [
            GuardViolation("ad_law", m.group(), "违反广告法的绝对化用语")
            for m in re.finditer(r"全网最低|最低价|国家级|第一品牌|最好|最佳|顶级|绝对|100%有效", ctx.text)
        ]
    report = check(ctx.text, "general")
    return [
        GuardViolation("ad_law", v.matched, f"广告法: {v.term}（{v.category}）")
        for v in report.violations
        if v.severity == "high"
    ]


# Order matters: it is the order of a reply's violations (staff read the first one first).
RULES: tuple[Rule, ...] = (
    Rule("full_off", _check_full_off),
    Rule("quoted_amount", _check_quoted_amount),
    Rule("extra_concession", _check_extra_concession),
    Rule("amount_off", _check_amount_off),
    Rule("discount_rate", _check_discount_rate),
    Rule("free_shipping", _check_free_shipping),
    Rule("return_days", _check_return_days),
    Rule("delivery_hours", _check_delivery_hours),
    Rule("refund_workdays", _check_refund_workdays),
    Rule("soon", _check_soon),
    Rule("absolute_promise", _check_absolute),
    Rule("concession", _check_concession),
    Rule("injection_echo", _check_injection_echo, quotable=False),
    Rule("ad_law", _check_ad_law),
)


def extract_violations(reply: str, facts: GuardFacts) -> list[GuardViolation]:
    ctx = ReplyContext.build(reply, facts)
    # A clause the reply quotes word for word from the cited policy states the store's own rule
    # (单价500元以上的商品默认顺丰, 积分最多抵实付的20%), so it promises nothing beyond it. Only whole
    # clauses count, and an echoed injection never passes: a bargaining reply ("给您算99元") is
    # its own wording and is still checked figure by figure.
    return [
        v
        for rule in RULES
        for v in rule.check(ctx)
        if not rule.quotable or not _quoted(ctx.text, v.claim, ctx.cited)
    ]


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
