"""Push-stream figures for docs/benchmarks.md: stream N seconds to a local nginx-rtmp (started here,
`record all`), then read the recording back with ffmpeg for the A/V end drift.

    .venv/bin/python scripts/bench_stream.py --seconds 600 [--anchor] > stream_bench.json

Needs nginx + libnginx-mod-rtmp, espeak-ng and ../shared/data/fashion100 (three flat tees as items,
model photo 10015 as the presenter). Uses a throwaway SHOPMIND_HOME.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "fashion100"
MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--anchor", action="store_true", help="Show the talking presenter (photo 10015).")
    args = ap.parse_args()
    if not DATA.is_dir() or not MODULE.is_file():
        print(json.dumps({"skipped": "needs ../shared/data/fashion100 and nginx with libnginx-mod-rtmp"}))
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench_stream_"))
    os.environ["SHOPMIND_HOME"] = str(work / "home")
    from shopmind.catalog.store import open_store
    from shopmind.config import get_settings
    from shopmind.domain import Product
    from shopmind.live.stream import run_stream, stream_durations

    store = open_store(get_settings())
    recs = {str(json.loads(line)["id"]): json.loads(line) for line in (DATA / "products.jsonl").open(encoding="utf-8")}
    rows = []
    for pid in ("10005", "10019", "10024"):
        data = (DATA / "images" / f"{pid}.jpg").read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        r = recs[pid]
        rows.append((Product(id=pid, title=r["title"], price=round(r["discounted_price_inr"] / 10, 2),
                             attributes={"usage": r["usage"], "season": r["season"]},
                             image_path=store.save_image_bytes(data, sha, "JPEG"), image_sha256=sha), "h", "bench"))
    store.upsert_products(rows)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rec = work / "rec"
    rec.mkdir()
    (work / "nginx.conf").write_text(f"""load_module {MODULE};
daemon off; master_process off; worker_processes 1; error_log {work}/error.log warn; pid {work}/nginx.pid;
events {{ worker_connections 64; }}
rtmp {{ server {{ listen 127.0.0.1:{port}; application live {{ live on; record all; record_path {rec}; record_unique off; }} }} }}
""")
    nginx = subprocess.Popen(["nginx", "-c", str(work / "nginx.conf"), "-p", str(work)])
    try:
        time.sleep(1.0)
        portrait = persona = None
        if args.anchor:
            from shopmind.anchor.personas import load_persona
            from shopmind.anchor.portrait import load_portrait

            portrait = load_portrait(DATA / "images" / "10015.jpg", consent_text="benchmark run, not published")
            persona = load_persona(None)
        stats = run_stream([r[0] for r in rows], rtmp=f"rtmp://127.0.0.1:{port}/live/b", duration=args.seconds,
                           portrait=portrait, persona=persona)
        time.sleep(2.0)
        v, a = stream_durations(str(rec / "b.flv"))
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
    out = {**stats.model_dump(), "recorded_video_s": v, "recorded_audio_s": a,
           "recorded_av_drift_ms": round((a - v) * 1000, 1) if v and a else None,
           "load_average": [round(x, 2) for x in os.getloadavg()]}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
