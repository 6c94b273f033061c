"""Media routes: redact an uploaded image (JSON report + the blurred image) and screen for NSFW."""

from __future__ import annotations

import base64

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from shopmind.api.errors import ERROR_RESPONSES
from shopmind.catalog.images import decode_image_bytes
from shopmind.config import get_settings
from shopmind.errors import BadInput
from shopmind.media.redact import RedactionReport, redact_bytes
from shopmind.media.screen import DEFAULT_THRESHOLD, NSFWVerdict, screen_images

router = APIRouter(prefix="/media", tags=["media"])


class RedactResponse(BaseModel):
    report: RedactionReport
    image_png_base64: str


async def _read(upload: UploadFile) -> bytes:
    limit = get_settings().max_image_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise BadInput(f"upload too large: more than {limit} bytes")
    return data


@router.post("/redact", response_model=RedactResponse, responses=ERROR_RESPONSES)
async def redact_upload(
    file: UploadFile = File(..., description="Image to redact"),
    faces: bool = Form(True),
    text: bool = Form(True),
) -> RedactResponse:
    """Blur faces and personal data; returns the report and the redacted image (PNG, base64)."""
    data = await _read(file)
    png, report = await run_in_threadpool(redact_bytes, data, fmt="PNG", faces=faces, text=text)  # CPU work off the loop
    return RedactResponse(report=report, image_png_base64=base64.b64encode(png).decode("ascii"))


@router.post("/nsfw", response_model=NSFWVerdict, responses=ERROR_RESPONSES)
async def nsfw_upload(
    file: UploadFile = File(..., description="Image to screen"),
    threshold: float = Form(DEFAULT_THRESHOLD, ge=0.0, le=1.0),
) -> NSFWVerdict:
    """NSFW probability of an uploaded image and whether it crosses `threshold`."""
    data = await _read(file)
    settings = get_settings()

    def work() -> NSFWVerdict:  # decoding and the model are CPU work: keep them off the event loop
        image = decode_image_bytes(data, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels).image
        return screen_images([image], threshold)[0]

    return await run_in_threadpool(work)
