"""Loads the Q&A lexicon (field aliases, question intents, en→zh value names) from package data.

Kept apart from retrieval so the same vocabulary drives fact building, intent detection,
answer wording and the grounding check of LLM output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

LEXICON_PATH = Path(__file__).with_name("data") / "qa_lexicon.yaml"
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class FieldSpec:
    """A canonical fact field and how answers name it."""

    name: str
    label_zh: str
    label_en: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Intent:
    """What a question asks about: cue phrases and the fact fields that can answer it."""

    name: str
    fields: tuple[str, ...]
    zh: tuple[str, ...]
    en: tuple[str, ...]
    evidence: tuple[str, ...]
    _en_res: tuple[re.Pattern, ...] = field(default=(), compare=False, repr=False)

    def matches(self, question: str) -> bool:
        return any(cue in question for cue in self.zh) or any(p.search(question) for p in self._en_res)


@dataclass(frozen=True)
class Lexicon:
    fields: dict[str, FieldSpec]
    alias_to_field: dict[str, str]
    intents: dict[str, Intent]
    zh_values: dict[str, str]  # lower-case en value -> zh
    value_kind: dict[str, str]  # lower-case en value -> colour | material | other

    def field_for_key(self, key: str) -> str:
        """Canonical field of a catalog column (unknown columns keep their normalised name)."""
        norm = normalise_key(key)
        return self.alias_to_field.get(norm, norm)

    def zh(self, value: str) -> str | None:
        return self.zh_values.get(value.strip().lower())

    def label(self, field_name: str, lang: str) -> str:
        spec = self.fields.get(field_name)
        if spec is None:
            return field_name.replace("_", " ")
        return spec.label_zh if lang == "zh" else spec.label_en


def normalise_key(key: str) -> str:
    """`Sleeve Length` / `sleeve-length` → `sleeve_length` (so aliases match any export)."""
    key = re.sub(r"[()\[\]]", "", str(key).strip().lower())
    return re.sub(r"[\s\-]+", "_", key)


def is_chinese(text: str) -> bool:
    """Questions with any CJK character are answered in Chinese."""
    return bool(_CJK.search(text))


def _word_re(phrase: str) -> re.Pattern:
    return re.compile(r"(?<![a-z])" + re.escape(phrase.lower()).replace(r"\ ", r"\s+") + r"(?![a-z])", re.IGNORECASE)


@lru_cache(maxsize=1)
def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    fields: dict[str, FieldSpec] = {}
    alias_to_field: dict[str, str] = {}
    for name, spec in raw["fields"]["items"].items():
        aliases = tuple(normalise_key(a) for a in spec.get("aliases", []))
        fields[name] = FieldSpec(name, spec["label_zh"], spec["label_en"], aliases)
        for alias in aliases:
            alias_to_field[alias] = name
    intents: dict[str, Intent] = {}
    for name, spec in raw["intents"]["items"].items():
        en = tuple(str(c) for c in spec.get("en", []))
        intents[name] = Intent(
            name=name,
            fields=tuple(spec["fields"]),
            zh=tuple(str(c) for c in spec.get("zh", [])),
            en=en,
            evidence=tuple(str(c).lower() for c in spec.get("evidence", [])),
            _en_res=tuple(_word_re(c) for c in en),
        )
    zh_values: dict[str, str] = {}
    value_kind: dict[str, str] = {}
    for kind, table in raw["values"]["kinds"].items():
        for en_value, zh_value in table.items():
            zh_values[str(en_value).lower()] = str(zh_value)
            value_kind[str(en_value).lower()] = kind
    return Lexicon(fields, alias_to_field, intents, zh_values, value_kind)
