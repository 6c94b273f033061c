"""PII rules: validated matches, no false hits on product text, and line-box interpolation."""

import random

import pytest

from shopmind.media.pii import find_pii, id_check_char, mask, valid_id_number
from shopmind.media.redact import substring_box
from shopmind.media.synthlabel import random_id, random_phone


def kinds(text):
    return [(h.kind, h.text) for h in find_pii(text)]


def test_id_checksum_gb11643():
    # Worked example from GB 11643-1999: 11010519491231002 -> check char X.
    assert id_check_char("11010519491231002") == "X"
    assert valid_id_number("11010519491231002X")
    assert not valid_id_number("110105194912310021")  # wrong check digit
    assert not valid_id_number("11010519491331002X")  # month 13
    rng = random.Random(3)
    for _ in range(50):
        assert valid_id_number(random_id(rng))


@pytest.mark.parametrize(
    "text,expected",
    [
        ("电话：138 1234 5678", [("phone", "138 1234 5678")]),
        ("手机139-1234-5678收", [("phone", "139-1234-5678")]),
        ("+86 13912345678", [("phone", "+86 13912345678")]),
        ("身份证 11010519491231002X", [("id_number", "11010519491231002X")]),
        ("邮箱 zhang.san@example.com", [("email", "zhang.san@example.com")]),
        ("SF1234567890123", [("waybill", "SF1234567890123")]),
        ("运单号: 78312345678901", [("waybill", "78312345678901")]),
        ("订单号：202411270001234", [("order_number", "202411270001234")]),
        ("地址：浙江省杭州市西湖区文三路398号1201室", [("address", "浙江省杭州市西湖区文三路398号1201室")]),
    ],
)
def test_finds_each_kind(text, expected):
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    ["价格 ¥99 尺码 XL", "12345678901", "纯棉短袖T恤 白色 L", "110105194912310021", "库存 20231231 件", "材质：100%纯棉"],
)
def test_no_false_hits_on_product_text(text):
    assert find_pii(text) == []


def test_mask_hides_the_value():
    for kind, value in [("phone", random_phone(random.Random(1))), ("id_number", "11010519491231002X"), ("email", "ab@x.com")]:
        masked = mask(value, kind)
        assert masked != value and "*" in masked and len(masked) >= 4


def test_substring_box_follows_character_position():
    line = "电话：13812345678"
    box = [[100, 50], [400, 50], [400, 80], [100, 80]]
    hit = find_pii(line)[0]
    x1, y1, x2, y2 = substring_box(box, line, hit.start, hit.end)
    # three CJK glyphs (weight 1 each) precede 11 digits (0.55 each): the number starts ~1/3 in.
    assert 100 + 0.25 * 300 < x1 + 0.35 * 30 < 100 + 0.4 * 300
    assert x2 >= 399 and y1 < 50 and y2 > 80
    # axis-aligned [x1, y1, x2, y2] boxes are accepted too
    assert substring_box([100, 50, 400, 80], line, hit.start, hit.end) == [x1, y1, x2, y2]
