"""Mouth shapes over time from the narration audio, and the lip-sync measurement.

Why audio-driven: espeak-ng gives no phoneme timings for its own voices (`--pho` only works with
mbrola voices), and a neural TTS gives none either. The waveform does carry them: jaw opening follows
the energy of the 300-3000 Hz band (vowels open the mouth, closures and pauses shut it), and lip
rounding lowers the spectral centroid (o/u) while spreading raises it (i/e). So each video frame
gets an opening and a rounding value from a short-time spectrum of the TTS audio, smoothed with a
fast attack and slower release like a real jaw, and shifted by the jaw's lead over the sound.

The measurement (`measure_lipsync`) is independent of the driver's internals: it re-detects the
mouth in the *rendered* frames with the face mesh and correlates the inner-lip gap with the audio
envelope of the same file, and reports the lag of the peak cross-correlation. Because driver and
measure both look at audio energy, a high correlation shows the warp really opens the mouth on the
beat (and that nothing shifted the tracks), not that the shapes are phonetically right.
"""

from __future__ import annotations

import re
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EXCITED = re.compile(r"(到手|只要|直降|立减|优惠|券|秒杀|限时|抢|福利|包邮|¥|\d+\s*元|only|save|off|coupon|deal|now)", re.I)
CALM = re.compile(r"(材质|面料|尺码|规格|洗涤|成分|参数|cotton|fabric|size|material|wash|spec)", re.I)


def emotion_for(text: str) -> str:
    """The expression tag for a script line: excited on prices and deals, calm on specs, else neutral."""
    if EXCITED.search(text):
        return "excited"
    if CALM.search(text):
        return "calm"
    return "neutral"


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples in [-1, 1] and the sample rate (16-bit PCM WAV)."""
    with wave.open(str(path), "rb") as w:
        rate, ch, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    if width != 2:
        raise ValueError(f"expected 16-bit PCM, got {8 * width}-bit")
    data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if ch > 1:
        data = data.reshape(-1, ch).mean(axis=1)
    return data, rate


def _spectra(samples: np.ndarray, rate: int, hop_s: float, win_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude spectra of Hann windows centred at each hop time (k * hop_s), and their bin frequencies."""
    hop = max(1, int(round(rate * hop_s)))
    win = max(hop, int(round(rate * win_s)))
    n = int(np.ceil(samples.size / hop))
    padded = np.pad(samples, (win // 2, win))
    idx = np.arange(n)[:, None] * hop + np.arange(win)[None, :]
    spec = np.abs(np.fft.rfft(padded[idx] * np.hanning(win)[None, :], axis=1))
    return spec, np.fft.rfftfreq(win, 1.0 / rate)


def energy_envelope(samples: np.ndarray, rate: int, hop_s: float, win_s: float = 0.04) -> np.ndarray:
    """RMS of the 300-3000 Hz band per hop, on a window centred at each hop time (k * hop_s)."""
    mag, freqs = _spectra(samples, rate, hop_s, win_s)
    spec = mag ** 2
    band = (freqs >= 300) & (freqs <= 3000)
    return np.sqrt(spec[:, band].sum(axis=1) / max(1, band.sum()))


def _centroid(samples: np.ndarray, rate: int, hop_s: float, win_s: float = 0.04) -> np.ndarray:
    spec, freqs = _spectra(samples, rate, hop_s, win_s)
    band = (freqs >= 150) & (freqs <= 5000)
    s = spec[:, band]
    return (s * freqs[band]).sum(axis=1) / np.maximum(s.sum(axis=1), 1e-9)


@dataclass
class MouthTrack:
    """Per-frame mouth opening (0 shut .. 1 wide) and rounding (-1 spread .. +1 rounded)."""

    fps: float
    opening: np.ndarray
    rounding: np.ndarray

    def __len__(self) -> int:
        return int(self.opening.size)


def mouth_track(samples: np.ndarray, rate: int, fps: float, *, lead_s: float = 0.02, gain: float = 1.0) -> MouthTrack:
    """Mouth shapes for each video frame of `samples` (see the module docstring for why)."""
    env = energy_envelope(samples, rate, 1.0 / fps)
    if env.size == 0:
        return MouthTrack(fps, np.zeros(0), np.zeros(0))
    db = 20 * np.log10(env + 1e-6)
    top = max(float(np.percentile(db, 97)), -45.0)  # absolute floor: near-silence never opens the mouth
    floor = top - 38.0  # 38 dB of dynamic range maps to shut .. wide
    opening = np.clip((db - floor) / (top - floor), 0.0, 1.0) ** 1.6
    opening[db < top - 45] = 0.0
    # the jaw leads the sound slightly: sample the envelope lead_s later
    shift = lead_s * fps
    x = np.arange(opening.size, dtype=np.float64)
    opening = np.interp(x + shift, x, opening)
    # fast attack, slower release
    smooth = np.empty_like(opening)
    level = 0.0
    for i, v in enumerate(opening):
        level = level + (0.85 if v > level else 0.55) * (v - level)
        smooth[i] = level
    cent = _centroid(samples, rate, 1.0 / fps)[: smooth.size]
    voiced = smooth > 0.15
    rounding = np.zeros_like(smooth)
    if voiced.any():
        c = np.log(np.maximum(cent, 50.0))
        mid = np.median(c[voiced])
        rounding = np.clip((mid - c) / 0.5, -1.0, 1.0) * voiced
    return MouthTrack(fps, np.clip(smooth * gain, 0, 1), rounding)


# -- measurement ------------------------------------------------------------------------------------
MOUTH_INNER = (13, 14)  # upper / lower inner-lip midpoints of the 478-point mesh
FACE_HEIGHT = (10, 152)  # forehead top / chin


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def lipsync_stats(mouth: np.ndarray, fps: float, samples: np.ndarray, rate: int, max_lag_s: float = 0.2,
                  step_s: float = 0.005) -> dict:
    """Pearson r of mouth opening vs audio envelope (at lag 0), and the lag (ms) of peak cross-correlation.

    Positive offset: the mouth moves after the sound. Both signals are resampled to `step_s` so the
    lag is resolved finer than one video frame.
    """
    n = min(mouth.size, int(samples.size / rate * fps))
    mouth = mouth[:n]
    env = energy_envelope(samples, rate, 1.0 / fps)[:n]
    env_db = 20 * np.log10(env + 1e-6)
    env_db = np.maximum(env_db, np.percentile(env_db, 97) - 40)
    r0 = _pearson(mouth, env_db)
    t_frames = np.arange(n) / fps
    t = np.arange(0, n / fps, step_s)
    m = np.interp(t, t_frames, mouth)
    e = np.interp(t, t_frames, env_db)
    m, e = m - m.mean(), e - e.mean()
    max_lag = int(max_lag_s / step_s)
    best, best_lag = -2.0, 0
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            a, b = m[lag:], e[: e.size - lag]
        else:
            a, b = m[: m.size + lag], e[-lag:]
        r = _pearson(a, b)
        if r > best:
            best, best_lag = r, lag
    return {"lipsync_correlation": round(r0, 4), "lipsync_peak_correlation": round(best, 4),
            "lipsync_offset_ms": round(best_lag * step_s * 1000, 1), "frames": int(n)}


def mouth_opening_from_video(path: str | Path, face_box: tuple[float, float, float, float], size: tuple[int, int],
                             max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """Inner-lip gap / face height per decoded frame of a rendered video (face mesh in video mode)."""
    import imageio_ffmpeg

    from shopmind.anchor.mp import solutions

    W, H = size
    x1, y1, x2, y2 = face_box
    side = max(x2 - x1, y2 - y1) * 2.0
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    right, bottom = int(min(W, cx + side / 2)), int(min(H, cy + side / 2))
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = next(reader)
    fps = float(meta.get("fps") or 25.0)
    values: list[float] = []
    last = 0.0
    import cv2

    with solutions().face_mesh.FaceMesh(static_image_mode=False, refine_landmarks=False, max_num_faces=1,
                                        min_detection_confidence=0.3, min_tracking_confidence=0.3) as fm:
        for k, raw in enumerate(reader):
            if max_frames is not None and k >= max_frames:
                break
            frame = np.frombuffer(raw, dtype=np.uint8).reshape(meta["size"][1], meta["size"][0], 3)
            crop = frame[top:bottom, left:right]
            crop = cv2.resize(crop, (256, int(256 * crop.shape[0] / max(1, crop.shape[1]))), interpolation=cv2.INTER_AREA)
            res = fm.process(np.ascontiguousarray(crop))
            if res.multi_face_landmarks:
                lm = res.multi_face_landmarks[0].landmark
                gap = abs(lm[MOUTH_INNER[1]].y - lm[MOUTH_INNER[0]].y)
                face_h = abs(lm[FACE_HEIGHT[1]].y - lm[FACE_HEIGHT[0]].y) or 1.0
                last = gap / face_h
            values.append(last)
    return np.array(values, dtype=np.float64), fps


def apply_phonemes(track: MouthTrack, phones: list, lead_s: float = 0.02) -> MouthTrack:
    """Refine an energy-driven track with phoneme timings (`anchor.phonemes.Phoneme`, absolute seconds):
    lips shut on /p b m/, nearly shut on /f v/, rounded on /u o w/, spread on /i e/."""
    from shopmind.anchor.phonemes import BILABIAL, LABIODENTAL, ROUNDED, SPREAD

    opening, rounding = track.opening.copy(), track.rounding.copy()
    n = opening.size
    for ph in phones:
        a = int(np.ceil((ph.start - lead_s) * track.fps))
        b = int(np.floor((ph.start + 0.8 * (ph.end - ph.start) - lead_s) * track.fps))
        a, b = max(0, a), min(n - 1, max(a, b))
        if a >= n:
            continue
        sl = slice(a, b + 1)
        if ph.name in BILABIAL:
            opening[sl] = np.minimum(opening[sl], 0.02)
        elif ph.name in LABIODENTAL:
            opening[sl] = np.minimum(opening[sl], 0.12)
        elif ph.name in ROUNDED:
            rounding[sl] = np.maximum(rounding[sl], 0.8)
        elif ph.name in SPREAD:
            rounding[sl] = np.minimum(rounding[sl], -0.6)
    return MouthTrack(track.fps, opening, rounding)


def closure_rate(mouth: np.ndarray, fps: float, phones: list, quantile: float = 0.35) -> dict:
    """How often the *rendered* lips are shut on /p b m/: the measured gap at the phoneme's middle is
    below the `quantile` of the gaps over all spoken phonemes."""
    from shopmind.anchor.phonemes import BILABIAL

    def gap_at(t: float) -> float:
        i = int(round(t * fps))
        return float(mouth[min(max(i, 0), mouth.size - 1)])

    spoken = [gap_at((p.start + p.end) / 2) for p in phones]
    labial = [gap_at((p.start + p.end) / 2) for p in phones if p.name in BILABIAL]
    if not spoken or not labial:
        return {"bilabials": len(labial), "bilabial_closure_rate": None}
    cut = float(np.quantile(spoken, quantile))
    return {"bilabials": len(labial), "bilabial_closure_rate": round(float(np.mean([g <= cut for g in labial])), 4)}
