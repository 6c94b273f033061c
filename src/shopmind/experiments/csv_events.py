"""Read behavioural events from CSV for `ingest`: one event per row, 1-based file line numbers."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Iterator

from shopmind.errors import BadInput
from shopmind.experiments.models import EventIn

COLUMNS = tuple(EventIn.model_fields)


def read_events_csv(path: Path, *, experiment_id: str | None = None) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """Check the header, then stream (line, row). Returns the ignored column names too.

    Rows with more cells than the header keep the surplus under `extra_cells`, which validation
    rejects, so a shifted row is reported instead of silently mis-read."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"no such CSV file: {path}")
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), None)
    if not header:
        raise BadInput(f"{path}: empty file, expected a header row")
    header = [h.strip() for h in header]
    needed = {"unit_id", "type"} | (set() if experiment_id else {"experiment_id"})
    missing = needed - set(header)
    if missing:
        raise BadInput(f"{path}: missing column(s) {sorted(missing)}; columns are {list(COLUMNS)}")
    ignored = [h for h in header if h not in COLUMNS]

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        with path.open("r", encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            for cells in reader:
                line = reader.line_num
                if not any(c.strip() for c in cells):
                    continue  # blank line
                row: dict[str, Any] = {h: c for h, c in zip(header, cells) if h in COLUMNS}
                if len(cells) > len(header):
                    row["extra_cells"] = cells[len(header):]
                if experiment_id and not row.get("experiment_id"):
                    row["experiment_id"] = experiment_id
                yield line, row

    return ignored, rows()
