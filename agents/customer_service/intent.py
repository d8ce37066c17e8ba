"""Intent of one customer message: rules first, an embedding nearest-neighbour vote second, and an
optional LLM second opinion constrained to the label set.

    IntentClassifier(embedder).classify("我买的奶粉到哪了") -> IntentResult(查询物流, source="rules")

- **Rules** are weighted regular expressions on the folded text. Strong patterns weigh 2; a rule
  result is *confident* when its best label scores >= 2 and beats the runner-up.
- **kNN** embeds the message as a query and votes among the k most similar labelled examples
  (data/intent_examples.jsonl), weighting each vote by its cosine similarity.
- **second_opinion** (e.g. the LLM gateway) is asked only when neither is confident; its answer
  counts only if it is one of the labels. It never overrides a confident rule.
Pure given its embedder: no I/O after the examples are read.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from typing import Literal

import numpy as np

from agents.customer_service.normalize import fold
from agents.customer_service.schemas import DATA_DIR, Intent, Reason, default_keywords
from retrieval.embedding import Embedder, Vectors

EXAMPLES_PATH = DATA_DIR / "intent_examples.jsonl"

# (pattern on folded text, weight). 2 = decisive on its own, 1 = a hint.
_RULES: dict[Intent, tuple[tuple[str, int], ...]] = {
    Intent.complaint: (
        (
            "投诉|差评|骗子|骗人|黑店|垃圾|坑人|坑爹|什么破|破玩意|态度(太|真|好|很)?(差|恶劣)|气死|恶心|太差劲",
            2,
        ),
        ("失望|离谱|过分", 1),
    ),
    Intent.logistics: (
        (
            "物流|快[递第滴地]|单号|运单|派送|派件|配送|揽收|签收|驿站|快递柜|顺丰|中通|圆通|京东物流|韵达|申通|丢件|包裹|在路上|冷链|次日达|当天发|催(一下|件|单)?",
            2,
        ),
        ("(发货|发出|寄出|发走)(了)?(吗|没|没有|了没)", 2),
        (
            "(到哪|到哪里|到哪儿|啥时候到|什么时候到|几天到(?!账)|多久到(?!账)|多久能到(?!账)|还没到(?!账)|还不到|还没收到|没收到|(能|会)(送)?到吗)",
            2,
        ),
        ("(什么时候|啥时候|多久|几天|几号|哪天|几点前)(能)?(发货|发|寄|到货|到(?!账))", 2),
        ("发货|到货|送到|收到|运费|邮费|偏远|新疆|西藏", 1),
    ),
    Intent.return_exchange: (
        (
            "退货|换货|退换|退款|退钱|无理由|换(个|一个)?(大|小|[0-9]+)?(一)?(码|尺码|颜色|号)|寄回|退回|退了|能退|可以退|想退|要退|不想要了|拒收|赔偿|赔钱|(能|可以)换(吗|不|么|嘛)",
            2,
        ),
        (
            "少发|漏发|错发|发错|破损|压坏|压瘪|碎了|烂了|坏果|漏液|洒了|(退款|退货|售后|申请).{0,6}(被拒|驳回|拒绝|不通过|没通过)",
            2,
        ),
        ("退|换一|换个|不合适|买错|拍错", 1),
    ),
    Intent.repair: (
        (
            "维修|保修|修理|返修|修一下|修好|能修|坏了|故障|不工作|没反应|开不了机|开不开机|充不进电|充不上电|不加热|不制冷|不出水|漏水|异响|失灵|死机|报错|不亮|不转|不启动|质保|三包",
            2,
        ),
        ("(用了|才用).{0,6}(就|又)?(坏|不行|不能用|没用了)|不保温|扣不上|卡扣|涂层|松了|松动", 2),
        ("售后|电池|按键|接触不良|掉漆|变形", 1),
    ),
    Intent.promotion: (
        (
            "优惠|便宜|打折|折扣|(几|多少)折|[一二三四五六七八九]折|券|满减|减免|活动|秒杀|拼团|团购价|特价|促销|包邮|划算|降价|砍价|还价|议价|会员价|赠品|送(点|个|啥|什么)|福利|买[一二两三四五六七八九十0-9]送|积分(抵|兑|换|当)|少(点|一点|些|20|十|10|50)|再少|抹(个)?零|最低(多少|价)|能不能少|折上折|返现|红包",
            2,
        ),
        ("贵|实惠|省钱|划得来|积分", 1),
    ),
    Intent.product: (
        (
            "有货|没货|库存|缺货|现货|多少钱|价格|价钱|几块钱|啥价|什么价|怎么卖|尺码|码数|规格|型号|几段|几片|多少片|多少克|多少毫升|容量|成分|配料|保质期|生产日期|产地|材质|适合|适用|能(不能)?用(吗|不|么)?|可以用(吗|不|么)|能吃(吗|不)|怎么用|用法|区别|哪个好|推荐|好用吗|质量怎么样|敏感肌|孕妇|宝宝能|几个月|颜色|款式|尺寸|多大|多重|过敏|有没有(卖|这个|那个|大|小|别的)|还有吗",
            2,
        ),
        # A size, stage or colour asked for stock (41码有没有, 1段有吗, 黑色的还有货吗).
        ("(码|段|号|色|款)的?还?(有没有|有吗|有货|有现货)", 2),
        (
            "纸尿裤|拉拉裤|奶粉|湿巾|奶瓶|奶嘴|米粉|果泥|连体衣|座椅|润肤|洁面|精华|面霜|防晒|面膜|口红|粉底|卸妆|洗发|护发|沐浴|苹果|橙|芒果|牛奶|酸奶|鸡蛋|大米|花生油|牛排|带鱼|咖啡|龙井|茶|坚果|饼干|保温杯|收纳|洗衣液|油污|抽纸|卷纸|抹布|炒锅|枕|四件套|除湿|压缩袋",
            1,
        ),
    ),
    # 要求人工 and 投诉 share the default handoff keywords (data/handoff_keywords.json), see below.
    Intent.human: (),
    Intent.chitchat: (
        # The folded text keeps one of each repeated character: 谢谢 → 谢, 哈哈哈 → 哈.
        (
            "^(你好|您好|哈喽|hello|hi|嗨|在吗|在不在|在么|早|早上好|中午好|下午好|晚上好|晚安|谢|多谢|谢啦|感谢|好的|好滴|ok|嗯|哦|收到|拜|再见|哈|呵|嘿|么么哒|亲)+(亲|呀|啊|哈|哦|啦|了|的)*$",
            2,
        ),
        (
            "你是(谁|机器人吗|ai吗|真人吗)|你叫什么|吃饭了(吗|没)|天气|好热|好冷|下雨|无聊|聊聊天|陪我聊|讲个笑话|你几岁",
            2,
        ),
        ("哈|嘿|谢|辛苦", 1),
    ),
}


def _keyword_rule(*reasons: Reason) -> tuple[str, int]:
    keywords = default_keywords()
    return "|".join(f"(?:{p})" for r in reasons for p in keywords[r]), 2


_RULES[Intent.human] = (_keyword_rule(Reason.customer_request),)
_RULES[Intent.complaint] = (
    *_RULES[Intent.complaint],
    _keyword_rule(Reason.complaint_or_anger, Reason.legal_or_regulator),
)

_COMPILED: dict[Intent, tuple[tuple[re.Pattern[str], int], ...]] = {
    label: tuple((re.compile(p), w) for p, w in rules) for label, rules in _RULES.items()
}

# When two labels tie on rule score, the one a human must see first wins.
_TIE_ORDER: tuple[Intent, ...] = (
    Intent.human,
    Intent.complaint,
    Intent.repair,
    Intent.return_exchange,
    Intent.logistics,
    Intent.promotion,
    Intent.product,
    Intent.chitchat,
    Intent.other,
)

# Words that look like 人工 but are not a request for a person. The embedding sees 人工 and votes
# 要求人工; these texts never get that label from the vote.
NOT_A_REQUEST = re.compile(
    "人工(费|成本|智能|合成|饲养|养殖|种植|授粉|繁殖|湖|林|草|降雨|呼吸|关节|晶体|色素|甜味)|转账|工商银行|经理推荐|老板推荐"
)

Source = Literal["rules", "knn", "second_opinion", "default"]
SecondOpinion = Callable[[str, Sequence[Intent]], Intent | str | None]

# Below this best combined score (kNN vote share + rule points/3) no label has a majority, and
# only then is a second opinion asked: a confident rule or a clear vote never costs a model call.
SECOND_OPINION_BELOW = 0.5

# What each label means, for a second opinion that must pick one (prompts/customer_service/intent.yaml).
LABEL_DESCRIPTIONS: dict[Intent, str] = {
    Intent.product: "问商品本身：价格、库存、规格、尺码、成分、用法、适用人群",
    Intent.logistics: "问订单或快递：发货没有、到哪了、什么时候到、催件",
    Intent.return_exchange: "要退货、换货、退款，或收到的货少发、错发、破损",
    Intent.repair: "商品坏了、故障、要维修或问保修",
    Intent.complaint: "投诉、强烈不满、骂人、说要曝光或找监管",
    Intent.human: "明确要求真人、人工客服或经理来处理",
    Intent.promotion: "问优惠、折扣、优惠券、满减、活动，或讨价还价",
    Intent.chitchat: "打招呼、道谢、闲聊，和购物无关",
    Intent.other: "以上都不是",
}


@dataclass(frozen=True, slots=True)
class IntentResult:
    intent: Intent
    confidence: float  # 0..1
    source: Source
    rule_scores: dict[Intent, int] = field(default_factory=dict)
    knn_scores: dict[Intent, float] = field(default_factory=dict)


def rule_scores(folded: str) -> dict[Intent, int]:
    scores: dict[Intent, int] = {}
    for label, rules in _COMPILED.items():
        score = sum(w for pattern, w in rules if pattern.search(folded))
        if score:
            scores[label] = score
    return scores


def classify_rules(folded: str) -> IntentResult | None:
    """The rule verdict when it is confident, else None."""
    scores = rule_scores(folded)
    if not scores:
        return None
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], _TIE_ORDER.index(kv[0])))
    best, top = ranked[0]
    runner = ranked[1][1] if len(ranked) > 1 else 0
    # Someone who asks for a person or complains is handled as such, whatever else they mention.
    for urgent in (Intent.human, Intent.complaint):
        if scores.get(urgent, 0) >= 2:
            return IntentResult(urgent, 0.9, "rules", scores)
    if top >= 2 and top > runner:
        return IntentResult(best, min(1.0, 0.6 + 0.1 * (top - runner)), "rules", scores)
    return None


@dataclass(frozen=True, slots=True)
class LabelledExample:
    text: str
    intent: Intent


@functools.cache
def load_examples(path: Traversable = EXAMPLES_PATH) -> tuple[LabelledExample, ...]:
    out: list[LabelledExample] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                out.append(LabelledExample(row["text"], Intent(row["intent"])))
    return tuple(out)


class IntentClassifier:
    """Rules + kNN over labelled examples (+ an optional constrained second opinion)."""

    def __init__(
        self,
        embedder: Embedder | None = None,
        examples: Sequence[LabelledExample] | None = None,
        *,
        k: int = 7,
        min_similarity: float = 0.0,
        second_opinion: SecondOpinion | None = None,
    ) -> None:
        self.embedder = embedder
        self.examples = tuple(examples if examples is not None else load_examples())
        self.k = k
        self.min_similarity = min_similarity
        self.second_opinion = second_opinion
        self._matrix: Vectors | None = None

    def _example_vectors(self, embedder: Embedder) -> Vectors:
        if self._matrix is None:
            # Both sides as queries: this is a symmetric short-text comparison (e5 "query: ").
            self._matrix = embedder.embed_queries([e.text for e in self.examples])
        return self._matrix

    def knn(self, text: str) -> dict[Intent, float]:
        """Similarity-weighted vote shares of the k nearest examples (sum to 1), or {} without an embedder."""
        if self.embedder is None or not self.examples:
            return {}
        matrix = self._example_vectors(self.embedder)
        query = self.embedder.embed_queries([text])[0]
        sims = matrix @ query
        k = min(self.k, len(self.examples))
        top = np.argpartition(-sims, k - 1)[:k]
        votes: dict[Intent, float] = {}
        for i in top:
            sim = float(sims[i])
            if sim > self.min_similarity:
                label = self.examples[int(i)].intent
                votes[label] = votes.get(label, 0.0) + sim
        total = sum(votes.values())
        return {label: v / total for label, v in votes.items()} if total > 0 else {}

    def classify(
        self, text: str, folded: str | None = None, *, second_opinion: SecondOpinion | None = None
    ) -> IntentResult:
        """`second_opinion` overrides the constructor's for this call (a shared classifier asked
        on behalf of one shop)."""
        folded = fold(text) if folded is None else folded
        ask = second_opinion if second_opinion is not None else self.second_opinion
        ruled = classify_rules(folded)
        if ruled is not None:
            return ruled
        scores = rule_scores(folded)
        knn = self.knn(text)
        if Intent.human in knn and NOT_A_REQUEST.search(folded):
            del knn[Intent.human]
            total = sum(knn.values())
            knn = {label: v / total for label, v in knn.items()} if total > 0 else {}
        # Unconfident rules still count: each rule point is worth a third of the kNN vote.
        combined: dict[Intent, float] = dict(knn)
        for label, score in scores.items():
            combined[label] = combined.get(label, 0.0) + score / 3
        if ask is not None and (not combined or max(combined.values()) < SECOND_OPINION_BELOW):
            opinion = _label_of(ask(text, tuple(Intent)))
            if opinion is not None:
                return IntentResult(opinion, 0.5, "second_opinion", scores, knn)
        if combined:
            best = max(combined, key=lambda lb: (combined[lb], -_TIE_ORDER.index(lb)))
            return IntentResult(best, min(1.0, combined[best]), "knn" if knn else "rules", scores, knn)
        return IntentResult(Intent.other, 0.0, "default", scores, knn)


def _label_of(answer: Intent | str | None) -> Intent | None:
    """The answer as one of the labels, or None (anything else is ignored)."""
    if isinstance(answer, Intent):
        return answer
    if isinstance(answer, str):
        value = answer.strip()
        for label in Intent:
            if value in (label.value, label.name):
                return label
    return None
