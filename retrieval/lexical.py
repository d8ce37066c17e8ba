"""Lexical retrieval: BM25 (bm25s' Lucene variant) over jieba tokens plus Chinese character bigrams.

Text is NFKC-normalised and lower-cased first, so `ＳＴ－７７１`, `ST-771` and `st-771` agree.
Identifier-like spans (`st-771`, `a3-pro`) are emitted whole and in compact form (`st771`),
and the shop's product codes and names are added to a jieba dictionary, so jieba no longer cuts
`ST-771` into `st`, `-`, `771`. jieba runs in search mode (full words and their sub-words).
Character bigrams (prefixed so they never collide with words) catch typos and segmentation
misses that colloquial questions are full of.

The dictionary is a private `jieba.Tokenizer`, never the global one. Words added for one shop
stay in it: they change only how text is cut, never what a shop can see.

The index is updatable (see `LexicalIndex`): a write re-tokenises only the chunks it touched.
Options weighed: persisting tokenised chunks would still leave a rebuild reading every text from
Chroma and re-indexing (27 s + 33 s of the old 100k rebuild, measured); a periodic compaction
job would need a second copy of the index and cross-process hand-over. Base + delta segments
with tombstones and exact live statistics make each write O(delta) with scores equal to a full
rebuild's; the delta folds into the base inline once it passes `DELTA_SHARE`, which costs
O(postings) array work and no tokenising. bm25s stays the reference the tests score against.
"""

from __future__ import annotations

import difflib
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


def common_substring_length(a: str, b: str) -> int:
    """Length of the longest run of characters `a` and `b` share (保温杯 in 清居保温杯 / 保温杯补货 → 3)."""
    # autojunk off: on a string of 200+ characters difflib would otherwise skip its most frequent
    # characters, and the answer would depend on the length of the text.
    return difflib.SequenceMatcher(None, a, b, autojunk=False).find_longest_match().size


class JiebaDictionary:
    """A private jieba tokenizer that learns shop words; safe to share across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: set[str] = set()
        # Every word added, in order: an index tokenised at `version` n re-cuts only the chunks
        # that contain one of `added_since(n)` (see `LexicalIndex.containing`).
        self._added: list[str] = []
        self._tokenizer: object | None = None
        self._total = 0

    def _get(self) -> object:
        if self._tokenizer is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            self._total = int(tokenizer.total)
            self._tokenizer = tokenizer
        return self._tokenizer

    @property
    def version(self) -> int:
        return len(self._added)

    def added_since(self, version: int) -> list[str]:
        return self._added[version:]

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
                # jieba adds the word's frequency to its corpus total, which shifts the score of
                # every segmentation a little. Keeping the total fixed makes a word change the
                # cut of exactly the texts that contain it, so an incremental index re-cuts just
                # those instead of the whole shop (the shift is ~1e-6 of a 6e7 total anyway).
                tokenizer.total = self._total  # type: ignore[attr-defined]
                self._known.add(word)
                self._added.append(word)
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


# bm25s' defaults (`method="lucene"`); a unit test checks that `LexicalIndex.scores` equals
# bm25s' own scores on the same corpus.
K1 = 1.5
B = 0.75
# The delta segment is folded into the base once it holds this share of the documents (and at
# least DELTA_MIN): small enough that rebuilding the delta on a write costs milliseconds, rare
# enough that the O(all postings) merge (no tokenising) is amortised over thousands of writes.
DELTA_SHARE = 0.1
DELTA_MIN = 2_000

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float32]
_NO_TERMS: IntArray = np.zeros(0, dtype=np.int32)
_NO_TFS: FloatArray = np.zeros(0, dtype=np.float32)


@dataclass(frozen=True)
class _Segment:
    """Term-major postings of the documents at positions [start, stop): term t occurs in
    `docs[indptr[t]:indptr[t + 1]]` (absolute positions, ascending) with frequencies `tfs`."""

    start: int
    stop: int
    indptr: npt.NDArray[np.int64]
    docs: IntArray
    tfs: FloatArray

    @classmethod
    def build(
        cls, start: int, stop: int, terms: Sequence[IntArray], tfs: Sequence[FloatArray], n_terms: int
    ) -> _Segment:
        from scipy.sparse import csr_matrix

        rows = terms[start:stop]
        row_ptr = np.zeros(stop - start + 1, dtype=np.int64)
        np.cumsum(np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows)), out=row_ptr[1:])
        if not row_ptr[-1]:
            return cls(start, stop, np.zeros(n_terms + 1, dtype=np.int64), _NO_TERMS, _NO_TFS)
        matrix = csr_matrix(
            (np.concatenate(tfs[start:stop]), np.concatenate(rows), row_ptr), shape=(stop - start, n_terms)
        )
        by_term = matrix.tocsc()  # O(postings), rows come out ascending within each term
        return cls(
            start,
            stop,
            by_term.indptr.astype(np.int64),
            (by_term.indices + start).astype(np.int32),
            by_term.data.astype(np.float32),
        )

    def postings(self, term: int) -> tuple[IntArray, FloatArray]:
        if term >= len(self.indptr) - 1:
            return _NO_TERMS, _NO_TFS
        lo, hi = int(self.indptr[term]), int(self.indptr[term + 1])
        return self.docs[lo:hi], self.tfs[lo:hi]

    def accumulate(
        self,
        terms: Sequence[int],
        weights: Sequence[float],
        norm: npt.NDArray[np.float64],
        out: npt.NDArray[np.float64],
    ) -> None:
        """Add Σ_t weight_t · tf/(tf + norm_d) to `out` for this segment's documents."""
        docs: list[IntArray] = []
        tfs: list[FloatArray] = []
        ws: list[npt.NDArray[np.float64]] = []
        for term, weight in zip(terms, weights, strict=True):
            d, tf = self.postings(term)
            if d.size:
                docs.append(d)
                tfs.append(tf)
                ws.append(np.full(d.size, weight))
        if not docs:
            return
        d = np.concatenate(docs)
        tf = np.concatenate(tfs).astype(np.float64)
        contribution = np.concatenate(ws) * tf / (norm[d] + tf)
        # bincount adds in input order (term by term), so a document's sum is the same float
        # whichever segment holds it: incremental and rebuilt indexes agree bit for bit.
        out[self.start : self.stop] += np.bincount(
            d - self.start, weights=contribution, minlength=self.stop - self.start
        )


class LexicalIndex:
    """BM25 over one shop's chunks, updatable without re-tokenising what did not change.

    Why segments with query-time statistics rather than bm25s' eager index: bm25s stores
    idf·tf-saturation per posting, computed with the corpus' N, document frequencies and average
    length, so any write changes every stored score and means a full re-index (33 s at 100k
    chunks, mostly jieba). Here each chunk is tokenised once and kept as term counts; the
    postings live in a large immutable base segment plus a small delta segment rebuilt on each
    write; deleted or replaced chunks are tombstoned (`alive`); N, document frequencies and the
    total length are maintained exactly over the live chunks, and the Lucene BM25 formula
    (bm25s' default) is applied at query time. Scores therefore equal a full rebuild's (the
    equivalence test checks bit-for-bit), and a write costs O(delta) instead of O(shop).

    Positions are stable: added chunks get new positions at the end and tombstones keep theirs,
    until `vacuumed()` renumbers. Versions are immutable; `updated()` returns a new one sharing
    the vocabulary (append-only) and the untouched base segment.
    """

    def __init__(self, texts: Sequence[str], dictionary: JiebaDictionary | None = None) -> None:
        self.dictionary = dictionary or DEFAULT_DICTIONARY
        self._vocab: dict[str, int] = {}
        self._words: list[str] = []
        self.dictionary_version = self.dictionary.version
        self._terms: list[IntArray] = []
        self._tfs: list[FloatArray] = []
        self._norm_texts: list[str] = []
        lengths = self._add(texts)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.alive = np.ones(len(texts), dtype=bool)
        self._df = self._count_df(self._terms, len(self._words))
        self._total_len = int(self.lengths.sum())
        self.live = len(texts)
        self._segments: tuple[_Segment, ...] = (
            _Segment.build(0, len(texts), self._terms, self._tfs, len(self._words)),
        )
        self._haystack: tuple[str, npt.NDArray[np.int64]] | None = None

    # --- building ---------------------------------------------------------------------------

    def _add(self, texts: Sequence[str]) -> list[int]:
        """Tokenise and append `texts` to the per-chunk arrays; returns their lengths."""
        vocab, words = self._vocab, self._words
        lengths = []
        for text in texts:
            norm = normalise(text)
            ids = []
            for token in tokenize(norm, self.dictionary):
                i = vocab.get(token)
                if i is None:
                    i = vocab[token] = len(words)
                    words.append(token)
                ids.append(i)
            counts = Counter(ids)
            order = sorted(counts)
            self._terms.append(np.asarray(order, dtype=np.int32))
            self._tfs.append(np.asarray([counts[i] for i in order], dtype=np.float32))
            self._norm_texts.append(norm)
            lengths.append(len(ids))
        return lengths

    @staticmethod
    def _count_df(terms: Sequence[IntArray], n_terms: int) -> npt.NDArray[np.int64]:
        if not terms:
            return np.zeros(n_terms, dtype=np.int64)
        return np.bincount(np.concatenate([_NO_TERMS, *terms]), minlength=n_terms).astype(np.int64)

    def _derive(self) -> LexicalIndex:
        new = object.__new__(LexicalIndex)
        new.dictionary = self.dictionary
        new._vocab, new._words = self._vocab, self._words
        new.dictionary_version = self.dictionary_version
        new._terms, new._tfs, new._norm_texts = list(self._terms), list(self._tfs), list(self._norm_texts)
        new.lengths, new.alive, new._df = self.lengths, self.alive, self._df
        new._total_len, new.live, new._segments = self._total_len, self.live, self._segments
        new._haystack = None
        return new

    def updated(
        self, add: Sequence[str], remove: Iterable[int] = (), *, recut_to: int | None = None
    ) -> LexicalIndex:
        """A new version with `remove` (positions) tombstoned and `add` appended at positions
        `size`, `size + 1`, ... Only the added texts are tokenised.

        `dictionary_version` says up to which dictionary word every chunk's cut is current.
        Adding chunks does not move it (the old chunks were cut before); a re-cut of the
        chunks `containing(dictionary.added_since(v))` passes `recut_to`, the dictionary
        version read before `containing` ran."""
        new = self._derive()
        if recut_to is not None:
            new.dictionary_version = recut_to
        alive = self.alive.copy()
        df = self._df.copy()
        for position in sorted(set(remove)):
            if not alive[position]:
                continue
            alive[position] = False
            np.subtract.at(df, new._terms[position], 1)
            new._total_len -= int(self.lengths[position])
            new.live -= 1
            new._terms[position], new._tfs[position], new._norm_texts[position] = _NO_TERMS, _NO_TFS, ""
        start = self.size
        lengths = new._add(add)
        n_terms = len(new._words)
        grown = np.zeros(n_terms, dtype=np.int64)
        grown[: df.size] = df
        if add:
            np.add.at(grown, np.concatenate(new._terms[start:]), 1)
        new._df = grown
        new.lengths = np.concatenate([self.lengths, np.asarray(lengths, dtype=np.int64)])
        new.alive = np.concatenate([alive, np.ones(len(add), dtype=bool)])
        new._total_len += sum(lengths)
        new.live += len(add)
        base = self._segments[0]
        size = new.size
        if size - base.stop > max(DELTA_MIN, DELTA_SHARE * base.stop):
            new._segments = (_Segment.build(0, size, new._terms, new._tfs, n_terms),)
        elif add:
            new._segments = (base, _Segment.build(base.stop, size, new._terms, new._tfs, n_terms))
        # Removals alone only tombstone: the segments stay as they are.
        return new

    def vacuumed(self) -> tuple[LexicalIndex, npt.NDArray[np.int64]]:
        """Drop tombstones and renumber: returns the new index and, per new position, the old."""
        kept = np.flatnonzero(self.alive).astype(np.int64)
        new = self._derive()
        new._terms = [self._terms[p] for p in kept]
        new._tfs = [self._tfs[p] for p in kept]
        new._norm_texts = [self._norm_texts[p] for p in kept]
        new.lengths = self.lengths[kept]
        new.alive = np.ones(kept.size, dtype=bool)
        new._segments = (_Segment.build(0, kept.size, new._terms, new._tfs, len(self._words)),)
        return new, kept

    # --- reading ----------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Positions, tombstones included."""
        return int(self.alive.size)

    @property
    def segments(self) -> int:
        return len(self._segments)

    @property
    def dead(self) -> int:
        return self.size - self.live

    def _df_of(self, token: str) -> int:
        i = self._vocab.get(token)
        return int(self._df[i]) if i is not None and i < self._df.size else 0

    def idf(self, token: str) -> float:
        """Smoothed IDF; a token no chunk contains gets the highest weight."""
        return math.log(1.0 + (self.live + 1) / (self._df_of(token) + 0.5))

    def token_set(self, position: int) -> frozenset[str]:
        return frozenset(self._words[i] for i in self._terms[position])

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """Lucene BM25 (bm25s' default) of every position; 0 for tombstones."""
        if not self.size:
            return np.zeros(0, dtype=np.float32)
        out = np.zeros(self.size, dtype=np.float64)
        counts: Counter[int] = Counter()
        for token in tokenize(query, self.dictionary):
            i = self._vocab.get(token)
            # Like bm25s, tokens outside the (live) vocabulary are dropped and repeats count.
            if i is not None and i < self._df.size and self._df[i] > 0:
                counts[i] += 1
        if not counts or not self.live:
            return out.astype(np.float32)
        terms = list(counts)
        df = self._df[terms].astype(np.float64)
        n = float(self.live)
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        weights = [float(c * w) for c, w in zip(counts.values(), idf, strict=True)]
        avgdl = self._total_len / n
        lengths = self.lengths.astype(np.float64)
        norm = (
            K1 * ((1.0 - B) + B * lengths / avgdl) if avgdl > 0 else np.full(self.size, K1, dtype=np.float64)
        )
        for segment in self._segments:
            segment.accumulate(terms, weights, norm, out)
        out[~self.alive] = 0.0
        return out.astype(np.float32)

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

    def containing(self, words: Iterable[str]) -> set[int]:
        """Live positions whose normalised text contains one of `words`: the chunks a new
        dictionary word can re-cut. CJK words are looked up through their rarest bigram's
        postings; other words (codes) all at once by an Aho-Corasick pass over the texts."""
        found: set[int] = set()
        others: list[str] = []
        for raw in words:
            word = normalise(raw)
            runs = _CJK_RUN.findall(word)
            bigrams = [BIGRAM_PREFIX + r[i : i + 2] for r in runs for i in range(len(r) - 1)]
            if not bigrams:
                if word:
                    others.append(word)
                continue
            df, rarest = min((self._df_of(b), b) for b in bigrams)
            if not df:
                continue
            term = self._vocab[rarest]
            for segment in self._segments:
                docs, _ = segment.postings(term)
                found.update(int(p) for p in docs if self.alive[p] and word in self._norm_texts[p])
        if others:
            found |= self._scan(others)
        return found

    def _scan(self, words: Sequence[str]) -> set[int]:
        import ahocorasick

        if self._haystack is None:
            starts = np.zeros(len(self._norm_texts), dtype=np.int64)
            np.cumsum([len(t) + 1 for t in self._norm_texts[:-1]], out=starts[1:])
            self._haystack = ("\x00".join(self._norm_texts), starts)
        text, starts = self._haystack
        automaton = ahocorasick.Automaton()
        for word in words:
            automaton.add_word(word, len(word))
        automaton.make_automaton()
        found: set[int] = set()
        for end, length in automaton.iter(text):
            position = int(np.searchsorted(starts, end - length + 1, side="right")) - 1
            if self.alive[position]:
                found.add(position)
        return found
