"""Currency conversion from a caller-given rate table, and price formatting per language.

We ship no exchange rates (they change daily): the caller passes a table such as
`{"base": "CNY", "rates": {"USD": 0.14, "JPY": 21.0}}` as a dict or a YAML/JSON file.
Conversion is Decimal and rounds half-up to the target currency's minor unit (JPY has none).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shopmind.errors import BadInput

# ISO 4217 minor units for the currencies we format.
MINOR_UNITS = {"CNY": 2, "USD": 2, "EUR": 2, "GBP": 2, "HKD": 2, "SGD": 2, "AUD": 2, "CAD": 2, "JPY": 0, "KRW": 0}
DEFAULT_CURRENCY = {"zh": "CNY", "en": "USD", "ja": "JPY"}


class RateTable(BaseModel):
    """`1 base = rates[X] X`; `as_of`/`source` say where the numbers came from."""

    model_config = ConfigDict(extra="forbid")

    base: str = "CNY"
    rates: dict[str, Decimal] = Field(default_factory=dict)
    as_of: str | None = None
    source: str | None = None

    @field_validator("rates")
    @classmethod
    def _positive(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        bad = [k for k, r in v.items() if r <= 0]
        if bad:
            raise ValueError(f"rates must be > 0: {bad}")
        return {k.upper(): r for k, r in v.items()}

    def has(self, currency: str) -> bool:
        return currency.upper() == self.base.upper() or currency.upper() in self.rates

    def convert(self, amount: Decimal, to: str) -> Decimal:
        """`amount` in base currency → `to`, rounded to its minor unit."""
        to = to.upper()
        if to == self.base.upper():
            rate = Decimal(1)
        elif to in self.rates:
            rate = self.rates[to]
        else:
            raise BadInput(f"no exchange rate {self.base}→{to} in the rate table")
        exp = Decimal(1).scaleb(-MINOR_UNITS.get(to, 2))
        return (Decimal(amount) * rate).quantize(exp, rounding=ROUND_HALF_UP)


def load_rates(source: RateTable | dict | str | Path | None) -> RateTable:
    """A RateTable from itself, a dict or a YAML/JSON file; an empty CNY table when None."""
    if source is None:
        return RateTable()
    if isinstance(source, RateTable):
        return source
    if isinstance(source, (str, Path)):
        try:
            source = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise BadInput(f"cannot read rate table {source}: {exc}") from None
    try:
        return RateTable.model_validate(source)
    except ValidationError as exc:
        raise BadInput(f"invalid rate table: {exc.errors(include_url=False)[0]['msg']}") from None


def format_money(amount: Decimal, currency: str, lang: str) -> str:
    """How a host says a price on screen: ¥129.9 (zh), $18.99 (en), 1,250円 (ja)."""
    currency = currency.upper()
    digits = MINOR_UNITS.get(currency, 2)
    q = Decimal(amount).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    text = f"{q:,.{digits}f}"
    if digits and text.endswith("0" * digits):
        text = text[: -digits - 1]  # 129.00 -> 129
    if currency == "JPY":
        return f"{text}円" if lang == "ja" else f"¥{text}"
    if currency == "CNY":
        return f"{text}元" if lang == "ja" else f"¥{text}"
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


# A grouped number (1,409.15) is tried first; a comma right after it is punctuation, not a group
# ("you pay ¥1,409.15, saving ¥20" — the old pattern split this into 1409 and 15).
_NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|(?<![\d.])\d+(?:\.\d+)?(?!\d)")


def numbers_in(text: str) -> list[Decimal]:
    """Every number written in a line (thousands separators allowed): the one parser for what
    `format_money` writes, used to re-verify every stated price."""
    return [Decimal(m.group(0).replace(",", "")) for m in _NUMBER.finditer(text)]
