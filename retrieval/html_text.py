"""HTML to the Markdown-ish text every loader hands the chunker. Pure, standard library only.

A saved help-centre page keeps what the FAQ reader (`retrieval.faq_parse`) looks for: `<h1>`–`<h6>`
become `#` headings, a block whose text is all `<strong>`/`<b>` (and a `<dt>` or `<summary>`)
becomes a `**…**` line, list items keep their `- ` or `1. ` marker, table rows become `| … |`
lines. Scripts, styles, navigation and forms are dropped. Whitespace from the page's own line
breaks is collapsed, and removed between Chinese characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS = frozenset(
    {"p", "div", "section", "article", "main", "li", "dt", "dd", "blockquote", "pre", "details", "summary"}
    | {"ul", "ol", "dl", "table", "tr", "header", "footer", "aside", "figure", "figcaption", "address"}
    | set(_HEADINGS)
)
_SKIPPED = frozenset(
    {"script", "style", "noscript", "template", "nav", "svg", "iframe", "form", "button", "select"}
)
_BOLD_TAGS = frozenset({"strong", "b"})
_BOLD_BLOCKS = frozenset({"dt", "summary"})
_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "wbr", "source", "area", "base", "col"})
_SPACE = re.compile(r"\s+")
_CJK = r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]"
_CJK_GAP = re.compile(rf"(?<={_CJK}) (?={_CJK})")


@dataclass
class _Block:
    prefix: str = ""
    pieces: list[tuple[str, bool]] = field(default_factory=list)  # (text, bold)


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.title = ""
        self._block = _Block()
        self._skip = 0
        self._bold = 0
        self._bold_block = 0
        self._in_title = False
        self._lists: list[list[int]] = []  # per open list: [next number] (ol) or [] (ul)
        self._pending = ""  # a list item's marker, for its first non-empty block
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._rows_in_table: list[int] = []

    # -- parser callbacks -------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
            return
        if self._skip:
            return
        if tag == "title":
            self._in_title = True
        elif tag == "br":
            self._flush()
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "tr":
            self._flush()
            self._row = []
        elif tag == "table":
            self._flush()
            self.lines.append("")
            self._rows_in_table.append(0)
        elif tag in ("ul", "ol"):
            self._flush()
            self._lists.append([1] if tag == "ol" else [])
        elif tag == "li":
            self._flush()
            numbering = self._lists[-1] if self._lists else []
            if numbering:
                self._pending = f"{numbering[0]}. "
                numbering[0] += 1
            else:
                self._pending = "- "
        elif tag in _HEADINGS:
            self._flush()
            self._block.prefix = "#" * _HEADINGS[tag] + " "
        elif tag in _BLOCKS:
            self._flush()
        if tag in _BOLD_TAGS:
            self._bold += 1
        if tag in _BOLD_BLOCKS:
            self._bold_block += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
            return
        if self._skip or tag in _VOID:
            return
        if tag == "title":
            self._in_title = False
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(_collapse("".join(self._cell)).replace("|", "/"))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._emit_row(self._row)
            self._row = None
        elif tag == "table":
            if self._rows_in_table:
                self._rows_in_table.pop()
            self.lines.append("")
        elif tag in ("ul", "ol"):
            self._flush()
            if self._lists:
                self._lists.pop()
        elif tag in _BLOCKS:
            self._flush()
        if tag in _BOLD_TAGS:
            self._bold = max(0, self._bold - 1)
        if tag in _BOLD_BLOCKS:
            self._bold_block = max(0, self._bold_block - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title += data
        elif self._cell is not None:
            self._cell.append(data)
        elif self._row is None:
            self._block.pieces.append((data, bool(self._bold or self._bold_block)))

    # -- output -------------------------------------------------------------------------------
    def _emit_row(self, cells: list[str]) -> None:
        if not self._rows_in_table:
            self._rows_in_table.append(0)
        self.lines.append("| " + " | ".join(cells) + " |")
        if self._rows_in_table[-1] == 0:
            self.lines.append("|" + "---|" * len(cells))
        self._rows_in_table[-1] += 1

    def _flush(self) -> None:
        block, self._block = self._block, _Block()
        text = _collapse("".join(t for t, _ in block.pieces))
        if not text:
            return
        if block.prefix:
            line = block.prefix + text
        else:
            bold = all(b for t, b in block.pieces if t.strip())
            line = self._pending + (f"**{text}**" if bold else text)
            self._pending = ""
        # One paragraph per block, as the DOCX loader writes them.
        self.lines += [line, ""]

    def finish(self) -> str:
        self._flush()
        self.close()
        text = "\n".join(self.lines)
        return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _collapse(text: str) -> str:
    return _CJK_GAP.sub("", _SPACE.sub(" ", text)).strip()


def html_to_text(html: str) -> tuple[str, str]:
    """(Markdown-ish text, the page's `<title>`)."""
    converter = _Converter()
    converter.feed(html)
    text = converter.finish()
    return text, _collapse(converter.title)
