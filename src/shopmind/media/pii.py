"""Personal data in text (OCR lines of labels, screenshots): rules plus validation.

Why validation: a bare `\\d{18}` fires on waybill numbers and prices; the GB 11643-1999 checksum,
the mobile-number prefix plan and context words keep false positives down, so the redactor blurs
what is personal and leaves product text readable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PIIKind = Literal["phone", "id_number", "address", "email", "waybill", "order_number"]

# GB 11643-1999: weights 2^(17-i) mod 11 and the check character table for sum mod 11.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_char(first17: str) -> str:
    """The 18th character of a resident ID number whose first 17 digits are given."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("need exactly 17 digits")
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


def valid_id_number(value: str) -> bool:
    """True for an 18-character ID with a plausible birth date and the right checksum."""
    v = value.upper()
    if not re.fullmatch(r"[1-9]\d{16}[\dX]", v):
        return False
    year, month, day = int(v[6:10]), int(v[10:12]), int(v[12:14])
    if not (1900 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31):
        return False
    return id_check_char(v[:17]) == v[17]


def mask(text: str, kind: str) -> str:
    """Keep just enough to recognise the item in a report (`138****5678`), never the full value."""
    s = text.strip()
    if kind == "email" and "@" in s:
        local, _, domain = s.partition("@")
        return (local[:1] + "***@" + domain) if local else "***@" + domain
    if kind == "address":
        return s[:3] + "*" * max(0, len(s) - 3)
    if len(s) <= 4:
        return "*" * len(s)
    keep_head = 3 if len(s) >= 8 else 1
    keep_tail = 4 if len(s) >= 11 else 2
    return s[:keep_head] + "*" * (len(s) - keep_head - keep_tail) + s[-keep_tail:]


@dataclass(frozen=True)
class PIIMatch:
    """One hit: character span within the scanned text."""

    kind: PIIKind
    start: int
    end: int
    text: str

    @property
    def masked(self) -> str:
        return mask(self.text, self.kind)


_SEP = r"[ \-\u2010-\u2015]?"  # OCR and people split numbers with spaces/dashes
_PHONE = re.compile(rf"(?<!\d)(?:\+?86{_SEP})?1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}(?!\d)")
_PHONE_STRICT = re.compile(r"1[3-9]\d{9}")
_ID = re.compile(r"(?<![\dA-Za-z])[1-9]\d{5}(?:19|20)\d{2}[01]\d[0-3]\d\d{3}[\dXx](?![\dA-Za-z])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# Courier waybills: SF (顺丰) 12-15 digits, JD (京东) JD + 10-15 digits/letters, YT (圆通) 10-13 digits, plus
# other common carrier prefixes; source: carriers' public tracking-number formats.
_WAYBILL = re.compile(r"(?<![A-Za-z0-9])(?:SF|JD[VX]?|YT|ZTO|STO|YD|JT|EMS)\s?\d{9,15}(?![0-9])", re.IGNORECASE)
_WAYBILL_CTX = re.compile(r"(?:运单号?|快递单号|物流单号|waybill|tracking)\s*(?:no\.?|number)?\s*[:：]?\s*([A-Za-z]{0,3}\d{8,20})", re.IGNORECASE)
_ORDER_CTX = re.compile(r"(?:订单号|订单编号|订单|order\s*(?:no\.?|number|id|#))\s*[:：#]?\s*([A-Za-z]{0,3}\d{8,24})", re.IGNORECASE)
# Addresses: a run of CJK/digits containing at least two administrative/street units, ending at a unit.
_ADDR_UNIT = "省市区县镇乡村路街道巷弄号栋幢楼室单元"
_ADDRESS = re.compile(
    rf"(?:[\u4e00-\u9fff]{{2,8}}(?:省|自治区))?(?:[\u4e00-\u9fffA-Za-z0-9]{{1,12}}(?:市|区|县|镇|乡|路|街|道|巷|弄|号|栋|幢|楼|室|单元)){{2,}}[\u4e00-\u9fff0-9\-]{{0,6}}(?:号|室|楼|栋|单元)?"
)
_ADDR_LEAD = re.compile(r"^(?:收件人?地址|寄件人?地址|收货地址|地址|住址)[:：]?\s*")
_STRONG_UNITS = set("省市区县路街号室")


def _spans_overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def find_pii(text: str) -> list[PIIMatch]:
    """All validated PII spans in `text`, non-overlapping, earliest first (stronger kinds win ties)."""
    hits: list[PIIMatch] = []
    taken: list[tuple[int, int]] = []

    def add(kind: PIIKind, start: int, end: int) -> None:
        span = (start, end)
        if end <= start or any(_spans_overlap(span, t) for t in taken):
            return
        taken.append(span)
        hits.append(PIIMatch(kind, start, end, text[start:end]))

    for m in _ID.finditer(text):
        if valid_id_number(m.group()):
            add("id_number", m.start(), m.end())
    for m in _EMAIL.finditer(text):
        add("email", m.start(), m.end())
    for m in _WAYBILL.finditer(text):
        add("waybill", m.start(), m.end())
    for m in _WAYBILL_CTX.finditer(text):
        add("waybill", m.start(1), m.end(1))
    for m in _ORDER_CTX.finditer(text):
        add("order_number", m.start(1), m.end(1))
    for m in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if digits.startswith("86") and len(digits) == 13:
            digits = digits[2:]
        if _PHONE_STRICT.fullmatch(digits):
            add("phone", m.start(), m.end())
    for m in _ADDRESS.finditer(text):
        span = m.group()
        lead = _ADDR_LEAD.match(span)
        start = m.start() + (lead.end() if lead else 0)
        units = {c for c in text[start : m.end()] if c in _STRONG_UNITS}
        if len(units) >= 2 and m.end() - start >= 5:
            add("address", start, m.end())
    hits.sort(key=lambda h: h.start)
    return hits
