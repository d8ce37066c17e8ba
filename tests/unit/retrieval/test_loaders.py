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


def test_faq_csv_category_column_becomes_the_section_path() -> None:
    data = "分类,问题,答案\n售后服务 > 退换货,能退吗？,七天内可退。\n,多久发货？,当天发。\n"
    assert load_bytes("faq.csv", data.encode()).faq == (
        FaqPair("能退吗？", "七天内可退。", 2, "售后服务 > 退换货"),
        FaqPair("多久发货？", "当天发。", 3, ""),
    )


HELP_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>帮助中心 - 小鹿</title>
<style>p { color: red }</style><script>var faq = "<h2>不是问题？</h2>";</script></head>
<body><nav><a href="/">首页</a> | <a href="/me">我的</a></nav>
<h1>帮助中心</h1>
<h2>售后服务</h2>
<h3>七天无理由怎么退？</h3>
<p>签收后 7 天内
   可以在订单页申请退货。</p>
<ol><li>打开订单</li><li>点击<b>申请售后</b></li></ol>
<dl><dt>退货运费谁出？</dt><dd>质量问题由商家承担。<br>无理由退货由买家承担。</dd></dl>
<details><summary>能开发票吗？</summary><p>可以，在订单页申请。</p></details>
<p><strong>积分会过期吗？</strong></p><p>每年 12 月 31 日清零。</p>
<table><tr><th>类型</th><th>时效</th></tr><tr><td>常温</td><td>1-2 天</td></tr></table>
<p>Ship &amp; return</p>
</body></html>"""


def test_html_keeps_headings_bold_lines_lists_and_tables() -> None:
    loaded = load_bytes("help.html", HELP_PAGE.encode())
    assert (loaded.format, loaded.title) == ("html", "帮助中心 - 小鹿")
    assert loaded.text == (
        "# 帮助中心\n\n## 售后服务\n\n### 七天无理由怎么退？\n\n签收后 7 天内可以在订单页申请退货。\n\n"
        "1. 打开订单\n\n2. 点击申请售后\n\n**退货运费谁出？**\n\n"
        "质量问题由商家承担。\n\n无理由退货由买家承担。\n\n"
        "**能开发票吗？**\n\n可以，在订单页申请。\n\n**积分会过期吗？**\n\n每年 12 月 31 日清零。\n\n"
        "| 类型 | 时效 |\n|---|---|\n| 常温 | 1-2 天 |\n\nShip & return\n"
    )


def test_html_help_page_entries() -> None:
    from retrieval.faq_parse import split_faq

    text = load_bytes("help.htm", HELP_PAGE.encode("gbk", errors="ignore")).text
    assert [(e.question, e.answer) for e in split_faq(text).entries] == [
        ("七天无理由怎么退？", "签收后 7 天内可以在订单页申请退货。\n1. 打开订单\n2. 点击申请售后"),
        ("退货运费谁出？", "质量问题由商家承担。\n无理由退货由买家承担。"),
        ("能开发票吗？", "可以，在订单页申请。"),
        (
            "积分会过期吗？",
            "每年 12 月 31 日清零。\n| 类型 | 时效 |\n|---|---|\n| 常温 | 1-2 天 |\nShip & return",
        ),
    ]


def test_docx_bold_paragraphs_become_bold_lines() -> None:
    document = docx.Document()
    document.add_heading("会员FAQ", level=1)
    document.add_paragraph().add_run("积分怎么获得？").bold = True
    document.add_paragraph("每消费1元得1积分。")
    mixed = document.add_paragraph()
    mixed.add_run("注意：").bold = True
    mixed.add_run("积分不可转让。")
    buf = io.BytesIO()
    document.save(buf)
    text = load_bytes("会员.docx", buf.getvalue()).text
    assert "**积分怎么获得？**\n\n每消费1元得1积分。\n\n注意：积分不可转让。" in text


def test_pdf_question_and_answer_lines() -> None:
    from retrieval.faq_parse import split_faq

    pages = ["Q: How long is the warranty?", "A: One year from delivery.", "Q: Can I return it?", "A: Yes."]
    text = load_bytes("faq.pdf", _pdf(pages)).text
    assert [(e.question, e.answer) for e in split_faq(text).entries] == [
        ("How long is the warranty?", "One year from delivery."),
        ("Can I return it?", "Yes."),
    ]
