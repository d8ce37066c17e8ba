from __future__ import annotations

import logging

import pytest

from agents.privacy import ADDRESS, BANK_CARD, EMAIL, ID_CARD, LANDLINE, MOBILE, NAME, WECHAT, mask_pii
from api.logging import PiiMaskingFilter, configure_logging


def full_width(text: str) -> str:
    """ASCII digits/letters/punctuation → their full-width forms, as some IMEs type them."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的手机13800138000，尽快发货", f"我的手机{MOBILE}，尽快发货"),
        ("电话 138-0013-8000 谢谢", f"电话 {MOBILE} 谢谢"),
        ("电话 138 0013 8000", f"电话 {MOBILE}"),
        ("+86 13912345678", MOBILE),
        ("+8613912345678", MOBILE),
        ("(+86)139-1234-5678到了打给我", f"{MOBILE}到了打给我"),
        ("0086 15012345678", MOBILE),
        ("手机19912345678/17712345678都行", f"手机{MOBILE}/{MOBILE}都行"),
        ("13800138000 2件", f"{MOBILE} 2件"),
    ],
)
def test_masks_mobile_numbers(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("座机010-12345678转123", f"座机{LANDLINE}"),
        ("打021 5555 1234找前台", f"打{LANDLINE}找前台"),
        ("(0571)87654321", LANDLINE),
        ("0755-2345678", LANDLINE),
        ("+86 21 5555 1234", LANDLINE),
    ],
)
def test_masks_landlines(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("身份证330106199001011234", f"身份证{ID_CARD}"),
        ("身份证号11010519491231002X，实名用", f"身份证号{ID_CARD}，实名用"),
        ("身份证号11010519491231002x", f"身份证号{ID_CARD}"),
        ("证件 110105 19491231 002X", f"证件 {ID_CARD}"),
        # first-generation 15-digit cards: area, YYMMDD, sequence
        ("老身份证130503670401001还能用吗", f"老身份证{ID_CARD}还能用吗"),
        ("身份证 130503 670401 001", f"身份证 {ID_CARD}"),
    ],
)
def test_masks_id_cards_including_trailing_x(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("卡号6222021234567890123", f"卡号{BANK_CARD}"),
        ("退款到这张银行卡：6217 0000 1234 5678", f"退款到这张银行卡：{BANK_CARD}"),
        ("6222 0212 3456 7890 123", BANK_CARD),
        ("4111111111111111", BANK_CARD),  # Luhn-valid, no cue needed
    ],
)
def test_masks_bank_cards(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "浙江省杭州市西湖区文三路100号华星小区3栋2单元301室",
            f"浙江省杭州市西湖区{ADDRESS}",
        ),
        ("寄到上海市黄浦区南京东路88弄3号，谢谢", f"寄到上海市黄浦区{ADDRESS}，谢谢"),
        ("北京市朝阳区建国路88号SOHO现代城5号楼1203", f"北京市朝阳区{ADDRESS}"),
        ("杭州市余杭区良渚文化村玉鸟苑12幢3单元502", f"杭州市余杭区{ADDRESS}"),
        ("广东省深圳市南山区深南大道9988号", f"广东省深圳市南山区{ADDRESS}"),
        ("地址改成成都市武侯区人民南路四段27号", f"地址改成成都市武侯区{ADDRESS}"),
        # villages have no streets
        ("河南省周口市郸城县宁平镇张庄村3组15号", f"河南省周口市郸城县{ADDRESS}"),
        ("寄山东省临沂市沂南县岸堤镇朱家林村128号，到了打电话", f"寄山东省临沂市沂南县{ADDRESS}，到了打电话"),
        ("田林县八渡瑶族乡八渡村2组", f"田林县{ADDRESS}"),
    ],
)
def test_masks_street_detail_but_keeps_the_city(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("加我微信 xiaowang_88 发图", f"加我微信 {WECHAT} 发图"),
        ("vx：Lily-2024", f"vx：{WECHAT}"),
        ("我的wx: wxid_abc123def456", f"我的wx: {WECHAT}"),
        ("wxid_abc123def456", WECHAT),
        ("微信号是 zhang_san_1990，加一下", f"微信号是 {WECHAT}，加一下"),
    ],
)
def test_masks_wechat_ids_after_a_cue(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("收货人：张三，电话13800138000", f"收货人：{NAME}，电话{MOBILE}"),
        ("收货人张三电话13800138000", f"收货人{NAME}电话{MOBILE}"),
        ("收件人欧阳娜娜", f"收件人{NAME}"),
        ("姓名:王小明 地址:北京市朝阳区建国路88号", f"姓名:{NAME} 地址:北京市朝阳区{ADDRESS}"),
    ],
)
def test_masks_names_given_after_a_cue(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


def test_masks_email() -> None:
    assert mask_pii("邮箱 abc.def+shop@qq.com 发票发这里") == f"邮箱 {EMAIL} 发票发这里"


@pytest.mark.parametrize(
    "text",
    [
        "我知道了，谢谢",
        "路上注意安全",
        "这个味道怎么样？街上买的没这个好",
        "价格138元，库存1000件，满99包邮",
        "2024-11-22 13:45 下单的",
        "订单号202411221234567890已发货",
        "快递单号 SF1234567890123",
        "订单号 2024 1122 1234 5678",
        "尺寸<50cm，重量1.38kg",
        "杭州市西湖区附近能送吗",
        "我们村里都在用，农村包邮吗",
        "微信支付可以吗",
        "客户 wx_000123 的订单",  # our own customer refs stay readable in logs
        "订单号202411221234567",  # 15 digits after an order cue, not an old ID card
        "",
    ],
)
def test_leaves_ordinary_text_alone(text: str) -> None:
    assert mask_pii(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"手机{full_width('13800138000')}", f"手机{MOBILE}"),
        (f"手机：{full_width('138 0013 8000')}", f"手机：{MOBILE}"),
        (f"{full_width('+86 13800138000')}", MOBILE),
        (f"身份证{full_width('11010519491231002X')}", f"身份证{ID_CARD}"),
        (f"座机{full_width('010-12345678')}", f"座机{LANDLINE}"),
        (f"卡号{full_width('6222021234567890123')}", f"卡号{BANK_CARD}"),
        (f"杭州市西湖区文三路{full_width('100')}号", f"杭州市西湖区{ADDRESS}"),
    ],
)
def test_full_width_digits_are_masked_and_surroundings_kept(text: str, expected: str) -> None:
    assert mask_pii(text) == expected


def test_everything_at_once() -> None:
    text = "我叫小王，手机13800138000，身份证11010519491231002X，收货地址浙江省杭州市西湖区文三路100号301室"
    assert mask_pii(text) == (f"我叫小王，手机{MOBILE}，身份证{ID_CARD}，收货地址浙江省杭州市西湖区{ADDRESS}")


def test_is_idempotent() -> None:
    once = mask_pii("手机13800138000，地址杭州市西湖区文三路100号")
    assert mask_pii(once) == once


def test_logging_filter_masks_message_args_and_string_extras() -> None:
    record = logging.LogRecord("siyu.cs", logging.INFO, __file__, 1, "客户 %s 留言", ("13800138000",), None)
    record.__dict__.update(customer_text="寄到杭州市西湖区文三路100号", count=3)
    assert PiiMaskingFilter().filter(record) is True
    assert record.getMessage() == f"客户 {MOBILE} 留言"
    assert record.__dict__["customer_text"] == f"寄到杭州市西湖区{ADDRESS}"
    assert record.__dict__["count"] == 3


def test_logging_filter_leaves_clean_records_untouched() -> None:
    record = logging.LogRecord("siyu.cs", logging.INFO, __file__, 1, "cs.turn.done %d", (3,), None)
    PiiMaskingFilter().filter(record)
    assert (record.msg, record.args) == ("cs.turn.done %d", (3,))


def test_configure_logging_installs_the_filter_on_its_handler() -> None:
    configure_logging("INFO")
    handlers = logging.getLogger("siyu").handlers
    assert any(isinstance(f, PiiMaskingFilter) for h in handlers for f in h.filters)
