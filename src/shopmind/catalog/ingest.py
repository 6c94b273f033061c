"""Catalog import: CSV or JSON lines + images (paths, a folder, uploads, a tar, or URLs if enabled).

Streams rows in batches (bounded memory), commits each batch atomically, skips rows already
ingested with the same content (so re-running resumes), and reports every bad row or image with
its id and reason — in the returned report, in the database and in a JSON-lines errors file.

Hostile input is expected: the encoding is detected (never decoded with replacement
characters), every parser limit (field size, nesting depth, integer digits, line length,
columns) is a setting with a clear per-row reason, and images are read only from the allowed
roots — the catalog's folder and the images folder for the CLI, the uploads for the API.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import math
import os
import re
import sqlite3
import stat
import tarfile
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from shopmind.catalog.encoding import DetectedEncoding, detect_encoding, has_undecodable
from shopmind.catalog.images import decode_image_bytes, fetch_image_url
from shopmind.catalog.mapping import AUTO_CANDIDATES, ColumnMapper
from shopmind.catalog.store import CatalogStore
from shopmind.domain import IngestReport, ItemError, Product
from shopmind.errors import BadInput

CORE_FIELDS = {"id", "title", "description", "price", "category", "image"}
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")
MAX_FIELD_CHARS = 65_536
RETRY_PREFIX = "retry:"  # row_hash prefix for rows whose image failed: never skipped on re-run

ProgressFn = Callable[[int], None]


@dataclass(frozen=True)
class IngestLimits:
    """Parser and image limits; each maps to a `Settings` field of the same name with `ingest_`."""

    max_bytes: int = 40 * 1024 * 1024
    max_pixels: int = 64_000_000
    max_field_chars: int = MAX_FIELD_CHARS  # a longer cell or JSON string rejects its row
    max_line_chars: int = 8 * 1024 * 1024  # a longer CSV record / JSON line is reported and skipped
    max_depth: int = 32  # JSON nesting depth
    max_int_digits: int = 64  # longer JSON integers are rejected (Python's own limit is 4300)
    max_columns: int = 2_000
    max_attributes: int = 500
    max_tar_members: int = 1_000_000
    allow_urls: bool = False
    allow_private_urls: bool = False
    url_timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Any) -> IngestLimits:
        values: dict[str, Any] = {
            "max_bytes": getattr(settings, "max_image_bytes", cls.max_bytes),
            "max_pixels": getattr(settings, "max_image_pixels", cls.max_pixels),
        }
        for name in cls.__dataclass_fields__:
            if name in values:
                continue
            value = getattr(settings, f"ingest_{name}", None)
            if value is not None:
                values[name] = value
        return cls(**values)


# ------------------------------------------------------------------------------------------------
# Reading rows
# ------------------------------------------------------------------------------------------------
def _err(item: str, reason: str, stage: str = "parse") -> ItemError:
    return ItemError(item=item, stage=stage, reason=reason)


def read_rows(
    path: Path, *, limits: IngestLimits | None = None, encoding: DetectedEncoding | None = None,
    id_columns: tuple[str, ...] | None = None,
) -> Iterator[tuple[int, dict | ItemError]]:
    """Yield (line number, row dict) — or an ItemError for a row that cannot be parsed at all.

    Raises BadInput only for a file that is unusable as a whole (empty, no header, not text, a
    CSV header without any of `id_columns` — by default the usual names of an id column).
    """
    path = Path(path)
    limits = limits or IngestLimits()
    suffix = path.suffix.lower()
    if suffix not in {".jsonl", ".ndjson", ".json", ".csv", ".tsv"}:
        raise BadInput(f"{path.name}: unsupported catalog format {suffix!r} (use .csv, .tsv or .jsonl)")
    encoding = encoding or detect_encoding(path)
    if suffix in {".csv", ".tsv"}:
        yield from _csv_rows(path, encoding, limits, "\t" if suffix == ".tsv" else ",",
                             id_columns if id_columns is not None else AUTO_CANDIDATES["id"])
    else:
        yield from _json_rows(path, encoding, limits)


def _read_line(fh: io.TextIOBase, limit: int) -> tuple[str | None, int]:
    """Next line (None at EOF) and its true length; lines over `limit` come back as ''."""
    chunk = fh.readline(limit + 1)
    if not chunk:
        return None, 0
    if len(chunk) <= limit or chunk.endswith("\n"):
        return chunk, len(chunk)
    total = len(chunk)
    while True:  # drain the rest of an oversized line without holding it
        more = fh.readline(1 << 20)
        total += len(more)
        if not more or more.endswith("\n"):
            return "", total


def _json_depth_exceeds(line: str, max_depth: int) -> bool:
    """True when brackets outside strings nest deeper than `max_depth` (checked before parsing)."""
    if line.count("{") + line.count("[") <= max_depth:
        return False
    depth = 0
    in_string = escaped = False
    for ch in line:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
            if depth > max_depth:
                return True
        elif ch in "}]":
            depth -= 1
    return False


def _json_loads(text: str, limits: IngestLimits) -> Any:
    """json.loads with integer-size and constant guards; raises BadInput with the reason."""

    def parse_int(digits: str) -> int:
        if len(digits.lstrip("-")) > limits.max_int_digits:
            raise BadInput(f"integer with {len(digits.lstrip('-'))} digits (limit {limits.max_int_digits})")
        return int(digits)

    def parse_constant(name: str) -> float:
        raise BadInput(f"non-finite number {name} is not allowed")

    if _json_depth_exceeds(text, limits.max_depth):
        raise BadInput(f"JSON nested deeper than {limits.max_depth} levels")
    try:
        return json.loads(text, parse_int=parse_int, parse_constant=parse_constant)
    except json.JSONDecodeError as exc:
        raise BadInput(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise BadInput(f"JSON nested too deeply (limit {limits.max_depth})") from None
    except ValueError as exc:
        raise BadInput(f"invalid JSON value: {exc}") from None


def _json_rows(path: Path, enc: DetectedEncoding, limits: IngestLimits) -> Iterator[tuple[int, dict | ItemError]]:
    with path.open(encoding=enc.codec, errors="surrogateescape", newline=None) as fh:
        first = fh.read(1)
        while first and first.isspace():
            first = fh.read(1)
        if not first:
            raise BadInput(f"{path.name}: no rows (the file is blank)")
        if first == "[" and path.suffix.lower() == ".json":
            yield from _json_array_rows(path, fh, limits)
            return
        fh.seek(0)
        lineno = 0
        while True:
            line, length = _read_line(fh, limits.max_line_chars)
            if line is None:
                return
            lineno += 1
            where = f"line {lineno}"
            if length > limits.max_line_chars:
                yield lineno, _err(where, f"line is {length} characters (limit {limits.max_line_chars})")
                continue
            if lineno == 1:
                line = line.lstrip("\ufeff")
            if not line.strip():
                continue
            if has_undecodable(line):
                yield lineno, _err(where, f"bytes that are not valid {enc.name}")
                continue
            try:
                row = _json_loads(line, limits)
            except BadInput as exc:
                yield lineno, _err(where, exc.message)
                continue
            if not isinstance(row, dict):
                yield lineno, _err(where, f"row is a JSON {type(row).__name__}, not an object")
                continue
            yield lineno, row


def _json_array_rows(path: Path, fh, limits: IngestLimits) -> Iterator[tuple[int, dict | ItemError]]:
    """A .json file holding one array of objects (bounded by the line limit)."""
    text = "[" + fh.read(limits.max_line_chars + 1)
    if len(text) > limits.max_line_chars:
        raise BadInput(f"{path.name}: a JSON array catalog larger than {limits.max_line_chars} characters; use JSON lines")
    try:
        items = _json_loads(text, limits)
    except BadInput as exc:
        raise BadInput(f"{path.name}: {exc.message}") from None
    if not isinstance(items, list):
        raise BadInput(f"{path.name}: expected an array of objects")
    for i, row in enumerate(items, start=1):
        if isinstance(row, dict):
            yield i, row
        else:
            yield i, _err(f"item {i}", f"array item is a JSON {type(row).__name__}, not an object")


class _RecordTooLong(Exception):
    """Raised by `_CsvLines` inside the csv reader when one record outgrows the limit."""


class _CsvLines:
    """The physical lines the csv reader pulls, with a per-record size bound and quote tracking.

    csv's own field limit raises mid-record and then resumes *inside* the oversized quoted field,
    turning its tail into junk rows. Here the record is cut off before csv sees too much, and
    `skip_record` consumes the rest of it by quote parity so the next record starts cleanly.
    """

    def __init__(self, fh, limit: int) -> None:
        self.fh = fh
        self.limit = limit
        self.lineno = 0
        self._chars = 0
        self._quotes = 0

    def __iter__(self) -> _CsvLines:
        return self

    def _read(self) -> tuple[str | None, int, int]:
        chunk = self.fh.readline(self.limit + 1)
        if not chunk:
            return None, 0, 0
        if len(chunk) <= self.limit or chunk.endswith(("\n", "\r")):
            return chunk, len(chunk), chunk.count('"')
        total, quotes = len(chunk), chunk.count('"')
        while True:  # drain an oversized physical line, keeping only its length and quote count
            more = self.fh.readline(1 << 20)
            total += len(more)
            quotes += more.count('"')
            if not more or more.endswith(("\n", "\r")):
                return "", total, quotes

    def __next__(self) -> str:
        line, length, quotes = self._read()
        if line is None:
            raise StopIteration
        self.lineno += 1
        self._chars += length
        self._quotes += quotes
        if self._chars > self.limit:
            raise _RecordTooLong()
        return line

    def start_record(self) -> None:
        self._chars = self._quotes = 0

    def skip_record(self) -> int:
        """Consume lines until the too-long record's quotes balance; returns its last line number."""
        while self._quotes % 2:
            line, _, quotes = self._read()
            if line is None:
                break
            self.lineno += 1
            self._quotes += quotes
        return self.lineno


def _csv_rows(path: Path, enc: DetectedEncoding, limits: IngestLimits, delimiter: str,
              id_columns: tuple[str, ...]) -> Iterator[tuple[int, dict | ItemError]]:
    csv.field_size_limit(limits.max_line_chars + 1)
    with path.open(encoding=enc.codec, errors="surrogateescape", newline="") as fh:
        lines = _CsvLines(fh, limits.max_line_chars)
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise BadInput(f"{path.name}: no header row (the file is blank)") from None
        except _RecordTooLong:
            raise BadInput(f"{path.name}: the header row is longer than {limits.max_line_chars} characters") from None
        except csv.Error as exc:
            raise BadInput(f"{path.name}: the header row cannot be read ({exc})") from None
        header = [h.lstrip("\ufeff").strip() for h in header]
        if len(header) > limits.max_columns:
            raise BadInput(f"{path.name}: {len(header)} columns (limit {limits.max_columns})")
        if has_undecodable("".join(header)):
            raise BadInput(f"{path.name}: the header has bytes that are not valid {enc.name}")
        named = [h for h in header if h]
        dupes = sorted({h for h in named if named.count(h) > 1}) if len(set(named)) != len(named) else []
        if dupes:
            raise BadInput(f"{path.name}: duplicate column names {dupes[:5]}")
        if not named:
            raise BadInput(f"{path.name}: the header row is empty")
        if id_columns and not any(c in header for c in id_columns):
            other = "tab" if delimiter == "," and "\t" in header[0] else "semicolon" if delimiter == "," and ";" in header[0] else None
            hint = f" (the file looks {other}-separated)" if other else ""
            raise BadInput(f"{path.name}: no id column in the header {header[:8]}{hint}; name one 'id' or use "
                           f"--map id=COLUMN")
        ncols = len(header)
        id_col = header.index("id") if "id" in header else 0
        while True:
            lines.start_record()
            start = lines.lineno + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except _RecordTooLong:
                end = lines.skip_record()
                yield start, _err(f"line {start}", f"record is longer than {limits.max_line_chars} characters "
                                                   f"(lines {start}-{end}); skipped")
                reader = csv.reader(lines, delimiter=delimiter)  # a fresh parser state for the next record
                continue
            except csv.Error as exc:
                yield start, _err(f"line {start}", f"CSV error: {exc}")
                reader = csv.reader(lines, delimiter=delimiter)
                continue
            end = lines.lineno
            if not cells or not any(c.strip() for c in cells):
                continue
            row_id = (cells[id_col].strip() if id_col < len(cells) else "")[:80] or f"line {start}"
            if has_undecodable("".join(cells)):
                yield start, _err(row_id if not has_undecodable(row_id) else f"line {start}",
                                  f"bytes that are not valid {enc.name}")
                continue
            runaway = _runaway_quote(cells, header, delimiter, end - start)
            if runaway is not None:
                col, swallowed = runaway
                yield start, _err(row_id, f"unclosed quote: field {col!r} runs from line {start} to {end} "
                                          f"and swallows {len(swallowed)} row(s); fix the quote and re-run")
                # The swallowed lines are rows of their own: recover the complete ones, report the last.
                for offset, line in swallowed[:-1]:
                    yield from _recovered_row(line, header, delimiter, start + offset, start)
                if swallowed:
                    offset, line = swallowed[-1]
                    parsed = _parse_line(line, delimiter)
                    rid = (parsed[id_col].strip() if parsed and id_col < len(parsed) else "")[:80] or f"line {start + offset}"
                    yield start + offset, _err(rid, f"row cut by the unclosed quote opened at line {start}")
                continue
            if len(cells) > ncols:
                extra = cells[ncols:]
                if any(c.strip() for c in extra):
                    yield start, _err(row_id, f"{len(cells) - ncols} extra cell(s) beyond the {ncols} header columns")
                    continue
                cells = cells[:ncols]
            if len(cells) < ncols:
                cells = cells + [""] * (ncols - len(cells))
            yield start, {h: c for h, c in zip(header, cells) if h}


def _parse_line(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return []


def _runaway_quote(cells: list[str], header: list[str], delimiter: str, span: int) -> tuple[str, list[tuple[int, str]]] | None:
    """Detect a quoted field that swallowed following rows: multi-line cells whose lines parse as rows."""
    if span < 1:
        return None
    need = max(2, len(header) - 1)
    for i, cell in enumerate(cells):
        if "\n" not in cell:
            continue
        lines = cell.split("\n")
        embedded = [(k, ln.rstrip("\r")) for k, ln in enumerate(lines[1:], start=1) if ln.strip()]
        rowlike = [1 for _, ln in embedded if len(_parse_line(ln, delimiter)) >= need]
        if rowlike:
            col = header[i] if i < len(header) else f"column {i + 1}"
            return col, embedded
    return None


def _recovered_row(line: str, header: list[str], delimiter: str, lineno: int, opened: int) -> Iterator[tuple[int, dict | ItemError]]:
    cells = _parse_line(line, delimiter)
    if len(cells) == len(header):
        yield lineno, {h: c for h, c in zip(header, cells) if h}
    else:
        rid = cells[0].strip()[:80] if cells else ""
        yield lineno, _err(rid or f"line {lineno}", f"row swallowed by the unclosed quote opened at line {opened} "
                                                    f"and not recoverable ({len(cells)} cells)")


# ------------------------------------------------------------------------------------------------
# Validating one row
# ------------------------------------------------------------------------------------------------
def _clean_id(raw: Any) -> str:
    if raw is None or raw == "":
        raise BadInput("missing id")
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise BadInput(f"id must be a string or an integer, got {type(raw).__name__}")
    pid = str(raw).strip()
    if not pid:
        raise BadInput("missing id")
    if len(pid) > 200:
        raise BadInput(f"id is {len(pid)} characters (limit 200)")
    if any(ch in pid for ch in "/\\") or any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F or 0xD800 <= ord(ch) <= 0xDFFF for ch in pid):
        raise BadInput(f"invalid id {pid[:40]!r} (no slashes or control characters)")
    return pid


def row_id(row: dict) -> str:
    """The row's id as stored, or '' when it has none usable (validation reports why)."""
    try:
        return _clean_id(row.get("id"))
    except BadInput:
        return ""


def _parse_price(raw: Any) -> float | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or isinstance(raw, (dict, list)):
        raise BadInput(f"price must be a number, got {type(raw).__name__}")
    if isinstance(raw, str):
        text = raw.replace(",", "").replace("¥", "").replace("￥", "").replace("₹", "").strip()
        if len(text) > 40:
            raise BadInput(f"price text is {len(text)} characters long; not a price")
        try:
            price = float(text)
        except ValueError:
            raise BadInput(f"price is not a number: {raw[:40]!r}") from None
    else:
        try:
            price = float(raw)
        except (OverflowError, ValueError):
            raise BadInput("price is out of range") from None
    if not math.isfinite(price):
        raise BadInput(f"price must be a finite number, got {str(raw)[:40]!r}")
    if price < 0:
        raise BadInput(f"price must be non-negative, got {price}")
    return price


_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text(field: str, value: Any, limits: IngestLimits) -> str:
    """A stored text value: bounded, valid Unicode, invisible control characters removed."""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    text = "" if value is None else str(value)
    if len(text) > limits.max_field_chars:
        raise BadInput(f"field {field!r} is {len(text)} characters (limit {limits.max_field_chars})")
    if _SURROGATE.search(text):
        raise BadInput(f"field {field!r} holds invalid Unicode (a lone surrogate such as \\ud800)")
    return _CONTROL.sub("", text)


def _flatten(prefix: str, value: Any, out: dict[str, Any], depth: int) -> None:
    if isinstance(value, dict) and depth < 3:
        for k, v in value.items():
            _flatten(f"{prefix}.{k}", v, out, depth + 1)
    else:
        out[prefix] = value


def row_to_product(row: dict, lineno: int = 0, *, limits: IngestLimits | None = None,
                   skip_attributes: set[str] | frozenset = frozenset()) -> Product:
    """Validate one (already mapped) row into a Product (image resolved later). Raises BadInput."""
    limits = limits or IngestLimits()
    pid = _clean_id(row.get("id"))
    title = _text("title", row.get("title"), limits).strip()
    if not title:
        raise BadInput("missing title")
    price = _parse_price(row.get("price"))
    description = _text("description", row.get("description"), limits)
    category = _text("category", row.get("category"), limits).strip() or None
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if key is None or key in CORE_FIELDS or value is None:
            continue
        _flatten(str(key).strip(), value, flat, 1)
    attributes: dict[str, str] = {}
    for key, value in flat.items():
        if key in skip_attributes or not key:
            continue
        text = _text(key, value, limits).strip()
        if text:
            attributes[key] = text
    if len(attributes) > limits.max_attributes:
        raise BadInput(f"{len(attributes)} attributes (limit {limits.max_attributes})")
    return Product(id=pid, title=title, description=description, price=price, category=category, attributes=attributes)


def _row_hash(row: dict) -> str:
    text = json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# ------------------------------------------------------------------------------------------------
# Finding image bytes
# ------------------------------------------------------------------------------------------------
def _unsafe_ref(ref: str) -> bool:
    """An absolute path, a drive, a home reference or a parent step: names a place, not an upload."""
    p = PurePosixPath(ref.replace("\\", "/"))
    return p.is_absolute() or ".." in p.parts or ref.startswith("~") or (len(ref) > 1 and ref[1] == ":")


def _within(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def read_confined(path: Path, roots: list[Path] | None, max_bytes: int) -> bytes:
    """Read a regular file after resolving it (symlinks too) and checking it lies under `roots`.

    Nothing is opened before the check; FIFOs, devices and directories are refused; the read is
    bounded by `max_bytes`. `roots=None` means no confinement (CLI `--allow-outside`).
    """
    try:
        resolved = Path(os.path.realpath(path, strict=True))
    except RuntimeError:
        raise BadInput("symlink loop in the image path") from None
    except FileNotFoundError:
        raise BadInput("image file missing") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BadInput("symlink loop in the image path") from None
        raise BadInput(f"image path not usable: {exc.strerror or exc}") from None
    if roots is not None and not _within(resolved, roots):
        raise BadInput("image path is outside the allowed folders (the catalog's folder and --images); "
                       "nothing was read (use --allow-outside to permit)")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(resolved, flags)
    except OSError as exc:
        raise BadInput(f"image file not readable: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BadInput("image path is not a regular file")
        if st.st_size > max_bytes:
            raise BadInput(f"file too large: {st.st_size} bytes > limit {max_bytes}")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                raise BadInput(f"file too large: more than {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class ImageSource:
    """Finds a product's image bytes: the row's `image` path, a folder, a tar, or a URL.

    `allow_paths=False` (API uploads) means the catalog may not name files at all: images come
    only from the uploaded folder or tar (matched by file name or id) or, when enabled, URLs.
    Otherwise paths are confined to `roots` (default: the catalog's folder and `images`).
    """

    def __init__(self, catalog_path: Path, images: Path | None, *, limits: IngestLimits | None = None,
                 allow_paths: bool = True, allow_outside: bool = False, roots: list[Path] | None = None) -> None:
        self.limits = limits or IngestLimits()
        self.base = Path(catalog_path).resolve().parent
        self.images = Path(images) if images is not None else None
        self.allow_paths = allow_paths
        self.notes: list[ItemError] = []  # archive-level problems (unsafe members, truncation)
        if allow_outside:
            self.roots: list[Path] | None = None
        else:
            base_roots = roots if roots is not None else [self.base] + ([self.images] if self.images else [])
            self.roots = [Path(os.path.realpath(r)) for r in base_roots]
        self._tar: tarfile.TarFile | None = None
        self._tar_index: dict[str, tarfile.TarInfo] = {}
        self._folder_index: dict[str, str] | None = None
        self._tar_error: str | None = None
        tar_candidate = self.images
        if self.images is None and allow_paths and (self.base / "images.tar").is_file():
            tar_candidate = self.base / "images.tar"
        if tar_candidate is not None and tar_candidate.is_file():
            self._open_tar(tar_candidate)
        elif self.images is not None and not self.images.is_dir():
            raise BadInput(f"{self.images}: images must be a folder or a .tar archive")

    # -- tar -----------------------------------------------------------------------------------
    def _open_tar(self, path: Path) -> None:
        try:
            self._tar = tarfile.open(path, "r:*")
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            # The text rows are still worth storing: each row reports the missing image instead.
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[-1].strip(" -")[:160]
            self._tar_error = f"the images archive {path.name} is not a readable tar ({detail})"
            self.notes.append(_err(path.name, self._tar_error, "images"))
            return
        count = 0
        try:
            for member in self._tar:
                count += 1
                if count > self.limits.max_tar_members:
                    self.notes.append(_err(path.name, f"more than {self.limits.max_tar_members} members; the rest are ignored", "images"))
                    break
                name = member.name
                if _unsafe_ref(name):
                    self.notes.append(_err(name[:200], "tar member with an absolute or '..' name ignored", "images"))
                    continue
                if member.issym() or member.islnk():
                    self.notes.append(_err(name[:200], "tar link member ignored (links are never followed)", "images"))
                    continue
                if not member.isfile():
                    if not member.isdir():
                        self.notes.append(_err(name[:200], "tar member is not a regular file; ignored", "images"))
                    continue
                key = name[2:] if name.startswith("./") else name
                self._tar_index[key] = member
                self._tar_index.setdefault(_stem_key(name), member)
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            self.notes.append(_err(path.name, f"images tar is damaged after {count} member(s) ({exc}); "
                                              "images past that point are missing", "images"))

    def _read_tar(self, product_id: str, image_ref: str | None) -> bytes:
        assert self._tar is not None
        member = None
        if image_ref:
            key = image_ref[2:] if image_ref.startswith("./") else image_ref
            member = self._tar_index.get(key) or self._tar_index.get(_stem_key(image_ref))
        member = member or self._tar_index.get(product_id)
        if member is None:
            raise BadInput(f"image not found in the images tar (ref {image_ref!r})")
        if member.size > self.limits.max_bytes:
            raise BadInput(f"file too large: {member.size} bytes > limit {self.limits.max_bytes}")
        try:
            fh = self._tar.extractfile(member)
            if fh is None:
                raise BadInput("image entry in tar is not a regular file")
            data = fh.read(self.limits.max_bytes + 1)
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise BadInput(f"image data in the tar is truncated or corrupt ({exc})") from None
        if len(data) != member.size:
            raise BadInput("image data in the tar is truncated")
        return data

    # -- folder --------------------------------------------------------------------------------
    def _read_folder(self, product_id: str, image_ref: str | None) -> bytes:
        assert self.images is not None
        if self._folder_index is None:
            self._folder_index = {}
            for entry in os.scandir(self.images):
                if entry.name.lower().endswith(IMAGE_EXTS):
                    self._folder_index.setdefault(entry.name, entry.name)
                    self._folder_index.setdefault(Path(entry.name).stem, entry.name)
        name = None
        if image_ref:
            name = self._folder_index.get(PurePosixPath(image_ref.replace("\\", "/")).name)
        name = name or self._folder_index.get(product_id)
        if name is None:
            raise BadInput(f"image not found in the images folder (ref {image_ref!r})")
        return read_confined(self.images / name, self.roots if self.roots is not None else None, self.limits.max_bytes)

    # -- public --------------------------------------------------------------------------------
    def has_source(self) -> bool:
        """True when images could come from somewhere other than the row (folder or tar)."""
        return self._tar is not None or self._tar_error is not None or (self.images is not None and self.images.is_dir())

    def read(self, product_id: str, image_ref: str | None) -> bytes:
        """Return the raw bytes or raise BadInput(reason)."""
        if image_ref and "://" in image_ref[:16]:
            scheme = image_ref.split("://", 1)[0].lower()
            if scheme not in {"http", "https"}:
                raise BadInput(f"unsupported image reference scheme {scheme!r}")
            if not self.limits.allow_urls:
                raise BadInput("image URLs are disabled (enable the ingest_allow_urls setting)")
            return fetch_image_url(image_ref, max_bytes=self.limits.max_bytes, timeout=self.limits.url_timeout,
                                   allow_private=self.limits.allow_private_urls)
        if image_ref and not self.allow_paths and _unsafe_ref(image_ref):
            raise BadInput("the image column names a server path; upload the image (or a tar) instead — nothing was read")
        if self._tar_error:
            raise BadInput(self._tar_error)
        if self._tar is not None:
            return self._read_tar(product_id, image_ref)
        if self.images is not None:
            return self._read_folder(product_id, image_ref)
        if not image_ref:
            raise BadInput("no image given")
        if not self.allow_paths:
            raise BadInput("no uploaded image matches this row (upload image files or a tar)")
        candidate = Path(os.path.expanduser(image_ref)) if image_ref.startswith("~") else Path(image_ref)
        if not candidate.is_absolute():
            candidate = self.base / candidate
        return read_confined(candidate, self.roots, self.limits.max_bytes)

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()


def _stem_key(name: str) -> str:
    return PurePosixPath(name).stem


# ------------------------------------------------------------------------------------------------
# The import
# ------------------------------------------------------------------------------------------------
def ingest_catalog(
    store: CatalogStore,
    catalog_path: Path,
    *,
    images: Path | None = None,
    batch_size: int = 500,
    errors_file: Path | None = None,
    progress: ProgressFn | None = None,
    limit: int | None = None,
    mapping: dict[str, str] | None = None,
    allow_outside: bool = False,
    allow_paths: bool = True,
    limits: IngestLimits | None = None,
) -> IngestReport:
    """Import a catalog file into the store. Never raises for a bad row; raises BadInput for a bad file.

    `mapping` maps product fields to record paths (`{"price": "price.current"}`); `allow_paths=False`
    is the API mode (the catalog may not name server files); `allow_outside` lifts the CLI's
    confinement of image paths to the catalog's folder and `images`.
    """
    catalog_path = Path(catalog_path)
    if not catalog_path.is_file():
        raise BadInput(f"catalog file not found: {catalog_path}")
    started = time.perf_counter()
    run_id = uuid.uuid4().hex[:12]
    limits = limits or IngestLimits.from_settings(store.settings)
    encoding = detect_encoding(catalog_path)
    report = IngestReport(source=str(catalog_path), encoding=encoding.label)
    errors_path = errors_file or store.settings.home / "errors" / f"ingest-{time.strftime('%Y%m%d-%H%M%S')}-{run_id}.jsonl"
    id_columns = (mapping["id"],) if mapping and "id" in mapping else AUTO_CANDIDATES["id"]
    rows = read_rows(catalog_path, limits=limits, encoding=encoding, id_columns=id_columns)
    mapper = ColumnMapper(mapping)
    source = ImageSource(catalog_path, images, limits=limits, allow_paths=allow_paths, allow_outside=allow_outside)
    report.errors.extend(source.notes)
    seen_ids: set[str] = set()
    batch: list[tuple[int, dict, set[str]]] = []

    def flush() -> None:
        if batch:
            _ingest_batch(store, batch, source, limits, report, str(catalog_path))
            if progress:
                progress(len(batch))
            batch.clear()

    try:
        for lineno, row in rows:
            if limit is not None and report.rows_seen >= limit:
                break
            report.rows_seen += 1
            if isinstance(row, ItemError):
                report.failed += 1
                report.errors.append(row)
                continue
            try:
                mapped, consumed = mapper.apply(row)
                pid = row_id(mapped)
            except Exception as exc:  # noqa: BLE001 - one bad row never stops the file
                report.failed += 1
                report.errors.append(_err(f"line {lineno}", f"cannot read row: {type(exc).__name__}: {exc}"[:300], "validate"))
                continue
            if pid and pid in seen_ids:
                report.failed += 1
                report.errors.append(_err(pid, f"duplicate id (line {lineno}); the first occurrence was kept", "validate"))
                continue
            if pid:
                seen_ids.add(pid)
            batch.append((lineno, mapped, consumed))
            if len(batch) >= batch_size:
                flush()
        flush()
    finally:
        source.close()
        report.mapping = mapper.summary()
        store.record_errors(run_id, report.errors)
        if report.errors:
            errors_path.parent.mkdir(parents=True, exist_ok=True)
            with errors_path.open("w", encoding="utf-8", errors="backslashreplace") as fh:
                for err in report.errors:
                    fh.write(err.model_dump_json() + "\n")
            report.errors_file = str(errors_path)
        report.seconds = round(time.perf_counter() - started, 3)
    return report


def _ingest_batch(store: CatalogStore, batch, source: ImageSource, limits: IngestLimits, report: IngestReport,
                  source_name: str) -> None:
    known = store.row_hashes(row_id(row) for _, row, _ in batch)
    ready: list[tuple[Product, str, str]] = []
    for lineno, row, consumed in batch:
        pid = row_id(row)
        try:
            row_hash = _row_hash(row)
            if pid and known.get(pid) == row_hash:
                report.skipped_existing += 1
                continue
            product = row_to_product(row, lineno, limits=limits, skip_attributes=consumed)
        except BadInput as exc:
            report.failed += 1
            report.errors.append(_err(pid or f"line {lineno}", exc.message, "validate"))
            continue
        except Exception as exc:  # noqa: BLE001 - any row-level failure is reported, never fatal
            report.failed += 1
            report.errors.append(_err(pid or f"line {lineno}", f"cannot read row: {type(exc).__name__}: {exc}"[:300], "validate"))
            continue
        raw_ref = row.get("image")
        image_ref = str(raw_ref).strip() if isinstance(raw_ref, (str, int)) and not isinstance(raw_ref, bool) else None
        image_ref = image_ref or None
        try:
            data = source.read(product.id, image_ref)
            decoded = decode_image_bytes(data, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels)
            product.image_sha256 = decoded.sha256
            product.image_path = store.save_image_bytes(data, decoded.sha256, decoded.format)
        except Exception as exc:  # noqa: BLE001 - the text row is still useful; the image problem is reported
            reason = exc.message if isinstance(exc, BadInput) else f"read error: {type(exc).__name__}: {exc}"
            report.errors.append(_err(product.id, reason[:300], "image"))
            if image_ref or source.has_source():
                # Store the row but keep it out of the "already in" skip, so a fixed image is picked up.
                row_hash = RETRY_PREFIX + row_hash
        ready.append((product, row_hash, source_name))
    if not ready:
        return
    try:
        store.upsert_products(ready)
        report.ingested += len(ready)
    except sqlite3.Error:
        # One row the database refuses must not take its batch with it: retry row by row.
        for item in ready:
            try:
                store.upsert_products([item])
                report.ingested += 1
            except sqlite3.Error as exc:
                report.failed += 1
                report.errors.append(_err(item[0].id, f"database refused the row: {exc}"[:300], "store"))
