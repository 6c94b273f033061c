"""English catalog values in Chinese (适用人群：Men → 男士) for zh scripts and zh media copy.

Why a glossary and not machine translation: catalog values are a small closed vocabulary (gender,
season, usage, article type, colour, material), a fixed table is exact and reviewable, and a value
it does not know is said as it is rather than guessed. Data: `data/glossary.yaml`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

_PATH = Path(__file__).with_name("data") / "glossary.yaml"


@lru_cache(maxsize=1)
def table() -> dict[str, str]:
    """Lower-cased English value → Chinese, over every section of the glossary."""
    data = yaml.safe_load(_PATH.read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for section, entries in data.items():
        if isinstance(entries, dict):
            out.update({str(k).strip().lower(): str(v) for k, v in entries.items()})
    return out


def to_zh(value: str) -> str:
    """The Chinese for a whole value, else each comma/slash-separated part translated, else the value."""
    text = " ".join(str(value).split())
    hit = table().get(text.lower())
    if hit:
        return hit
    parts = [p.strip() for p in re.split(r"\s*[,/&]\s*", text) if p.strip()]
    if len(parts) > 1 and all(p.lower() in table() for p in parts):
        return "、".join(table()[p.lower()] for p in parts)
    return text
