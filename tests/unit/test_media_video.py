"""Narration timings and a short rendered video checked with ffmpeg (duration, size, streams)."""

import json
import shutil
import wave

import pytest
import typer
from typer.testing import CliRunner

from shopmind.domain import Product
from shopmind.errors import BadInput
from shopmind.media.tts import synthesize_script
from shopmind.media.video import narration_script, render_video

from test_media_poster import PRODUCT, make_catalog, product_photo
from tests.unit.cli_app import area_app

# espeak-ng is a system package (`make install` installs it with apt when it can).
pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None and shutil.which("espeak") is None,
                                reason="espeak-ng is not installed (apt-get install espeak-ng)")


def test_tts_script_timings(tmp_path):
    n = synthesize_script([{"text": "你好，欢迎光临。", "lang": "zh"}, {"text": "Welcome to our shop.", "lang": "en"}], tmp_path / "a.wav", gap=0.3)
    a, b = n.lines
    assert a.start == 0.0 and a.end > 0.5 and b.start == pytest.approx(a.end + 0.3, abs=0.01) and b.end > b.start
    with wave.open(str(tmp_path / "a.wav")) as w:
        assert w.getnframes() / w.getframerate() == pytest.approx(n.duration, abs=0.01) == pytest.approx(b.end, abs=0.01)
    assert 0 < n.rtf < 1
    with pytest.raises(ValueError):
        synthesize_script([{"text": "hola", "lang": "es"}], tmp_path / "b.wav")
    with pytest.raises(BadInput):
        synthesize_script([], tmp_path / "c.wav")


def test_narration_script_mentions_price():
    lines = narration_script(PRODUCT)
    assert lines[0].text.startswith("真丝") and "299" in lines[-1].text and all(ln.lang == "zh" for ln in lines)
    en = narration_script(Product(id="e", title="Silk dress", price=20))
    assert en[0].lang == "en" and "20" in en[-1].text


def test_narration_is_guarded_and_never_reads_description_headings():
    p = Product(id="h", title="全网第一 真丝连衣裙", price=299, description="Wash Care\nUse mild detergent",
                attributes={"材质": "真丝", "功效": "治疗失眠"})
    said = " ".join(ln.text for ln in narration_script(p))
    assert "真丝连衣裙" in said and "299" in said
    for word in ("全网第一", "治疗", "Wash", "detergent"):
        assert word not in said


def test_render_short_square_video(tmp_path):
    r = render_video(PRODUCT, product_photo(), tmp_path / "v.mp4", fmt="square", seconds=2.0, fps=5)
    p = r.probe
    assert (p.width, p.height) == (1080, 1080) and p.duration == pytest.approx(2.0, abs=0.15)
    assert p.has_audio and p.video_codec == "h264" and p.frames == 10
    assert r.script and r.script[0].start == 0.0


def test_video_follows_the_narration_with_several_shots(tmp_path):
    """Default length = narration; one shot per sentence (hero, close-ups, price card); subtitles per sentence."""
    r = render_video(PRODUCT, product_photo(), tmp_path / "n.mp4", fmt="square", fps=2)
    assert r.seconds == pytest.approx(r.narration_seconds + 0.8, abs=0.05) and r.narration_coverage > 0.85
    kinds = [s.kind for s in r.shots]
    assert kinds[0] == "hero" and kinds[-1] == "price" and "detail" in kinds and len(kinds) == len(r.script) >= 3
    for shot, line in zip(r.shots[1:], r.script[1:]):
        assert shot.start == pytest.approx(line.start, abs=1e-3)  # cuts on the sentence boundaries
    assert [ln.text for ln in r.script][0].startswith("真丝") and "299" in r.script[-1].text
    assert r.probe.duration == pytest.approx(r.seconds, abs=0.2)
    # a fixed length longer than the voice: the narration is paced to fill it
    # a fixed length longer than the voice: the narration is paced to fill it; a variant photo gets its own shot
    blue = product_photo(bg=(250, 250, 250))
    long = render_video(PRODUCT, product_photo(), tmp_path / "l.mp4", fmt="square", seconds=r.seconds + 4, fps=2, probe=False,
                        variants=[blue])
    assert long.narration_coverage > 0.8 and "variant" in [s.kind for s in long.shots]
    with pytest.raises(BadInput):
        render_video(PRODUCT, product_photo(), tmp_path / "v.avi", seconds=2)
    with pytest.raises(BadInput):
        render_video(PRODUCT, product_photo(), tmp_path / "v.mp4", fmt="wide", seconds=2)


def test_cli_video_and_tts(home, tmp_path):
    from shopmind.cli.media import register, tts_command

    make_catalog(home, tmp_path)
    app = area_app(register)
    live = typer.Typer()
    live.command("tts")(tts_command)
    app.add_typer(live, name="live")
    out = tmp_path / "v.mp4"
    res = CliRunner().invoke(app, ["video", "p1", "--out", str(out), "--format", "vertical", "--seconds", "1.5", "--fps", "4",
                                   "--copy", "template", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert (obj["probe"]["width"], obj["probe"]["height"]) == (1080, 1920) and obj["probe"]["has_audio"]
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"text": "你好", "lang": "zh"}, {"text": "hello", "lang": "en"}]), encoding="utf-8")
    res = CliRunner().invoke(app, ["live", "tts", str(script), "--out", str(tmp_path / "s.wav"), "--json"])
    assert res.exit_code == 0, res.output
    assert [ln["lang"] for ln in json.loads(res.stdout)["lines"]] == ["zh", "en"]
    # TTS input is guarded too: the violating words are never spoken; --strict refuses with exit 2
    res = CliRunner().invoke(app, ["live", "tts", "全网第一的裙子，很好看", "--out", str(tmp_path / "g.wav"), "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert "全网第一" not in obj["lines"][0]["text"] and obj["guard"]["rewritten"] and obj["guard"]["findings"]
    res = CliRunner().invoke(app, ["live", "tts", "全网第一的裙子", "--strict", "--out", str(tmp_path / "h.wav"), "--json"])
    assert res.exit_code == 2 and json.loads(res.stdout)["refused"] and not (tmp_path / "h.wav").exists()


def test_api_tts_guards_every_line(home):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from shopmind.api.errors import install_error_handlers
    from shopmind.api.live import router

    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    client = TestClient(app)
    r = client.post("/live/tts", json={"lines": [{"text": "全网第一的裙子，很好看", "lang": "zh"}, {"text": "hello", "lang": "en"}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "全网第一" not in body["narration"]["lines"][0]["text"] and body["guard"]["rewritten"] and body["wav_base64"]
    r = client.post("/live/tts", json={"lines": [{"text": "全网第一的裙子", "lang": "zh"}], "strict": True})
    assert 400 <= r.status_code < 500 and r.json()["error"]["detail"]["refused"]


def test_i420_overlay_blend_matches_the_rgb_blend():
    """Subtitles/price cards are blended on the I420 planes: the same picture as blending in RGB
    and converting (luma within rounding; chroma close on average), at an odd row and with a fade."""
    import cv2
    import numpy as np

    from shopmind.media.video import _i420_planes, _Overlay

    rng = np.random.default_rng(0)
    W, H = 64, 48
    bg = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    bg = cv2.GaussianBlur(bg, (7, 7), 0)  # photo-like: smooth within 2x2 chroma blocks
    ov = np.zeros((13, W, 4), np.uint8)
    ov[2:11, 8:56] = (0, 0, 0, 160)  # translucent panel
    ov[4:9, 12:40] = (255, 255, 255, 255)  # "text"
    ov[5:8, 44:52] = (200, 30, 40, 90)
    for y, opacity in ((17, 1.0), (20, 0.4)):
        a = ov[:, :, 3:4].astype(np.float64) / 255 * opacity
        ref_rgb = bg.copy()
        ref_rgb[y : y + 13] = np.rint(bg[y : y + 13] * (1 - a) + ov[:, :, :3] * a).astype(np.uint8)
        ref = _i420_planes(ref_rgb)
        planes = tuple(p.copy() for p in _i420_planes(bg))
        _Overlay(ov, y, W, H).blend(planes, opacity=opacity)
        assert np.abs(planes[0].astype(int) - ref[0]).max() <= 2
        for got, want in zip(planes[1:], ref[1:]):
            assert np.abs(got.astype(int) - want).mean() < 1.5
        untouched = np.r_[0 : y // 2 * 2, (y + 14) // 2 * 2 : H]
        assert np.array_equal(planes[0][untouched], _i420_planes(bg)[0][untouched])
    # an overlay that falls below the frame is clipped, one that is fully transparent does nothing
    planes = tuple(p.copy() for p in _i420_planes(bg))
    _Overlay(ov, H - 5, W, H).blend(planes)
    _Overlay(np.zeros((8, W, 4), np.uint8), 4, W, H).blend(planes, opacity=0.5)
    assert np.array_equal(planes[0][: H - 6], _i420_planes(bg)[0][: H - 6])


def test_rendered_frames_show_subtitles_and_the_price_card_late(tmp_path, monkeypatch):
    """The frames piped to the encoder (the encoder still runs): a dark subtitle panel with white
    text near the bottom from the first frame, and the price card (drawn blue here so it can be told
    from the red product by its chroma) only once the price line starts, fading in."""
    import numpy as np

    from shopmind.media import video

    seen: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    real = video.encode_frames
    n = 1080 * 1080

    def keep_frames(proc, frames):
        def tee():
            for i, f in enumerate(frames):
                buf = np.frombuffer(bytes(f), np.uint8)
                seen[i] = (buf[:n].reshape(1080, 1080).copy(), buf[n : n + n // 4].reshape(540, 540).copy())
                yield f
        real(proc, tee())

    monkeypatch.setattr(video, "encode_frames", keep_frames)
    monkeypatch.setattr(video, "ACCENT", (20, 60, 230))
    fps = 8
    r = video.render_video(PRODUCT, product_photo(), tmp_path / "f.mp4", fmt="square", fps=fps, probe=False)
    assert len(seen) == round(r.seconds * fps)
    y0, _ = seen[0]
    sub_rows = y0[1080 - int(1080 * 0.06) - 60 : 1080 - int(1080 * 0.06)]
    assert sub_rows.max() >= 230 and np.percentile(sub_rows[:, 540], 50) < 120  # white text on the dark panel
    assert np.percentile(y0[:200], 50) > 200  # the light studio background above it is untouched
    price = next(s for s in r.shots if s.kind == "price")
    start = int(np.ceil(price.start * fps))

    def blue(i: int) -> np.ndarray:  # chroma samples clearly towards blue (U well above neutral 128)
        return seen[i][1] > 170

    assert not any(blue(i).any() for i in range(start))
    end = blue(len(seen) - 1)
    rows, cols = np.nonzero(end)
    assert end.sum() > 2000 and rows.max() < 540 - int(540 * 0.06)  # a card, above the bottom margin
    assert abs((cols.min() + cols.max()) / 2 - 270) < 20  # centred
    assert blue(start).sum() < end.sum()  # still fading in on its first frame


def test_a_failing_background_step_stops_ffmpeg_and_leaves_no_file(tmp_path, monkeypatch):
    """Close-up stages are prepared while the first shot encodes: if that fails, the error surfaces
    as itself, the encoder is stopped and no half-written video is left behind."""
    from shopmind.media import video

    def broken(*_a, **_k):
        raise BadInput("close-up failed")

    monkeypatch.setattr(video, "_cover", broken)
    out = tmp_path / "x.mp4"
    with pytest.raises(BadInput, match="close-up failed"):
        video.render_video(PRODUCT, product_photo(), out, fmt="square", fps=4, probe=False)
    assert not out.exists()
