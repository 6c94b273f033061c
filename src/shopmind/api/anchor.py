"""Studio routes: virtual try-on of a catalog garment on an uploaded photo, and scene recommendations.

The same operations as `shopmind tryon` and `shopmind recommend --scene`; CPU work runs off the
event loop. (Talking-presenter renders take tens of seconds and stay on the CLI / push-stream.)
"""

from __future__ import annotations

import base64
import io

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from shopmind.api.deps import get_shopmind
from shopmind.api.errors import ERROR_RESPONSES
from shopmind.app import Shopmind
from shopmind.catalog.images import decode_image_bytes, open_image
from shopmind.errors import BadInput
from shopmind.ops.core import product_with_image
from shopmind.media.tryon import TryOnResult, try_on
from shopmind.search.scene import SceneResult, recommend_for_scene

router = APIRouter(tags=["studio"])


class TryOnResponse(BaseModel):
    product_id: str
    result: TryOnResult
    image_png_base64: str


@router.post("/tryon", response_model=TryOnResponse, responses=ERROR_RESPONSES)
async def tryon_upload(
    file: UploadFile = File(..., description="Photo of the person (front-facing, upper body visible)"),
    product_id: str = Form(..., description="Catalog id of an upper-body garment"),
    sm: Shopmind = Depends(get_shopmind),
) -> TryOnResponse:
    """Geometric try-on: the product's garment warped onto the person by pose keypoints (PNG, base64)."""
    settings = sm.settings
    data = await file.read(settings.max_image_bytes + 1)
    if len(data) > settings.max_image_bytes:
        raise BadInput(f"upload too large: more than {settings.max_image_bytes} bytes")

    def work() -> TryOnResponse:
        person = decode_image_bytes(data, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels).image
        _, path = product_with_image(sm, product_id)  # NotFound / NotReady
        image, result = try_on(person, open_image(path).image)
        buf = io.BytesIO()
        image.save(buf, "PNG")
        return TryOnResponse(product_id=product_id, result=result, image_png_base64=base64.b64encode(buf.getvalue()).decode("ascii"))

    return await run_in_threadpool(work)


@router.get("/recommend/scene", response_model=SceneResult, responses=ERROR_RESPONSES)
async def recommend_scene(
    scene: str = Query(..., description="beach | office | wedding | gym | rainy"),
    k: int = Query(10, ge=1, le=200),
    sm: Shopmind = Depends(get_shopmind),
) -> SceneResult:
    """Catalog items for a scene, each with its reasons in zh and en (scene photos: use the CLI)."""
    return await run_in_threadpool(lambda: recommend_for_scene(scene, sm.store, k, allow_photo=False))
