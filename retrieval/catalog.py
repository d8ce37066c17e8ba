"""Exact catalog match: codes, model numbers, sizes and colours named in a query.

Embeddings blur `ST-771` into "some code" and jieba used to cut it apart, so product cards are
also matched literally. Each card stores its normalised terms (see `retrieval.cards`); a query's
terms are extracted the same way and compared in compact form (`ST771` == `st-771`). A code or
model-number match outweighs any number of size or colour matches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.cards import arabic_numerals, extract_terms
from retrieval.lexical import normalise

CODE_WEIGHT = 3.0
ATTRIBUTE_WEIGHT = 1.0
TERM_SEPARATOR = "|"


def compact(term: str) -> str:
    return re.sub(r"[-_/.\s]", "", normalise(term))


def is_code(term: str) -> bool:
    """A code has letters and digits (st-771, a3pro) or is a long digit string."""
    c = compact(term)
    has_digit = any(ch.isdigit() for ch in c)
    has_alpha = any(ch.isascii() and ch.isalpha() for ch in c)
    is_measure = re.fullmatch(r"\d+(?:\.\d+)?(?:ml|l|g|kg|cm|mm|m)", c) is not None
    return (has_digit and has_alpha and not is_measure) or (c.isdigit() and len(c) >= 5)


def encode_terms(terms: Sequence[str]) -> str:
    """Chroma metadata holds scalars, so the terms travel as one '|'-joined string."""
    return TERM_SEPARATOR + TERM_SEPARATOR.join(terms) + TERM_SEPARATOR if terms else ""


def decode_terms(value: object) -> tuple[str, ...]:
    if not isinstance(value, str) or not value:
        return ()
    return tuple(t for t in value.split(TERM_SEPARATOR) if t)


@dataclass(frozen=True)
class CatalogMatch:
    position: int
    score: float
    terms: tuple[str, ...]
    by_code: bool


def _boundary_ok(text: str, start: int, end: int) -> bool:
    """ASCII terms ('xl', 'm') must stand alone; CJK terms may sit inside a sentence, but one
    that starts with a digit ('1段', '2包') must not be the tail of a longer number (11段, 12包)."""
    before = text[start - 1] if start > 0 else " "
    if not text[start:end].isascii():
        return not (text[start].isdigit() and (before.isdigit() or before == "."))
    after = text[end] if end < len(text) else " "
    return not (before.isascii() and before.isalnum()) and not (after.isascii() and after.isalnum())


class CatalogIndex:
    """Codes looked up in compact form; sizes, colours and variant names found in the query by
    an Aho-Corasick automaton, so matching stays linear in the query however big the catalog."""

    def __init__(self, card_terms: Sequence[tuple[int, Sequence[str]]]) -> None:
        import ahocorasick

        self._codes: dict[str, set[int]] = {}
        attributes: dict[str, set[int]] = {}
        for position, terms in card_terms:
            for term in terms:
                if is_code(term):
                    self._codes.setdefault(compact(term), set()).add(position)
                else:
                    attributes.setdefault(normalise(term), set()).add(position)
        self._automaton = ahocorasick.Automaton()
        for term, positions in attributes.items():
            self._automaton.add_word(term, (term, frozenset(positions)))
        if attributes:
            self._automaton.make_automaton()
        self._has_attributes = bool(attributes)
        self.size = len(card_terms)

    def _attribute_hits(self, norm: str) -> dict[str, frozenset[int]]:
        found: dict[str, frozenset[int]] = {}
        if not self._has_attributes:
            return found
        for end, (term, positions) in self._automaton.iter(norm):
            start = end - len(term) + 1
            if _boundary_ok(norm, start, end + 1):
                found[term] = positions
        # A term inside a longer matched term ('蓝' in '雾霾蓝') adds nothing.
        return {t: p for t, p in found.items() if not any(t != o and t in o for o in found)}

    def match(self, query: str) -> list[CatalogMatch]:
        """Cards sharing terms with the query, best first (ties by position)."""
        scores: dict[int, float] = {}
        matched: dict[int, list[str]] = {}
        by_code: set[int] = set()
        for term in dict.fromkeys(extract_terms(query)):
            hits = self._codes.get(compact(term))
            if not hits or not is_code(term):
                continue
            by_code |= hits
            for position in hits:
                scores[position] = scores.get(position, 0.0) + CODE_WEIGHT
                matched.setdefault(position, []).append(term)
        for term, positions in self._attribute_hits(arabic_numerals(normalise(query))).items():
            for position in positions:
                scores[position] = scores.get(position, 0.0) + ATTRIBUTE_WEIGHT
                matched.setdefault(position, []).append(term)
        ranked = sorted(scores, key=lambda p: (-scores[p], p))
        return [CatalogMatch(p, scores[p], tuple(matched[p]), p in by_code) for p in ranked]
