"""Product video render speed at 1080x1920: the renderer of an earlier commit next to the current one.

    python scripts/bench_video.py compare --seconds 10 --rounds 3     # before/after, interleaved, median
    python scripts/bench_video.py psnr --seconds 10                   # raw frames before vs after
    python scripts/bench_video.py profile --seconds 10                # CPU per stage of one render

The "before" renderer is `src/shopmind/media/video.py` read from git (`--before`, default the commit
before the I420 pipeline) and loaded as its own module, so both run in one process on the same
photo, product and machine load. Speed is `video_x_realtime` = video seconds / render seconds (TTS,
stage preparation, frames and encoding included), as `shopmind eval media --json` reports it.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from shopmind.domain import Product  # noqa: E402
from shopmind.media import video as after  # noqa: E402

PHOTO = ROOT / ".." / "shared" / "data" / "fashion100" / "images" / "10015.jpg"
BEFORE_REV = "b284d9a"  # the per-frame RGB renderer (RGB crop+resize, float blends, cvtColor per frame)
PRODUCT = Product(id="bench", title="纯棉印花短袖T恤 夏季透气 男女同款", price=99.0,
                  attributes={"材质": "纯棉", "版型": "宽松", "颜色": "白色"})


def load_before(rev: str) -> ModuleType:
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:src/shopmind/media/video.py"],
                         capture_output=True, text=True, check=True).stdout
    spec = importlib.util.spec_from_loader("shopmind.media._video_before", loader=None)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # pydantic resolves the models' postponed annotations through it
    exec(compile(src, f"video.py@{rev}", "exec"), mod.__dict__)
    return mod


def photo() -> Image.Image:
    if not PHOTO.is_file():
        sys.exit(f"missing {PHOTO} (../shared/data)")
    return Image.open(PHOTO).convert("RGB")


def render(mod: ModuleType, image: Image.Image, seconds: float, fps: int) -> dict:
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p0 = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        r = mod.render_video(PRODUCT, image, Path(tmp) / "v.mp4", seconds=seconds, fps=fps, probe=False)
        size = os.path.getsize(Path(tmp) / "v.mp4")
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"render_seconds": r.render_seconds, "video_x_realtime": round(seconds / r.render_seconds, 3),
            "python_cpu_s": round(time.process_time() - p0, 3),
            "ffmpeg_cpu_s": round(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime, 3), "mp4_bytes": size}


def compare(args) -> dict:
    image = photo()
    before = load_before(args.before)
    for mod in (before, after):  # warm-up: imports, guard models, fonts
        render(mod, image, 1.0, args.fps)
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    load_start = os.getloadavg()[0]
    for k in range(args.rounds):
        order = (("before", before), ("after", after)) if k % 2 == 0 else (("after", after), ("before", before))
        for name, mod in order:
            runs[name].append(render(mod, image, args.seconds, args.fps))
    out = {"seconds": args.seconds, "fps": args.fps, "size": "1080x1920", "before_rev": args.before,
           "load_start": load_start, "runs": runs}
    for name, rs in runs.items():
        out[f"{name}_video_x_realtime_median"] = statistics.median(r["video_x_realtime"] for r in rs)
    out["load_end"] = os.getloadavg()[0]
    out["speedup"] = round(out["after_video_x_realtime_median"] / out["before_video_x_realtime_median"], 2)
    return out


def capture(mod: ModuleType, image: Image.Image, seconds: float, fps: int, keep: set[int]) -> dict[int, np.ndarray]:
    """The raw I420 frames `keep` that the renderer pipes to ffmpeg (the encoder still runs)."""
    got: dict[int, np.ndarray] = {}
    real = mod.encode_frames

    def spy(proc, frames):
        def tee():
            for i, f in enumerate(frames):
                if i in keep:
                    got[i] = np.frombuffer(bytes(f), np.uint8).copy()
                yield f
        real(proc, tee())

    mod.encode_frames = spy
    try:
        with tempfile.TemporaryDirectory() as tmp:
            mod.render_video(PRODUCT, image, Path(tmp) / "v.mp4", seconds=seconds, fps=fps, probe=False)
    finally:
        mod.encode_frames = real
    return got


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else round(10 * np.log10(255.0 ** 2 / mse), 2)


def psnr_cmd(args) -> dict:
    image = photo()
    n = int(round(args.seconds * args.fps))
    keep = set(range(0, n, max(1, n // args.frames)))
    old = capture(load_before(args.before), image, args.seconds, args.fps, keep)
    new = capture(after, image, args.seconds, args.fps, keep)
    W, H = 1080, 1920
    rows = []
    for i in sorted(keep):
        a, b = old[i], new[i]
        rows.append({"frame": i, "psnr_all": psnr(a, b), "psnr_y": psnr(a[: W * H], b[: W * H]),
                     "psnr_uv": psnr(a[W * H :], b[W * H :]),
                     "max_abs_y": int(np.abs(a[: W * H].astype(int) - b[: W * H]).max())})
    finite = [r["psnr_all"] for r in rows if r["psnr_all"] != float("inf")]
    return {"frames": rows, "min_psnr_all": min(finite) if finite else "inf",
            "median_psnr_all": statistics.median(finite) if finite else "inf"}


def profile_cmd(args) -> dict:
    image = photo()
    mod = load_before(args.before) if args.which == "before" else after
    render(mod, image, 1.0, args.fps)
    pr = cProfile.Profile()
    pr.enable()
    res = render(mod, image, args.seconds, args.fps)
    pr.disable()
    pstats.Stats(pr, stream=sys.stderr).sort_stats("tottime").print_stats(15)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["compare", "psnr", "profile"])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--frames", type=int, default=12, help="psnr: how many frames to compare")
    ap.add_argument("--before", default=BEFORE_REV, help="git revision of the 'before' video.py")
    ap.add_argument("--which", choices=["before", "after"], default="after", help="profile: which renderer")
    args = ap.parse_args()
    fn = {"compare": compare, "psnr": psnr_cmd, "profile": profile_cmd}[args.cmd]
    print(json.dumps(fn(args), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
