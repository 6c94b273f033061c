"""Get a valid, schema-checked JSON object out of LLM text: extract, repair, validate, retry once.

Small models wrap JSON in code fences, add a sentence before it, leave trailing commas or cut
off the closing brace. `json_repair` (a library built for exactly this) mends the syntax; the
pydantic schema decides whether the result is usable; one retry tells the model what was wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

import json_repair
from pydantic import BaseModel, ValidationError

from shopmind.errors import BackendUnavailable

T = TypeVar("T", bound=BaseModel)
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)(?:```|$)", re.DOTALL)


class JSONFixError(ValueError):
    """The text holds no object that fits the schema (message says why, for the retry prompt)."""


def extract_json(text: str) -> Any:
    """The JSON value in `text`: strict parse first, then the fenced/braced part, then repair."""
    if not isinstance(text, str) or not text.strip():
        raise JSONFixError("empty output")
    candidates = [text.strip()]
    fence = _FENCE.search(text)
    if fence:
        candidates.append(fence.group(1).strip())
    start = text.find("{")
    if start != -1:
        end = text.rfind("}")
        candidates.append(text[start:end + 1] if end > start else text[start:])
    for cand in candidates:
        try:
            return json.loads(cand)
        except ValueError:
            continue
    for cand in candidates[1:] or candidates:
        repaired = json_repair.loads(cand)
        if repaired not in ("", None, [], {}):
            return repaired
    raise JSONFixError(f"no JSON object found in output: {text[:120]!r}")


def parse_into(text: str, schema: type[T]) -> T:
    """Extract + validate; JSONFixError carries a short reason usable as feedback to the model."""
    value = extract_json(text)
    try:
        return schema.model_validate(value)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'root'}: {e['msg']}" for e in exc.errors()[:5])
        raise JSONFixError(f"JSON does not fit the schema ({reasons})") from exc


def generate_structured(complete: Callable[[list[dict[str, str]]], str], messages: list[dict[str, str]],
                        schema: type[T], *, retries: int = 1) -> tuple[T, list[str]]:
    """Call `complete(messages)`, parse into `schema`; on failure retry with the error appended.

    Returns the object and every raw output (for the audit trail). Raises BackendUnavailable when
    the model still gives no usable JSON: the caller reports it per item, the batch goes on.
    """
    raws: list[str] = []
    convo = list(messages)
    last: JSONFixError | None = None
    for _ in range(retries + 1):
        raw = complete(convo)
        raws.append(raw)
        try:
            return parse_into(raw, schema), raws
        except JSONFixError as exc:
            last = exc
            example = json.dumps({k: "..." for k in schema.model_fields}, ensure_ascii=False)
            convo = list(messages) + [
                {"role": "assistant", "content": raw[:1500]},
                {"role": "user", "content": f"上面的输出无法使用：{exc}。请只输出一个符合格式的 JSON 对象，例如 {example}"},
            ]
    raise BackendUnavailable(f"the LLM gave no valid JSON after {retries + 1} tries: {last}",
                             detail={"outputs": [r[:500] for r in raws]})
