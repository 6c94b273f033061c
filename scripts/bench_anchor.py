"""Anchor studio figures for docs/benchmarks.md: lip-sync on 10 scripts, 720p/1080p render speed,
try-on 3x3 grid, and the contact sheet in docs/media/. Reads ../shared/data/fashion100/images.

    .venv/bin/python scripts/bench_anchor.py [--scripts 10] > anchor_bench.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO.parent / "shared" / "data" / "fashion100" / "images"


def _save(image: Image.Image, path: Path) -> None:
    """Palette PNG with dithering: a quarter of the size, colours kept (median-cut shifted them)."""
    image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scripts", type=int, default=10)
    ap.add_argument("--skip-lipsync", action="store_true")
    ap.add_argument("--compare-phonemes", action="store_true", help="Only the energy vs phoneme viseme comparison.")
    args = ap.parse_args()
    if not IMAGES.is_dir():
        print(json.dumps({"skipped": f"{IMAGES} not found"}))
        return 0
    from shopmind.anchor import evaluate as ev
    from shopmind.anchor.portrait import load_portrait
    from shopmind.anchor.studio import render_anchor
    from shopmind.media.evaluate import TRYON_GARMENTS, TRYON_PERSONS
    from shopmind.media.fonts import font

    out: dict = {}
    if args.compare_phonemes:
        print(json.dumps({"phonemes": ev.eval_phonemes(IMAGES, n=args.scripts)}, ensure_ascii=False))
        return 0
    if not args.skip_lipsync:
        out["lipsync"] = ev.eval_lipsync(IMAGES / "10015.jpg", n=args.scripts)
    out["speed"] = ev.eval_speed(IMAGES / "10015.jpg")
    summary, tiles = ev.eval_tryon(IMAGES, TRYON_PERSONS, TRYON_GARMENTS)
    out["tryon"] = summary
    media = REPO / "docs" / "media"
    media.mkdir(parents=True, exist_ok=True)
    _save(ev.grid(tiles, 3, (300, 400)), media / "tryon_grid.png")
    # contact sheet: anchor frames from two presenters (zh + en) and the try-on row
    frames: list[Image.Image] = []
    with tempfile.TemporaryDirectory() as tmp:
        for photo, script in (("10015", ev.SCRIPTS[0]), ("10057", ev.SCRIPTS[2])):
            pic = load_portrait(IMAGES / f"{photo}.jpg", consent_text="benchmark contact sheet")
            r = render_anchor(pic, script, Path(tmp) / f"{photo}.mp4", measure=False)
            frames += ev.video_frames(Path(tmp) / f"{photo}.mp4", [0.3, 1.1, 1.9, r.duration_s * 0.7])
    sheet = ev.grid(frames + tiles[:4], 4, (270, 480))
    ImageDraw.Draw(sheet).text((8, sheet.height - 30), "rows 1-2: anchor frames (AI-generated); row 3: geometric try-on",
                               fill=(200, 0, 0), font=font(18))
    _save(sheet, media / "anchor_contact_sheet.png")
    out["images"] = [str((media / n).relative_to(REPO)) for n in ("tryon_grid.png", "anchor_contact_sheet.png")]
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
