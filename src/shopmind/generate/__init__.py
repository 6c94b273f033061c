"""Grounded content generation: titles, selling points, descriptions, ad copy, SEO keywords and
translated product pages, written by an LLM from product facts and checked by the compliance
engine and the fact checker (generate → check → rewrite loop with an audit trail).

Public surface: `write(WriteRequest(...)) -> WriteResult`.
"""

from shopmind.generate.loop import build_facts, write
from shopmind.generate.schemas import SCHEMAS, WriteRequest, WriteResult

CONTENT_TYPES = tuple(SCHEMAS)

__all__ = ["write", "build_facts", "WriteRequest", "WriteResult", "CONTENT_TYPES"]
