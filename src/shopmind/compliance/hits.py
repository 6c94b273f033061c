"""The engine's working record of one finding: shared by the rule, claim and classifier passes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Hit:
    """A finding before it is frozen: keeps the replacement text and clause bounds for rewriting."""

    start: int
    end: int
    rule_id: str
    category: str
    severity: str
    legal_basis: str
    why_zh: str
    why_en: str
    replacement: str | None  # None: drop the clause
    clause: tuple[int, int]
