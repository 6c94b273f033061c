"""Catalog workflows written once: tag (embed → tag → OCR → index) and fit (train → re-tag → re-index).

Each takes a `progress(stage, done, total)` callback so the CLI can draw bars and a job can
record progress (and be cancelled from it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

StageProgress = Callable[[str, int, int], None]
MAX_JOB_ERRORS = 200


def _quiet(stage: str, done: int, total: int) -> None:
    return None


def _counter(progress: StageProgress, stage: str, total: int) -> Callable[[int], None]:
    """Adapt a capability's `advance(n)` callback to `progress(stage, done, total)`."""
    done = 0
    progress(stage, 0, total)

    def advance(n: int = 1) -> None:
        nonlocal done
        done += n
        progress(stage, done, total)

    return advance


def tag_catalog(store, *, ids: list[str] | None = None, ocr: bool = False, index: bool = True,
                progress: StageProgress | None = None) -> dict[str, Any]:
    """Embed images not yet embedded, tag, optionally OCR, then (re)index. Resumable: each step skips done work."""
    from shopmind.understand.features import embed_products
    from shopmind.understand.tagging import tag_products

    progress = progress or _quiet
    todo = len(ids) if ids is not None else len(store.ids_missing_features(store.settings.image_encoder))
    done, errors = embed_products(store, ids=ids, progress=_counter(progress, "embed images", todo))
    summary: dict[str, Any] = {"embedded": done, "embed_errors": [e.model_dump() for e in errors]}
    n = len(ids) if ids is not None else store.conn().execute("SELECT COUNT(*) FROM image_features").fetchone()[0]
    summary["tagged"] = tag_products(store, ids=ids, progress=_counter(progress, "tag", n))
    if ocr:
        summary["ocr"] = ocr_catalog(store, ids=ids, progress=progress)
    if index:
        summary["index"] = index_catalog(store, progress=progress)
    return summary


def ocr_catalog(store, *, ids: list[str] | None = None, limit: int | None = None,
                progress: StageProgress | None = None) -> dict[str, Any]:
    from shopmind.understand.ocr_pass import run_ocr

    progress = progress or _quiet
    missing = len(store.ids_missing_ocr()) if ids is None else len(ids)
    todo = missing if limit is None else min(limit, missing)
    stats = run_ocr(store, ids=ids, limit=limit, progress=_counter(progress, "ocr (gated)", todo))
    stats["errors"] = [e.model_dump() for e in stats["errors"]]
    return stats


def index_catalog(store, *, progress: StageProgress | None = None) -> dict[str, Any]:
    from shopmind.search.indexer import build_indexes

    progress = progress or _quiet
    return build_indexes(store, progress=lambda channel, done, total: progress(f"index {channel}", done, total))


def fit_and_refresh(store, *, seed: int = 0, epochs: int = 40, tagger_epochs: int = 25, exclude_ids: set[str] | None = None,
                    fields: list[str] | None = None, progress: StageProgress | None = None) -> dict[str, Any]:
    """Train the alignment head and taggers, then re-tag with them and re-index image vectors."""
    from shopmind.understand.fitting import fit_catalog
    from shopmind.understand.tagging import tag_products

    progress = progress or _quiet
    advance = _counter(progress, "fit (epochs)", epochs)
    report = fit_catalog(store, exclude_ids=exclude_ids or set(), fields=fields or None, seed=seed, epochs=epochs,
                         tagger_epochs=tagger_epochs, progress=lambda epoch, loss: advance(1))
    n = store.conn().execute("SELECT COUNT(*) FROM image_features").fetchone()[0]
    report["retagged"] = tag_products(store, progress=_counter(progress, "re-tag", n))
    report["index"] = index_catalog(store, progress=progress)
    return report


def count_catalog_rows(path: Path) -> int:
    """Lines in a catalog file, less a CSV/TSV header: an upper bound on its rows, read in 1 MiB blocks."""
    lines = 0
    last = b"\n"
    with Path(path).open("rb") as fh:
        while block := fh.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    lines += last != b"\n"
    return max(lines - (1 if Path(path).suffix.lower() in {".csv", ".tsv"} else 0), 0)


# ------------------------------------------------------------------------------------------ as jobs
def _job_store(ctx):
    """The store of the app the job runner holds (the server's own)."""
    return ctx.app.store


def _ingest_job(params: dict[str, Any], ctx) -> dict[str, Any]:
    from shopmind.catalog.ingest import ingest_catalog

    catalog = Path(params["catalog"])
    total = count_catalog_rows(catalog)
    images = Path(params["images"]) if params.get("images") else None
    advance = _counter(ctx.progress, "ingest", total)
    # Jobs ingest API uploads only: the catalog may not name server files (images come from the upload).
    report = ingest_catalog(_job_store(ctx), catalog, images=images, progress=advance, allow_paths=False).model_dump(mode="json")
    errors = report.get("errors") or []
    if len(errors) > MAX_JOB_ERRORS:  # the job row keeps a sample; the store's item_errors table keeps them all
        report["errors"], report["errors_omitted"] = errors[:MAX_JOB_ERRORS], len(errors) - MAX_JOB_ERRORS
    return report


def _cleanup_upload(params: dict[str, Any]) -> None:
    """Uploaded files live in $SHOPMIND_HOME/uploads/<id>/ until their job has finished."""
    import shutil

    from shopmind.config import get_settings

    folder = Path(params.get("upload_dir") or "")
    uploads = (get_settings().home / "uploads").resolve()
    if folder.is_dir() and folder.resolve().parent == uploads:
        shutil.rmtree(folder, ignore_errors=True)


def _tag_job(params: dict[str, Any], ctx) -> dict[str, Any]:
    return tag_catalog(_job_store(ctx), ids=params.get("ids"), ocr=bool(params.get("ocr")),
                       index=bool(params.get("index", True)), progress=ctx.progress)


def _fit_job(params: dict[str, Any], ctx) -> dict[str, Any]:
    return fit_and_refresh(_job_store(ctx), seed=int(params.get("seed", 0)), epochs=int(params.get("epochs", 40)),
                           tagger_epochs=int(params.get("tagger_epochs", 25)),
                           exclude_ids=set(params.get("exclude_ids") or ()), fields=params.get("fields") or None,
                           progress=ctx.progress)


def _index_job(params: dict[str, Any], ctx) -> dict[str, Any]:
    return index_catalog(_job_store(ctx), progress=ctx.progress)


def _ocr_job(params: dict[str, Any], ctx) -> dict[str, Any]:
    return ocr_catalog(_job_store(ctx), ids=params.get("ids"), limit=params.get("limit"), progress=ctx.progress)


def catalog_job_kinds() -> dict:
    """The catalog operations that run as jobs. All are safe to re-run after a crash: each skips done work
    (ingest by content hash, tag/OCR by what is stored, index incrementally); fit retrains from scratch."""
    from shopmind.ops.jobs import JobKind

    return {
        "ingest": JobKind(_ingest_job, cleanup=_cleanup_upload, description="import an uploaded catalog"),
        "tag": JobKind(_tag_job, description="embed, tag (+OCR) and index"),
        "ocr": JobKind(_ocr_job, description="read text on product images"),
        "fit": JobKind(_fit_job, description="train the alignment head and taggers, re-tag, re-index"),
        "index": JobKind(_index_job, description="(re)build the search indexes"),
    }
