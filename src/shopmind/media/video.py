"""Short product videos: Ken Burns pan/zoom over the photo, burned-in subtitles, narration, price card.

Why this pipeline: frames are composed with numpy/OpenCV/PIL (CJK subtitles need a real font) and
piped raw into the ffmpeg binary bundled by `imageio-ffmpeg`, so no system ffmpeg and no temp
frame files are needed; the narration WAV from `media.tts` is muxed in the same ffmpeg call.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from PIL import Image, ImageDraw
from pydantic import BaseModel

from shopmind.domain import Product
from shopmind.errors import BackendUnavailable, BadInput
from shopmind.media import fonts
from shopmind.media.layout import border_colour, fit_contain, fit_text, foreground_mask, mask_box
from shopmind.media.poster import ACCENT, default_copy, price_label
from shopmind.media.tts import LineTiming, ScriptLine, synthesize_script

VideoFormat = Literal["vertical", "square"]
FORMATS: dict[str, tuple[int, int]] = {"vertical": (1080, 1920), "square": (1080, 1080)}


class VideoProbe(BaseModel):
    duration: float
    width: int
    height: int
    fps: float
    frames: int
    video_codec: str
    has_audio: bool


class VideoResult(BaseModel):
    out: str
    format: VideoFormat
    width: int
    height: int
    fps: int
    seconds: float
    script: list[LineTiming]
    render_seconds: float
    render_seconds_per_video_second: float
    tts_rtf: float
    probe: VideoProbe | None = None


def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise BackendUnavailable("video rendering needs the 'imageio-ffmpeg' package") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def narration_script(product: Product, max_points: int = 3) -> list[ScriptLine]:
    """What the voice says (and the subtitles show): title, selling points, price."""
    head, points = default_copy(product, max_points=max_points)
    lang = "zh" if re.search(r"[\u4e00-\u9fff]", head) else "en"
    lines = [ScriptLine(text=head[:120], lang=lang)]
    lines += [ScriptLine(text=p.replace("：", "，").replace(": ", ", ")[:120], lang=lang) for p in points]
    price = price_label(product.price)
    if price:
        amount = price.lstrip("¥")
        lines.append(ScriptLine(text=f"到手价 {amount} 元" if lang == "zh" else f"Now only {amount} yuan", lang=lang))
    return lines


def _render_overlay(text: str, width: int, size: int, fill, panel) -> np.ndarray:
    """An RGBA strip with wrapped text on a rounded translucent panel (drawn once per line)."""
    probe = fit_text(text, (0, 0, int(width * 0.86), size * 4), fonts.font, max_size=size, max_lines=2)
    h = probe.line_height * len(probe.lines) + size
    img = Image.new("RGBA", (width, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    widths = [d.textlength(ln, font=probe.font) for ln in probe.lines]
    pad = size // 2
    left = int((width - max(widths)) / 2)
    d.rounded_rectangle((left - pad, 0, left + max(widths) + pad, h), radius=pad, fill=panel)
    y = pad // 2 + 2
    for ln, w in zip(probe.lines, widths):
        d.text(((width - w) / 2, y), ln, font=probe.font, fill=fill)
        y += probe.line_height
    return np.asarray(img)


def _blend(frame: np.ndarray, overlay: np.ndarray, y: int, opacity: float = 1.0) -> None:
    h = min(overlay.shape[0], frame.shape[0] - y)
    if h <= 0:
        return
    region = frame[y : y + h].astype(np.float32)
    alpha = overlay[:h, :, 3:4].astype(np.float32) / 255.0 * opacity
    frame[y : y + h] = (region * (1 - alpha) + overlay[:h, :, :3] * alpha).astype(np.uint8)


def _ease(t: float) -> float:
    return 0.5 - 0.5 * np.cos(np.pi * min(1.0, max(0.0, t)))


def render_video(
    product: Product,
    image: Image.Image,
    out: str | Path,
    *,
    fmt: VideoFormat = "vertical",
    seconds: float = 15.0,
    fps: int = 25,
    script: list[ScriptLine] | None = None,
    probe: bool = True,
) -> VideoResult:
    """Render an H.264/AAC MP4 of `seconds` at `fps` with narration and subtitles."""
    if fmt not in FORMATS:
        raise BadInput(f"unknown video format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not (1.0 <= seconds <= 120.0):
        raise BadInput("--seconds must be between 1 and 120")
    if not (1 <= fps <= 60):
        raise BadInput("fps must be between 1 and 60")
    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise BadInput(f"video output must be an .mp4 file, got {out.name!r}")
    W, H = FORMATS[fmt]
    t_start = time.perf_counter()
    src = image.convert("RGB")
    bg = border_colour(src)
    mask = foreground_mask(src)
    crop = src.crop(mask_box(mask, margin=0.06))
    # Stage: the product on its own background, 20% larger than the frame so the camera can move.
    zoom_max = 1.2
    SW, SH = int(W * zoom_max), int(H * zoom_max)
    stage_img = Image.new("RGB", (SW, SH), bg)
    rect = fit_contain(crop.width, crop.height, (int(SW * 0.06), int(SH * 0.05), int(SW * 0.94), int(SH * 0.72)))
    stage_img.paste(crop.resize((rect[2] - rect[0], rect[3] - rect[1]), Image.LANCZOS), rect[:2])
    stage = np.asarray(stage_img)
    focus = ((rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2)

    lines = script or narration_script(product)
    price = price_label(product.price)
    with tempfile.TemporaryDirectory() as tmp:
        narration = synthesize_script(lines, Path(tmp) / "narration.wav")
        timings = [t for t in narration.lines if t.start < seconds]
        sub_size = int(W * 0.055)
        overlays = [_render_overlay(t.text, W, sub_size, (255, 255, 255, 255), (0, 0, 0, 160)) for t in timings]
        price_card = _render_overlay(price, W, int(W * 0.1), (255, 255, 255, 255), ACCENT + (235,)) if price else None
        sub_h = max((ov.shape[0] for ov in overlays), default=0)
        card_y = H - int(H * 0.06) - sub_h - int(H * 0.03) - (price_card.shape[0] if price_card is not None else 0)
        price_from = next((t.start for t in timings if price and price.lstrip("¥") in t.text), seconds * 0.6)
        cmd = [
            ffmpeg_exe(), "-y", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", str(fps), "-i", "-",
            "-i", narration.wav,
            "-filter_complex", "[1:a]apad[a]", "-map", "0:v", "-map", "[a]",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", "-t", f"{seconds:.3f}", "-movflags", "+faststart", str(out),
        ]
        out.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        n_frames = int(round(seconds * fps))
        try:
            for i in range(n_frames):
                t = i / fps
                z = 1.0 + (zoom_max - 1.0) * _ease(t / seconds)  # slow push-in towards the product
                cw, ch = SW / z, SH / z
                cx = np.clip(SW / 2 + (focus[0] - SW / 2) * _ease(t / seconds), cw / 2, SW - cw / 2)
                cy = np.clip(SH / 2 + (focus[1] - SH / 2) * _ease(t / seconds), ch / 2, SH - ch / 2)
                x0, y0 = int(cx - cw / 2), int(cy - ch / 2)
                frame = cv2.resize(stage[y0 : y0 + int(ch), x0 : x0 + int(cw)], (W, H), interpolation=cv2.INTER_LINEAR)
                if price_card is not None and t >= price_from:
                    _blend(frame, price_card, card_y, opacity=min(1.0, (t - price_from) * 3))
                for timing, ov in zip(timings, overlays):
                    if timing.start <= t < timing.end + 0.2:
                        _blend(frame, ov, H - ov.shape[0] - int(H * 0.06))
                        break
                proc.stdin.write(np.ascontiguousarray(frame).tobytes())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        err = proc.stderr.read().decode("utf-8", "replace")
        if proc.wait() != 0:
            raise BackendUnavailable(f"ffmpeg failed: {err[-500:]}")
    elapsed = time.perf_counter() - t_start
    return VideoResult(
        out=str(out), format=fmt, width=W, height=H, fps=fps, seconds=seconds, script=timings,
        render_seconds=round(elapsed, 3), render_seconds_per_video_second=round(elapsed / seconds, 4),
        tts_rtf=narration.rtf, probe=probe_video(out) if probe else None,
    )


_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\S+.*?Video:\s*(\w+).*?(\d{2,5})x(\d{2,5}).*?(\d+(?:\.\d+)?) fps")


def probe_video(path: str | Path) -> VideoProbe:
    """Duration, size, codec and audio presence, read from `ffmpeg -i` (no ffprobe in the wheel)."""
    import imageio_ffmpeg

    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, timeout=60)
    info = proc.stderr.decode("utf-8", "replace")
    d, v = _DURATION.search(info), _VIDEO.search(info)
    if not d or not v:
        raise BadInput(f"not a readable video: {path}")
    frames, _secs = imageio_ffmpeg.count_frames_and_secs(str(path))
    return VideoProbe(
        duration=round(int(d.group(1)) * 3600 + int(d.group(2)) * 60 + float(d.group(3)), 3),
        width=int(v.group(2)), height=int(v.group(3)), fps=float(v.group(4)), frames=int(frames),
        video_codec=v.group(1), has_audio=bool(re.search(r"Stream #\S+.*Audio:", info)),
    )
