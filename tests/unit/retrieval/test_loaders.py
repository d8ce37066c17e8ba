from __future__ import annotations

import io

import docx
import pytest

from retrieval.chunking import FaqPair
from retrieval.loaders import load_bytes
from store.errors import InvalidInput

POLICY = "# 配送说明\n\n每天16点前付款当天发货。偏远地区不包邮。\n"


def _pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF with one Helvetica text line per page."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font_id = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_text_encodings_are_detected(encoding: str) -> None:
    loaded = load_bytes("配送.md", POLICY.encode(encoding))
    assert loaded.text == POLICY
    assert loaded.title == "配送说明"
    assert loaded.format == "markdown"


def test_binary_content_is_rejected_with_the_file_name() -> None:
    with pytest.raises(InvalidInput, match="'x.txt'"):
        load_bytes("x.txt", b"\x00\x01\x02binary")


def test_unknown_extension_is_rejected() -> None:
    with pytest.raises(InvalidInput, match=r"不支持的文件类型 '\.exe'"):
        load_bytes("tool.exe", b"MZ")


def test_docx_headings_and_tables_become_markdown() -> None:
    document = docx.Document()
    document.add_heading("售后保修", level=1)
    document.add_paragraph("电器类商品保修一年。")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "品类", "保修期"
    table.cell(1, 0).text, table.cell(1, 1).text = "电动牙刷", "1年"
    buf = io.BytesIO()
    document.save(buf)
    loaded = load_bytes("保修.docx", buf.getvalue())
    assert loaded.title == "售后保修"
    assert "# 售后保修" in loaded.text
    assert "电器类商品保修一年。" in loaded.text
    assert "| 品类 | 保修期 |\n|---|---|\n| 电动牙刷 | 1年 |" in loaded.text


def test_corrupt_docx_names_the_file() -> None:
    with pytest.raises(InvalidInput, match="'bad.docx'.*DOCX"):
        load_bytes("bad.docx", b"PK\x03\x04 not really a zip")


def test_pdf_pages_are_read() -> None:
    loaded = load_bytes("manual.pdf", _pdf(["Warranty one year.", "Return within 7 days."]))
    assert "Warranty one year." in loaded.text
    assert "Return within 7 days." in loaded.text
    assert loaded.format == "pdf"


def test_corrupt_pdf_names_the_file() -> None:
    with pytest.raises(InvalidInput, match="'broken.pdf'"):
        load_bytes("broken.pdf", b"%PDF-1.4\ngarbage")


def test_faq_csv_with_bom_and_chinese_header() -> None:
    data = '问题,答案\n满多少包邮？,满99元包邮。\n\n发什么快递？,"默认中通，可补差价改顺丰。"\n'
    loaded = load_bytes("faq.csv", data.encode("utf-8-sig"))
    assert loaded.faq == (
        FaqPair("满多少包邮？", "满99元包邮。", 2),
        FaqPair("发什么快递？", "默认中通，可补差价改顺丰。", 4),
    )


def test_faq_csv_in_gbk() -> None:
    data = "question,answer\n可以开发票吗？,可以，下单时备注抬头和税号。\n" * 1
    assert load_bytes("faq.csv", data.encode("gbk")).faq[0].answer == "可以，下单时备注抬头和税号。"


def test_faq_csv_errors_name_the_line() -> None:
    with pytest.raises(InvalidInput) as exc:
        load_bytes("faq.csv", "question,answer\n好的问题？,好的答案\n没有答案的问题？,\n".encode())
    assert exc.value.line == 3 and exc.value.field == "answer"
    assert "'faq.csv'" in exc.value.detail and "第 3 行" in exc.value.detail


def test_faq_csv_header_is_checked() -> None:
    with pytest.raises(InvalidInput, match="question 和 answer") as exc:
        load_bytes("faq.csv", b"q1,a1\nx,y\n")
    assert exc.value.line == 1
