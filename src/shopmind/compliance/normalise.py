"""Normalise ad copy before matching, keeping a map back to the original offsets.

Evasions the rules must see through: full-width or styled letters and digits (ＮＯ．１, 𝐍𝐎.1), traditional
characters (國家級, 頂級), zero-width and format characters (全网第\u200b一), spacing or separators inside a
word (全 网 第 一, 全·网·第·一) and digits or letters standing for numerals (第1, NO 1, Top1, N0.1).

Why this shape: most of the work is one `str.translate` (1:1, so offsets do not move), and only deletions
change the length. Deleted runs are recorded as segments, so mapping a normalised offset back to the
original is a bisect. Pure-Chinese copy with nothing to fix pays one translate and one regex search.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

_CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Invisible format characters: zero-width space/joiners, direction marks, word joiner, BOM, soft hyphen,
# variation selectors, Mongolian vowel separator, Hangul fillers.
_ZW_CLASS = ("\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
             "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0")
_ZW = re.compile(f"[{_ZW_CLASS}]+")
# Whitespace (and invisible characters) between two Chinese characters: 全 网 第 一.
_CJK_GAP = re.compile(f"(?<=[{_CJK_CLASS}])[\\s{_ZW_CLASS}]+(?=[{_CJK_CLASS}])")
# The same separator repeated between single characters: 全·网·第·一, 全*网*第*一 (two or more in a row, so
# one name dot like 列夫·托尔斯泰 is left alone). Patterns start with a literal or a small class, not a
# look-behind, so the regex engine can skip ahead (a leading look-behind made them several times slower).
_SEP = re.compile(f"[·•∙・*\\-_~/.|★☆♥♡✿❀\u2600-\u27bf\U0001F300-\U0001FAFF](?=[{_CJK_CLASS}])")
# 第 followed by spacing and a digit, and the digit followed by spacing and a character: 第 1 名.
_DI_GAP = re.compile(r"(?<=第)\s+(?=[0-9])")
_DI_TAIL = re.compile(f"第\\s*[0-9](\\s+)(?=[{_CJK_CLASS}])")
# NO/TOP + separator + 1: NO 1, No.1, TOP 1, N0.1 (lower-case "no 1" without a dot is ordinary English).
_RANK = re.compile(r"([Nn][Oo0]|[Tt][Oo0][Pp])(\s*[.:#]\s*|\s+)(?=1(?![0-9]))")
_ZERO_AS_O = re.compile(r"([Nn])0(?=1(?![0-9]))|([Tt])0([Pp])(?=1(?![0-9]))")
_CJK_CHAR = re.compile(f"[{_CJK_CLASS}]")
_DIGIT_AFTER_DI = re.compile(r"第([0-9壹])(?![0-9.])")
_DIGIT_BEFORE = re.compile(r"1(?=[流级線线])")
_CN_DIGIT = "零一二三四五六七八九"
_ASCII_WORD_CHAR = re.compile(r"[A-Za-z0-9]")

# Full-width punctuation keeps its Chinese form (the clause logic and rule phrases use it); only letters,
# digits and the few signs that carry a claim (．％＃＋) are folded to ASCII.
_KEEP_WIDTH = set(chr(c) for c in range(0xFF01, 0xFF66)) - set(
    "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ．％＃＋")


@lru_cache(maxsize=1)
def _t2s() -> dict[int, int]:
    """Traditional → simplified, one character to one character, from OpenCC's TSCharacters table."""
    try:
        import opencc  # opencc-python-reimplemented ships the OpenCC dictionaries as text files
    except ImportError:  # pragma: no cover - core dependency; without it only width/spacing is normalised
        return {}
    table: dict[int, int] = {}
    raw = resources.files(opencc).joinpath("dictionary", "TSCharacters.txt").read_text(encoding="utf-8")
    for line in raw.splitlines():
        src, _, dst = line.partition("\t")
        first = dst.split(" ")[0] if dst else ""
        if len(src) == 1 and len(first) == 1 and src != first:
            table[ord(src)] = ord(first)
    return table


@lru_cache(maxsize=1)
def _table() -> dict[int, int]:
    """The 1:1 table: NFKC compatibility forms that stay one character, then traditional → simplified."""
    table: dict[int, int] = {}
    ranges = [(0x00A0, 0x3000), (0x3000, 0x3400), (0xF900, 0xFB00), (0xFE30, 0xFFF0), (0x1D400, 0x1D800),
              (0x1F100, 0x1F200)]
    for lo, hi in ranges:
        for cp in range(lo, hi):
            ch = chr(cp)
            if ch in _KEEP_WIDTH or 0x3001 <= cp <= 0x303F or 0xFE30 <= cp <= 0xFE6F:
                continue  # CJK and full-width punctuation stay as written
            norm = unicodedata.normalize("NFKC", ch)
            if len(norm) == 1 and norm != ch:
                table[cp] = ord(norm)
    t2s = _t2s()
    for src, dst in list(table.items()):
        table[src] = t2s.get(dst, dst)
    for src, dst in t2s.items():
        table.setdefault(src, dst)
    return table


@lru_cache(maxsize=1)
def _table_keys() -> re.Pattern:
    """A class of every character the 1:1 table changes. Most copy has none, and a BMP-only class is
    searched at C speed, while str.translate with a dict costs a Python lookup per character. (Astral
    characters go in their own range class: one of them in the set makes the regex engine fall back to a
    slow list.)"""
    bmp = "".join(re.escape(chr(cp)) for cp in sorted(_table()) if cp < 0x10000)
    return re.compile(f"[{bmp}]+|[\U0001D400-\U0001D7FF\U0001F100-\U0001F1FF]+")


# Cyrillic and Greek letters that look like Latin ones (NО.1 with a Cyrillic О). They are folded only inside
# a token that also holds Latin letters or digits, so Russian or Greek text keeps its own script.
_CONFUSABLE = str.maketrans("АВЕКМНОРСТХаеорсхуіІјЈѕЅΑΒΕΖΗΙΚΜΝΟΡΤΥΧοᴏ", "ABEKMHOPCTXaeopcxyiIjJsSABEZHIKMNOPTYXoo")
_MIXED_TOKEN = re.compile(r"(?=[\w.]*[A-Za-z0-9])(?=[\w.]*[\u0370-\u03ff\u0400-\u04ff\u1d0f])[\w.]+")
_CYR_GREEK = re.compile(r"[\u0370-\u03ff\u0400-\u04ff\u1d0f]")


def _map_chars(text: str) -> str:
    if _CYR_GREEK.search(text) is not None:
        text = _MIXED_TOKEN.sub(lambda m: m.group(0).translate(_CONFUSABLE), text)
    keys = _table_keys()
    if keys.search(text) is None:
        return text
    table = _table()
    return keys.sub(lambda m: m.group(0).translate(table), text)


@dataclass(frozen=True)
class Normalised:
    """Normalised text plus the segments that map it back: segment i starts at norm_starts[i] in the
    normalised text and at orig_starts[i] in the original."""

    original: str
    text: str
    norm_starts: tuple[int, ...] = (0,)
    orig_starts: tuple[int, ...] = (0,)

    @property
    def identity_offsets(self) -> bool:
        return len(self.norm_starts) == 1 and self.orig_starts[0] == 0

    def to_original(self, pos: int) -> int:
        """Original offset of the character at normalised offset `pos` (a start offset)."""
        if self.identity_offsets:
            return pos
        i = bisect_right(self.norm_starts, pos) - 1
        return self.orig_starts[i] + (pos - self.norm_starts[i])

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) of normalised [start, end); the end follows its last kept character, so
        characters deleted after the span are not pulled into it."""
        if self.identity_offsets:
            return start, end
        o_start = self.to_original(start)
        o_end = self.to_original(end - 1) + 1 if end > start else o_start
        return o_start, o_end


def _deletions(text: str) -> list[tuple[int, int]]:
    """Sorted, merged [start, end) runs of `text` to delete."""
    runs: list[tuple[int, int]] = [m.span() for m in _ZW.finditer(text)]
    if " " in text or "\t" in text or "\u3000" in text or "\n" in text or "\xa0" in text:
        runs += [m.span() for m in _CJK_GAP.finditer(text)]
    runs += [m.span() for m in _DI_GAP.finditer(text)]
    runs += [m.span(1) for m in _DI_TAIL.finditer(text)]
    runs += _separator_runs(text)
    for m in _RANK.finditer(text):
        if not _after_boundary(text, m.start()):
            continue  # inside a word (piano 1)
        word, sep = m.group(1), m.group(2)
        if not sep.strip() and word.lower() in {"no", "n0"} and word not in {"NO", "N0"}:
            before = text[m.start() - 1] if m.start() else ""
            if not _CJK_CHAR.match(before):
                continue  # "No 1 size fits all" is running English; 行业No 1 is a ranking
        runs.append(m.span(2))
    if not runs:
        return []
    runs.sort()
    merged = [runs[0]]
    for s, e in runs[1:]:
        ps, pe = merged[-1]
        if s <= pe:
            merged[-1] = (ps, max(pe, e))
        else:
            merged.append((s, e))
    return merged


def _separator_runs(text: str) -> list[tuple[int, int]]:
    """One-character runs to delete for 全·网·第·一: the same separator between single CJK characters at
    least twice in a row."""
    cands = [m.start() for m in _SEP.finditer(text)
             if m.start() and _CJK_CHAR.match(text[m.start() - 1])]
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(cands):
        j = i
        while j + 1 < len(cands) and cands[j + 1] == cands[j] + 2 and text[cands[j + 1]] == text[cands[i]]:
            j += 1
        if j > i:
            out += [(p, p + 1) for p in cands[i:j + 1]]
        i = j + 1
    return out


def _after_boundary(text: str, pos: int) -> bool:
    """True when `pos` starts an ASCII word (no letter or digit right before it)."""
    return pos == 0 or not _ASCII_WORD_CHAR.match(text[pos - 1])


def _numerals(text: str) -> str:
    """1:1 numeral rewrites on the already compacted text: 第1/第壹→第一, 1流→一流, N0→NO, T0P→TOP."""
    if "第" in text:
        text = _DIGIT_AFTER_DI.sub(lambda m: "第" + ("一" if m.group(1) == "壹" else _CN_DIGIT[int(m.group(1))]), text)
    if "1" in text:
        src = text
        text = _DIGIT_BEFORE.sub(lambda m: "1" if m.start() and src[m.start() - 1] in "0123456789." else "一", src)
    if "0" in text:
        src = text
        text = _ZERO_AS_O.sub(lambda m: m.group(0) if not _after_boundary(src, m.start()) else
                              (m.group(1) + "O") if m.group(1) else (m.group(2) + "O" + m.group(3)), src)
    return text


def normalise(text: str) -> Normalised:
    """Normalise `text` for matching (see the module docstring); offsets map back via `Normalised.span`."""
    mapped = _map_chars(text)
    runs = _deletions(mapped)
    if not runs:
        return Normalised(text, _numerals(mapped))
    parts: list[str] = []
    norm_starts: list[int] = []
    orig_starts: list[int] = []
    pos = norm = 0
    for s, e in runs:
        if s > pos:
            norm_starts.append(norm)
            orig_starts.append(pos)
            parts.append(mapped[pos:s])
            norm += s - pos
        pos = e
    if pos < len(mapped) or not parts:
        norm_starts.append(norm)
        orig_starts.append(pos)
        parts.append(mapped[pos:])
    return Normalised(text, _numerals("".join(parts)), tuple(norm_starts), tuple(orig_starts))


def normalise_term(term: str) -> str:
    """A rule term in the same canonical form as the texts it is matched against."""
    return normalise(term).text
