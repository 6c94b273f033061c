"""Push-stream end to end: HLS always (read back with ffmpeg, served by the API); RTMP into a real local
nginx-rtmp server started by the test (skipped when nginx or its RTMP module is not installed)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from shopmind.domain import Product

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (TTS)")
RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _seed_catalog() -> list[str]:
    """Two products with drawn product photos in the isolated catalog."""
    from shopmind.catalog.store import open_store
    from shopmind.config import get_settings

    store = open_store(get_settings())
    rows = []
    for pid, colour, title, price in (("s1", (200, 40, 50), "纯棉短袖T恤 男女同款", 99.0), ("s2", (40, 90, 200), "Slim Fit Jeans", 1409.15)):
        img = Image.new("RGB", (600, 800), (245, 245, 245))
        ImageDraw.Draw(img).polygon([(150, 150), (450, 150), (520, 300), (440, 330), (440, 700), (160, 700), (160, 330), (80, 300)],
                                    fill=colour)
        buf = io.BytesIO()
        img.save(buf, "PNG")
        sha = hashlib.sha256(buf.getvalue()).hexdigest()
        rel = store.save_image_bytes(buf.getvalue(), sha, "PNG")
        rows.append((Product(id=pid, title=title, price=price, attributes={"材质": "纯棉"}, image_path=rel, image_sha256=sha), "h", "test"))
    store.upsert_products(rows)
    return [r[0].id for r in rows]


def _probe(source: str) -> str:
    return subprocess.run([_ffmpeg(), "-hide_banner", "-i", source], capture_output=True, timeout=60).stderr.decode("utf-8", "replace")


def _run_cli(args: list[str]):
    from shopmind.cli.live import register
    from tests.unit.cli_app import area_app

    return CliRunner().invoke(area_app(register, typed_errors=True), ["live", "stream", *args])


def test_hls_stream_is_playable_and_served(home):
    ids = _seed_catalog()
    out = home / "streams" / "shop1"
    res = _run_cli(["--ids", ",".join(ids), "--hls", str(out), "--duration", "6", "--json"])
    assert res.exit_code == 0, res.output
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    assert stats["frames"] == 150 and stats["kind"] == "hls"
    assert 5.5 <= stats["seconds"] <= 20  # paced at real time, not faster (slack for a loaded CI box)
    assert stats["dropped_frames"] < 0.8 * stats["frames"]  # late frames are re-sent, the clock holds
    assert stats["bitrate_kbps"] and stats["bitrate_kbps"] > 50
    assert stats["av_drift_ms"] is not None and abs(stats["av_drift_ms"]) < 100
    playlist = out / "index.m3u8"
    assert playlist.is_file() and stats["segments"] >= 3
    text = playlist.read_text()
    assert "#EXTM3U" in text and "seg_00000.ts" in text and "#EXT-X-ENDLIST" in text
    info = _probe(str(playlist))
    assert "Video: h264" in info and "720x1280" in info and "Audio: aac" in info

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from shopmind.api.errors import install_error_handlers
    from shopmind.api.stream import router

    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    client = TestClient(app)
    assert client.get("/streams").json() == {"streams": ["shop1"]}
    r = client.get("/streams/shop1/index.m3u8")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    seg = client.get("/streams/shop1/seg_00000.ts")
    assert seg.status_code == 200 and seg.content[:1] == b"\x47"  # MPEG-TS sync byte
    assert client.get("/streams/shop1/..%2Fshopmind.db").status_code == 404
    assert client.get("/streams/nope/index.m3u8").status_code == 404


def test_stream_rejects_bad_targets(home, tmp_path):
    ids = _seed_catalog()
    res = _run_cli(["--ids", ids[0], "--rtmp", "http://example.com/x", "--duration", "2"])
    assert res.exit_code == 2 and "rtmp" in res.output.lower()
    res = _run_cli(["--ids", ids[0], "--duration", "2"])
    assert res.exit_code == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def rtmp_server(tmp_path):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None or not RTMP_MODULE.is_file():
        pytest.skip("nginx with libnginx-mod-rtmp not installed (Makefile installs it best-effort)")
    port = _free_port()
    rec = tmp_path / "rec"
    rec.mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
load_module {RTMP_MODULE};
daemon off;
master_process off;
worker_processes 1;
error_log {tmp_path}/error.log warn;
pid {tmp_path}/nginx.pid;
events {{ worker_connections 64; }}
rtmp {{
  server {{
    listen 127.0.0.1:{port};
    application live {{
      live on;
      record all;
      record_path {rec};
      record_unique off;
    }}
  }}
}}
""")
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None:
            pytest.skip(f"nginx did not start: {proc.stderr.read().decode()[-300:]}")
        time.sleep(0.1)
    yield f"rtmp://127.0.0.1:{port}/live/test", rec
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_rtmp_push_to_local_server(home, rtmp_server):
    url, rec = rtmp_server
    ids = _seed_catalog()
    res = _run_cli(["--ids", ",".join(ids), "--rtmp", url, "--duration", "6", "--json"])
    assert res.exit_code == 0, res.output
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    assert stats["kind"] == "rtmp" and stats["frames"] == 150
    assert stats["dropped_frames"] < 0.8 * stats["frames"]  # late frames are re-sent, the clock holds
    time.sleep(1.0)  # let nginx close the recording
    flv = rec / "test.flv"
    assert flv.is_file() and flv.stat().st_size > 20_000
    info = _probe(str(flv))
    assert "Video: h264" in info and "Audio: aac" in info
    from shopmind.live.stream import stream_durations

    v, a = stream_durations(str(flv))
    assert v is not None and a is not None and 5.0 <= v <= 6.5
    assert abs(a - v) < 0.15


def test_record_a_session_with_the_anchor_to_mp4(home, tmp_path):
    """The livestream layout with the talking presenter, recorded to a file (not paced, nothing dropped)."""
    from shopmind.anchor.mp import available

    if not available():
        pytest.skip("mediapipe 0.10.21 not installed (extra `anchor`)")
    from tests.conftest import shared_data

    photo = tmp_path / "host.jpg"
    shutil.copy(shared_data("fashion100", "images", "10015.jpg"), photo)
    ids = _seed_catalog()
    out = tmp_path / "session.mp4"
    res = _run_cli(["--ids", ",".join(ids), "--mp4", str(out), "--duration", "4", "--portrait", str(photo),
                    "--consent", "test release", "--json"])
    assert res.exit_code == 0, res.output
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    assert stats["kind"] == "mp4" and stats["anchor"] is True and stats["dropped_frames"] == 0 and stats["frames"] == 100
    assert abs(stats["av_drift_ms"]) < 100
    info = _probe(str(out))
    assert "Video: h264" in info and "720x1280" in info and "Audio: aac" in info
    res = _run_cli(["--ids", ids[0], "--mp4", str(out)])  # a file needs a length
    assert res.exit_code == 2
