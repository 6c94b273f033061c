"""Entities in a customer message: order numbers, product references, quantities, money, phones.

Phone numbers and e-mail addresses are personal data: we keep only a masked form and store the
redacted message, never the raw one. Patterns follow the formats buyers paste from order pages
(Taobao/JD order numbers are 12–20 digits; ours look like `O123456`).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}

PHONE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
INTL_PHONE_RE = re.compile(r"(?<![\w+])\+\d{1,3}[- ]?\(?\d{2,4}\)?[- ]?\d{3,4}[- ]?\d{3,4}(?!\d)")
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
ORDER_RES = (
    re.compile(r"(?:订单号?|单号|order(?:\s*(?:no\.?|number|id|#))?)\s*[:：#]?\s*([A-Za-z]{0,3}-?\d{4,20})", re.I),
    re.compile(r"(?<![A-Za-z0-9])([Oo]\d{3,12})(?![A-Za-z0-9])"),
    re.compile(r"(?<!\d)(\d{12,20})(?!\d)"),
)
PRODUCT_RE = re.compile(
    r"(?:商品(?:编号|ID|id)?|货号|款号|SKU|sku|product(?:\s*(?:id|no\.?|code))?|item\s*(?:no\.?|#|id))\s*[:：#]?\s*([A-Za-z0-9][A-Za-z0-9_-]{1,30})",
    re.I,
)
QTY_RE = re.compile(
    r"(\d+|[一二两三四五六七八九十]+)\s*(件|个|只|双|条|盒|包|瓶|箱|台|本|支|袋|套|pcs|pieces?|items?|units?|boxes|bottles|pairs?)(?![A-Za-z])",
    re.I,
)
MONEY_RE = re.compile(
    r"(?:[¥￥]\s*(\d+(?:\.\d{1,2})?))|(?:(\d+(?:\.\d{1,2})?)\s*(?:元|块钱|块|rmb|yuan|cny))|(?:\$\s*(\d+(?:\.\d{1,2})?))|(?:(\d+(?:\.\d{1,2})?)\s*(?:usd|dollars))",
    re.I,
)


class Money(BaseModel):
    amount: float
    currency: str  # "CNY" | "USD"
    text: str


class Quantity(BaseModel):
    value: int
    unit: str
    text: str


class Entities(BaseModel):
    """What we could read out of one message (phones only masked)."""

    order_numbers: list[str] = Field(default_factory=list)
    product_refs: list[str] = Field(default_factory=list)
    quantities: list[Quantity] = Field(default_factory=list)
    amounts: list[Money] = Field(default_factory=list)
    phones_redacted: list[str] = Field(default_factory=list)
    emails_redacted: int = 0


def _cn_number(text: str) -> int | None:
    """Small Chinese numerals (一..九十九) to int; digits pass through."""
    if text.isdigit():
        return int(text)
    if all(ch in _CN_DIGITS for ch in text):
        if "十" in text:
            head, _, tail = text.partition("十")
            return (_CN_DIGITS.get(head, 1) if head else 1) * 10 + (_CN_DIGITS.get(tail, 0) if tail else 0)
        if len(text) == 1:
            return _CN_DIGITS[text]
    return None


def _mask_phone(m: re.Match) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "****"


def redact(text: str) -> tuple[str, list[str], int]:
    """The text with phones and e-mails masked, the masked phones, and the e-mail count."""
    phones: list[str] = []

    def sub_phone(m: re.Match) -> str:
        masked = _mask_phone(m)
        phones.append(masked)
        return masked

    out = PHONE_RE.sub(sub_phone, text)
    out = INTL_PHONE_RE.sub(sub_phone, out)
    emails = len(EMAIL_RE.findall(out))
    out = EMAIL_RE.sub("[email]", out)
    return out, phones, emails


def extract(text: str, *, order: str | None = None, product: str | None = None) -> tuple[Entities, str]:
    """Entities found in `text` (plus the explicitly given order/product) and the redacted text."""
    redacted, phones, emails = redact(text)
    found = Entities(phones_redacted=phones, emails_redacted=emails)
    seen_orders: list[str] = [order.strip()] if order and order.strip() else []
    taken: list[tuple[int, int]] = []  # spans already read as order numbers
    for pattern in ORDER_RES:
        for m in pattern.finditer(redacted):
            value = m.group(1)
            if "*" in value or any(a <= m.start(1) < b for a, b in taken):
                continue
            taken.append(m.span(1))
            if value not in seen_orders:
                seen_orders.append(value)
    found.order_numbers = seen_orders
    refs = [product.strip()] if product and product.strip() else []
    for m in PRODUCT_RE.finditer(redacted):
        if m.group(1) not in refs and m.group(1) not in seen_orders:
            refs.append(m.group(1))
    found.product_refs = refs
    for m in QTY_RE.finditer(redacted):
        value = _cn_number(m.group(1))
        if value is not None and not any(a <= m.start(1) < b for a, b in taken):
            found.quantities.append(Quantity(value=value, unit=m.group(2).lower(), text=m.group(0)))
    for m in MONEY_RE.finditer(redacted):
        if any(a <= m.start() < b for a, b in taken):
            continue
        cny = m.group(1) or m.group(2)
        usd = m.group(3) or m.group(4)
        amount = float(cny or usd)
        found.amounts.append(Money(amount=amount, currency="CNY" if cny else "USD", text=m.group(0).strip()))
    return found, redacted
