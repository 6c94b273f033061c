"""Entity extraction and redaction in customer messages."""

from shopmind.service.entities import extract, redact


def test_order_amount_quantity_and_phone_are_read_and_phone_masked():
    ents, red = extract("订单号：2024051812345678 少了2件，花了399元，电话13812345678")
    assert ents.order_numbers == ["2024051812345678"]
    assert [(q.value, q.unit) for q in ents.quantities] == [(2, "件")]
    assert [(a.amount, a.currency) for a in ents.amounts] == [(399.0, "CNY")]
    assert ents.phones_redacted == ["138****5678"]
    assert "13812345678" not in red and "138****5678" in red


def test_english_message_with_sku_dollars_and_chinese_numeral():
    ents, _ = extract("Order #O123456: I paid $59.99 for 3 pairs, SKU: AB-12")
    assert ents.order_numbers == ["O123456"]
    assert ents.product_refs == ["AB-12"]
    assert ents.amounts[0].currency == "USD" and ents.amounts[0].amount == 59.99
    assert ents.quantities[0].value == 3
    ents2, _ = extract("O98765 我买了两双鞋 ¥120")
    assert ents2.quantities[0].value == 2 and ents2.amounts[0].amount == 120.0


def test_given_order_and_product_come_first_and_digits_inside_orders_are_not_quantities():
    ents, _ = extract("单号 123456789012 到了 3个", order="O1", product="P9")
    assert ents.order_numbers[0] == "O1" and "123456789012" in ents.order_numbers
    assert ents.product_refs == ["P9"]
    assert [q.value for q in ents.quantities] == [3]


def test_email_is_redacted():
    text, phones, emails = redact("write me at a.b@example.com")
    assert "[email]" in text and emails == 1 and phones == []
