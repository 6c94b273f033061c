"""Narration: synthesise a script (lines of {text, lang}) into one WAV with per-line timings.

Backends sit behind the `TTS` protocol (`shopmind.models.protocols.TTS`). Which one speaks a line
is the `tts_backend` setting, resolved per language by `models/tts_select.py`: by default the best
installed voice (Piper's en_US voice for English, Kokoro for Japanese) with the Debian `espeak-ng`
binary (`models/tts_espeak.py`; rule-based, offline) as the fallback for every language.
Timings let the video burn subtitles in sync with the voice.

Nothing is spoken unchecked: `synthesize_script` passes every line through `compliance.guard`
(rewrite mode) first, whoever the caller — video, live studio, anchor or the `tts` command. A line
the guard empties is not spoken; the remaining lines keep their original `index`.
"""

from __future__ import annotations

import tempfile
import time
import wave
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from shopmind.errors import BackendUnavailable, BadInput
from shopmind.models.registry import get
from shopmind.models.tts_espeak import EspeakNG, wav_duration  # noqa: F401  (moved; re-exported)

Lang = Literal["zh", "en", "ja"]  # live scripts are written in ja too; espeak-ng has a ja voice
SAMPLE_RATE = 22050
MAX_LINE_CHARS = 500


class ScriptLine(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_LINE_CHARS)
    lang: Lang = "zh"


class LineTiming(BaseModel):
    index: int
    text: str
    lang: Lang
    start: float
    end: float


class Narration(BaseModel):
    """The rendered WAV and when each line is spoken; rtf = synthesis seconds / audio seconds."""

    wav: str
    duration: float
    lines: list[LineTiming]
    synth_seconds: float
    rtf: float
    backend: str  # the one voice that spoke every line, or "auto" when several did (see `voices`)
    voices: dict[str, str] = {}  # language → backend that spoke it


def _read_mono(path: str | Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        rate, width, ch = w.getframerate(), w.getsampwidth(), w.getnchannels()
        raw = w.readframes(w.getnframes())
    if width != 2:
        raise BackendUnavailable(f"TTS produced {8 * width}-bit audio; expected 16-bit PCM")
    data = np.frombuffer(raw, dtype="<i2")
    if ch > 1:
        data = data.reshape(-1, ch).mean(axis=1).astype("<i2")
    return data, rate


def _resample(data: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst or data.size == 0:
        return data
    n = int(round(data.size * dst / src))
    x = np.linspace(0, data.size - 1, n)
    return np.interp(x, np.arange(data.size), data.astype(np.float32)).astype("<i2")


def guard_lines(lines: list[ScriptLine] | list[dict], mode: str = "rewrite") -> tuple[list[ScriptLine], dict]:
    """Every line through the guard. Returns the lines that may be spoken (rewritten where needed;
    emptied lines left out) and a report: passed, refused, rewritten, dropped indexes, findings."""
    from shopmind.compliance.guard import guard  # lazy: this module is also a models-layer backend

    items = [ln if isinstance(ln, ScriptLine) else ScriptLine.model_validate(ln) for ln in lines]
    kept: list[ScriptLine] = []
    report: dict = {"passed": True, "refused": False, "rewritten": False, "dropped": [], "findings": [], "kept_index": []}
    for i, ln in enumerate(items):
        g = guard(ln.text, mode=mode)  # type: ignore[arg-type]
        report["findings"] += [f.model_dump(mode="json") for f in g.findings]
        report["rewritten"] |= g.rewritten
        report["refused"] |= g.refused
        report["passed"] &= g.passed
        if g.passed and g.text.strip():
            kept.append(ScriptLine(text=g.text, lang=ln.lang))
            report["kept_index"].append(i)
        else:
            report["dropped"].append(i)
    return kept, report


def synthesize_script(
    lines: list[ScriptLine] | list[dict],
    out_wav: str | Path,
    *,
    backend: str | None = None,
    gap: float = 0.25,
    tts: object | None = None,
) -> Narration:
    """Speak every line that passes the guard, in order, with `gap` seconds of silence between,
    into one 16-bit mono WAV. The voice: `tts` if given, else backend `backend`, else the
    `tts_backend` setting (per language, espeak-ng the fallback)."""
    raw = [ln if isinstance(ln, ScriptLine) else ScriptLine.model_validate(ln) for ln in lines]
    if not raw:
        raise BadInput("the script has no lines")
    items, report = guard_lines(raw)
    if not items:
        raise BadInput("no line of the script passes the 广告法 guard",
                       detail={"findings": report["findings"]})
    original_index = report["kept_index"]
    engine = tts or _engine(backend)
    out_wav = Path(out_wav)
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    pieces: list[np.ndarray] = []
    voices: dict[str, str] = {}
    timings: list[LineTiming] = []
    cursor = 0.0
    t0 = time.perf_counter()
    silence = np.zeros(int(gap * SAMPLE_RATE), dtype="<i2")
    with tempfile.TemporaryDirectory() as tmp:
        for i, line in enumerate(items):
            part = Path(tmp) / f"{i}.wav"
            engine.synthesize(line.text, str(part), lang=line.lang)
            if line.lang not in voices:  # the dispatcher says which voice it picked (no shared "last" state)
                picker = getattr(engine, "backend_for", None)
                voices[line.lang] = picker(line.lang)[0] if picker else getattr(engine, "name", "tts")
            data, rate = _read_mono(part)
            data = _resample(data, rate, SAMPLE_RATE)
            dur = data.size / SAMPLE_RATE
            timings.append(LineTiming(index=original_index[i], text=line.text, lang=line.lang, start=round(cursor, 3), end=round(cursor + dur, 3)))
            pieces.extend([data, silence])
            cursor += dur + gap
    synth = time.perf_counter() - t0
    audio = np.concatenate(pieces[:-1]) if len(pieces) > 1 else pieces[0]
    with wave.open(str(out_wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(audio.astype("<i2").tobytes())
    duration = audio.size / SAMPLE_RATE
    return Narration(
        wav=str(out_wav), duration=round(duration, 3), lines=timings, synth_seconds=round(synth, 3),
        rtf=round(synth / duration, 4) if duration else 0.0, voices=voices,
        backend=next(iter(set(voices.values()))) if len(set(voices.values())) == 1 else getattr(engine, "name", "tts"),
    )


def _engine(backend: str | None) -> object:
    """A backend by name; with none named, the `tts_backend` setting through the per-language dispatcher."""
    if backend and backend != "auto":
        return get("tts", backend)
    from shopmind.config import get_settings

    settings = get_settings()
    spec = settings.tts_backend
    return get("tts", "auto", cache_key=f"{spec}|{settings.models_dir}", spec=spec, models_dir=settings.models_dir)
