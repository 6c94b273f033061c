"""Render a talking-presenter video: TTS narration -> mouth/expression tracks -> warped frames -> MP4.

`Performer` turns a portrait plus a narration into frames on demand (the push-stream reuses it);
`render_anchor` writes a file and then measures lip-sync on the file itself (decoded frames and
decoded audio), so the reported offset includes everything the muxer did.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from shopmind.anchor import layout
from shopmind.anchor.personas import Persona, load_persona
from shopmind.anchor.portrait import Consent, Portrait
from shopmind.anchor.render import FaceRig, Pose
from shopmind.anchor.visemes import (
    apply_phonemes,
    closure_rate,
    emotion_for,
    lipsync_stats,
    mouth_opening_from_video,
    mouth_track,
    read_wav,
)
from shopmind.errors import BackendUnavailable, BadInput
from shopmind.media.tts import LineTiming, ScriptLine, synthesize_script
from shopmind.media.video import encode_frames

RESOLUTIONS = {720: (720, 1280), 1080: (1080, 1920)}
EMOTION_FACE = {"excited": (0.75, 0.6), "calm": (0.0, 0.15), "neutral": (0.15, 0.3)}  # brow, smile


class AnchorResult(BaseModel):
    out: str
    width: int
    height: int
    fps: int
    duration_s: float
    render_seconds: float
    realtime_factor: float  # video seconds per wall-clock second of rendering (>= 1: faster than real time)
    frames: int
    tts_backend: str
    tts_rtf: float
    lipsync_offset_ms: float | None = None
    lipsync_correlation: float | None = None
    lipsync_peak_correlation: float | None = None
    lipsync_frames_measured: int | None = None
    lines: list[LineTiming]
    emotions: list[str]
    persona: str
    visemes: str = "audio energy"
    bilabials: int | None = None
    bilabial_closure_rate: float | None = None
    consent: Consent
    watermark: str = layout.WATERMARK_TEXT


def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise BackendUnavailable("video output needs the 'imageio-ffmpeg' package") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


class Performer:
    """Frames of one presenter speaking one narration; deterministic for a given seed."""

    def __init__(self, portrait: Portrait, samples: np.ndarray, rate: int, lines: list[LineTiming], fps: int,
                 persona: Persona, seed: int = 0, rig: FaceRig | None = None, phones: list | None = None) -> None:
        self.portrait, self.fps, self.persona = portrait, fps, persona
        self.rig = rig or FaceRig(portrait.image, portrait.landmarks)  # share one rig across narrations
        self.track = mouth_track(samples, rate, fps)
        self.phones = phones or []
        if self.phones:
            self.track = apply_phonemes(self.track, self.phones)
        self.lines = lines
        self.emotions = [emotion_for(t.text) for t in lines]
        self.n_frames = len(self.track)
        W, H = portrait.size
        self.mark = layout.watermark(W)
        self.subs = [layout.subtitle(t.text, W, H) for t in lines]
        rng = np.random.default_rng(seed)
        self._blinks = self._schedule(rng, 60.0 / max(persona.blink_per_minute, 1e-3), self.n_frames / fps)
        self._saccades = self._schedule(rng, 2.2, self.n_frames / fps)
        self._gaze = [tuple(rng.uniform(-0.35, 0.35, 2)) for _ in self._saccades]
        self._phase = rng.uniform(0, 2 * np.pi, 4)
        self._brow, self._smile = 0.0, 0.3

    @staticmethod
    def _schedule(rng: np.random.Generator, mean_gap: float, total: float) -> list[float]:
        out, t = [], rng.uniform(0.5, mean_gap)
        while t < total:
            out.append(t)
            t += rng.uniform(0.6, 1.4) * mean_gap
        return out

    def line_at(self, t: float) -> int | None:
        for i, ln in enumerate(self.lines):
            if ln.start <= t < ln.end + 0.15:
                return i
        return None

    def pose(self, i: int) -> Pose:
        t = i / self.fps
        k = self.persona.expression_intensity
        line = self.line_at(t)
        brow_t, smile_t = EMOTION_FACE[self.emotions[line]] if line is not None else (0.0, 0.3)
        if line is not None and t - self.lines[line].start < 0.45:  # a micro brow-raise as each line starts
            brow_t += 0.35
        self._brow += 0.18 * (brow_t * k - self._brow)
        self._smile += 0.1 * (smile_t * k - self._smile)
        blink = 0.0
        for b in self._blinks:
            dt = t - b
            if 0 <= dt < 0.2:
                blink = 1.0 - abs(dt - 0.08) / 0.12 if dt >= 0.08 else dt / 0.08
                blink = float(np.clip(blink, 0, 1))
                break
        gaze = (0.0, 0.0)
        for s, g in zip(self._saccades, self._gaze):
            if 0 <= t - s < 0.9:
                gaze = g
        opening = float(self.track.opening[i]) if i < self.n_frames else 0.0
        rounding = float(self.track.rounding[i]) if i < self.n_frames else 0.0
        m, p = self.persona.head_motion, self._phase
        head = (
            m * (0.006 * np.sin(2 * np.pi * 0.21 * t + p[0]) + 0.003 * np.sin(2 * np.pi * 0.53 * t + p[1])),
            m * (0.004 * np.sin(2 * np.pi * 0.17 * t + p[2]) + 0.006 * opening),
            m * (1.3 * np.sin(2 * np.pi * 0.13 * t + p[3])),
        )
        return Pose(opening=opening, rounding=rounding, blink=blink, brow=self._brow, gaze=gaze, head=head,
                    smile=self._smile)

    def frame(self, i: int, subtitles: bool = True) -> np.ndarray:
        """Frame `i` with subtitles and the AI-generated watermark (always)."""
        img = self.rig.render(self.pose(i), out=self.portrait.image.copy())
        if subtitles:
            line = self.line_at(i / self.fps)
            if line is not None:
                self.subs[line].blend(img)
        layout.stamp_watermark(img, self.mark)
        return img


def _encode_cmd(W: int, H: int, fps: int, wav: str, out: Path) -> list[str]:
    return [
        ffmpeg_exe(), "-y", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", str(fps), "-i", "-",
        "-i", wav, "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-crf", "23", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "96k", "-shortest", "-movflags", "+faststart", str(out),
    ]


def decode_audio(path: str | Path, out_wav: Path, rate: int = 16000) -> None:
    """The audio track of a media file as 16-bit mono WAV (what a viewer actually hears)."""
    proc = subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", str(rate),
                           "-c:a", "pcm_s16le", str(out_wav)], capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise BackendUnavailable(f"ffmpeg could not decode audio: {proc.stderr.decode('utf-8', 'replace')[-300:]}")


def measure_file(path: str | Path, portrait: Portrait, max_seconds: float | None = None, phones: list | None = None) -> dict:
    """Lip-sync of a rendered file: mouth gap from decoded frames vs the decoded audio's envelope
    (and, given phoneme timings, how often the rendered lips are shut on /p b m/)."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "a.wav"
        decode_audio(path, wav)
        samples, rate = read_wav(wav)
    mouth, fps = mouth_opening_from_video(path, portrait.face_box, portrait.size,
                                          max_frames=int(max_seconds * 25) if max_seconds else None)
    stats = lipsync_stats(mouth, fps, samples, rate)
    if phones:
        stats.update(closure_rate(mouth, fps, phones))
    return stats


def line_phonemes(lines: list[LineTiming], backend: str, speed: int) -> list:
    """Phoneme timings on the narration clock (espeak-ng only; empty when the library is missing)."""
    from shopmind.anchor import phonemes
    from shopmind.media.tts import EspeakNG

    if backend != "espeak-ng" or not phonemes.available():
        return []
    out = []
    for ln in lines:
        voice = EspeakNG.voices.get(ln.lang)
        if voice is None:
            continue
        out += [phonemes.Phoneme(ln.start + p.start, ln.start + p.end, p.name) for p in phonemes.phonemes(ln.text, voice, speed)]
    return out


def render_anchor(portrait: Portrait, lines: list[ScriptLine] | list[dict], out: str | Path, *, fps: int = 25,
                  persona: Persona | str | None = None, measure: bool = True, seed: int = 0,
                  use_phonemes: bool = True) -> AnchorResult:
    """Speak `lines` with `portrait` into an H.264/AAC MP4 and report speed and lip-sync."""
    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise BadInput(f"anchor output must be an .mp4 file, got {out.name!r}")
    if not 5 <= fps <= 60:
        raise BadInput("fps must be between 5 and 60")
    persona = persona if isinstance(persona, Persona) else load_persona(persona)
    items = [ln if isinstance(ln, ScriptLine) else ScriptLine.model_validate(ln) for ln in lines]
    if not items:
        raise BadInput("nothing to say: the script is empty")
    from shopmind.models.registry import get

    t0 = time.perf_counter()
    W, H = portrait.size
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tts = get("tts", persona.voice.backend, cache_key=f"speed={persona.voice.speed}", speed=persona.voice.speed)
        narration = synthesize_script(items, Path(tmp) / "voice.wav", tts=tts)
        samples, rate = read_wav(narration.wav)
        phones = line_phonemes(narration.lines, narration.backend, persona.voice.speed)
        perf = Performer(portrait, samples, rate, narration.lines, fps, persona, seed=seed,
                         phones=phones if use_phonemes else None)
        proc = subprocess.Popen(_encode_cmd(W, H, fps, narration.wav, out), stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        encode_frames(proc, (perf.frame(i).tobytes() for i in range(perf.n_frames)))
    elapsed = time.perf_counter() - t0
    duration = perf.n_frames / fps
    result = AnchorResult(
        out=str(out), width=W, height=H, fps=fps, duration_s=round(duration, 3), render_seconds=round(elapsed, 3),
        realtime_factor=round(duration / elapsed, 3) if elapsed else 0.0, frames=perf.n_frames,
        tts_backend=narration.backend, tts_rtf=narration.rtf, lines=narration.lines, emotions=perf.emotions,
        persona=persona.name, consent=portrait.consent,
        visemes="audio energy + espeak-ng phonemes" if (phones and use_phonemes) else "audio energy",
    )
    if measure:
        stats = measure_file(out, portrait, phones=phones)
        result.bilabials = stats.get("bilabials")
        result.bilabial_closure_rate = stats.get("bilabial_closure_rate")
        result.lipsync_offset_ms = stats["lipsync_offset_ms"]
        result.lipsync_correlation = stats["lipsync_correlation"]
        result.lipsync_peak_correlation = stats["lipsync_peak_correlation"]
        result.lipsync_frames_measured = stats["frames"]
    return result
