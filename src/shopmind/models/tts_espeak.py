"""The espeak-ng TTS backend (the `TTS` protocol in `protocols.py`), registered as "espeak-ng".

Debian's `espeak-ng` binary run as a subprocess: rule-based, offline, zh/en/ja voices. It lives in
the models layer with the other backends; `media/tts.py` (narration, guard, timings) uses it through
the registry and re-exports it for older imports.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

from shopmind.errors import BackendUnavailable, BadInput
from shopmind.models.registry import register


@register("tts", "espeak-ng")
class EspeakNG:
    """espeak-ng via subprocess: text on stdin (no shell, no argument injection), WAV to a file."""

    name = "espeak-ng"
    # Debian's espeak-ng 1.51 `cmn` voice reads its own pinyin tone digits in English ("mai three");
    # `cmn-latn-pinyin` speaks the same Mandarin phonemes correctly.
    voices = {"zh": "cmn-latn-pinyin", "en": "en", "ja": "ja"}

    def __init__(self, binary: str | None = None, speed: int = 190, **_: object) -> None:
        self.binary = binary or shutil.which("espeak-ng") or shutil.which("espeak")
        if not self.binary:
            raise BackendUnavailable("TTS needs espeak-ng (apt-get install espeak-ng)")
        self.speed = int(speed)

    def synthesize(self, text: str, out_path: str, *, lang: str = "zh") -> float:
        voice = self.voices.get(lang)
        if voice is None:
            raise BadInput(f"unsupported TTS language {lang!r}; use one of {sorted(self.voices)}")
        run_espeak([self.binary, "-v", voice, "-s", str(self.speed), "-b", "1", "-w", out_path, "--stdin"], text, timeout=120)
        return wav_duration(out_path)


def run_espeak(cmd: list[str], text: str, *, timeout: float, doing: str = "") -> bytes:
    """Run an espeak-ng command line with `text` on stdin (no shell, no argument injection) and
    return its stdout; a timeout or a failure is a BackendUnavailable that says which."""
    try:
        proc = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise BackendUnavailable(f"espeak-ng timed out{doing}") from exc
    if proc.returncode != 0:
        raise BackendUnavailable(f"espeak-ng failed: {proc.stderr.decode('utf-8', 'replace')[:300]}")
    return proc.stdout


def wav_duration(path: str | Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())
