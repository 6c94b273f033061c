"""Benchmark the media capability; prints one JSON object.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_media.py [--labels 20] [--faces-limit N] [--video-seconds 15] [--fps 25]

Measures: planted-PII recall on synthetic shipping labels, face detections on fashion100 model
photos (../shared/data; skipped when absent), NSFW scores on the same photos, TTS real-time factor,
and video render seconds per video second.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw

from shopmind.media.evaluate import bench_tts, bench_video, eval_faces, eval_pii_labels

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fashion100" / "images"


def nsfw_scores(folder: Path, limit: int | None) -> dict:
    from shopmind.media.screen import screen_images

    files = sorted(folder.glob("*.jpg"))[:limit] if limit else sorted(folder.glob("*.jpg"))
    t0 = time.perf_counter()
    scores = []
    for f in files:
        with Image.open(f) as im:
            scores.append(screen_images([im.convert("RGB")])[0].nsfw_score)
    return {"images": len(files), "flagged_at_0.7": sum(s >= 0.7 for s in scores), "max_score": max(scores, default=None),
            "mean_score": round(sum(scores) / len(scores), 4) if scores else None,
            "seconds_per_image": round((time.perf_counter() - t0) / max(1, len(files)), 4)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", type=int, default=20)
    ap.add_argument("--faces-limit", type=int, default=None)
    ap.add_argument("--video-seconds", type=float, default=15.0)
    ap.add_argument("--fps", type=int, default=25)
    args = ap.parse_args()
    out: dict = {"machine": f"{platform.machine()} {platform.system()}, cpu threads=1", "date": time.strftime("%Y-%m-%d")}
    print("PII on synthetic labels …", file=sys.stderr)
    out["pii_labels"] = eval_pii_labels(args.labels)
    if DATA.is_dir():
        print("faces + NSFW on fashion100 …", file=sys.stderr)
        faces = eval_faces(DATA, args.faces_limit)
        faces["ids_with_faces"] = len(faces.pop("ids_with_faces"))
        out["faces_fashion100"] = faces
        out["nsfw_fashion100"] = nsfw_scores(DATA, args.faces_limit)
        photo = Image.open(DATA / "10015.jpg").convert("RGB")
    else:
        out["faces_fashion100"] = {"skipped": f"{DATA} not found"}
        photo = Image.new("RGB", (900, 1200), (245, 245, 245))
        ImageDraw.Draw(photo).ellipse((200, 300, 700, 1100), fill=(190, 30, 40))
    print("TTS …", file=sys.stderr)
    out["tts"] = bench_tts()
    print("video …", file=sys.stderr)
    out["video_vertical"] = bench_video(photo, seconds=args.video_seconds, fps=args.fps, fmt="vertical")
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
