"""Measurements for the media capability (used by `shopmind eval media` and scripts/bench_media.py).

- PII recall on synthetic shipping labels with planted values (exact ground-truth boxes);
- face detections on the fashion100 model photos (no face labels exist: counts + score spread);
- TTS real-time factor and video render seconds per video second.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from PIL import Image, ImageDraw

from shopmind.domain import Product
from shopmind.media.redact import find_redactions
from shopmind.media.synthlabel import coverage, render_label

COVERED = 0.9  # a planted value counts as redacted when >= 90% of its pixels are blurred


def eval_pii_labels(n: int = 20, seed: int = 0) -> dict:
    """Recall of planted PII (any blur covering it; and with the right kind) + false blurs on non-PII."""
    planted_by_kind: Counter[str] = Counter()
    hit_by_kind: Counter[str] = Counter()
    kind_ok = 0
    extra = 0
    seconds = 0.0
    for i in range(n):
        img, planted = render_label(seed + i)
        t0 = time.perf_counter()
        found, _ = find_redactions(img, faces=False)
        seconds += time.perf_counter() - t0
        boxes = [r.box for r in found]
        used = set()
        for p in planted:
            planted_by_kind[p.kind] += 1
            if coverage(p.box, boxes) >= COVERED:
                hit_by_kind[p.kind] += 1
                same = [j for j, r in enumerate(found) if r.kind == p.kind and coverage(p.box, [r.box]) >= 0.5]
                kind_ok += bool(same)
                used.update(same)
        for j, r in enumerate(found):
            if j not in used and not any(coverage(p.box, [r.box]) > 0.3 for p in planted):
                extra += 1
    total = sum(planted_by_kind.values())
    return {
        "dataset": "synthetic shipping labels (shopmind.media.synthlabel, seeds %d..%d)" % (seed, seed + n - 1),
        "labels": n,
        "planted": total,
        "recall_covered": round(sum(hit_by_kind.values()) / total, 4) if total else 0.0,
        "recall_kind_correct": round(kind_ok / total, 4) if total else 0.0,
        "recall_by_kind": {k: round(hit_by_kind[k] / v, 4) for k, v in sorted(planted_by_kind.items())},
        "false_redactions": extra,
        "seconds_per_label": round(seconds / n, 3) if n else 0.0,
    }


def eval_faces(images_dir: Path, limit: int | None = None) -> dict:
    """Face detections per photo on a folder of product photos (unlabelled: counts, not accuracy)."""
    from shopmind.media.redact import default_face_detector

    detector = default_face_detector()
    files = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if limit:
        files = files[:limit]
    per_image: dict[str, int] = {}
    scores: list[float] = []
    t0 = time.perf_counter()
    for f in files:
        with Image.open(f) as im:
            dets = detector.detect(im.convert("RGB"))
        per_image[f.stem] = len(dets)
        scores += [s for _, s in dets]
    secs = time.perf_counter() - t0
    return {
        "dataset": str(images_dir),
        "images": len(files),
        "images_with_faces": sum(1 for v in per_image.values() if v),
        "faces": sum(per_image.values()),
        "images_with_2plus_faces": sum(1 for v in per_image.values() if v >= 2),
        "min_score": round(min(scores), 4) if scores else None,
        "mean_score": round(sum(scores) / len(scores), 4) if scores else None,
        "seconds_per_image": round(secs / len(files), 3) if files else 0.0,
        "ids_with_faces": sorted(k for k, v in per_image.items() if v),
    }


def bench_tts() -> dict:
    from shopmind.media.tts import synthesize_script

    script = [
        {"text": "这款纯棉短袖T恤柔软透气，夏天穿着清爽舒适。", "lang": "zh"},
        {"text": "宽松版型，男女同款，多色可选。", "lang": "zh"},
        {"text": "Soft breathable cotton, relaxed fit, available in five colours.", "lang": "en"},
    ]
    with tempfile.TemporaryDirectory() as tmp:
        n = synthesize_script(script, Path(tmp) / "s.wav")
    return {"backend": n.backend, "lines": len(script), "audio_seconds": n.duration, "synth_seconds": n.synth_seconds, "rtf": n.rtf}


def bench_video(image: Image.Image, seconds: float = 15.0, fps: int = 25, fmt: str = "vertical") -> dict:
    from shopmind.media.video import render_video

    product = Product(id="bench", title="纯棉印花短袖T恤 夏季透气 男女同款", price=99.0,
                      attributes={"材质": "纯棉", "版型": "宽松", "颜色": "白色"})
    with tempfile.TemporaryDirectory() as tmp:
        # A 1 s warm-up render first: the guard's rules, fonts and TTS load once per process, and
        # that one-off start-up is not rendering speed (it is reported apart).
        t0 = time.perf_counter()
        render_video(product, image, Path(tmp) / "warm.mp4", fmt=fmt, seconds=1.0, fps=fps, probe=False)
        warm_s = time.perf_counter() - t0
        r = render_video(product, image, Path(tmp) / "v.mp4", fmt=fmt, seconds=seconds, fps=fps)
    return {"format": fmt, "warmup_render_s": round(warm_s, 3), "width": r.width, "height": r.height, "fps": fps, "seconds": seconds, "render_seconds": r.render_seconds,
            "render_seconds_per_video_second": r.render_seconds_per_video_second,
            "video_x_realtime": round(seconds / r.render_seconds, 3) if r.render_seconds else None,
            "probe": r.probe.model_dump() if r.probe else None}


def eval_video_speed(images_dir: Path, seconds: float = 10.0) -> dict:
    """`video_x_realtime`: seconds of 1080x1920 video per second of rendering (narration, shots,
    subtitles and encoding included), on a fashion100 photo or a drawn product when it is missing."""
    photo = images_dir / "10015.jpg"
    if photo.is_file():
        image = Image.open(photo).convert("RGB")
    else:
        image = Image.new("RGB", (600, 800), (246, 245, 241))
        ImageDraw.Draw(image).rectangle([150, 150, 450, 650], fill=(40, 90, 160))
    bench = bench_video(image, seconds=seconds, fmt="vertical")
    return {"video_x_realtime": bench["video_x_realtime"], "video": bench}


def to_json(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False)


TRYON_PERSONS = ["10015", "10043", "10057"]
TRYON_GARMENTS = ["10005", "10019", "10024"]


def eval_studio(images_dir: Path, anchor_scripts: int = 3, tryon: bool = True) -> dict:
    """Anchor lip-sync/speed and try-on figures on the fashion100 photos (see `shopmind.anchor.evaluate`).

    Skipped (with the reason) when mediapipe, espeak-ng or the photos are missing."""
    import shutil

    from shopmind.anchor.mp import available

    if not images_dir.is_dir():
        return {"anchor": {"skipped": f"{images_dir} not found"}, "tryon": {"skipped": f"{images_dir} not found"}}
    if not available():
        why = {"skipped": "mediapipe 0.10.21 not installed (extra `anchor`)"}
        return {"anchor": why, "tryon": why}
    from shopmind.anchor import evaluate as studio

    out: dict = {}
    portrait = images_dir / "10015.jpg"
    if anchor_scripts > 0 and shutil.which("espeak-ng") and portrait.is_file():
        out["anchor"] = studio.eval_lipsync(portrait, n=anchor_scripts)
    elif anchor_scripts > 0:
        out["anchor"] = {"skipped": "espeak-ng or the portrait photo is missing"}
    else:
        out["anchor"] = {"skipped": "--anchor-scripts 0"}
    if tryon:
        summary, _ = studio.eval_tryon(images_dir, TRYON_PERSONS, TRYON_GARMENTS)
        out["tryon"] = summary
    else:
        out["tryon"] = {"skipped": "--no-tryon"}
    return out
