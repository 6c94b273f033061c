"""Mouth tracks from audio and the lip-sync measure, on synthetic speech-like bursts (no models)."""

from __future__ import annotations

import numpy as np
import pytest

from shopmind.anchor.visemes import emotion_for, energy_envelope, lipsync_stats, mouth_track

RATE = 16000
FPS = 25


def bursts(seed: int = 0, seconds: float = 6.0) -> np.ndarray:
    """Vowel-like 150 Hz harmonics in syllable bursts of random length, with pauses between."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * RATE), np.float32)
    t = 0.2
    while t < seconds - 0.5:
        dur = rng.uniform(0.12, 0.35)
        n0, n1 = int(t * RATE), int((t + dur) * RATE)
        tt = np.arange(n1 - n0) / RATE
        wave = sum(np.sin(2 * np.pi * 150 * k * tt) / k for k in range(1, 12))
        out[n0:n1] = 0.3 * wave * np.hanning(n1 - n0)
        t += dur + rng.uniform(0.05, 0.3)
    return out


def test_opening_follows_the_bursts():
    audio = bursts()
    track = mouth_track(audio, RATE, FPS)
    env = energy_envelope(audio, RATE, 1 / FPS)
    assert len(track) == env.size == int(np.ceil(audio.size / (RATE / FPS)))
    loud = env > np.percentile(env, 70)
    quiet = env <= np.percentile(env, 20)
    assert track.opening[loud].mean() > 0.4
    assert track.opening[quiet].mean() < 0.15
    assert 0.0 <= track.opening.min() and track.opening.max() <= 1.0


def test_silence_keeps_the_mouth_shut():
    track = mouth_track(np.zeros(RATE * 2, np.float32), RATE, FPS)
    assert np.allclose(track.opening, 0.0)


@pytest.mark.parametrize("delay_ms", [0, 80, -120])
def test_lipsync_stats_recovers_a_known_shift(delay_ms):
    audio = bursts(seed=3)
    track = mouth_track(audio, RATE, FPS, lead_s=0.0)
    shift = delay_ms / 1000 * FPS
    x = np.arange(len(track), dtype=float)
    mouth = np.interp(x - shift, x, track.opening)  # the mouth moves delay_ms after the sound
    stats = lipsync_stats(mouth, FPS, audio, RATE)
    assert abs(stats["lipsync_offset_ms"] - delay_ms) <= 20
    if delay_ms == 0:
        assert stats["lipsync_correlation"] > 0.7


def test_unrelated_mouth_does_not_correlate():
    audio = bursts(seed=1)
    other = np.roll(mouth_track(audio, RATE, FPS).opening, 33)  # the right shapes at the wrong times
    stats = lipsync_stats(other, FPS, audio, RATE)
    assert stats["lipsync_correlation"] < 0.3


def test_emotion_tags():
    assert emotion_for("今天到手价只要99元！") == "excited"
    assert emotion_for("面料是100%纯棉，尺码偏大") == "calm"
    assert emotion_for("大家好，欢迎来到直播间") == "neutral"
    assert emotion_for("Now only 99 yuan with the coupon") == "excited"


def test_phonemes_shut_the_lips_on_bilabials():
    from shopmind.anchor import phonemes
    from shopmind.anchor.visemes import MouthTrack, apply_phonemes

    if not phonemes.available():
        pytest.skip("libespeak-ng not installed")
    phs = phonemes.phonemes("Maybe buy a bamboo mop.", "en", 165)
    names = [p.name for p in phs]
    assert names.count("m") >= 2 and names.count("b") >= 3 and "p" in names
    assert all(b.start >= a.start for a, b in zip(phs, phs[1:]))
    n = int((phs[-1].end + 0.2) * FPS)
    track = apply_phonemes(MouthTrack(FPS, np.ones(n), np.zeros(n)), phs)
    for p in phs:
        mid = int(round((p.start + 0.4 * (p.end - p.start) - 0.02) * FPS))
        if p.name in phonemes.BILABIAL and p.end - p.start >= 0.05:
            assert track.opening[mid] <= 0.02
    assert track.opening.max() == 1.0  # vowels keep their opening
    assert track.rounding.max() >= 0.8  # /u:/ in bamboo rounds the lips
