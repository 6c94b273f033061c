"""UI strings in zh and en, from one catalog file (`strings.json`: key -> {"zh": …, "en": …}).

Why a flat JSON catalog rather than gettext: about two hundred short strings, two languages, no build
step; a unit test checks that every key used by a template exists in both languages.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

LANGS = ("zh", "en")
CATALOG = Path(__file__).with_name("strings.json")


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict[str, str]]:
    return json.loads(CATALOG.read_text(encoding="utf-8"))


def pick_lang(cookie: str | None, accept: str | None) -> str:
    """The cookie's choice, else the browser's first zh/en preference, else zh."""
    if cookie in LANGS:
        return cookie
    for part in (accept or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code
    return "zh"


def translator(lang: str):
    """`t(key, **fmt)` for templates: the string in `lang` (the key itself when missing, so gaps show)."""
    strings = catalog()

    def t(key: str, **fmt: object) -> str:
        entry = strings.get(key)
        text = entry.get(lang) or entry.get("en") or key if entry else key
        return text.format(**fmt) if fmt else text

    return t
