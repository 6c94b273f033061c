"""Catalog import: CSV or JSON lines + images (paths, a folder, or a tar keyed by id).

Streams rows in batches (bounded memory), commits each batch atomically, skips rows already
ingested with the same content (so re-running resumes), and reports every bad row or image with
its id and reason — in the returned report, in the database and in a JSON-lines errors file.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from shopmind.catalog.images import decode_image_bytes
from shopmind.catalog.store import CatalogStore
from shopmind.domain import IngestReport, ItemError, Product
from shopmind.errors import BadInput

CORE_FIELDS = {"id", "title", "description", "price", "category", "image"}
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")
MAX_FIELD_CHARS = 20_000

ProgressFn = Callable[[int], None]


def read_rows(path: Path) -> Iterator[tuple[int, dict | ItemError]]:
    """Yield (line number, row dict) — or an ItemError for a row that cannot be parsed at all."""
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        with path.open(encoding="utf-8-sig", errors="replace") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield lineno, ItemError(item=f"line {lineno}", stage="parse", reason=f"invalid JSON: {exc.msg}")
                    continue
                if not isinstance(row, dict):
                    yield lineno, ItemError(item=f"line {lineno}", stage="parse", reason="row is not a JSON object")
                    continue
                yield lineno, row
    elif suffix in {".csv", ".tsv"}:
        csv.field_size_limit(10 * MAX_FIELD_CHARS)
        with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ",")
            if not reader.fieldnames or "id" not in reader.fieldnames:
                raise BadInput(f"{path}: the header must have an 'id' column (got {reader.fieldnames})")
            for row in reader:
                lineno = reader.line_num
                if None in row:  # more cells than header columns
                    yield lineno, ItemError(item=str(row.get("id") or f"line {lineno}"), stage="parse",
                                            reason=f"{len(row[None])} extra cell(s) beyond the header")
                    continue
                yield lineno, row
    else:
        raise BadInput(f"{path}: unsupported catalog format {suffix!r} (use .csv, .tsv or .jsonl)")


def row_to_product(row: dict, lineno: int) -> Product:
    """Validate one raw row into a Product (image resolved later). Raises BadInput with the reason."""
    pid = str(row.get("id") or "").strip()
    if not pid:
        raise BadInput("missing id")
    if len(pid) > 200 or any(ch in pid for ch in "\n\r\t/\\"):
        raise BadInput(f"invalid id {pid[:40]!r}")
    title = str(row.get("title") or "").strip()
    if not title:
        raise BadInput("missing title")
    price_raw = row.get("price")
    price: float | None = None
    if price_raw not in (None, ""):
        try:
            price = float(str(price_raw).replace(",", "").replace("¥", "").replace("￥", "").strip())
        except ValueError:
            raise BadInput(f"price is not a number: {str(price_raw)[:40]!r}") from None
        if price != price or price < 0:
            raise BadInput(f"price must be a non-negative number, got {price_raw!r}")
    attributes: dict[str, str] = {}
    for key, value in row.items():
        if key is None or key in CORE_FIELDS or value is None:
            continue
        if isinstance(value, (dict, list)):
            value = json.dumps(value, ensure_ascii=False)
        text = str(value).strip()
        if text:
            attributes[str(key).strip()] = text[:MAX_FIELD_CHARS]
    return Product(
        id=pid,
        title=title[:MAX_FIELD_CHARS],
        description=str(row.get("description") or "")[:MAX_FIELD_CHARS],
        price=price,
        category=(str(row["category"]).strip() or None) if row.get("category") else None,
        attributes=attributes,
    )


def _row_hash(row: dict) -> str:
    return hashlib.sha256(json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


class ImageSource:
    """Finds a product's image bytes: the row's `image` path, a folder, or a tar (indexed once)."""

    def __init__(self, catalog_path: Path, images: Path | None) -> None:
        self.base = catalog_path.parent
        self.images = images
        self._tar: tarfile.TarFile | None = None
        self._tar_index: dict[str, tarfile.TarInfo] = {}
        self._folder_index: dict[str, Path] | None = None
        tar_candidate = images if images is not None else None
        if images is None and (self.base / "images.tar").is_file():
            tar_candidate = self.base / "images.tar"
        if tar_candidate is not None and tar_candidate.is_file():
            try:
                self._tar = tarfile.open(tar_candidate)
            except (tarfile.TarError, OSError) as exc:
                raise BadInput(f"{tar_candidate}: not a readable tar archive ({exc})") from None
            for member in self._tar:
                if member.isfile():
                    self._tar_index[member.name.lstrip("./")] = member
                    self._tar_index.setdefault(_stem_key(member.name), member)
        elif images is not None and not images.is_dir():
            raise BadInput(f"{images}: images must be a folder or a .tar archive")

    def read(self, product_id: str, image_ref: str | None, max_bytes: int) -> bytes:
        """Return the raw bytes or raise BadInput(reason)."""
        if self._tar is not None:
            member = None
            if image_ref:
                member = self._tar_index.get(image_ref.lstrip("./")) or self._tar_index.get(_stem_key(image_ref))
            member = member or self._tar_index.get(product_id)
            if member is None:
                raise BadInput(f"image not found in tar (ref {image_ref!r})")
            if member.size > max_bytes:
                raise BadInput(f"file too large: {member.size} bytes > limit {max_bytes}")
            fh = self._tar.extractfile(member)
            if fh is None:
                raise BadInput("image entry in tar is not a regular file")
            return fh.read()
        path = self._resolve_path(product_id, image_ref)
        if path is None:
            raise BadInput(f"image file missing (ref {image_ref!r})" if image_ref else "no image given")
        size = path.stat().st_size
        if size > max_bytes:
            raise BadInput(f"file too large: {size} bytes > limit {max_bytes}")
        return path.read_bytes()

    def _resolve_path(self, product_id: str, image_ref: str | None) -> Path | None:
        if self.images is not None and self.images.is_dir():
            if self._folder_index is None:
                self._folder_index = {}
                for entry in os.scandir(self.images):
                    if entry.is_file() and entry.name.lower().endswith(IMAGE_EXTS):
                        self._folder_index.setdefault(Path(entry.name).stem, Path(entry.path))
            if image_ref:
                candidate = self.images / PurePosixPath(image_ref).name
                if candidate.is_file():
                    return candidate
            return self._folder_index.get(product_id)
        if image_ref:
            candidate = Path(image_ref)
            if not candidate.is_absolute():
                candidate = (self.base / candidate).resolve()
            return candidate if candidate.is_file() else None
        return None

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()


def _stem_key(name: str) -> str:
    return PurePosixPath(name).stem


def ingest_catalog(
    store: CatalogStore,
    catalog_path: Path,
    *,
    images: Path | None = None,
    batch_size: int = 500,
    errors_file: Path | None = None,
    progress: ProgressFn | None = None,
    limit: int | None = None,
) -> IngestReport:
    """Import a catalog file into the store. Never raises for a bad row; raises BadInput for a bad file."""
    catalog_path = Path(catalog_path)
    if not catalog_path.is_file():
        raise BadInput(f"catalog file not found: {catalog_path}")
    started = time.perf_counter()
    run_id = uuid.uuid4().hex[:12]
    report = IngestReport(source=str(catalog_path))
    errors_path = errors_file or store.settings.home / "errors" / f"ingest-{time.strftime('%Y%m%d-%H%M%S')}-{run_id}.jsonl"
    source = ImageSource(catalog_path, images)
    limits = {"max_bytes": store.settings.max_image_bytes, "max_pixels": store.settings.max_image_pixels}
    seen_ids: set[str] = set()
    batch: list[tuple[int, dict]] = []

    def flush() -> None:
        if batch:
            _ingest_batch(store, batch, source, limits, report, str(catalog_path), run_id)
            if progress:
                progress(len(batch))
            batch.clear()

    try:
        for lineno, row in read_rows(catalog_path):
            if limit is not None and report.rows_seen >= limit:
                break
            report.rows_seen += 1
            if isinstance(row, ItemError):
                report.failed += 1
                report.errors.append(row)
                continue
            pid = str(row.get("id") or "").strip()
            if pid and pid in seen_ids:
                report.failed += 1
                report.errors.append(ItemError(item=pid, stage="validate", reason=f"duplicate id (line {lineno})"))
                continue
            seen_ids.add(pid)
            batch.append((lineno, row))
            if len(batch) >= batch_size:
                flush()
        flush()
    finally:
        source.close()
        store.record_errors(run_id, report.errors)
        if report.errors:
            errors_path.parent.mkdir(parents=True, exist_ok=True)
            with errors_path.open("w", encoding="utf-8") as fh:
                for err in report.errors:
                    fh.write(err.model_dump_json() + "\n")
            report.errors_file = str(errors_path)
        report.seconds = round(time.perf_counter() - started, 3)
    return report


def _ingest_batch(store, batch, source, limits, report, source_name, run_id) -> None:
    known = store.row_hashes(str(row.get("id") or "").strip() for _, row in batch)
    ready: list[tuple[Product, str, str]] = []
    for lineno, row in batch:
        row_hash = _row_hash(row)
        pid = str(row.get("id") or "").strip()
        if known.get(pid) == row_hash:
            report.skipped_existing += 1
            continue
        try:
            product = row_to_product(row, lineno)
        except BadInput as exc:
            report.failed += 1
            report.errors.append(ItemError(item=pid or f"line {lineno}", stage="validate", reason=exc.message))
            continue
        image_ref = str(row.get("image") or "").strip() or None
        try:
            data = source.read(product.id, image_ref, limits["max_bytes"])
            decoded = decode_image_bytes(data, **limits)
            product.image_sha256 = decoded.sha256
            product.image_path = store.save_image_bytes(data, decoded.sha256, decoded.format)
        except BadInput as exc:
            # The text row is still useful for search; the image problem is reported, not fatal.
            report.errors.append(ItemError(item=product.id, stage="image", reason=exc.message))
        except OSError as exc:
            report.errors.append(ItemError(item=product.id, stage="image", reason=f"read error: {exc}"))
        ready.append((product, row_hash, source_name))
    if ready:
        store.upsert_products(ready)
        report.ingested += len(ready)
