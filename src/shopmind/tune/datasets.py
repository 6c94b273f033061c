"""Training data: read the supported formats into chat examples, validate them with a report, and
template them with the base model's own chat template.

Formats (detected from columns unless `dataset_format` says otherwise):
- `metadata.csv`: `prompt,response`, `content,summary` (AdvertiseGen), or `file_name,text` (the
  lora-scripts layout: `file_name` names a text file beside the CSV holding the prompt/facts, or,
  when no such file exists, a product name; `text` is the copy);
- JSON lines: alpaca (`instruction,input,output[,rejected]`), sharegpt (`conversations`), and
  AdvertiseGen (`content,summary`);
- the feedback export (alpaca rows with `rejected`): preference pairs for DPO;
- `catalog:approved`: catalog products that carry the merchant's own description, prompted with
  their facts exactly as `shopmind write description` would prompt.

Untrusted rows are data: they only ever become message *content*, never template code.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopmind.errors import BadInput

PLAIN_INSTRUCTION = "根据商品属性写一段电商广告文案。"
_ROLE_ALIASES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                 "model": "assistant", "system": "system", "bot": "assistant"}
_COLUMN_SETS = [("prompt", "response"), ("content", "summary"), ("file_name", "text"),
                ("instruction", "output"), ("conversations",)]


@dataclass
class Example:
    """One chat example: `messages` ends with the assistant turn to learn; `rejected` for DPO."""

    messages: list[dict[str, str]]
    rejected: str | None = None
    source: str = ""
    answer_chars: int | None = None  # length of the copy itself (not its JSON wrapping), where known

    @property
    def prompt(self) -> list[dict[str, str]]:
        return self.messages[:-1]

    @property
    def response(self) -> str:
        return self.messages[-1]["content"]


@dataclass
class DataReport:
    """What validation found; `ok` examples are the ones training uses."""

    files: list[str] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    ok: int = 0
    empty: int = 0
    malformed: int = 0
    duplicated: int = 0
    too_long: int = 0
    truncated: int = 0
    without_rejected: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)

    def note(self, kind: str, where: str, why: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.problems) < 50:
            self.problems.append({"kind": kind, "where": where, "why": why})

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# ── reading ──────────────────────────────────────────────────────────────────────

def _advertisegen_messages(content: str, summary: str, style: str, length_hint: bool = False) -> list[dict[str, str]]:
    if style == "plain":
        return [{"role": "user", "content": f"{PLAIN_INSTRUCTION}\n{content}"},
                {"role": "assistant", "content": summary}]
    return _shopmind_messages(_facts_from_attributes(content), summary, compact=style == "compact",
                              length_hint=length_hint)


def round_chars(n: int) -> int:
    """A length as prompts state it: to the nearest 10 characters, at least 10."""
    return max(10, int(round(n / 10.0)) * 10)


def hint_chars(text: str) -> int:
    """The length a training prompt asks for (约N字): the answer's own length, rounded, so the
    adapter learns to follow the number it is served with."""
    return round_chars(len(text))


def _facts_from_attributes(content: str) -> Any:
    from shopmind.generate.facts import from_attributes

    return from_attributes(content)


def _shopmind_messages(facts: Any, answer: str, *, compact: bool = False,
                       length_hint: bool = False) -> list[dict[str, str]]:
    """The prompt `write description` sends (the full one, or with `compact` the short one a
    compact-style voice is served with), with the reference as its JSON answer, so the adapter
    learns exactly the call it will serve. `length_hint` puts the answer's length in the compact
    prompt (see `hint_chars`)."""
    from shopmind.generate.prompts import build_messages, compact_messages

    if compact:
        prompt = compact_messages("description", facts, length=hint_chars(answer) if length_hint else None)
    else:
        prompt = build_messages("description", facts)
    return prompt + [{"role": "assistant", "content": json.dumps({"description": answer}, ensure_ascii=False)}]


def _alpaca_messages(row: dict, system: str | None) -> list[dict[str, str]]:
    user = row["instruction"].strip()
    if str(row.get("input") or "").strip():
        user = f"{user}\n{str(row['input']).strip()}"
    msgs = [{"role": "system", "content": system}] if system else []
    return msgs + [{"role": "user", "content": user}, {"role": "assistant", "content": str(row["output"])}]


def _sharegpt_messages(turns: Any) -> list[dict[str, str]]:
    if not isinstance(turns, list) or not turns:
        raise ValueError("conversations must be a non-empty list")
    out = []
    for t in turns:
        if not isinstance(t, dict):
            raise ValueError("each turn must be an object")
        role = _ROLE_ALIASES.get(str(t.get("from", t.get("role", ""))).lower())
        text = t.get("value", t.get("content"))
        if role is None or not isinstance(text, str):
            raise ValueError("each turn needs from/role (human|gpt|system) and value/content")
        out.append({"role": role, "content": text})
    if out[-1]["role"] != "assistant":
        raise ValueError("the last turn must be the assistant's (the text to learn)")
    return out


def detect_format(columns: set[str], suffix: str) -> str:
    """Name of the format a row with these columns is in; BadInput names what was expected."""
    if "conversations" in columns:
        return "sharegpt"
    if {"instruction", "output"} <= columns:
        return "feedback" if "rejected" in columns else "alpaca"
    if {"content", "summary"} <= columns:
        return "advertisegen"
    if {"prompt", "response"} <= columns:
        return "csv"
    if {"file_name", "text"} <= columns:
        return "csv"
    expected = " | ".join(",".join(c) for c in _COLUMN_SETS)
    raise BadInput(f"wrong columns {sorted(columns)} in a {suffix or 'data'} file; expected one of: {expected}",
                   detail={"columns": sorted(columns), "expected": [list(c) for c in _COLUMN_SETS]})


def _row_to_example(row: dict, fmt: str, *, style: str, system: str | None, base_dir: Path,
                    length_hint: bool = False) -> Example:
    if fmt == "sharegpt":
        return Example(_sharegpt_messages(row["conversations"]))
    if fmt in {"alpaca", "feedback"}:
        for key in ("instruction", "output"):
            if not isinstance(row.get(key), str):
                raise ValueError(f"{key} must be a string")
        rejected = row.get("rejected")
        return Example(_alpaca_messages(row, system), rejected=rejected if isinstance(rejected, str) else None)
    if fmt == "advertisegen" or {"content", "summary"} <= set(row):
        if not (isinstance(row.get("content"), str) and isinstance(row.get("summary"), str)):
            raise ValueError("content and summary must be strings")
        return Example(_advertisegen_messages(row["content"], row["summary"], style, length_hint),
                       answer_chars=len(row["summary"]))
    if "prompt" in row and "response" in row:
        msgs = [{"role": "system", "content": system}] if system else []
        return Example(msgs + [{"role": "user", "content": str(row["prompt"] or "")},
                               {"role": "assistant", "content": str(row["response"] or "")}])
    if "file_name" in row and "text" in row:
        name = str(row["file_name"] or "")
        side = (base_dir / name) if name else None
        prompt = name
        if side is not None and side.suffix in {".txt", ".md"} and side.resolve().is_relative_to(base_dir.resolve()) \
                and side.is_file():
            prompt = side.read_text(encoding="utf-8")
        user = f"{PLAIN_INSTRUCTION}\n{prompt}".strip()
        return Example([{"role": "user", "content": user}, {"role": "assistant", "content": str(row["text"] or "")}])
    raise ValueError("row does not match the file's format")


def _iter_rows(path: Path, report: DataReport) -> tuple[str, list[tuple[str, dict]]]:
    """(format hint, [(where, row)]) for a CSV or JSON-lines file."""
    rows: list[tuple[str, dict]] = []
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames:
                raise BadInput(f"{path}: empty CSV (no header row)")
            for i, row in enumerate(reader, 2):
                rows.append((f"{path.name}:{i}", {k.strip(): v for k, v in row.items() if k}))
        return "csv", rows
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                report.note("malformed", f"{path.name}:{i}", f"not a JSON object: {exc}")
                report.rows += 1
                continue
            rows.append((f"{path.name}:{i}", row))
    return "jsonl", rows


def catalog_examples(store: Any, *, style: str = "shopmind", length_hint: bool = False) -> list[Example]:
    """Approved copy from the catalog: products with the merchant's own description, prompted with
    their facts minus that description (it is the answer), in the run's prompt style."""
    from shopmind.generate.facts import from_product

    out = []
    for product in store.iter_products():
        if len(product.description.strip()) < 10:
            continue
        facts = from_product(product.id, store=store).model_copy(update={"description": None})
        answer = product.description.strip()
        out.append(Example(_shopmind_messages(facts, answer, compact=style == "compact", length_hint=length_hint),
                           source=f"catalog:{product.id}", answer_chars=len(answer)))
    return out


def load_examples(paths: list[str], *, fmt: str = "auto", style: str = "shopmind", system: str | None = None,
                  store: Any = None, length_hint: bool = False) -> tuple[list[Example], DataReport]:
    """All examples from `paths` with a report; wrong columns or no usable row is a BadInput."""
    if not paths:
        raise BadInput("no dataset given: set `datasets:` in the config or pass --data FILE")
    report = DataReport()
    examples: list[Example] = []
    seen: set[str] = set()
    for entry in paths:
        report.files.append(entry)
        if entry.startswith("catalog:"):
            if entry != "catalog:approved":
                raise BadInput(f"unknown catalog source {entry!r}; use catalog:approved")
            if store is None:  # the caller's app owns the catalog (`Shopmind.store`): it must pass it
                raise BadInput("catalog:approved needs the catalog store: pass store= (the CLI passes its app's)")
            found = catalog_examples(store, style=style, length_hint=length_hint)
            report.formats[entry] = "catalog"
            report.rows += len(found)
            candidates = [(ex.source, ex) for ex in found]
        else:
            path = Path(entry)
            if not path.is_file():
                raise BadInput(f"dataset file not found: {path}")
            kind, rows = _iter_rows(path, report)
            if not rows:
                raise BadInput(f"{path}: no rows")
            file_fmt = fmt if fmt != "auto" else detect_format(set(rows[0][1]), path.suffix)
            if fmt not in {"auto", "csv"} or kind == "jsonl":
                detect_format(set(rows[0][1]), path.suffix)  # wrong columns fail loudly even with an explicit format
            report.formats[entry] = file_fmt
            candidates = []
            for where, row in rows:
                report.rows += 1
                try:
                    candidates.append((where, _row_to_example(row, file_fmt, style=style, system=system,
                                                              base_dir=path.parent, length_hint=length_hint)))
                except BadInput as exc:  # e.g. an empty attribute string
                    report.note("empty" if "empty" in exc.message else "malformed", where, exc.message)
                except (ValueError, KeyError, TypeError) as exc:
                    report.note("malformed", where, str(exc))
        for where, ex in candidates:
            if not ex.response.strip() or not any(m["content"].strip() for m in ex.prompt if m["role"] == "user"):
                report.note("empty", where, "empty prompt or response")
                continue
            key = json.dumps([ex.messages, ex.rejected], ensure_ascii=False, sort_keys=True)
            if key in seen:
                report.note("duplicated", where, "same prompt and response as an earlier row")
                continue
            seen.add(key)
            ex.source = ex.source or where
            examples.append(ex)
    report.ok = len(examples)
    if not examples:
        raise BadInput(f"no usable training rows in {', '.join(paths)}", detail=report.as_dict())
    return examples, report


def data_hash(examples: list[Example]) -> str:
    """sha256 of the examples as trained (content, not file bytes: same data, same hash)."""
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(json.dumps([ex.messages, ex.rejected], ensure_ascii=False, sort_keys=True).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


# ── templating ───────────────────────────────────────────────────────────────────

def _ids(encoded: Any) -> list[int]:
    if hasattr(encoded, "keys"):
        encoded = encoded["input_ids"]
    return list(encoded)


def chat_prefix_ids(tokenizer: Any, prompt: list[dict[str, str]]) -> list[int]:
    """Token ids of the prompt rendered by the model's own chat template, ready for the answer."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    else:  # a base model without a template: a plain, documented fallback
        text = "".join(f"{m['role']}: {m['content']}\n" for m in prompt) + "assistant: "
    return _ids(tokenizer(text, add_special_tokens=False))


def answer_ids(tokenizer: Any, answer: str) -> list[int]:
    """The answer plus the template's end-of-turn token, so the model learns to stop."""
    ids = _ids(tokenizer(answer, add_special_tokens=False))
    end = tokenizer.eos_token_id
    return ids + ([end] if end is not None else [])


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]


def encode_sft(tokenizer: Any, examples: list[Example], max_length: int, report: DataReport) -> list[Encoded]:
    """input_ids with labels masked (-100) on the prompt; long answers are cut at `max_length`,
    examples whose prompt alone fills it are dropped (both counted in the report)."""
    out = []
    for ex in examples:
        prefix = chat_prefix_ids(tokenizer, ex.prompt)
        answer = answer_ids(tokenizer, ex.response)
        if len(prefix) >= max_length - 1:
            report.note("too_long", ex.source, f"prompt has {len(prefix)} tokens ≥ max_length {max_length}; dropped")
            continue
        if len(prefix) + len(answer) > max_length:
            report.note("truncated", ex.source, f"{len(prefix) + len(answer)} tokens cut to {max_length}")
            answer = answer[: max_length - len(prefix)]
        out.append(Encoded(prefix + answer, [-100] * len(prefix) + answer))
    report.ok = len(out)
    if not out:
        raise BadInput(f"every example is longer than max_length {max_length}", detail=report.as_dict())
    return out


@dataclass
class EncodedPair:
    chosen: Encoded
    rejected: Encoded


def encode_pairs(tokenizer: Any, examples: list[Example], max_length: int, report: DataReport) -> list[EncodedPair]:
    """Preference pairs for DPO; rows without `rejected` are counted and skipped."""
    out = []
    for ex in examples:
        if not ex.rejected or not ex.rejected.strip():
            report.note("without_rejected", ex.source, "no rejected text: not a preference pair")
            continue
        if ex.rejected.strip() == ex.response.strip():
            report.note("duplicated", ex.source, "chosen and rejected are the same text")
            continue
        prefix = chat_prefix_ids(tokenizer, ex.prompt)
        if len(prefix) >= max_length - 1:
            report.note("too_long", ex.source, f"prompt has {len(prefix)} tokens ≥ max_length {max_length}; dropped")
            continue
        room = max_length - len(prefix)
        a, b = answer_ids(tokenizer, ex.response), answer_ids(tokenizer, ex.rejected)
        if len(a) > room or len(b) > room:
            report.note("truncated", ex.source, f"answer cut to {room} tokens")
        a, b = a[:room], b[:room]
        out.append(EncodedPair(Encoded(prefix + a, [-100] * len(prefix) + a),
                               Encoded(prefix + b, [-100] * len(prefix) + b)))
    report.ok = len(out)
    if not out:
        raise BadInput("no preference pairs (rows need both a chosen `output` and a `rejected` text)",
                       detail=report.as_dict())
    return out
