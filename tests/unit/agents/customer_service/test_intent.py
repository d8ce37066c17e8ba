from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest

from agents.customer_service.intent import (
    LABEL_DESCRIPTIONS,
    IntentClassifier,
    LabelledExample,
    classify_rules,
    load_examples,
)
from agents.customer_service.normalize import fold
from agents.customer_service.schemas import Intent
from tests.unit.retrieval.fakes import HashEmbedder


def test_every_label_has_at_least_25_examples() -> None:
    counts = Counter(e.intent for e in load_examples())
    assert set(counts) == set(Intent)
    assert min(counts.values()) >= 25


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("转 人 工", Intent.human),
        ("我的快递到哪了", Intent.logistics),
        ("买错码了能换吗", Intent.return_exchange),
        ("保温杯不保温了 还在保修期吗", Intent.repair),
        ("什么破东西 我要投诉", Intent.complaint),
        ("纸尿裤M码还有货吗", Intent.product),
        # a size, stage or colour asked for stock is a product question; asked to swap, an exchange
        ("跑鞋41码有没有", Intent.product),
        ("黑色的有吗", Intent.product),
        ("能换42码吗", Intent.return_exchange),
        ("满多少包邮啊", Intent.promotion),
        ("谢谢亲", Intent.chitchat),
        ("哈哈哈好的", Intent.chitchat),
        ("退款一般几天到账", Intent.return_exchange),
        # a complaint or a request for a person wins over the topic it mentions
        ("奶粉有异味 我要投诉", Intent.complaint),
        ("纸尿裤的事 转人工", Intent.human),
    ],
)
def test_confident_rules(text: str, intent: Intent) -> None:
    result = classify_rules(fold(text))
    assert result is not None and result.intent is intent and result.source == "rules"


def test_rules_are_not_confident_on_unknown_text() -> None:
    assert classify_rules(fold("能开发票吗")) is None


EXAMPLES = [
    LabelledExample("能开发票吗", Intent.other),
    LabelledExample("发票抬头写错了", Intent.other),
    LabelledExample("可以开专票吗", Intent.other),
    LabelledExample("你好", Intent.chitchat),
]


def test_knn_votes_among_nearest_examples_with_a_fake_embedder() -> None:
    embedder = HashEmbedder()
    clf = IntentClassifier(embedder, EXAMPLES, k=3)
    result = clf.classify("发票能开吗")
    assert result.intent is Intent.other and result.source == "knn"
    assert result.knn_scores[Intent.other] > 0.5
    assert sum(result.knn_scores.values()) == pytest.approx(1.0)
    clf.classify("发票抬头")
    assert embedder.calls[0] == len(EXAMPLES)  # examples embedded once, then one query per call
    assert embedder.calls[1:] == [1, 1]


def test_confident_rules_skip_the_embedder_and_the_second_opinion() -> None:
    embedder = HashEmbedder()
    asked: list[str] = []

    def opinion(text: str, labels: Sequence[Intent]) -> str:
        asked.append(text)
        return "闲聊"

    clf = IntentClassifier(embedder, EXAMPLES, second_opinion=opinion)
    result = clf.classify("转人工")
    assert result.intent is Intent.human and asked == [] and embedder.calls == []


def test_second_opinion_is_constrained_to_the_label_set() -> None:
    answers = iter(["查询物流", "exactly a refund please", "other"])

    def opinion(text: str, labels: Sequence[Intent]) -> str:
        assert tuple(labels) == tuple(Intent)
        return next(answers)

    clf = IntentClassifier(None, EXAMPLES, second_opinion=opinion)
    first = clf.classify("嗯这个那个")
    assert first.intent is Intent.logistics and first.source == "second_opinion"
    assert clf.classify("嗯这个那个").intent is Intent.other  # not a label: ignored
    assert clf.classify("嗯这个那个").intent is Intent.other  # the member name is accepted too


def test_without_anything_it_is_other() -> None:
    result = IntentClassifier(None, EXAMPLES).classify("嗯这个那个")
    assert result.intent is Intent.other and result.source == "default" and result.confidence == 0


def test_knn_never_labels_look_alikes_as_a_request() -> None:
    requests = [LabelledExample(t, Intent.human) for t in ("人工", "转人工", "人工客服", "要人工")]
    clf = IntentClassifier(HashEmbedder(), [*requests, LabelledExample("多少钱", Intent.product)], k=5)
    assert clf.classify("人工呀呀").intent is Intent.human
    for text in ("人工费多少", "人工智能客服", "转账行吗"):
        result = clf.classify(text)
        assert result.intent is not Intent.human and Intent.human not in result.knn_scores


def test_a_per_call_second_opinion_replaces_the_shared_one() -> None:
    clf = IntentClassifier(None, EXAMPLES, second_opinion=lambda text, labels: "闲聊")
    assert (
        clf.classify("嗯这个那个", second_opinion=lambda text, labels: "优惠咨询").intent is Intent.promotion
    )
    assert clf.classify("嗯这个那个").intent is Intent.chitchat


def test_every_label_has_a_description_for_the_second_opinion() -> None:
    assert set(LABEL_DESCRIPTIONS) == set(Intent) and all(LABEL_DESCRIPTIONS.values())
