"""Short product videos: several shots (hero, close-ups, variants, price card), narration, subtitles.

The copy is `media.copy.publishable_copy` (generated or a grounded template, every line guarded);
shots follow the narration line by line, subtitles are timed per sentence from the TTS durations,
and the video is as long as the narration (or the narration is paced to fill a fixed length).

Why this pipeline: frames are composed with numpy/OpenCV/PIL (CJK subtitles need a real font) and
piped raw into the ffmpeg binary bundled by `imageio-ffmpeg`, so no system ffmpeg and no temp
frame files are needed; the narration WAV from `media.tts` is muxed in the same ffmpeg call.

Speed: frames are built directly as I420 (the encoder's own format): each stage is converted once,
the camera crops and resizes the Y/U/V planes (1.5 bytes a pixel, no per-frame colour conversion),
subtitles and the price card are blended with precomputed premultiplied alpha on the rows and
columns they cover, and the later stages/overlays are prepared while the first shot is encoded.
What is left is mostly x264 itself (`ultrafast`, CRF 23: ~70% of the CPU of a 1080x1920 render);
see docs/benchmarks.md "Video render at 1080×1920".
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
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
from shopmind.compliance.guard import guard
from shopmind.media.copy import MediaCopy, publishable_copy
from shopmind.media.poster import ACCENT, price_label, spoken_amount
from shopmind.media.tts import MAX_LINE_CHARS, LineTiming, ScriptLine, synthesize_script

VideoFormat = Literal["vertical", "square"]
FORMATS: dict[str, tuple[int, int]] = {"vertical": (1080, 1920), "square": (1080, 1080)}
# x264 speed presets. "ultrafast" is the default: x264 encoding was half the render time at
# 1080x1920 on 2 cores; it costs file size (about 2x at the same CRF), not visible quality.
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium")


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
    shots: list["Shot"] = []
    narration_seconds: float = 0.0
    narration_coverage: float = 0.0  # end of the last spoken line / video length


def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise BackendUnavailable("video rendering needs the 'imageio-ffmpeg' package") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def narration_script(product: Product, copy: MediaCopy | None = None, max_points: int = 3) -> list[ScriptLine]:
    """What the voice says and the subtitles show, one sentence a line: headline, points, price.

    Every line passes the guard (rewrite mode); a line the guard empties is left out."""
    copy = copy or publishable_copy(product, copy="template", max_points=max_points)
    lang = "zh" if copy.language == "zh" else "en"
    texts = [copy.headline[:120]]
    for p in copy.points[:max_points]:
        said = p.replace("：", "，").replace(": ", ", ")
        texts += [s for s in re.split(r"(?<=[。！？!?])\s*", said) if s.strip()]
    if product.price is not None:
        amount = spoken_amount(product.price)
        texts.append(f"到手价 {amount} 元" if lang == "zh" else f"The price is {amount} yuan")
    lines = []
    for text in texts:
        g = guard(text[:MAX_LINE_CHARS], product=product)
        if g.passed and g.text.strip():
            lines.append(ScriptLine(text=g.text, lang=lang))
    if not lines:
        raise BadInput("nothing in the video copy passes the guard")
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


def _i420_planes(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An even-sized RGB image as its I420 planes (Y full size, U and V at half size), converted once.

    Why: the camera then crops and resizes 1.5 bytes a pixel instead of 3, and no frame needs its
    own RGB->YUV conversion. Resizing, cross-fading and alpha blending are linear, and YUV is an
    affine map of RGB, so doing them on the planes gives the same picture (up to rounding and the
    chroma being resampled at half resolution, as the encoder would store it anyway)."""
    h, w = rgb.shape[:2]
    flat = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420).reshape(-1)
    q = (h // 2) * (w // 2)
    return flat[: h * w].reshape(h, w), flat[h * w : h * w + q].reshape(h // 2, w // 2), flat[h * w + q :].reshape(h // 2, w // 2)


class _Overlay:
    """An RGBA strip (subtitle, price card) prepared for blending onto I420 frames.

    Precomputed once per strip: its I420 colour premultiplied by alpha and (255 - alpha), for the
    luma rows and, with alpha averaged over 2x2 blocks, for the chroma rows; cropped to the columns
    it actually covers. A frame then only pays a few uint16 operations on those rows and columns."""

    def __init__(self, rgba: np.ndarray, y: int, frame_w: int, frame_h: int) -> None:
        if y % 2:  # chroma rows cover two luma rows: start on an even row (one transparent row on top)
            rgba = np.concatenate([np.zeros((1,) + rgba.shape[1:], rgba.dtype), rgba])
            y -= 1
        if rgba.shape[0] % 2:
            rgba = np.concatenate([rgba, np.zeros((1,) + rgba.shape[1:], rgba.dtype)])
        cols = np.flatnonzero(rgba[:, :, 3].max(axis=0))
        x0 = int(cols[0]) // 2 * 2 if cols.size else 0
        x1 = min(rgba.shape[1], (int(cols[-1]) // 2 + 1) * 2) if cols.size else 0
        h = max(0, min(rgba.shape[0], frame_h - y)) // 2 * 2
        self.y, self.x0, self.x1, self.h = y, x0, x1, h
        self.empty = h <= 0 or x1 <= x0 or y < 0
        if self.empty:
            return
        part = np.ascontiguousarray(rgba[:h, x0:x1])
        self.alpha = part[:, :, 3].astype(np.float32)  # for fades (opacity < 1)
        self.alpha_uv = self.alpha.reshape(h // 2, 2, -1, 2).mean(axis=(1, 3))
        ys, us, vs = _i420_planes(part[:, :, :3])
        self.planes = (ys.astype(np.float32), us.astype(np.float32), vs.astype(np.float32))
        self._full = self._premultiply(1.0)

    def _premultiply(self, opacity: float) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for plane, a in zip(self.planes, (self.alpha, self.alpha_uv, self.alpha_uv)):
            a = np.rint(a * opacity)  # whole alpha steps: colour*a + frame*(255-a) stays <= 255*255
            out.append(((plane * a).astype(np.uint16), (255.0 - a).astype(np.uint16)))
        return out

    def blend(self, planes: tuple[np.ndarray, np.ndarray, np.ndarray], opacity: float = 1.0) -> None:
        """frame = frame * (1 - a) + colour * a, in place, rounded (a = alpha / 255 * opacity)."""
        if self.empty or opacity <= 0:
            return
        pre = self._full if opacity >= 1.0 else self._premultiply(opacity)
        for k, (plane, (pc, inv)) in enumerate(zip(planes, pre)):
            s = 1 if k == 0 else 2
            region = plane[self.y // s : (self.y + self.h) // s, self.x0 // s : self.x1 // s]
            acc = region * inv  # uint8 * uint16 -> uint16
            acc += pc
            acc += 128
            acc += acc >> 8  # with the shift below: round(x / 255), exact for x <= 255 * 255
            region[...] = acc >> 8


def _ease(t: float) -> float:
    return 0.5 - 0.5 * np.cos(np.pi * min(1.0, max(0.0, t)))


def _cover(img: Image.Image, box: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    """img[box] grown to the aspect of `size` (within the image) and resized to it."""
    x1, y1, x2, y2 = box
    target = size[0] / size[1]
    w, h = x2 - x1, y2 - y1
    if w / max(h, 1) > target:
        h = min(img.height, int(round(w / target)))
    else:
        w = min(img.width, int(round(h * target)))
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left = int(np.clip(cx - w / 2, 0, img.width - w))
    top = int(np.clip(cy - h / 2, 0, img.height - h))
    part = img.crop((left, top, left + w, top + h))
    if w < size[0] and h < size[1]:
        # Enlarging (close-ups usually are): OpenCV's bicubic is ~10x cheaper than PIL's Lanczos
        # here and within ~52 dB PSNR of it on product photos.
        return cv2.resize(np.asarray(part), size, interpolation=cv2.INTER_CUBIC)
    return np.asarray(part.resize(size, Image.LANCZOS))


class Shot(BaseModel):
    """One camera set-up: what it shows and when (the narration line it covers)."""

    kind: Literal["hero", "detail", "variant", "price"]
    start: float
    end: float
    region: list[int] | None = None  # the source crop, for detail shots


def _detail_regions(box: tuple[int, int, int, int], n: int) -> list[tuple[int, int, int, int]]:
    """`n` close-ups inside the product box: upper, middle, lower, then left and right halves."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    cands = [(x1 + w * 0.15, y1, x2 - w * 0.15, y1 + h * 0.5), (x1 + w * 0.15, y1 + h * 0.25, x2 - w * 0.15, y1 + h * 0.75),
             (x1 + w * 0.15, y1 + h * 0.5, x2 - w * 0.15, y2), (x1, y1 + h * 0.2, x1 + w * 0.6, y2 - h * 0.2),
             (x2 - w * 0.6, y1 + h * 0.2, x2, y2 - h * 0.2)]
    return [tuple(int(v) for v in cands[i % len(cands)]) for i in range(n)]  # type: ignore[misc]


def plan_shots(timings: list[LineTiming], seconds: float, has_price: bool, n_variants: int = 0) -> list[Shot]:
    """Shots follow the narration: the headline on the hero shot, each point on a close-up (or a
    colour/variant photo when there are any), the price line on the price card."""
    shots: list[Shot] = []
    details = 0
    for i, t in enumerate(timings):
        start = 0.0 if i == 0 else t.start
        end = timings[i + 1].start if i + 1 < len(timings) else seconds
        if i == 0:
            kind = "hero"
        elif has_price and i == len(timings) - 1:
            kind = "price"
        elif n_variants and details % 2 == 1:
            kind = "variant"
        else:
            kind = "detail"
        if kind in ("detail", "variant"):
            details += 1
        shots.append(Shot(kind=kind, start=round(start, 3), end=round(max(end, start + 0.04), 3)))
    if not shots:
        shots.append(Shot(kind="hero", start=0.0, end=seconds))
    shots[-1].end = seconds
    return shots


def _fill_gap(lines: list[ScriptLine], seconds: float, narration, tmp: Path, gap: float):
    """Re-synthesise with longer pauses so the voice runs to the end of a fixed-length video."""
    n = len(lines)
    spoken = narration.duration - gap * (n - 1)
    wanted = seconds - 0.6 - spoken
    if n < 2 or wanted <= gap * (n - 1) + 0.3:
        return narration
    new_gap = min(2.5, wanted / (n - 1))
    return synthesize_script(lines, tmp / "narration_paced.wav", gap=new_gap)


def _widen_pipe(stream) -> None:
    """Ask Linux for a 1 MiB pipe (default 64 KiB): a 3 MB frame then takes a few writes and
    wake-ups of ffmpeg instead of ~50. Best effort; other systems keep their default."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError, ValueError):
        pass


def encode_frames(proc: subprocess.Popen, frames: Iterable[bytes]) -> None:
    """Pipe raw frames into a running ffmpeg encoder and wait for it. A broken pipe only means ffmpeg
    stopped early; its exit status and stderr say why, as a BackendUnavailable."""
    try:
        for frame in frames:
            proc.stdin.write(frame)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    err = proc.stderr.read().decode("utf-8", "replace")
    if proc.wait() != 0:
        raise BackendUnavailable(f"ffmpeg failed: {err[-500:]}")


def render_video(
    product: Product,
    image: Image.Image,
    out: str | Path,
    *,
    fmt: VideoFormat = "vertical",
    seconds: float | None = None,
    fps: int = 25,
    script: list[ScriptLine] | None = None,
    copy: MediaCopy | None = None,
    variants: list[Image.Image] | None = None,
    probe: bool = True,
    preset: str = "ultrafast",
) -> VideoResult:
    """Render an H.264/AAC MP4 with narration, per-sentence subtitles and several shots.

    Without `seconds` the video is as long as the narration (plus a short tail); with it, the
    narration is paced to fill the video (or cut where it would overrun). Every narrated and
    subtitled line passes the guard, whatever its source."""
    if fmt not in FORMATS:
        raise BadInput(f"unknown video format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if seconds is not None and not (1.0 <= seconds <= 120.0):
        raise BadInput("--seconds must be between 1 and 120")
    if not (1 <= fps <= 60):
        raise BadInput("fps must be between 1 and 60")
    if preset not in X264_PRESETS:
        raise BadInput(f"unknown x264 preset {preset!r}; choose one of {', '.join(X264_PRESETS)}")
    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise BadInput(f"video output must be an .mp4 file, got {out.name!r}")
    W, H = FORMATS[fmt]
    t_start = time.perf_counter()
    if script is None:  # narration_script guards every line it returns (same rule, once)
        guarded = [ScriptLine(text=ln.text[:MAX_LINE_CHARS], lang=ln.lang) for ln in narration_script(product, copy)]
    else:
        guarded = []
        for ln in script:  # caller-supplied scripts are guarded too: no bypass
            g = guard(ln.text, product=product)
            if g.passed and g.text.strip():
                guarded.append(ScriptLine(text=g.text[:MAX_LINE_CHARS], lang=ln.lang))
    if not guarded:
        raise BadInput("no narration line passes the guard")
    price = price_label(product.price)
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=1) as pool:
        gap = 0.25
        # The TTS engine mostly waits on its subprocess: let it run while the hero stage is drawn.
        tts = pool.submit(synthesize_script, guarded, Path(tmp) / "narration.wav", gap=gap)
        src = image.convert("RGB")
        bg = border_colour(src)
        mask = foreground_mask(src)
        pbox = mask_box(mask, margin=0.06)
        crop = src.crop(pbox)
        # Hero stage: the product on its own background, 20% larger than the frame so the camera can move.
        zoom_max = 1.2
        SW, SH = int(W * zoom_max), int(H * zoom_max)
        stage_img = Image.new("RGB", (SW, SH), bg)
        rect = fit_contain(crop.width, crop.height, (int(SW * 0.06), int(SH * 0.05), int(SW * 0.94), int(SH * 0.72)))
        stage_img.paste(crop.resize((rect[2] - rect[0], rect[3] - rect[1]), Image.LANCZOS), rect[:2])
        hero = np.asarray(stage_img)
        hero_planes = _i420_planes(hero)
        focus = ((rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2)
        narration = tts.result()
        if seconds is None:
            seconds = float(min(120.0, max(1.0, round(narration.duration + 0.8, 2))))
        else:
            narration = _fill_gap(guarded, seconds, narration, Path(tmp), gap)
        timings = [t for t in narration.lines if t.start < seconds]
        has_price = bool(price) and bool(timings) and spoken_amount(product.price) in timings[-1].text
        shots = plan_shots(timings, seconds, has_price, len(variants or []))
        regions = _detail_regions(pbox, sum(s.kind == "detail" for s in shots))
        d = 0
        for s in shots:
            if s.kind == "detail":
                s.region = list(regions[d])
                d += 1
        on_hero = [s.kind in ("hero", "price") for s in shots]
        sub_size = int(W * 0.055)
        price_from = next((s.start for s in shots if s.kind == "price"), seconds * 0.6)
        first_sub = _render_overlay(timings[0].text, W, sub_size, (255, 255, 255, 255), (0, 0, 0, 160))
        sub0 = _Overlay(first_sub, H - first_sub.shape[0] - int(H * 0.06), W, H)

        def prepare_rest() -> tuple[list, list[_Overlay], _Overlay | None]:
            """Close-up/variant stages (as I420 planes), the other subtitles and the price card.
            None is needed before the second shot, the second line or the price card, so this runs
            in the background while the first frames are already being encoded."""
            stage_planes, vv = [], 0
            for s in shots:
                if s.kind == "detail":
                    stage_planes.append(_i420_planes(_cover(src, tuple(s.region), (SW, SH))))  # type: ignore[arg-type]
                elif s.kind == "variant":
                    vimg = variants[vv % len(variants)].convert("RGB")  # type: ignore[index]
                    vbox = mask_box(foreground_mask(vimg), margin=0.06)
                    stage_planes.append(_i420_planes(_cover(vimg, vbox, (SW, SH))))
                    vv += 1
                else:
                    stage_planes.append(hero_planes)
            overlays = [first_sub] + [_render_overlay(t.text, W, sub_size, (255, 255, 255, 255), (0, 0, 0, 160))
                                      for t in timings[1:]]
            price_card = _render_overlay(price, W, int(W * 0.1), (255, 255, 255, 255), ACCENT + (235,)) if price else None
            sub_h = max(ov.shape[0] for ov in overlays)
            card_y = H - int(H * 0.06) - sub_h - int(H * 0.03) - (price_card.shape[0] if price_card is not None else 0)
            subs = [sub0] + [_Overlay(ov, H - ov.shape[0] - int(H * 0.06), W, H) for ov in overlays[1:]]
            card = _Overlay(price_card, card_y, W, H) if price_card is not None else None
            return stage_planes, subs, card

        rest_job = pool.submit(prepare_rest)
        # the first moment a frame needs more than the hero stage and the first subtitle
        need_rest = min(([shots[1].start] if len(shots) > 1 else [seconds])
                        + [timings[0].end + 0.2] + ([price_from] if price else []))
        cmd = [
            ffmpeg_exe(), "-y", "-loglevel", "error",
            # Frames travel as I420 (half the bytes of RGB; no colour conversion inside ffmpeg).
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{W}x{H}", "-r", str(fps), "-i", "-",
            "-i", narration.wav,
            "-filter_complex", "[1:a]apad[a]", "-map", "0:v", "-map", "[a]",
            "-c:v", "libx264", "-preset", preset, "-tune", "stillimage", "-crf", "23", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", "-t", f"{seconds:.3f}", "-movflags", "+faststart", str(out),
        ]
        out.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        _widen_pipe(proc.stdin)
        n_frames = int(round(seconds * fps))

        def frame_buffer() -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
            buf = np.empty(W * H * 3 // 2, np.uint8)
            q = (W // 2) * (H // 2)
            return buf, (buf[: W * H].reshape(H, W), buf[W * H : W * H + q].reshape(H // 2, W // 2),
                         buf[W * H + q :].reshape(H // 2, W // 2))

        def camera(idx: int, t: float, stage_planes: list, dst: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
            """The shot's push-in at time t, cropped and resized plane by plane into `dst`."""
            s = shots[idx]
            u = _ease((t - s.start) / max(s.end - s.start, 1e-3))
            if s.kind == "price":
                u = 0.3 * u  # the price card shot stays calm
            z = 1.0 + (zoom_max - 1.0) * u  # slow push-in
            cw, ch = SW / z, SH / z
            fx, fy = (focus if on_hero[idx] else (SW / 2, SH / 2))
            cx = np.clip(SW / 2 + (fx - SW / 2) * u, cw / 2, SW - cw / 2)
            cy = np.clip(SH / 2 + (fy - SH / 2) * u, ch / 2, SH - ch / 2)
            x0, y0, w, h = int(cx - cw / 2), int(cy - ch / 2), int(cw), int(ch)
            ys, us, vs = stage_planes[idx]
            cv2.resize(ys[y0 : y0 + h, x0 : x0 + w], (W, H), dst=dst[0], interpolation=cv2.INTER_LINEAR)
            # chroma: the same window at half resolution (its start rounded down to a chroma sample)
            cx0, cy0 = x0 // 2, y0 // 2
            cw2, ch2 = min((w + 1) // 2, SW // 2 - cx0), min((h + 1) // 2, SH // 2 - cy0)
            for src, out_plane in ((us, dst[1]), (vs, dst[2])):
                cv2.resize(src[cy0 : cy0 + ch2, cx0 : cx0 + cw2], (W // 2, H // 2), dst=out_plane,
                           interpolation=cv2.INTER_LINEAR)

        def frames():
            buf, planes = frame_buffer()
            prev_buf, prev_planes = frame_buffer()
            fade = 0.3
            stage_planes: list = [hero_planes] * len(shots)
            subs, card, loaded = [sub0], None, False
            for i in range(n_frames):
                t = i / fps
                if t >= need_rest and not loaded:
                    stage_planes, subs, card = rest_job.result()
                    loaded = True
                idx = max(k for k, s in enumerate(shots) if s.start <= t or k == 0)
                camera(idx, t, stage_planes, planes)
                if idx > 0 and t - shots[idx].start < fade:  # short cross-fade from the previous shot
                    a = (t - shots[idx].start) / fade
                    camera(idx - 1, t, stage_planes, prev_planes)
                    cv2.addWeighted(buf, a, prev_buf, 1 - a, 0, dst=buf)
                if card is not None and t >= price_from:
                    card.blend(planes, opacity=min(1.0, (t - price_from) * 3))
                for timing, sub in zip(timings, subs):
                    if timing.start <= t < timing.end + 0.2:
                        sub.blend(planes)
                        break
                yield buf  # written straight from the buffer (no per-frame bytes copy)

        try:
            encode_frames(proc, frames())
        except BaseException:  # a failed background step: stop ffmpeg, leave no half-written file
            proc.kill()
            proc.wait()
            out.unlink(missing_ok=True)
            raise
        narration_s = narration.duration
    elapsed = time.perf_counter() - t_start
    return VideoResult(
        out=str(out), format=fmt, width=W, height=H, fps=fps, seconds=seconds, script=timings,
        render_seconds=round(elapsed, 3), render_seconds_per_video_second=round(elapsed / seconds, 4),
        tts_rtf=narration.rtf, probe=probe_video(out) if probe else None, shots=shots,
        narration_seconds=narration_s, narration_coverage=round(min(1.0, (timings[-1].end if timings else 0) / seconds), 4),
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


VideoResult.model_rebuild()
