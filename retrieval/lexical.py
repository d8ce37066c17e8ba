"""Lexical retrieval: BM25 (bm25s) over jieba tokens plus Chinese character bigrams.

Text is NFKC-normalised and lower-cased first, so `ＳＴ－７７１`, `ST-771` and `st-771` agree.
Identifier-like spans (`st-771`, `a3-pro`) are emitted whole and in compact form (`st771`),
and the shop's product codes and names are added to a jieba dictionary, so jieba no longer cuts
`ST-771` into `st`, `-`, `771`. jieba runs in search mode (full words and their sub-words).
Character bigrams (prefixed so they never collide with words) catch typos and segmentation
misses that colloquial questions are full of.

The dictionary is a private `jieba.Tokenizer`, never the global one. Words added for one shop
stay in it: they change only how text is cut, never what a shop can see.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

log = logging.getLogger("siyu.retrieval.lexical")

_CODE = re.compile(r"[a-z0-9]+(?:[-_/.][a-z0-9]+)+|[a-z]+[0-9][a-z0-9]*|[0-9]+[a-z]+[a-z0-9]*")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{2,}")
_WORDLIKE = re.compile(r"[\w\u3400-\u4dbf\u4e00-\u9fff]")
BIGRAM_PREFIX = "²"
_STOPWORDS_TEXT = (
    "的 了 吗 呢 啊 呀 吧 嘛 哦 哈 是 在 我 你 他 她 它 "
    "们 我们 你们 这 那 这个 那个 有 没 没有 和 与 及 或 "
    "就 都 也 还 又 很 太 会 能 可以 可 要 想 请问 请 问 "
    "一下 下 么 怎么 怎么样 什么 多少 几 哪 哪个 吗? 亲 "
    "老板 客服 麻烦 谢谢 好 嗯 额 呃 个 一个 一 之 为 被 "
    "把 给 让 对 从 到 吗 "
)
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def normalise(text: str) -> str:
    """NFKC + lower case: full-width letters, digits and dashes become ASCII."""
    return unicodedata.normalize("NFKC", text).lower()


class JiebaDictionary:
    """A private jieba tokenizer that learns shop words; safe to share across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self._tokenizer: object | None = None

    def _get(self) -> object:
        if self._tokenizer is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            self._tokenizer = tokenizer
        return self._tokenizer

    def add_words(self, words: Iterable[str]) -> int:
        """Add product names and codes; returns how many were new."""
        added = 0
        with self._lock:
            tokenizer = self._get()
            for raw in words:
                word = normalise(raw).strip()
                if not word or len(word) > 24 or re.search(r"\s", word) or word in self._known:
                    continue
                tokenizer.add_word(word, freq=max(tokenizer.suggest_freq(word, False), 10))  # type: ignore[attr-defined]
                self._known.add(word)
                added += 1
        return added

    def cut(self, text: str) -> list[str]:
        tokenizer = self._get()
        return list(tokenizer.cut_for_search(text, HMM=False))  # type: ignore[attr-defined]


DEFAULT_DICTIONARY = JiebaDictionary()


def tokenize(text: str, dictionary: JiebaDictionary | None = None, *, bigrams: bool = True) -> list[str]:
    """Index and query tokens: jieba words, whole codes, compact codes and CJK bigrams."""
    norm = normalise(text)
    tokens: list[str] = []
    for word in (dictionary or DEFAULT_DICTIONARY).cut(norm):
        word = word.strip()
        if word and word not in STOPWORDS and _WORDLIKE.search(word):
            tokens.append(word)
    words = set(tokens)
    for match in _CODE.finditer(norm):
        code = match.group(0)
        compact = re.sub(r"[-_/.]", "", code)
        tokens.extend(t for t in dict.fromkeys((code, compact)) if t not in words)
    if bigrams:
        for run in _CJK_RUN.finditer(norm):
            s = run.group(0)
            tokens.extend(BIGRAM_PREFIX + s[i : i + 2] for i in range(len(s) - 1))
    return tokens


def content_words(text: str, dictionary: JiebaDictionary | None = None) -> list[str]:
    """Query words without bigrams, for coverage features in the grounding score."""
    return list(dict.fromkeys(tokenize(text, dictionary, bigrams=False)))


@dataclass(frozen=True)
class LexicalHit:
    index: int
    score: float


class LexicalIndex:
    """An immutable BM25 index over one shop's live chunks; rebuild it to change it."""

    def __init__(self, texts: Sequence[str], dictionary: JiebaDictionary | None = None) -> None:
        import bm25s

        self.dictionary = dictionary or DEFAULT_DICTIONARY
        self.size = len(texts)
        self.token_sets: list[frozenset[str]] = []
        corpus = []
        for text in texts:
            tokens = tokenize(text, self.dictionary)
            corpus.append(tokens)
            self.token_sets.append(frozenset(tokens))
        self.doc_freq: Counter[str] = Counter()
        for token_set in self.token_sets:
            self.doc_freq.update(token_set)
        self._bm25 = bm25s.BM25()
        if corpus:
            self._bm25.index(corpus, show_progress=False)

    def idf(self, token: str) -> float:
        """Smoothed IDF; a token no chunk contains gets the highest weight."""
        return math.log(1.0 + (self.size + 1) / (self.doc_freq.get(token, 0) + 0.5))

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        if not self.size:
            return np.zeros(0, dtype=np.float32)
        tokens = tokenize(query, self.dictionary)
        if not tokens:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def search(self, query: str, k: int, mask: npt.NDArray[np.bool_] | None = None) -> list[LexicalHit]:
        """Top-k positive-scoring chunks, optionally restricted to `mask`."""
        scores = self.scores(query)
        if not scores.size:
            return []
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        k = min(k, scores.size)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [LexicalHit(int(i), float(scores[i])) for i in top if scores[i] > 0]
