"""Curated direct answers: a stored FAQ answer returned verbatim, cited by its question.

When a shopper's question matches a curated FAQ question closely enough, the merchant's own
wording is better than anything generated. The match score mixes the dense similarity of the
FAQ chunk and the character-bigram overlap between the two questions (robust to typos and
colloquial wording); the threshold was calibrated on the `kb` eval set so that a wrong
direct answer is rarer than a missed one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.lexical import normalise
from retrieval.search import Hit, SearchResult

FAQ_THRESHOLD = 0.62
DENSE_FLOOR, DENSE_CEIL = 0.80, 0.93
_ANSWER = re.compile(r"\n答：", re.MULTILINE)
_NOISE = re.compile(r"[\s\W_]+")


@dataclass(frozen=True)
class DirectAnswer:
    question: str  # what the answer is cited by
    answer: str  # the entry's whole answer
    score: float
    chunk_id: str
    doc_id: str
    title: str  # the document's
    section: str = ""  # the heading path above the question


def bigram_dice(a: str, b: str) -> float:
    """Dice coefficient over character bigrams, ignoring punctuation, case and width."""

    def grams(text: str) -> set[str]:
        s = _NOISE.sub("", normalise(text))
        return {s[i : i + 2] for i in range(len(s) - 1)} if len(s) > 1 else {s} if s else set()

    ga, gb = grams(a), grams(b)
    return 2 * len(ga & gb) / (len(ga) + len(gb)) if ga and gb else 0.0


def faq_match_score(query: str, hit: Hit) -> float:
    dense = 0.0
    if hit.similarity is not None:
        dense = min(1.0, max(0.0, (hit.similarity - DENSE_FLOOR) / (DENSE_CEIL - DENSE_FLOOR)))
    return 0.5 * dense + 0.5 * bigram_dice(query, hit.question)


def answer_of(hit: Hit) -> str:
    parts = _ANSWER.split(hit.text, maxsplit=1)
    return parts[1].strip() if len(parts) == 2 else hit.text


def direct_answer(
    result: SearchResult, *, threshold: float = FAQ_THRESHOLD, top_n: int = 3
) -> DirectAnswer | None:
    """The best FAQ entry among the top hits if it clears `threshold`, else None. An entry is
    any chunk with a question: a FAQ CSV row or an entry found in an uploaded page."""
    best: tuple[float, Hit] | None = None
    for hit in result.hits[:top_n]:
        if not hit.question:
            continue
        score = faq_match_score(result.query, hit)
        if best is None or score > best[0]:
            best = (score, hit)
    if best is None or best[0] < threshold:
        return None
    score, hit = best
    return DirectAnswer(hit.question, answer_of(hit), score, hit.chunk_id, hit.doc_id, hit.title, hit.section)
