"""Find the question–answer entries in a help-centre document. Pure: text in, entries out.

Every loader hands over Markdown-ish text (DOCX and HTML headings become `#` lines, bold
paragraphs `**…**`, PDF pages plain lines), so one reader serves them all. An entry starts at

- a heading phrased as a question: `## 七天无理由怎么退？`, `### 如何修改收货地址`;
- a question marker: `问：…`, `Q：…`, `Q1. …`, `【问】…`, `问题一：…`; `答：` / `A：` opens its answer;
- a numbered question: `1. …？`, `2、…？`, `（3）…？`;
- a bold question line: `**可以开发票吗？**`.

Its answer runs to the next entry or heading (for a heading question: the next heading at its
level or above; deeper headings are part of the answer). Its section is the heading path above
it, `售后服务 > 退换货`. Numbered lines that are not questions are the steps of an answer
(`1. 登录 2. 申请`), and so is a question-like line that carries on their list or, inside a
numbered entry, does not carry on the entries' numbering: steps stay in their answer even when
one ends with a question mark. Markers count only at the start of a line: `顾客问：能退吗`
inside a sentence is prose.

A document with fewer than `MIN_ENTRIES` entries is prose: one question-like heading in a policy
(`## 四、如何申请`) is a section title, not a FAQ. What is not in an entry is returned as `prose`
(the entries' lines blanked, every heading kept) for the ordinary chunker.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from retrieval.chunking import HEADING, SECTION_SEP, join_lines

MIN_ENTRIES = 2
# Longer than this, a line ending in ？ is a paragraph, not a question.
MAX_QUESTION_CHARS = 120
# A question wrapped over two lines (PDF): the second line is at most this long.
MAX_WRAP_CHARS = 40
# An answer line shorter than this stands on its own: a line a page wrapped is longer.
MIN_WRAPPED_CHARS = 20

StartKind = Literal["heading", "marker", "numbered", "bold"]

# 么 ends a question (好么) but not a line cut inside one (应该怎么 / 办？).
_ENDS_QUESTION = re.compile(r"(?:[？?]|(?:[吗呢嘛]|(?<![怎什那这多])么)[？?]?)[\s\"'”’」』）)]*$")
# Question forms without a question mark, for headings and marked questions.
_INTERROGATIVE = re.compile(
    r"如何|怎么|怎样|怎麼|能否|是否|可否|能不能|可不可以|可以.{0,12}吗|会不会|有没有|是不是|要不要|"
    r"为什么|为何|多久|多长时间|多少|几天|几个|哪些|哪里|哪儿|哪个|什么时候|何时|啥|咋|谁|什么"
)
# The same, limited to what opens a numbered or bold line: a step of an answer ("3. 确认是否
# 需要发票") mentions 是否 in passing, a question leads with it.
_OPENS_QUESTION = re.compile(r"^(?:如何|怎么|怎样|为什么|为何|能否|是否|可否|能不能|可不可以|有没有|是不是)")
_SENTENCE_PUNCT = re.compile(r"[，。；,;]")

_LIST_MARK = re.compile(r"^(?:[-*+•>]\s+)+")
_BOLD_LINE = re.compile(r"^(?:\*\*|__)(.+?)(?:\*\*|__)[:：]?$")
_BOLD = re.compile(r"\*\*|__")
# 问：/Q：/Q1./【问】/Question:; 问题… only with a number or colon (问题 alone is a noun).
_Q_MARK = re.compile(
    r"^(?:【\s*问\s*】|\[\s*问\s*\]|问\s*\d{0,3}\s*[:：]|问题\s*[\d一二三四五六七八九十]{0,3}\s*[:：]|"
    r"Q\s*\d{0,3}\s*[:：.．、]|Q\d{1,3}\s+|Question\s*\d{0,3}\s*[:：.])\s*",
    re.IGNORECASE,
)
_A_MARK = re.compile(
    r"^(?:【\s*答\s*】|\[\s*答\s*\]|(?:答|答案|回答|解答|答复)\s*\d{0,3}\s*[:：]|A\s*\d{0,3}\s*[:：]|Answer\s*[:：])\s*",
    re.IGNORECASE,
)
# Inside a marked question line: the answer on the same line (问：能开票吗？答：可以。).
_INLINE_A = re.compile(r"(?<=[？?])\s*(?:答|A)\s*[:：]\s*", re.IGNORECASE)
_NUMBER = re.compile(
    r"^(?:(?P<arabic>\d{1,3})\s*(?P<a_sep>[.．、)）])(?!\d)|[（(](?P<paren>\d{1,3})[）)]|"
    r"(?P<cn>[一二三四五六七八九十]{1,3})\s*[、.．]|问题\s*(?P<qn>[\d一二三四五六七八九十]{1,3})\s*[:：、.．]?)\s*"
)
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九", start=0)}
_HEADING_NUMBER = re.compile(
    r"^(?:\d{1,3}\s*[.．、)）]|[一二三四五六七八九十]{1,3}\s*[、.．]|Q\d{1,3}[:：.．\s])\s*"
)
_FENCE = re.compile(r"^(```|~~~)")
_PARA_END = re.compile(r"[。！？!?：:；;.)）」』”]$")


@dataclass(frozen=True)
class FaqEntry:
    question: str
    answer: str
    section: str  # the heading path above the entry
    line: int  # 1-based line of the question


@dataclass(frozen=True)
class FaqLayout:
    entries: tuple[FaqEntry, ...]
    prose: str  # the text without the entries' lines, for the ordinary chunker


@dataclass(frozen=True)
class _Start:
    kind: StartKind
    question: str
    level: int = 0  # heading level, for a heading question
    number: int | None = None  # for a numbered question
    # The numbering family: "1." (1. 1、 1) alike, shops mix them), "(1)", "一、" or "问题一".
    style: str = ""
    inline_answer: str = ""  # an answer on the question's own line
    span: int = 1  # lines the question takes (2 when a PDF wrapped it)


def _cn_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + _CN_DIGITS.get(text[1:], 0)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return 10 * _CN_DIGITS.get(tens, 1) + (_CN_DIGITS.get(ones, 0) if ones else 0)
    return _CN_DIGITS.get(text, 0)


def _plain(line: str) -> str:
    """A line without list markers and bold marks, for reading what it says."""
    return _BOLD.sub("", _LIST_MARK.sub("", line.strip())).strip()


def is_question(text: str, *, strict: bool = False) -> bool:
    """Does `text` read as a question? `strict` (numbered and bold lines) wants a question mark,
    a final 吗/呢, or a short line that opens with a question word."""
    text = text.strip()
    if not text or len(text) > MAX_QUESTION_CHARS:
        return False
    if _ENDS_QUESTION.search(text):
        return True
    if _SENTENCE_PUNCT.search(text.rstrip("。")):
        return False
    if strict:
        return len(text) <= 30 and bool(_OPENS_QUESTION.search(text))
    return len(text) <= 40 and bool(_INTERROGATIVE.search(text))


def _clean_question(text: str) -> str:
    return _BOLD.sub("", text).strip().rstrip("：:").strip()


def _heading_start(line: str) -> _Start | None:
    m = HEADING.match(line)
    if m is None:
        return None
    title = _plain(m.group(2))
    marked = _Q_MARK.match(title)
    question = title[marked.end() :] if marked else _HEADING_NUMBER.sub("", title)
    if marked or is_question(question):
        return _Start("heading", _clean_question(question), level=len(m.group(1)))
    return None


def _marker_start(plain: str) -> _Start | None:
    m = _Q_MARK.match(plain)
    if m is None:
        return None
    rest = plain[m.end() :]
    inline = _INLINE_A.search(rest)
    if inline:
        return _Start("marker", _clean_question(rest[: inline.start()]), inline_answer=rest[inline.end() :])
    if not rest.strip():
        return None
    return _Start("marker", _clean_question(rest))


def _numbered_start(plain: str) -> _Start | None:
    m = _NUMBER.match(plain)
    if m is None:
        return None
    rest = plain[m.end() :].strip()
    if m.group("arabic"):
        number, style = int(m.group("arabic")), "1."
    elif m.group("paren"):
        number, style = int(m.group("paren")), "(1)"
    elif m.group("cn"):
        number, style = _cn_number(m.group("cn")), "一、"
    else:
        number, style = _cn_number(m.group("qn")), "问题一"
    return _Start("numbered", _clean_question(rest), number=number, style=style)


def _start_at(lines: Sequence[str], i: int) -> _Start | None:
    """The entry that starts at line `i`, if any (the numbering check is the caller's)."""
    raw = lines[i].strip()
    if not raw or raw.startswith("|"):
        return None
    heading = _heading_start(raw)
    if heading is not None or HEADING.match(raw):
        return heading
    plain = _plain(raw)
    marker = _marker_start(plain)
    if marker is not None:
        return marker
    numbered = _numbered_start(plain)
    if numbered is not None and numbered.question:
        if is_question(numbered.question, strict=True):
            return numbered
        wrapped = _wrapped(lines, i, numbered.question)
        if wrapped is not None:
            return _Start("numbered", wrapped, number=numbered.number, style=numbered.style, span=2)
        return None
    bold = _BOLD_LINE.match(_LIST_MARK.sub("", raw))
    if bold is not None:
        question = _clean_question(_HEADING_NUMBER.sub("", bold.group(1).strip()))
        if is_question(question, strict=True):
            return _Start("bold", question)
    return None


def _wrapped(lines: Sequence[str], i: int, head: str) -> str | None:
    """A question a PDF wrapped: this line's text plus a short next line that ends it."""
    if i + 1 >= len(lines):
        return None
    nxt = lines[i + 1].strip()
    if not nxt or len(nxt) > MAX_WRAP_CHARS or _Q_MARK.match(nxt) or _A_MARK.match(nxt) or _NUMBER.match(nxt):
        return None
    joined = "".join(join_lines([head, nxt]))
    return joined if _ENDS_QUESTION.search(nxt) and is_question(joined) else None


@dataclass
class _Open:
    start: _Start
    line: int  # 0-based index of the question line
    section: str
    body: list[tuple[int, str]] = field(default_factory=list)  # (line index, text)


def split_faq(text: str, *, min_entries: int = MIN_ENTRIES) -> FaqLayout:
    """The FAQ entries of `text` and the prose left around them (see the module docstring)."""
    lines = text.splitlines()
    path: list[tuple[int, str]] = []
    entries: list[FaqEntry] = []
    taken: set[int] = set()
    current: _Open | None = None
    listed: _Start | None = None  # the last numbered list item (not a question) seen
    fenced = False

    def close() -> None:
        nonlocal current
        if current is not None:
            entry = _entry(current)
            if entry is not None:
                entries.append(entry)
                taken.update(range(current.line, current.line + current.start.span))
                taken.update(n for n, _ in current.body)
        current = None

    i = 0
    while i < len(lines):
        raw = lines[i].strip()
        if _FENCE.match(raw):
            fenced = not fenced
        start = None if fenced else _start_at(lines, i)
        item = None if fenced or start is not None else _numbered_start(_plain(raw))
        if (
            start is not None
            and start.kind == "numbered"
            and not _continues(current, start, listed, _next_numbered(lines, i + start.span))
        ):
            item, start = start, None
        # A numbered line that is not a question is a list item; the next number of its list
        # is one too, whatever it says (`3. 填写原因？`).
        if item is not None:
            listed = item
        if start is not None:
            close()
            listed = None
            if start.kind == "heading":
                _pop_to(path, start.level)
            current = _Open(start, i, SECTION_SEP.join(t for _, t in path))
            if start.inline_answer:
                current.body.append((i, start.inline_answer))
            if start.kind == "heading":
                # What follows the entry under a deeper heading sits in the question's section.
                path.append((start.level, start.question))
            i += start.span
            continue
        heading = None if fenced else HEADING.match(raw)
        if heading is not None:
            level = len(heading.group(1))
            if current is not None and current.start.kind == "heading" and level > current.start.level:
                # A label line in the answer (bold ends its paragraph there).
                current.body.append((i, f"**{heading.group(2).strip()}**"))
            else:
                close()
                listed = None
                _pop_to(path, level)
                path.append((level, heading.group(2).strip()))
        elif current is not None:
            current.body.append((i, lines[i]))
        i += 1
    close()

    if len(entries) < min_entries:
        return FaqLayout((), text)
    prose = "\n".join("" if n in taken else line for n, line in enumerate(lines))
    return FaqLayout(tuple(entries), prose)


def _pop_to(path: list[tuple[int, str]], level: int) -> None:
    while path and path[-1][0] >= level:
        path.pop()


def _continues(current: _Open | None, start: _Start, listed: _Start | None, after: _Start | None) -> bool:
    """Is this numbered question a new entry, or a step of the answer it sits in?

    Inside a numbered entry, a line of another numbering family or one that does not go past the
    entry's own number is a step (a list restarting at 1). A line carrying on a list of steps is a
    step too, unless it is also the entry's next number and the list does not go on after it
    (`after`: the next numbered line): `4. 退货地址在哪？` after question 3's steps 1-3."""
    number = start.number or 0
    in_list = listed is not None and listed.style == start.style and number == (listed.number or 0) + 1
    if current is not None and current.start.kind == "numbered":
        before = current.start.number or 0
        if start.style != current.start.style or number <= before:
            return False
        list_goes_on = after is not None and after.style == start.style and after.number == number + 1
        return number == before + 1 and not list_goes_on if in_list else True
    return not in_list


def _next_numbered(lines: Sequence[str], i: int) -> _Start | None:
    """The numbering of the next non-blank line, if it is numbered."""
    for line in lines[i:]:
        if line.strip():
            return _numbered_start(_plain(line))
    return None


def _entry(open_: _Open) -> FaqEntry | None:
    question = open_.start.question
    body = list(open_.body)
    if open_.start.kind == "marker" and not open_.start.inline_answer:
        # 问：… may wrap over a line or two before its 答：.
        marked = next((k for k, (_, t) in enumerate(body[:3]) if _A_MARK.match(_plain(t))), None)
        if marked:
            head = [_plain(t) for _, t in body[:marked] if t.strip()]
            question = _clean_question("".join(join_lines([question, *head])))
            body = body[marked:]
    answer = _answer_text([t for _, t in body])
    if not question or not answer:
        return None
    return FaqEntry(question, answer, open_.section, open_.line + 1)


def _answer_text(lines: Sequence[str]) -> str:
    """The answer's lines as plain text: its marker and bold marks dropped, wrapped lines joined,
    one paragraph (list item, table row) per line."""
    out: list[str] = []
    para: list[str] = []
    opened = False

    def flush() -> None:
        if para:
            out.append("".join(join_lines(para)))
            para.clear()

    for raw in lines:
        line = raw.strip()
        if not line:
            flush()
            continue
        bold = _BOLD_LINE.match(line) is not None
        line = _BOLD.sub("", line)
        if not opened:
            opened = True
            line = _A_MARK.sub("", line, count=1).strip()
            if not line:
                continue
        if line.startswith("|"):
            flush()
            out.append(line)
            continue
        para.append(line)
        # A wrapped line (PDF) runs near the page width and carries on; a finished sentence, a
        # label or a short line (a list item) ends the paragraph.
        if bold or _PARA_END.search(line) or len(line) < MIN_WRAPPED_CHARS:
            flush()
    flush()
    return "\n".join(p for p in out if p).strip()
