"""Grounded content generation: titles, selling points, descriptions, ad copy, SEO keywords and
translated product pages, written by an LLM from product facts and checked by the compliance
engine and the fact checker (generate → check → rewrite loop with an audit trail).

Public surface: `write(WriteRequest(...)) -> WriteResult`.
"""

from shopmind.generate.loop import build_facts, write
from shopmind.generate.schemas import SCHEMAS, WriteRequest, WriteResult, register_content_type

CONTENT_TYPES = tuple(SCHEMAS)  # the built-in types; `SCHEMAS` also holds ones registered later

__all__ = ["write", "build_facts", "WriteRequest", "WriteResult", "CONTENT_TYPES", "register_content_type"]
