"""The talking presenter end to end on a real model photo: consent gate, warp, render, lip-sync, watermark."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from shopmind.anchor.mp import available as mediapipe_available
from shopmind.cli.anchor import register
from tests.conftest import shared_data
from tests.unit.cli_app import area_app

needs_mp = pytest.mark.skipif(not mediapipe_available(), reason="mediapipe 0.10.21 not installed (extra `anchor`)")
needs_tts = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def _photo(tmp_path):
    src = shared_data("fashion100", "images", "10015.jpg")
    dst = tmp_path / "host.jpg"
    shutil.copy(src, dst)
    return dst


def test_render_refuses_a_portrait_without_consent(tmp_path):
    photo = tmp_path / "face.jpg"
    photo.write_bytes(b"not even read")
    app = area_app(register, typed_errors=True)
    res = CliRunner().invoke(app, ["anchor", "render", "--portrait", str(photo), "--text", "你好", "--out", str(tmp_path / "o.mp4")])
    assert res.exit_code == 2
    assert "consent" in res.output
    assert not (tmp_path / "o.mp4").exists()


def test_consent_sidecar_is_read_and_validated(tmp_path):
    from shopmind.anchor.portrait import load_consent, sidecar_path
    from shopmind.errors import BadInput

    photo = tmp_path / "p.jpg"
    sidecar_path(photo).write_text(json.dumps({"statement": "Model release #12, signed 2026-01-05", "subject": "A. Model"}), encoding="utf-8")
    c = load_consent(photo)
    assert c.subject == "A. Model" and c.source.endswith("p.consent.json")
    sidecar_path(photo).write_text("{broken", encoding="utf-8")
    with pytest.raises(BadInput):
        load_consent(photo)
    assert load_consent(photo, "verbal consent recorded").source == "cli"
    with pytest.raises(BadInput):
        load_consent(photo, "ok")  # too short to say who agreed to what


@needs_mp
def test_warp_opens_the_mouth_and_closes_the_eyes(tmp_path):
    from shopmind.anchor.portrait import load_portrait, mesh_landmarks
    from shopmind.anchor.render import EYES, FaceRig, Pose

    pic = load_portrait(_photo(tmp_path), (720, 1280), consent_text="test")
    assert pic.landmarks.shape == (478, 2)
    rig = FaceRig(pic.image, pic.landmarks)
    neutral = rig.render(Pose())
    assert np.abs(neutral.astype(int) - pic.image.astype(int)).max() <= 2  # the rest pose is the photo

    def gap(img):
        lm = mesh_landmarks(img, pic.face_box)
        return lm[14, 1] - lm[13, 1], lm[EYES[0][3], 1] - lm[EYES[0][2], 1]

    g0, _ = gap(neutral)
    g1, _ = gap(rig.render(Pose(opening=1.0)))
    assert g1 > g0 + 0.1 * rig.mouth_w  # the re-detected mouth really is wider open

    def iris_luma(img):  # the dark iris is covered by the (lighter) lid when the eye shuts
        x, y = np.round(pic.landmarks[468]).astype(int)
        return img[y - 2 : y + 3, x - 2 : x + 3].mean()

    assert iris_luma(rig.render(Pose(blink=1.0))) > iris_luma(neutral) + 20


@needs_mp
@needs_tts
def test_render_cli_reports_speed_and_lipsync(tmp_path):
    photo = _photo(tmp_path)
    out = tmp_path / "anchor.mp4"
    app = area_app(register, typed_errors=True)
    res = CliRunner().invoke(app, ["anchor", "render", "--portrait", str(photo), "--consent", "test release",
                                   "--text", "这款T恤纯棉透气。今天到手价只要九十九元！", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout.strip().splitlines()[-1])
    for key in ("duration_s", "realtime_factor", "lipsync_offset_ms", "lipsync_correlation"):
        assert key in obj
    assert obj["duration_s"] > 2.0 and out.stat().st_size > 10_000
    assert obj["lipsync_correlation"] >= 0.5
    assert abs(obj["lipsync_offset_ms"]) <= 40
    assert obj["emotions"][-1] == "excited"  # the price line raises the brows
    assert obj["watermark"] == "AI生成 / AI-generated" and obj["consent"]["statement"] == "test release"
    # the mark is burned into the frames: the top-right corner is no longer the white studio backdrop
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(out))
    meta = next(reader)
    W, H = meta["size"]
    frame = np.frombuffer(next(reader), np.uint8).reshape(H, W, 3)
    corner = frame[: H // 30, W - W // 3 :]
    assert corner.min() < 160 and corner.mean() < 240
