"""Chinese-aware chunking: pure functions from text to `Chunk`s.

Markdown-ish text is read line by line. Headings build the section path (`退换货 > 七天无理由`),
which every chunk carries as metadata and never crosses. Paragraphs are packed up to
`max_chars`; a paragraph that is too long is split at sentence ends (。！？；!?;), and only a
single over-long sentence is cut mid-way. Tables (consecutive `|` lines) stay whole, whatever
their size, because a half table answers nothing. Consecutive chunks of one section overlap by
whole trailing sentences up to `overlap_chars`. FAQ pairs become one chunk each
(`retrieval.faq_parse` finds them in a document).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

ChunkKind = Literal["text", "table", "faq"]

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=\.)(?=\s)")
SECTION_SEP = " > "


@dataclass(frozen=True)
class ChunkingConfig:
    max_chars: int = 400
    overlap_chars: int = 60

    def __post_init__(self) -> None:
        if self.max_chars < 20:
            raise ValueError(f"max_chars must be >= 20, got {self.max_chars!r}")
        if not 0 <= self.overlap_chars < self.max_chars:
            raise ValueError(f"overlap_chars must be in [0, max_chars), got {self.overlap_chars!r}")


@dataclass(frozen=True)
class Chunk:
    text: str
    section: str
    kind: ChunkKind = "text"
    # For FAQ chunks: the stored question, matched by the curated-answer lookup.
    question: str = ""


@dataclass(frozen=True)
class FaqPair:
    question: str
    answer: str
    line: int = 0
    section: str = ""  # the heading path (or CSV category) above the question


@dataclass(frozen=True)
class _Block:
    text: str
    section: str
    kind: ChunkKind


def split_sentences(text: str) -> list[str]:
    """Split after 。！？；!?; (and '.' before a space), keeping the punctuation."""
    return [s for s in (p.strip() for p in _SENTENCE_END.split(text)) if s]


def _blocks(text: str) -> list[_Block]:
    path: list[tuple[int, str]] = []
    blocks: list[_Block] = []
    para: list[str] = []
    table: list[str] = []

    def section() -> str:
        return SECTION_SEP.join(title for _, title in path)

    def flush_para() -> None:
        if para:
            blocks.append(_Block("".join(join_lines(para)), section(), "text"))
            para.clear()

    def flush_table() -> None:
        if table:
            blocks.append(_Block("\n".join(table), section(), "table"))
            table.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("|"):
            flush_para()
            table.append(line)
            continue
        flush_table()
        if not line:
            flush_para()
            continue
        heading = HEADING.match(line)
        if heading:
            flush_para()
            level = len(heading.group(1))
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, heading.group(2).strip()))
            continue
        para.append(line)
    flush_para()
    flush_table()
    return blocks


def join_lines(lines: Sequence[str]) -> Iterable[str]:
    """Join wrapped lines: no space between CJK text, one space between Latin words."""
    for i, line in enumerate(lines):
        if i and line[:1].isascii() and lines[i - 1][-1:].isascii() and line[:1].isalnum():
            yield " "
        elif i and (line[:1] in "-*•" or line[:1].isdigit()):
            yield "\n"
        yield line


def _pieces(block: _Block, max_chars: int) -> list[str]:
    """Sentences of a paragraph, with any single over-long sentence cut to size."""
    out: list[str] = []
    for sentence in split_sentences(block.text):
        while len(sentence) > max_chars:
            out.append(sentence[:max_chars])
            sentence = sentence[max_chars:]
        if sentence:
            out.append(sentence)
    return out


def chunk_text(text: str, config: ChunkingConfig | None = None) -> list[Chunk]:
    """Chunk Markdown or plain text; see the module docstring for the rules."""
    cfg = config or ChunkingConfig()
    chunks: list[Chunk] = []
    current: list[str] = []
    current_section: str | None = None

    def emit() -> None:
        if current and current_section is not None:
            chunks.append(Chunk(_glue(current), current_section))

    for block in _blocks(text):
        if block.kind == "table":
            emit()
            current, current_section = [], None
            chunks.append(Chunk(block.text, block.section, "table"))
            continue
        if block.section != current_section:
            emit()
            current, current_section = [], block.section
        elif current:
            # A paragraph boundary inside one section: keep the break visible.
            current.append("\n")
        for piece in _pieces(block, cfg.max_chars):
            if current and _size(current) + len(piece) > cfg.max_chars:
                emit()
                current = _overlap_tail(current, cfg.overlap_chars, cfg.max_chars - len(piece))
            current.append(piece)
    emit()
    return chunks


def _size(parts: Sequence[str]) -> int:
    return sum(len(p) for p in parts)


def _glue(parts: Sequence[str]) -> str:
    text = ""
    for part in parts:
        if text and part != "\n" and text[-1:].isascii() and text[-1:] != "\n" and part[:1].isascii():
            text += " "
        text += part
    return text.strip()


def _overlap_tail(parts: Sequence[str], overlap_chars: int, room: int) -> list[str]:
    """Whole trailing sentences of the previous chunk, up to the overlap budget."""
    budget = min(overlap_chars, room)
    tail: list[str] = []
    for part in reversed(parts):
        if part == "\n":
            continue
        if _size(tail) + len(part) > budget:
            break
        tail.insert(0, part)
    return tail


def chunk_faq(pairs: Sequence[FaqPair]) -> list[Chunk]:
    """One chunk per question/answer pair, so an answer is never separated from its question.
    The chunk's section is the pair's heading path; the index matches on the question."""
    return [Chunk(f"问：{p.question}\n答：{p.answer}", p.section, "faq", question=p.question) for p in pairs]
