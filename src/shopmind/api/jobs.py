"""Job routes: start a long operation (ingest an upload, tag, ocr, fit, index), watch it, cancel it.

`POST /jobs/{kind}` answers 202 with the job at once; the work runs on the runner thread that the
app's lifespan starts (`start_runner`). `GET /jobs/{id}` shows progress; `POST /jobs/{id}/cancel` stops it.
Clients never name server paths: an ingest job's catalog arrives as an upload and is kept under
`$SHOPMIND_HOME/uploads/<id>/` until the job ends.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from shopmind.api.errors import ERROR_RESPONSES
from shopmind.config import Settings
from shopmind.errors import BadInput
from shopmind.ops.jobs import Job, JobRunner, JobStore

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=ERROR_RESPONSES)
CATALOG_SUFFIXES = {".csv", ".tsv", ".jsonl", ".ndjson", ".json"}


def start_runner(settings: Settings, app: Any = None) -> JobRunner:
    """The runner for this server: re-queues interrupted jobs, then works through the queue on `app`
    (the server's `Shopmind`; jobs then share its store and image space)."""
    from shopmind.ops.catalog import catalog_job_kinds
    from shopmind.ops.media import media_job_kinds

    kinds = {**catalog_job_kinds(), **media_job_kinds()}
    return JobRunner(JobStore.for_home(settings.home), kinds, workers=settings.jobs_workers, app=app).start()


def _jobs(request: Request) -> JobStore:
    """The job table of the home this app (and its runner) was built for."""
    from shopmind.api.limits import app_settings

    return JobStore.for_home(app_settings(request).home)


def _submit(request: Request, kind: str, params: dict) -> Job:
    job = _jobs(request).create(kind, params)
    runner = getattr(request.app.state, "job_runner", None)
    if runner is not None:
        runner.wake()
    return job


class TagJob(BaseModel):
    ids: list[str] | None = Field(None, max_length=100_000, description="Only these products (default: all not yet embedded).")
    ocr: bool = Field(False, description="Also run the gated OCR pass.")
    index: bool = Field(True, description="Rebuild the search indexes afterwards.")


class OcrJob(BaseModel):
    ids: list[str] | None = Field(None, max_length=100_000)
    limit: int | None = Field(None, ge=1, le=10_000_000, description="At most N images this run.")


class FitJob(BaseModel):
    seed: int = Field(0, ge=0, le=2**31 - 1)
    epochs: int = Field(40, ge=1, le=1000)
    tagger_epochs: int = Field(25, ge=1, le=1000)
    exclude_ids: list[str] = Field(default_factory=list, max_length=1_000_000, description="Held out of training.")
    fields: list[str] = Field(default_factory=list, max_length=100, description="Only these labelled columns.")


class IndexJob(BaseModel):
    pass


class VideoJob(BaseModel):
    product_id: str = Field(..., min_length=1, max_length=200)
    fmt: Literal["vertical", "square"] = "vertical"
    seconds: float | None = Field(None, gt=0, le=120, description="Default: as long as the narration.")
    fps: int = Field(25, ge=1, le=60)
    headline: str | None = Field(None, max_length=200, description="Override the headline (still guarded).")
    points: list[str] | None = Field(None, max_length=8, description="Selling points (still guarded).")
    copy_source: Literal["auto", "write", "template"] = Field("auto", alias="copy")
    language: Literal["zh", "en"] | None = None
    strict: bool = Field(False, description="Refuse (result.refused, no file) instead of rewriting violating copy.")

    model_config = {"populate_by_name": True}


def _save_upload_sync(src, dest: Path, limit: int) -> int:
    """Copy an upload to disk in 1 MiB blocks (runs in a worker thread, never on the event loop)."""
    written = 0
    with dest.open("wb") as out:
        while block := src.read(1 << 20):
            written += len(block)
            if written > limit:
                raise BadInput(f"upload is larger than {limit} bytes")
            out.write(block)
    return written


def _prepare_ingest(catalog: UploadFile, images: UploadFile | None, settings: Settings) -> dict:
    from shopmind.api.limits import check_catalog_rows

    suffix = Path(catalog.filename or "catalog.csv").suffix.lower()
    if suffix not in CATALOG_SUFFIXES:
        raise BadInput(f"catalog must be .csv, .tsv or .jsonl, got {suffix!r}")
    folder = settings.home / "uploads" / uuid.uuid4().hex[:16]
    folder.mkdir(parents=True)
    try:
        cat_path = folder / f"catalog{suffix}"
        _save_upload_sync(catalog.file, cat_path, settings.api_max_upload_bytes)
        rows = check_catalog_rows(cat_path, settings)
        img_path = None
        if images is not None:
            img_path = folder / "images.tar"
            _save_upload_sync(images.file, img_path, settings.api_max_upload_bytes)
    except BaseException:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        raise
    return {"catalog": str(cat_path), "images": str(img_path) if img_path else None, "upload_dir": str(folder),
            "filename": (catalog.filename or "")[:200], "rows": rows}


@router.post("/ingest", response_model=Job, status_code=202)
async def ingest_job(
    request: Request,
    catalog: UploadFile = File(..., description="CSV/TSV/JSONL catalog"),
    images: UploadFile | None = File(None, description="Optional .tar of images keyed by id"),
) -> Job:
    """Queue the import of an uploaded catalog (+ images tar); returns the job at once (202)."""
    from shopmind.api.limits import app_settings

    params = await run_in_threadpool(_prepare_ingest, catalog, images, app_settings(request))
    return await run_in_threadpool(_submit, request, "ingest", params)


@router.post("/tag", response_model=Job, status_code=202)
def tag_job(request: Request, body: TagJob) -> Job:
    """Queue embed → tag (→ OCR) → index."""
    return _submit(request, "tag", body.model_dump())


@router.post("/ocr", response_model=Job, status_code=202)
def ocr_job(request: Request, body: OcrJob) -> Job:
    """Queue the gated OCR pass."""
    return _submit(request, "ocr", body.model_dump())


@router.post("/fit", response_model=Job, status_code=202)
def fit_job(request: Request, body: FitJob) -> Job:
    """Queue training of the alignment head and taggers, then re-tag and re-index."""
    return _submit(request, "fit", body.model_dump())


@router.post("/index", response_model=Job, status_code=202)
def index_job(request: Request, body: IndexJob | None = None) -> Job:
    """Queue an (incremental) rebuild of the search indexes."""
    return _submit(request, "index", {})


@router.post("/video", response_model=Job, status_code=202)
def video_job(request: Request, body: VideoJob) -> Job:
    """Queue a narrated product video; fetch the MP4 with `GET /jobs/{id}/file` once done."""
    params = body.model_dump(by_alias=False)
    params["copy"] = params.pop("copy_source")
    return _submit(request, "video", params)


@router.get("/{job_id}/file", response_class=FileResponse,
            responses={200: {"content": {"video/mp4": {}}, "description": "The job's output file."}})
def job_file(request: Request, job_id: str) -> FileResponse:
    """The file a finished job produced (a video); 404 while it has none."""
    from shopmind.api.limits import app_settings
    from shopmind.errors import NotFound
    from shopmind.ops.media import outputs_dir

    job = _jobs(request).get(job_id)
    name = (job.result or {}).get("file") if job.status == "done" else None
    path = outputs_dir(app_settings(request)) / str(name or "")
    if not name or path.parent != outputs_dir(app_settings(request)) or not path.is_file():
        raise NotFound(f"job {job_id!r} has no output file (status {job.status})")
    return FileResponse(path, media_type="video/mp4" if path.suffix == ".mp4" else "application/octet-stream",
                        filename=path.name)


@router.get("", response_model=list[Job])
def list_jobs(request: Request,
              status: Literal["queued", "running", "done", "failed", "cancelled", "interrupted"] | None = None,
              kind: str | None = None, limit: int = 100) -> list[Job]:
    """Recent jobs, newest first."""
    if not 1 <= limit <= 1000:
        raise BadInput("limit must be between 1 and 1000")
    return _jobs(request).list(status=status, kind=kind, limit=limit)


@router.get("/{job_id}", response_model=Job)
def get_job(request: Request, job_id: str) -> Job:
    """One job: status, stage, progress/total, message, result or error."""
    return _jobs(request).get(job_id)


@router.post("/{job_id}/cancel", response_model=Job)
def cancel_job(request: Request, job_id: str) -> Job:
    """Cancel: a queued job at once, a running one at its next progress step (422 if it already finished)."""
    return _jobs(request).request_cancel(job_id)
