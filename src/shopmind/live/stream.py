"""Push-stream a live session: rotate through products with narration, price banner, coupon timer,
subtitles and (when a persona portrait is given) the talking anchor, to RTMP or HLS via ffmpeg.

Why this shape:
- **One clock.** The narration of a whole rotation is synthesised once into a WAV padded to a
  whole number of video frames and looped by ffmpeg (`-stream_loop -1`); video frames are numbered
  by the same rotation clock. Audio and video timestamps therefore come from the same count and
  cannot drift, however long the stream runs.
- **Real time by a wall-clock scheduler.** Frame `i` is due at `t0 + i/fps`; when rendering falls
  behind by more than one frame the previous frame is re-sent (counted as dropped), so the output
  stays at a constant frame rate and in step with the audio.
- Prices come from the verified optimiser (`live.optimizer.best_price`), lines from `live.script`
  (already grounded and guard-checked), money from `live.currency.format_money`.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import threading
import time
import wave
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel

from shopmind.anchor import layout
from shopmind.domain import Product
from shopmind.errors import BackendUnavailable, BadInput
from shopmind.media.tts import SAMPLE_RATE, LineTiming, synthesize_script

SPOKEN_KINDS = ("intro", "selling_point", "price", "cta")
RTMP_URL = re.compile(r"^rtmps?://[A-Za-z0-9.\-\[\]:]+(/[\w.\-~/%?=&]*)?$")


class StreamStats(BaseModel):
    target: str
    kind: str
    width: int
    height: int
    fps_target: int
    seconds: float
    frames: int
    fps: float
    dropped_frames: int
    bitrate_kbps: float | None = None
    bytes_out: int | None = None
    items: list[str]
    cycle_seconds: float
    anchor: bool
    segments: int | None = None
    av_drift_ms: float | None = None
    video_seconds_out: float | None = None
    audio_seconds_out: float | None = None


@dataclass
class StreamItem:
    product: Product
    start: float  # within the rotation, seconds
    end: float
    lines: list[LineTiming]
    price_text: str
    price_note: str
    card: np.ndarray | None = None
    subs: list[layout.Overlay] = field(default_factory=list)
    performer: object | None = None


def _product_image(product: Product, store=None) -> Image.Image:
    """The product's stored photo from `store` (the caller's catalog), else a neutral card."""
    from shopmind.catalog.images import open_image

    path = store.image_file(product.id) if store is not None and product.image_path else None
    if path is not None and path.is_file():
        return open_image(path).image.convert("RGB")
    img = Image.new("RGB", (600, 800), (236, 236, 236))  # no photo: a neutral card, the title still shows
    return img


def _price(product: Product, promotions, lang: str) -> tuple[str, str]:
    from shopmind.live.currency import format_money
    from shopmind.live.optimizer import best_price

    if product.price is None:
        return ("价格见详情页" if lang == "zh" else "See the listing for the price"), ""
    quote = best_price([(product.id, f"{product.price:.2f}", 1)], promotions)
    final = format_money(Decimal(quote.final_total), "CNY", lang)
    head = f"到手价 {final}" if lang == "zh" else f"You pay {final}"
    note = ""
    if quote.savings > 0:
        saved = format_money(Decimal(quote.savings), "CNY", lang)
        note = f"已优惠 {saved}" if lang == "zh" else f"You save {saved}"
    return head, note


def _lines_for(script, product_id: str, lang: str) -> list[dict]:
    for sec in script.sections:
        if sec.product_id == product_id:
            out = [{"text": ln.text[lang], "lang": "zh" if lang == "zh" else "en"} for ln in sec.lines
                   if ln.kind in SPOKEN_KINDS and ln.text.get(lang)]
            if out:
                return out
    return []


def _read_pcm(path: str) -> np.ndarray:
    with wave.open(path, "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


def prepare(products: list[Product], *, promotions=None, lang: str = "zh", fps: int = 25, size=(720, 1280),
            portrait=None, persona=None, workdir: Path, store=None) -> tuple[list[StreamItem], Path, int]:
    """Narrate every item once; return the items on the rotation clock, the rotation WAV and its frame count.

    Product photos come from `store` (the app's catalog); without it each product shows a neutral card."""
    from shopmind.live.script import build_script

    if not products:
        raise BadInput("no products to stream")
    script = build_script(products, promotions, languages=[lang], duration_min=max(1, len(products)))
    W, H = size
    rig = None
    if portrait is not None:
        from shopmind.anchor.render import FaceRig

        rig = FaceRig(portrait.image, portrait.landmarks)
    from shopmind.models.registry import get

    backend, speed = (persona.voice.backend, persona.voice.speed) if persona is not None else ("espeak-ng", 190)
    tts = get("tts", backend, cache_key=f"speed={speed}", speed=speed)  # the persona's voice, when one is set
    items: list[StreamItem] = []
    pcm: list[np.ndarray] = []
    cursor_frames = 0
    for k, product in enumerate(products):
        lines = _lines_for(script, product.id, lang) or [{"text": product.title[:120], "lang": lang}]
        wav = workdir / f"item{k}.wav"
        narration = synthesize_script(lines, wav, tts=tts)
        samples = _read_pcm(narration.wav)
        frames = int(np.ceil((samples.size / SAMPLE_RATE + 1.0) * fps))  # 1 s pause between items
        padded = np.zeros(int(round(frames * SAMPLE_RATE / fps)), dtype="<i2")
        padded[: samples.size] = samples
        pcm.append(padded)
        start = cursor_frames / fps
        head, note = _price(product, promotions, lang)
        item = StreamItem(product=product, start=start, end=start + frames / fps, lines=narration.lines,
                          price_text=head, price_note=note)
        img = _product_image(product, store)
        if portrait is not None:
            from shopmind.anchor.studio import Performer

            from shopmind.anchor.studio import line_phonemes

            item.performer = Performer(portrait, samples.astype(np.float32) / 32768.0, SAMPLE_RATE, narration.lines, fps,
                                       persona, seed=k, rig=rig, phones=line_phonemes(narration.lines, narration.backend, speed))
            item.card = layout.product_card(img, f"{k + 1}号链接 {product.title}" if lang == "zh" else f"#{k + 1} {product.title}",
                                            # persona layout: "presenter" keeps the card small, "live" gives the product more room
                                            (int(W * 0.36), int(H * 0.26)) if getattr(persona, "layout", "presenter") == "presenter"
                                            else (int(W * 0.48), int(H * 0.34)))
        else:
            item.card = layout.product_card(img, product.title, (int(W * 0.86), int(H * 0.56)))
        item.subs = [layout.subtitle(t.text, W, H) for t in narration.lines]
        items.append(item)
        cursor_frames += frames
    cycle = workdir / "rotation.wav"
    with wave.open(str(cycle), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(np.concatenate(pcm).tobytes())
    return items, cycle, cursor_frames


class Compositor:
    """Frame `i` of the rotation: background or anchor, product card, price, countdown, subtitles, mark."""

    def __init__(self, items: list[StreamItem], cycle_frames: int, fps: int, size: tuple[int, int], lang: str) -> None:
        self.items, self.cycle_frames, self.fps, self.size, self.lang = items, cycle_frames, fps, size, lang
        W, H = size
        top, bottom = np.array([250, 236, 228], np.float32), np.array([214, 228, 246], np.float32)
        ramp = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]
        self.background = np.broadcast_to(top * (1 - ramp) + bottom * ramp, (H, W, 3)).astype(np.uint8)
        self.mark = layout.watermark(W)
        self.banners = [layout.Overlay(layout.price_banner(it.price_text, it.price_note, int(W * 0.6))) for it in items]
        self._clock: dict[tuple[int, int], layout.Overlay] = {}

    def item_at(self, i: int) -> tuple[int, float]:
        t = (i % self.cycle_frames) / self.fps
        for k, it in enumerate(self.items):
            if it.start <= t < it.end:
                return k, t - it.start
        return len(self.items) - 1, t - self.items[-1].start

    def _countdown(self, k: int, left: float) -> layout.Overlay:
        key = (k, int(left))
        ov = self._clock.get(key)
        if ov is None:
            W = self.size[0]
            self._clock.clear()
            ov = layout.Overlay(layout.text_panel(layout.countdown_text(left, self.lang, deal=bool(self.items[k].price_note)), W, max(16, W // 30),
                                                  panel=(20, 20, 20, 170), max_lines=1), W // 40, W // 40)
            self._clock[key] = ov
        return ov

    def frame(self, i: int) -> np.ndarray:
        W, H = self.size
        k, local = self.item_at(i)
        it = self.items[k]
        if it.performer is not None:
            n = int(round(local * self.fps))
            img = it.performer.rig.render(it.performer.pose(n),
                                          out=it.performer.portrait.image.copy())
            ch, cw = it.card.shape[:2]
            cx, cy = W // 30, min(int(H * 0.60), H - ch - int(H * 0.12))
        else:
            img = self.background.copy()
            ch, cw = it.card.shape[:2]
            cx, cy = (W - cw) // 2, int(H * 0.08)
        img[cy : cy + ch, cx : cx + cw] = it.card
        banner = self.banners[k]
        bx = W - banner.rgba.shape[1] - W // 30 if it.performer is not None else (W - banner.rgba.shape[1]) // 2
        by = int(H * 0.66) if it.performer is not None else cy + ch + H // 40
        banner.blend(img, x=bx, y=by)
        self._countdown(k, it.end - it.start - local).blend(img)
        for line, sub in zip(it.lines, it.subs):
            if line.start <= local < line.end + 0.15:
                sub.blend(img)
                break
        layout.stamp_watermark(img, self.mark)  # always: the stream is synthetic media
        return img


def _target_args(hls_dir: Path | None, rtmp: str | None, fps: int, hls_window: int,
                 mp4: Path | None = None) -> tuple[list[str], str, str]:
    if sum(x is not None for x in (hls_dir, rtmp, mp4)) != 1:
        raise BadInput("give exactly one of --hls DIR, --rtmp URL or --mp4 FILE")
    if mp4 is not None:
        if mp4.suffix.lower() != ".mp4":
            raise BadInput(f"--mp4 must name an .mp4 file, got {mp4.name!r}")
        mp4.parent.mkdir(parents=True, exist_ok=True)
        return ["-f", "mp4", "-movflags", "+faststart", str(mp4)], str(mp4), "mp4"
    if rtmp is not None:
        if not RTMP_URL.match(rtmp):
            raise BadInput(f"not an rtmp:// URL: {rtmp!r}")
        return ["-f", "flv", rtmp], rtmp, "rtmp"
    hls_dir.mkdir(parents=True, exist_ok=True)
    flags = "independent_segments" + ("+delete_segments" if hls_window else "")
    return ["-f", "hls", "-hls_time", "2", "-hls_list_size", str(hls_window), "-hls_flags", flags,
            "-hls_segment_filename", str(hls_dir / "seg_%05d.ts"), str(hls_dir / "index.m3u8")], str(hls_dir), "hls"


def _progress(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                out[k.strip()] = v.strip()
    except OSError:
        pass
    return out


def stream_durations(source: str) -> tuple[float | None, float | None]:
    """Decoded video and audio end times (s) of a stream or file, read back with ffmpeg."""
    from shopmind.anchor.studio import ffmpeg_exe

    ends: list[float | None] = []
    for sel in ("0:v:0", "0:a:0"):
        proc = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", source, "-map", sel, "-f", "null", "-progress", "pipe:1", "-"],
                              capture_output=True, timeout=300)
        times = re.findall(r"out_time_us=(\d+)", proc.stdout.decode("utf-8", "replace"))
        ends.append(int(times[-1]) / 1e6 if times else None)
    return ends[0], ends[1]


def run_stream(products: list[Product], *, hls_dir: Path | None = None, rtmp: str | None = None,
               duration: float | None = None, fps: int = 25, size: tuple[int, int] = (720, 1280), promotions=None,
               lang: str = "zh", portrait=None, persona=None, hls_window: int = 0, stop: threading.Event | None = None,
               on_stats=None, measure: bool = True, mp4: Path | None = None, store=None) -> StreamStats:
    """Stream until `duration` seconds have been sent (or `stop` is set / Ctrl-C); return the stats.

    With `mp4` the same session is recorded to a file as fast as the CPU allows (no pacing, no drops)."""
    from shopmind.anchor.studio import ffmpeg_exe

    if duration is not None and not 1 <= duration <= 24 * 3600:
        raise BadInput("--duration must be between 1 second and 24 hours")
    if not 5 <= fps <= 60:
        raise BadInput("fps must be between 5 and 60")
    if lang not in {"zh", "en"}:
        raise BadInput("lang must be zh or en")
    tail, target, kind = _target_args(hls_dir, rtmp, fps, hls_window, mp4)
    realtime = kind != "mp4"
    if not realtime and duration is None:
        raise BadInput("recording to --mp4 needs --duration")
    W, H = size
    stop = stop or threading.Event()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        items, cycle, cycle_frames = prepare(products, promotions=promotions, lang=lang, fps=fps, size=size,
                                             portrait=portrait, persona=persona, workdir=work, store=store)
        comp = Compositor(items, cycle_frames, fps, size, lang)
        progress = work / "progress.txt"
        cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-progress", str(progress), "-stats_period", "1",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", str(fps), "-i", "-",
               "-stream_loop", "-1", "-i", str(cycle), "-map", "0:v", "-map", "1:a",
               "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", str(2 * fps), "-keyint_min", str(2 * fps),
               "-sc_threshold", "0", "-b:v", "1500k", "-maxrate", "2000k", "-bufsize", "3000k", "-pix_fmt", "yuv420p",
               "-c:a", "aac", "-b:a", "96k", "-ar", "44100", "-shortest",
               *(["-t", f"{round(duration * fps) / fps:.3f}"] if duration else []), *tail]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        total = int(round(duration * fps)) if duration else None
        frames = dropped = 0
        last: bytes | None = None
        t0 = time.monotonic()
        try:
            i = 0
            while (total is None or i < total) and not stop.is_set():
                due = t0 + i / fps
                now = time.monotonic()
                if realtime and last is not None and now > due + 1.0 / fps:
                    dropped += 1  # behind schedule: repeat the previous picture, keep the clock
                else:
                    last = comp.frame(i).tobytes()
                proc.stdin.write(last)
                frames += 1
                i += 1
                wait = t0 + i / fps - time.monotonic()
                if realtime and wait > 0:
                    time.sleep(wait)
                if on_stats is not None and i % (fps * 5) == 0:
                    on_stats(i, dropped, time.monotonic() - t0)
        except KeyboardInterrupt:
            pass
        except BrokenPipeError:
            pass
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
        err = proc.stderr.read().decode("utf-8", "replace")
        code = proc.wait(timeout=120)
        elapsed = time.monotonic() - t0
        if code != 0:
            raise BackendUnavailable(f"ffmpeg stream to {target} failed: {err[-600:]}")
        prog = _progress(progress)
    stats = StreamStats(
        target=target, kind=kind, width=W, height=H, fps_target=fps, seconds=round(elapsed, 3), frames=frames,
        fps=round(frames / elapsed, 2) if elapsed else 0.0, dropped_frames=dropped, items=[it.product.id for it in items],
        cycle_seconds=round(cycle_frames / fps, 3), anchor=portrait is not None,
    )
    size_b = prog.get("total_size", "")
    if size_b.isdigit():
        stats.bytes_out = int(size_b)
        stats.bitrate_kbps = round(int(size_b) * 8 / 1000 / max(frames / fps, 1e-6), 1)
    if kind == "mp4" and measure:
        stats.bytes_out = Path(target).stat().st_size
        stats.bitrate_kbps = round(stats.bytes_out * 8 / 1000 / max(frames / fps, 1e-6), 1)
        v, a = stream_durations(target)
        stats.video_seconds_out, stats.audio_seconds_out = v, a
        if v is not None and a is not None:
            stats.av_drift_ms = round((a - v) * 1000, 1)
    if kind == "hls":
        segs = list(Path(target).glob("seg_*.ts"))
        stats.segments = len(segs)
        if stats.bytes_out is None and segs:
            stats.bytes_out = sum(p.stat().st_size for p in segs)
            stats.bitrate_kbps = round(stats.bytes_out * 8 / 1000 / max(frames / fps, 1e-6), 1)
        if measure:
            v, a = stream_durations(str(Path(target) / "index.m3u8"))
            stats.video_seconds_out, stats.audio_seconds_out = v, a
            if v is not None and a is not None:
                stats.av_drift_ms = round((a - v) * 1000, 1)
    return stats
