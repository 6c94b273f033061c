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
