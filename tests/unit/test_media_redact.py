"""Redaction end to end: planted PII on a rendered label gets blurred, originals are never touched."""

import base64
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from shopmind.errors import BadInput
from shopmind.media.redact import blur_regions, find_redactions, redact_file
from shopmind.media.synthlabel import coverage, render_label
from tests.unit.cli_app import area_app

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


class FakeOCR:
    """Returns fixed lines: lets us test the redaction plumbing without the OCR model's cost."""

    def __init__(self, lines):
        self.lines = lines

    def read(self, image):
        return self.lines


class NoFaces:
    def detect(self, image, threshold=None):
        return []


def _cli():
    from shopmind.cli.media import register

    return area_app(register)


def test_blur_makes_text_unreadable_and_keeps_rest():
    img, planted = render_label(5)
    box = planted[0].box
    out = blur_regions(img, [box])
    a, b = np.asarray(img).astype(int), np.asarray(out).astype(int)
    x1, y1, x2, y2 = (int(v) for v in box)
    assert np.abs(a[y1:y2, x1:x2] - b[y1:y2, x1:x2]).mean() > 10  # strongly changed inside
    assert np.array_equal(a[: y1 - 5], b[: y1 - 5])  # untouched elsewhere


def test_plumbing_with_fake_ocr_skips_low_scores():
    img = Image.new("RGB", (600, 100), "white")
    ocr = FakeOCR([([[10, 10], [590, 10], [590, 40], [10, 40]], "电话：13812345678", 0.99),
                   ([[10, 50], [590, 50], [590, 90], [10, 90]], "手机13912345678", 0.1)])
    found, stats = find_redactions(img, face_detector=NoFaces(), ocr=ocr)
    assert [r.kind for r in found] == ["phone"] and stats["text_lines"] == 1
    assert found[0].text == "138****5678" and found[0].box[1] >= 0


def test_redact_label_with_real_ocr(tmp_path, home):
    img, planted = render_label(11)
    src = tmp_path / "label.png"
    img.save(src)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    out = tmp_path / "redacted.png"
    report = redact_file(src, out, faces=False)
    assert hashlib.sha256(src.read_bytes()).hexdigest() == digest  # original untouched
    boxes = [r.box for r in report.redactions]
    recalled = [p for p in planted if coverage(p.box, boxes) >= 0.9]
    assert len(recalled) >= len(planted) - 1, (planted, report.redactions)
    assert {"phone", "id_number", "address"} <= {r.kind for r in report.redactions}
    for r in report.redactions:
        assert "*" in (r.text or "") and r.text not in {p.value for p in planted}
    # the name and product lines stay readable: nothing blurred left of x=140 except labels' values
    assert all(r.box[0] > 100 for r in report.redactions)


def test_refuses_to_overwrite_input_and_bad_inputs(tmp_path, home):
    src = tmp_path / "a.png"
    Image.new("RGB", (50, 50), "white").save(src)
    with pytest.raises(BadInput):
        redact_file(src, src)
    with pytest.raises(BadInput):
        redact_file(src, tmp_path / "a.gif")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(BadInput):
        redact_file(bad, tmp_path / "o.png", faces=False, text=False)


def test_faces_on_model_photo(tmp_path, home):
    photo = SHARED / "fashion100" / "images" / "10015.jpg"
    if not photo.exists():
        pytest.skip("shared data not available")
    out = tmp_path / "face.jpg"
    report = redact_file(photo, out, text=False)
    faces = [r for r in report.redactions if r.kind == "face"]
    assert len(faces) == 1 and faces[0].score > 0.5
    x1, y1, x2, y2 = faces[0].box
    assert y2 < report.height * 0.4  # the head is at the top of a standing model shot
    before = np.asarray(Image.open(photo).convert("RGB"), dtype=int)[int(y1):int(y2), int(x1):int(x2)]
    after = np.asarray(Image.open(out).convert("RGB"), dtype=int)[int(y1):int(y2), int(x1):int(x2)]
    assert np.abs(before - after).mean() > 5


def test_cli_redact_json(tmp_path, home):
    src = tmp_path / "plain.png"
    Image.new("RGB", (64, 64), (200, 200, 200)).save(src)
    res = CliRunner().invoke(_cli(), ["redact", str(src), "--out", str(tmp_path / "o.png"), "--no-text", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["redactions"] == [] and (tmp_path / "o.png").exists()
    res = CliRunner().invoke(_cli(), ["redact", str(src), "--out", str(src), "--json"])
    assert res.exit_code != 0 and isinstance(res.exception, BadInput)


def test_api_redact_and_nsfw(home):
    from shopmind.api.errors import install_error_handlers
    from shopmind.api.media import router

    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    client = TestClient(app)
    buf = io.BytesIO()
    Image.new("RGB", (80, 60), (240, 240, 240)).save(buf, "PNG")
    r = client.post("/media/redact", files={"file": ("x.png", buf.getvalue(), "image/png")}, data={"text": "false"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["report"]["redactions"] == []
    assert Image.open(io.BytesIO(base64.b64decode(body["image_png_base64"]))).size == (80, 60)
    r = client.post("/media/nsfw", files={"file": ("x.png", buf.getvalue(), "image/png")}, data={"threshold": "0.7"})
    assert r.status_code == 200 and r.json()["is_nsfw"] is False and 0 <= r.json()["nsfw_score"] < 0.7
    r = client.post("/media/nsfw", files={"file": ("x.png", b"garbage", "image/png")})
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_input"
    r = client.post("/media/nsfw", files={"file": ("x.png", buf.getvalue(), "image/png")}, data={"threshold": "0"})
    assert r.status_code == 422
