"""Turn uploaded bytes into text the chunker understands: Markdown, TXT, HTML, DOCX, PDF and FAQ CSV.

Text files may be UTF-8, UTF-8 with a BOM or GBK; they are decoded, and FAQ CSVs read, by the one
upload reader (`store.uploads`). DOCX and HTML headings become Markdown headings, their tables
Markdown tables and their all-bold paragraphs `**…**` lines, so one chunker (and one FAQ reader,
`retrieval.faq_parse`) serves every format. PDF pages are joined with their page numbers kept
for errors. A FAQ CSV may have a section column (分类, category…) for each question's path.
Every failure is an `InvalidInput` that names the file and the line or page.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from retrieval.chunking import SECTION_SEP, FaqPair
from retrieval.html_text import html_to_text
from store.errors import InvalidInput
from store.uploads import csv_text_rows, decode_text

SourceFormat = Literal["markdown", "text", "html", "docx", "pdf", "faq_csv"]

_SUFFIXES: dict[str, SourceFormat] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
    ".docx": "docx",
    ".pdf": "pdf",
    ".csv": "faq_csv",
}
_QUESTION_COLUMNS = ("question", "问题", "q")
_ANSWER_COLUMNS = ("answer", "答案", "回答", "a")
_SECTION_COLUMNS = ("section", "category", "分类", "类别", "类目", "栏目", "模块")
_SECTION_SEPS = re.compile(r"\s*[>＞]\s*")


@dataclass(frozen=True)
class LoadedDocument:
    source: str
    title: str
    format: SourceFormat
    text: str
    faq: tuple[FaqPair, ...] = field(default=())


def detect_format(name: str) -> SourceFormat:
    suffix = Path(name).suffix.lower()
    if suffix not in _SUFFIXES:
        raise InvalidInput(
            f"不支持的文件类型 {suffix or '(无扩展名)'!r}，支持: {', '.join(sorted(_SUFFIXES))}", file=name
        )
    return _SUFFIXES[suffix]


def load_bytes(name: str, data: bytes, *, title: str | None = None) -> LoadedDocument:
    """Load one uploaded file; `name` picks the format and is quoted in errors."""
    fmt = detect_format(name)
    if not data.strip():
        raise InvalidInput("文件为空", file=name)
    page_title = ""
    if fmt in ("markdown", "text"):
        text = _normalise(decode_text(data, name))
    elif fmt == "html":
        text, page_title = html_to_text(_normalise(decode_text(data, name)))
    elif fmt == "docx":
        text = _docx_text(data, name)
    elif fmt == "pdf":
        text = _pdf_text(data, name)
    else:
        pairs = parse_faq_csv(decode_text(data, name), name)
        return LoadedDocument(name, title or Path(name).stem, fmt, "", tuple(pairs))
    if not text.strip():
        raise InvalidInput("文件中没有可读取的文字", file=name)
    return LoadedDocument(name, title or page_title or _title_of(text) or Path(name).stem, fmt, text)


def load_path(path: Path, *, title: str | None = None) -> LoadedDocument:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"无法读取文件: {exc.strerror}", file=str(path)) from exc
    return load_bytes(path.name, data, title=title)


def _normalise(text: str) -> str:
    # NFC only: NFKC would also turn full-width Chinese punctuation into ASCII.
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def _title_of(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return re.sub(r"^#+\s*", "", line)[:200]
    return ""


def parse_faq_csv(text: str, name: str) -> list[FaqPair]:
    """CSV with a header naming a question and an answer column (English or Chinese names)."""
    rows = csv_text_rows(text, name)
    first = next(rows, None)
    if first is None:
        raise InvalidInput("FAQ 文件为空", file=name, line=1)
    header_line, header = first
    lowered = [h.lower() for h in header]
    q_col = next((lowered.index(c) for c in _QUESTION_COLUMNS if c in lowered), None)
    a_col = next((lowered.index(c) for c in _ANSWER_COLUMNS if c in lowered), None)
    s_col = next((lowered.index(c) for c in _SECTION_COLUMNS if c in lowered), None)
    if q_col is None or a_col is None:
        raise InvalidInput(
            f"FAQ 表头必须包含 question 和 answer 两列，实际是 {header!r}", file=name, line=header_line
        )
    pairs: list[FaqPair] = []
    for line, row in rows:
        if len(row) <= max(q_col, a_col):
            raise InvalidInput("列数不足，缺少问题或答案", file=name, line=line)
        question, answer = row[q_col], row[a_col]
        if not question:
            raise InvalidInput("问题为空", file=name, line=line, field="question")
        if not answer:
            raise InvalidInput("答案为空", file=name, line=line, field="answer")
        section = (
            _SECTION_SEPS.sub(SECTION_SEP, row[s_col].strip())
            if s_col is not None and s_col < len(row)
            else ""
        )
        pairs.append(FaqPair(_normalise(question), _normalise(answer), line, _normalise(section)))
    if not pairs:
        raise InvalidInput("FAQ 文件没有任何问答", file=name, line=header_line + 1)
    return pairs


def _docx_text(data: bytes, name: str) -> str:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several unrelated types for a bad file
        raise InvalidInput(f"无法解析 DOCX 文件: {type(exc).__name__}", file=name) from exc
    lines: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            text = item.text.strip()
            if not text:
                lines.append("")
                continue
            style = (item.style.name if item.style is not None else "") or ""
            level = re.match(r"(?:Heading|标题)\s*(\d)", style)
            if level:
                lines += ["", "#" * int(level.group(1)) + " " + text, ""]
            elif style == "Title":
                lines += ["", "# " + text, ""]
            elif _all_bold(item):
                lines += [f"**{text}**", ""]
            else:
                lines += [text, ""]
        elif isinstance(item, Table):
            lines.append("")
            for r, row in enumerate(item.rows):
                cells = [c.text.strip().replace("\n", " ").replace("|", "/") for c in row.cells]
                lines.append("| " + " | ".join(cells) + " |")
                if r == 0:
                    lines.append("|" + "---|" * len(cells))
            lines.append("")
    return _normalise("\n".join(lines))


def _all_bold(paragraph: Any) -> bool:
    """Every run with text is bold (directly, or by its character style): a question line."""
    runs = [r for r in paragraph.runs if r.text.strip()]
    return bool(runs) and all(
        r.bold or (r.bold is None and r.style is not None and r.style.font.bold) for r in runs
    )


def _pdf_text(data: bytes, name: str) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = list(reader.pages)
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise InvalidInput(f"无法解析 PDF 文件: {exc}", file=name) from exc
    texts: list[str] = []
    for number, page in enumerate(pages, start=1):
        try:
            texts.append(page.extract_text() or "")
        except (PdfReadError, ValueError, KeyError, OSError) as exc:
            raise InvalidInput(f"第 {number} 页无法解析: {exc}", file=name) from exc
    return _normalise("\n\n".join(texts))
