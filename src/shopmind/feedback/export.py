"""Build a fine-tuning dataset from feedback and write it as JSON lines, atomically.

Row shape (Alpaca/LLaMA-Factory style): `instruction`, `input`, `output`, optional `rejected`.
- every edit → output = the operator's text, rejected = the model's text (a preference pair);
- per prompt (instruction + input), the best output rated ≥ `min_rating` → a supervised row,
  paired with the worst output rated ≤ `max_rejected_rating` when there is one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Iterable

from shopmind.errors import BadInput
from shopmind.feedback.models import ExportReport
from shopmind.feedback.store import FeedbackStore


def build_rows(store: FeedbackStore, *, min_rating: int = 4, max_rejected_rating: int = 2,
               product_id: str | None = None) -> tuple[list[dict[str, str]], dict[str, int]]:
    """Training rows in a stable order (edits first, then ratings, by id), duplicates dropped."""
    if not 1 <= max_rejected_rating < min_rating <= 5:
        raise BadInput("need 1 ≤ max_rejected_rating < min_rating ≤ 5")
    rows: list[dict[str, str]] = []
    seen: set[tuple[str, ...]] = set()
    counts = {"from_edits": 0, "from_ratings": 0, "skipped_duplicates": 0}

    def add(row: dict[str, str], origin: str) -> None:
        key = (row["instruction"], row["input"], row["output"], row.get("rejected", ""))
        if key in seen:
            counts["skipped_duplicates"] += 1
            return
        seen.add(key)
        rows.append(row)
        counts[origin] += 1

    for e in store.edits(product_id):
        add({"instruction": e.instruction, "input": e.input, "output": e.after, "rejected": e.before}, "from_edits")

    by_prompt: dict[tuple[str, str], list] = {}
    for r in store.ratings(product_id):
        by_prompt.setdefault((r.instruction, r.input), []).append(r)
    for (instruction, inp), rated in by_prompt.items():
        best = max(rated, key=lambda r: (r.rating, r.id))
        if best.rating < min_rating:
            continue
        row = {"instruction": instruction, "input": inp, "output": best.output}
        worst = min(rated, key=lambda r: (r.rating, -r.id))
        if worst.rating <= max_rejected_rating and worst.output != best.output:
            row["rejected"] = worst.output
        add(row, "from_ratings")
    return rows, counts


def write_jsonl_atomic(path: Path, rows: Iterable[dict]) -> int:
    """Write rows to a temp file beside `path`, fsync, then rename over it: readers see the old
    file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


def export_dataset(store: FeedbackStore, path: Path, *, min_rating: int = 4, max_rejected_rating: int = 2,
                   product_id: str | None = None) -> ExportReport:
    rows, counts = build_rows(store, min_rating=min_rating, max_rejected_rating=max_rejected_rating,
                              product_id=product_id)
    n = write_jsonl_atomic(path, rows)
    return ExportReport(path=str(path), rows=n, pairs=sum("rejected" in r for r in rows), **counts)
