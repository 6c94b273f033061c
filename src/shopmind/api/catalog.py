"""Catalog, understanding and search routes: ingest (upload), product, tag, search, similar, recommend."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path, PurePosixPath
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool

from shopmind import ops
from shopmind.api.deps import get_shopmind
from shopmind.api.errors import ERROR_RESPONSES
from shopmind.app import Shopmind
from shopmind.api.limits import check_catalog_rows, check_query_length, read_upload
from shopmind.domain import IngestReport, Product, ProductTags, SearchResult
from shopmind.errors import BadInput

router = APIRouter(responses=ERROR_RESPONSES)
MAX_UPLOAD_BYTES = 512 * 1024 * 1024


class ProductView(BaseModel):
    product: Product
    tags: ProductTags | None = None


class TagRequest(BaseModel):
    ids: list[str] | None = Field(None, description="Only these products (default: every product not yet embedded).")
    ocr: bool = Field(False, description="Also run the gated OCR pass.")
    index: bool = True


class TagResponse(BaseModel):
    embedded: int
    tagged: int
    errors: list[dict] = []
    ocr: dict | None = None
    index: dict | None = None


class SearchRequest(BaseModel):
    query: str | None = Field(None, description="Text query (zh or en); at most `api_max_query_chars` (2000).",
                              examples=["红色连衣裙"])
    filters: list[str] = Field(default_factory=list, examples=[["articleType=Dresses", "price<300"]])
    k: int = Field(10, ge=1, le=1000)
    mode: Literal["hybrid", "text", "image"] = "hybrid"

    @field_validator("query")
    @classmethod
    def _bounded_query(cls, v: str | None) -> str | None:
        return check_query_length(v)


class RecommendRequest(BaseModel):
    history: list[str] = Field(..., min_length=1)
    k: int = Field(10, ge=1, le=200)
    diversity: float = Field(0.3, ge=0.0, le=1.0)


_SAFE_NAME = re.compile(r"[^\w.\-]+")


def _upload_name(filename: str | None, index: int) -> str:
    """A plain file name for an uploaded image: the client's directories and odd characters are dropped."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    name = _SAFE_NAME.sub("_", name).lstrip(".")[:120]
    return name or f"upload-{index}"


@router.post("/catalog/ingest", response_model=IngestReport, tags=["catalog"])
async def ingest_upload(
    catalog: UploadFile = File(..., description="CSV/TSV/JSONL catalog"),
    images: UploadFile | None = File(None, description="Optional .tar of images keyed by id or by the image column's file name"),
    files: list[UploadFile] | None = File(None, description="Optional image files, matched by the image column's file name or by id"),
    map: list[str] = Form(default_factory=list, description="FIELD=path.in.record, e.g. price=price.current"),  # noqa: A002
    sm: Shopmind = Depends(get_shopmind),
) -> IngestReport:
    """Upload a catalog with its images; returns the ingestion report.

    The server never opens paths named in the catalog: an `image` cell such as `/etc/passwd` or
    `../x.jpg` is rejected for its row with a reason. Images come only from this request (a tar or
    files), or from http(s) URLs when the `ingest_allow_urls` setting is on (private addresses refused).
    """
    suffix = Path(catalog.filename or "catalog.csv").suffix.lower()
    if suffix not in {".csv", ".tsv", ".jsonl", ".ndjson", ".json"}:
        raise BadInput(f"catalog must be .csv, .tsv or .jsonl, got {suffix!r}")
    from shopmind.catalog.mapping import parse_map_options

    mapping = parse_map_options(map)
    if images is not None and files:
        raise BadInput("send either an images tar or image files, not both")
    # Copying the uploads and ingesting both block: they run off the event loop (/health stays fast).
    report = await run_in_threadpool(_ingest_uploads, sm, catalog, suffix, images, files or [], mapping)
    # The client named its file; the server's temporary paths are none of its business.
    report.source = PurePosixPath((catalog.filename or "catalog").replace("\\", "/")).name
    report.errors_file = Path(report.errors_file).name if report.errors_file else None
    return report


def _save_upload(upload: UploadFile, dest: Path, limit: int) -> None:
    """Copy an upload to disk in 1 MiB blocks, refusing it once it passes `limit` bytes."""
    upload.file.seek(0)
    total = 0
    with dest.open("wb") as out:
        while block := upload.file.read(1 << 20):
            total += len(block)
            if total > limit:
                raise BadInput(f"upload {upload.filename!r} is larger than {limit} bytes")
            out.write(block)


def _ingest_uploads(sm: Shopmind, catalog: UploadFile, suffix: str, images: UploadFile | None,
                    files: list[UploadFile], mapping: dict[str, str]) -> IngestReport:
    settings = sm.settings
    upload_limit = getattr(settings, "api_max_upload_bytes", MAX_UPLOAD_BYTES)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "catalog").mkdir()
        cat_path = work / "catalog" / f"catalog{suffix}"
        _save_upload(catalog, cat_path, upload_limit)
        check_catalog_rows(cat_path, settings)  # api_max_catalog_rows: 413 before any row is read
        img_path = None
        if images is not None:
            img_path = work / "images.tar"
            _save_upload(images, img_path, upload_limit)
        elif files:
            img_path = work / "uploads"
            img_path.mkdir()
            for i, upload in enumerate(files):
                _save_upload(upload, img_path / _upload_name(upload.filename, i), settings.max_image_bytes)
        return ops.ingest(sm, cat_path, images=img_path, mapping=mapping, allow_paths=False)


@router.get("/products/{product_id}", response_model=ProductView, tags=["catalog"])
def get_product(product_id: str, sm: Shopmind = Depends(get_shopmind)) -> ProductView:
    return ProductView(**ops.product(sm, product_id))


@router.post("/tag", response_model=TagResponse, tags=["understand"])
def tag(request: TagRequest, sm: Shopmind = Depends(get_shopmind)) -> TagResponse:
    """Embed and tag products (then re-index) — the same work as `shopmind tag` (`POST /jobs/tag` runs it as a job)."""
    out = ops.tag(sm, ids=request.ids, ocr=request.ocr, index=request.index)
    return TagResponse(embedded=out["embedded"], tagged=out["tagged"], errors=out["embed_errors"], ocr=out.get("ocr"),
                       index=out.get("index"))


@router.post("/search", response_model=SearchResult, tags=["search"])
def search(request: SearchRequest, sm: Shopmind = Depends(get_shopmind)) -> SearchResult:
    """Text search (JSON body)."""
    return ops.search(sm, request.query, None, filters=request.filters, k=request.k, mode=request.mode)


@router.post("/search/image", response_model=SearchResult, tags=["search"])
async def search_image(
    image: UploadFile = File(..., description="Reference photo"),
    query: str | None = Form(None, description="Optional text to combine with the image"),
    filters: list[str] = Form(default_factory=list),
    k: int = Form(10, ge=1, le=1000),
    sm: Shopmind = Depends(get_shopmind),
) -> SearchResult:
    """Search by image, or image + text (multipart form)."""
    from shopmind.catalog.images import decode_image_bytes

    settings = sm.settings
    if query is not None and len(query) > settings.api_max_query_chars:
        raise BadInput(f"query has {len(query)} characters; at most {settings.api_max_query_chars} (api_max_query_chars)")
    data = await read_upload(image, settings.max_image_bytes)

    def work() -> SearchResult:  # decoding and the encoders are CPU work: keep them off the event loop
        decoded = decode_image_bytes(data, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)
        return ops.search(sm, query, decoded.image, filters=filters, k=k)

    return await run_in_threadpool(work)



@router.get("/products/{product_id}/similar", response_model=SearchResult, tags=["search"])
def similar(product_id: str, k: int = 10, diversity: float = 0.3, sm: Shopmind = Depends(get_shopmind)) -> SearchResult:
    return ops.similar(sm, product_id, k=k, diversity=diversity)


@router.post("/recommend", response_model=SearchResult, tags=["search"])
def recommend(request: RecommendRequest, sm: Shopmind = Depends(get_shopmind)) -> SearchResult:
    return ops.recommend(sm, request.history, k=request.k, diversity=request.diversity)

