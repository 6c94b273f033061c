"""Virtual try-on (geometric stage): TPS exactness, garment keypoints, and real photos end to end."""

from __future__ import annotations

import hashlib
import json
import shutil

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from shopmind.anchor.mp import available as mediapipe_available
from shopmind.errors import BadInput
from shopmind.media.tryon import TPS, garment_keypoints, try_on
from tests.conftest import shared_data

needs_mp = pytest.mark.skipif(not mediapipe_available(), reason="mediapipe 0.10.21 not installed (extra `anchor`)")


def tee_mask(w=400, h=500) -> np.ndarray:
    """A flat T-shirt silhouette: torso 120..280, sleeves out to 40..360 near the top."""
    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [np.array([[160, 40], [240, 40], [280, 60], [360, 140], [320, 190], [280, 160], [280, 460],
                               [120, 460], [120, 160], [80, 190], [40, 140], [120, 60]], np.int32)], 1)
    return m


def test_tps_maps_control_points_exactly_and_is_affine_when_it_can_be():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (7, 2))
    dst = src * 1.5 + [10, -4] + rng.normal(0, 3, (7, 2))
    tps = TPS(src, dst, reg=0.0)
    assert np.allclose(tps(src), dst, atol=1e-6)
    A = np.array([[1.2, 0.1], [-0.2, 0.9]])
    aff = TPS(src, src @ A.T + [5, 7], reg=0.0)
    probe = rng.uniform(0, 100, (20, 2))
    assert np.allclose(aff(probe), probe @ A.T + [5, 7], atol=1e-6)


def test_garment_keypoints_ignore_the_sleeves():
    k = garment_keypoints(tee_mask())
    (lx, ly), (rx, ry) = k["shoulders"]
    assert 115 <= lx <= 125 and 275 <= rx <= 285  # torso edges, not sleeve tips (40 / 360)
    assert ly == ry and 40 < ly < 100
    (hlx, hy), (hrx, _) = k["hips"]
    assert abs(hlx - 120) <= 2 and abs(hrx - 280) <= 2 and 440 <= hy <= 460
    assert abs(k["neck"][0] - 200) <= 5 and k["neck"][1] == 40
    with pytest.raises(BadInput):
        garment_keypoints(np.zeros((50, 50), np.uint8))


@needs_mp
def test_try_on_real_photos_aligns_keypoints():
    person = Image.open(shared_data("fashion100", "images", "10043.jpg"))
    garment = Image.open(shared_data("fashion100", "images", "10019.jpg"))  # white tee on a black polo: every dressed pixel changes
    out, res = try_on(person, garment)
    assert out.size == (res.width, res.height)
    assert res.keypoint_error["shoulder"] < 0.25 and res.keypoint_error["hip"] < 0.15
    arr = np.asarray(out).astype(int)
    before = np.asarray(person.convert("RGB").resize(out.size)).astype(int)
    changed = np.abs(arr - before).sum(2) > 60
    h, w = changed.shape
    assert changed[int(h * 0.3) : int(h * 0.5), int(w * 0.4) : int(w * 0.6)].mean() > 0.5  # the chest is re-dressed
    assert changed[: int(h * 0.08)].mean() < 0.02  # the head and background are left alone
    assert "geometric" in res.stage


@needs_mp
def test_try_on_refuses_a_photo_without_a_person():
    blank = Image.new("RGB", (400, 600), (240, 240, 240))
    garment = Image.fromarray((tee_mask() * 200).astype(np.uint8)).convert("RGB")
    with pytest.raises(BadInput):
        try_on(blank, garment)


@needs_mp
def test_tryon_cli(home, tmp_path):
    from shopmind.catalog.store import open_store
    from shopmind.cli.anchor import register
    from shopmind.config import get_settings
    from shopmind.domain import Product
    from tests.unit.cli_app import area_app

    data = shared_data("fashion100", "images", "10019.jpg").read_bytes()
    store = open_store(get_settings())
    sha = hashlib.sha256(data).hexdigest()
    rel = store.save_image_bytes(data, sha, "JPEG")
    store.upsert_products([(Product(id="tee", title="Sports tee", image_path=rel, image_sha256=sha), "h", "t")])
    person = tmp_path / "me.jpg"
    shutil.copy(shared_data("fashion100", "images", "10057.jpg"), person)
    out = tmp_path / "dressed.png"
    res = CliRunner().invoke(area_app(register, typed_errors=True), ["tryon", str(person), "tee", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(obj["keypoint_error"]) == {"shoulder", "hip", "mean"} and obj["seconds"] > 0
    assert out.is_file()
    res = CliRunner().invoke(area_app(register, typed_errors=True), ["tryon", str(person), "nope", "--out", str(out)])
    assert res.exit_code == 2


@needs_mp
def test_tryon_api(home):
    import base64

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from shopmind.api.anchor import router
    from shopmind.api.errors import install_error_handlers
    from shopmind.catalog.store import open_store
    from shopmind.config import get_settings
    from shopmind.domain import Product

    data = shared_data("fashion100", "images", "10005.jpg").read_bytes()
    store = open_store(get_settings())
    sha = hashlib.sha256(data).hexdigest()
    store.upsert_products([(Product(id="tee", title="tee", image_path=store.save_image_bytes(data, sha, "JPEG"), image_sha256=sha), "h", "t")])
    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    client = TestClient(app)
    person = shared_data("fashion100", "images", "10057.jpg").read_bytes()
    r = client.post("/tryon", files={"file": ("me.jpg", person, "image/jpeg")}, data={"product_id": "tee"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["result"]["keypoint_error"]["mean"] < 0.2
    assert base64.b64decode(body["image_png_base64"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.post("/tryon", files={"file": ("me.jpg", person, "image/jpeg")}, data={"product_id": "nope"}).status_code == 404
    assert client.post("/tryon", files={"file": ("x.jpg", b"not an image", "image/jpeg")}, data={"product_id": "tee"}).status_code == 422
