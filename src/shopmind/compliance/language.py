"""Language per sentence, so mixed zh/en copy gets both rule sets and nothing passes unchecked.

Scripts decide first: kana → ja (Japanese copy is full of kanji, so "has CJK" must not mean zh), hangul →
ko, other CJK → zh. Latin-script sentences are told apart by function words and letters (ß, ñ, ç …): a
light heuristic is enough because the en/fr/de/es rule terms are themselves language-specific, and it keeps
the engine dependency-free and fast. Sentences in a script or Latin language we have no rules for come back
as their code (ru, it, pt, …) and the engine reports them as unchecked.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

CHECKED = ("zh", "en", "ja", "ko", "fr", "de", "es")

_SENTENCE_END = re.compile(r"[。！？!?\n]+|(?<=[A-Za-z\u00c0-\u024f0-9\)\"'])[.;](?=\s|$)")
_KANA = re.compile(r"[\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HIRAGANA = re.compile(r"[\u3040-\u309f]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]{2,}")
_OTHER_SCRIPTS = (
    ("ru", re.compile(r"[\u0400-\u04ff]")), ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")), ("he", re.compile(r"[\u0590-\u05ff]")),
    ("hi", re.compile(r"[\u0900-\u097f]")), ("el", re.compile(r"[\u0370-\u03ff]")),
    ("vi", re.compile(r"[ơưăđƠƯĂĐạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]")),
)
_NEEDS_SPLIT_RUN = re.compile(r"[\u3040-\u30ff\uac00-\ud7af\u0400-\u04ff\u0600-\u06ff\u0e00-\u0e7f\u0590-\u05ff"
                              r"\u0900-\u097f\u0370-\u03ffA-Za-z\u00c0-\u024f]+")
_NON_LATIN_SPECIAL = re.compile(r"[\u3040-\u30ff\uac00-\ud7af\u1100-\u11ff\u3130-\u318f\u0370-\u03ff\u0400-\u04ff"
                                r"\u0590-\u05ff\u0600-\u06ff\u0900-\u097f\u0e00-\u0e7f\u1ea0-\u1ef9]")
# A stretch between sentence or clause marks (., too, to be safe) with a Latin word and no Chinese character.
_LATIN_ONLY_STRETCH = re.compile(r"(?:^|(?<=[。！？!?\n.;；]))[^。！？!?\n.;；\u3400-\u9fff\uf900-\ufaff]*"
                                 r"[A-Za-z\u00c0-\u024f]{2,}[^。！？!?\n.;；\u3400-\u9fff\uf900-\ufaff]*"
                                 r"(?=[。！？!?\n.;；]|$)")
_NEEDS_SPLIT = re.compile(r"[\u3040-\u30ff\uac00-\ud7af\u0400-\u04ff\u0600-\u06ff\u0e00-\u0e7f\u0590-\u05ff"
                          r"\u0900-\u097f\u0370-\u03ffA-Za-z\u00c0-\u024f]")

_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the and is are for with this that your you our it of to in on a an be will can from "
                    "best all new get now more most only free no not by at as or its was were has have".split()),
    "fr": frozenset("le la les des une un et est pour avec ce cette votre vous nous dans sur du de au aux "
                    "qui que plus très sans pas son sa ses peau meilleur être".split()),
    "de": frozenset("der die das und ist für mit dieser diese ihr ihre sie wir ein eine nicht auf den dem "
                    "des im zu von mehr sehr ohne haut beste bester besten".split()),
    "es": frozenset("el la los las y es para con este esta su sus usted nosotros en un una del al que más "
                    "muy sin por piel mejor".split()),
    "it": frozenset("il lo gli della delle per con questo questa sono nostro nostra più molto senza è "
                    "pelle migliore".split()),
    "pt": frozenset("o os da das do dos para com este esta você nós um uma não mais muito sem é pele "
                    "melhor".split()),
    "nl": frozenset("de het een en is voor met deze dit jouw wij niet op van meer zeer zonder huid beste".split()),
    # Latin-script languages we have no rules for, listed so their copy is reported unchecked, not read as en.
    "id": frozenset("yang dan untuk dengan ini itu di ke dari tidak kulit terbaik produk kami anda sangat".split()),
    "tr": frozenset("ve bir için ile bu çok daha en iyi ürün cilt değil olan".split()),
    "pl": frozenset("i w na z do jest nie się dla oraz to najlepszy produkt skóry bardzo".split()),
    "sv": frozenset("och att det som för med är på inte den av bästa huden mycket".split()),
    "tl": frozenset("ang ng sa mga para na ay hindi ito pinakamahusay".split()),
}
_LATIN_CODES = frozenset(_STOPWORDS)
# Letters that point to one language (weight 2) or that it shares with another (ö/ü: de and tr, weight 1).
_LETTER_HINTS: dict[str, tuple[re.Pattern, int]] = {
    "de": (re.compile(r"[äßÄ]"), 2), "de_shared": (re.compile(r"[öüÖÜ]"), 1), "es": (re.compile(r"[ñ¿¡Ñ]"), 2),
    "fr": (re.compile(r"[çœèêëàâîïûùÇŒÈÊ]"), 2), "pt": (re.compile(r"[ãõÃÕ]"), 2), "tr": (re.compile(r"[ışğİŞĞ]"), 2),
}


@dataclass(frozen=True)
class Sentence:
    """One sentence of a text: [start, end) and its language code."""

    start: int
    end: int
    language: str


def latin_language(sentence: str, default: str | None = "en") -> str | None:
    """en/fr/de/es/it/pt/nl by function words and telltale letters; short or unclear text gets `default`
    (the neighbouring sentence's language, else en: most Latin-script product copy here)."""
    words = [w.lower() for w in _LATIN_WORD.findall(sentence)]
    if not words:
        return default
    scores = {lang: sum(w in sw for w in words) for lang, sw in _STOPWORDS.items()}
    for name, (pat, weight) in _LETTER_HINTS.items():
        scores[name.split("_")[0]] += weight * len(pat.findall(sentence))
    best = max(scores, key=lambda k: (scores[k], k == "en"))
    if scores[best] == 0:
        return default
    if scores[best] == scores["en"]:
        return "en"
    return best


def sentence_language(sentence: str, latin_default: str | None = "en") -> str | None:
    """Language code of one sentence; None when it has no letters at all (numbers, emoji, punctuation) or,
    with `latin_default=None`, when Latin words give no clue."""
    has_cjk = _CJK.search(sentence) is not None
    if not _KANA.search(sentence) and not _HANGUL.search(sentence):
        if has_cjk:
            return "zh"
    else:
        cjk = len(_CJK.findall(sentence)) if has_cjk else 0
        kana = len(_KANA.findall(sentence))
        hira = len(_HIRAGANA.findall(sentence))
        hangul = len(_HANGUL.findall(sentence))
        # Japanese sentences run on hiragana particles and endings; a stray の (小清新の连衣裙) or a katakana
        # brand name inside Chinese copy is not Japanese. Hangul likewise must outweigh the Han characters.
        if (hira >= 2 and hira * 3 >= cjk) or (kana >= 1 and cjk == 0 and kana >= hangul):
            return "ja"
        if hangul >= 2 and hangul > cjk:
            return "ko"
        if cjk:
            return "zh"
    for lang, pat in _OTHER_SCRIPTS:
        if len(pat.findall(sentence)) >= 2:
            return lang
    if _LATIN_WORD.search(sentence):
        return latin_language(sentence, latin_default)
    return None


def split_sentences(text: str) -> list[tuple[int, int]]:
    """[start, end) of each sentence, end mark included."""
    out, pos = [], 0
    for m in _SENTENCE_END.finditer(text):
        if m.end() > pos:
            out.append((pos, m.end()))
        pos = m.end()
    if pos < len(text):
        out.append((pos, len(text)))
    return out


def sentences(text: str) -> list[Sentence]:
    """Runs of sentences with their language (consecutive sentences of one language are merged);
    sentences without letters take their neighbour's language.

    Pure Chinese copy (the common case) is one segment and costs one regex search; otherwise only the
    sentences holding a non-Han letter are classified one by one."""
    if not _NEEDS_SPLIT.search(text):
        return [Sentence(0, len(text), "zh" if _CJK.search(text) else "none")]
    if not _NON_LATIN_SPECIAL.search(text) and not _LATIN_ONLY_STRETCH.search(text):
        # Latin words only inside stretches that also hold Chinese (T恤, <UNK>, brand names): all zh.
        return [Sentence(0, len(text), "zh")]
    spans = split_sentences(text)
    starts = [s for s, _ in spans]
    special = {bisect_right(starts, m.start()) - 1 for m in _NEEDS_SPLIT_RUN.finditer(text)}
    langs: list[str] = []
    unclear: list[int] = []
    for i, (s, e) in enumerate(spans):
        if i in special:
            lang = sentence_language(text[s:e], latin_default=None)
            if lang is None and _LATIN_WORD.search(text, s, e):
                unclear.append(i)
        else:
            lang = "zh" if _CJK.search(text, s, e) else None
        langs.append(lang or "")
    # Latin sentences without function words (Resultados garantizados.) take the nearest Latin language.
    latin = [i for i, lang in enumerate(langs) if lang in _LATIN_CODES]
    for i in unclear:
        k = bisect_right(latin, i)
        near = [j for j in latin[max(k - 1, 0):k + 1]]
        langs[i] = langs[min(near, key=lambda j: abs(j - i))] if near else "en"
    last = next((lang for lang in langs if lang), "none")
    out: list[Sentence] = []
    for (s, e), lang in zip(spans, langs):
        last = lang or last
        if out and out[-1].language == last and out[-1].end == s:
            out[-1] = Sentence(out[-1].start, e, last)
        else:
            out.append(Sentence(s, e, last))
    return out


_OTHER_SCRIPT_ANY = re.compile(r"[\u0370-\u03ff\u0400-\u04ff\u0590-\u05ff\u0600-\u06ff\u0900-\u097f\u0e00-\u0e7f]")


def embedded_scripts(text: str, sents: list[Sentence]) -> list[str]:
    """Languages of other scripts (ru, ar, th …) written inside sentences counted as another language
    (Лучший крем, 纯棉 is a zh sentence): they are unchecked too, so they must be reported."""
    if not _OTHER_SCRIPT_ANY.search(text):
        return []
    seen = {s.language for s in sents}
    found = []
    for lang, pat in _OTHER_SCRIPTS:
        if lang not in seen and lang != "vi" and len(pat.findall(text)) >= 2:
            found.append(lang)
    return found


def summary(sents: list[Sentence]) -> tuple[str, list[str], list[str]]:
    """(overall language, languages seen, unchecked languages): overall is the single language or `mixed`."""
    langs = sorted({s.language for s in sents if s.language != "none"},
                   key=lambda lang: -sum(s.end - s.start for s in sents if s.language == lang))
    unchecked = [lang for lang in langs if lang not in CHECKED]
    if not langs:
        return "zh", [], []
    overall = langs[0] if len(langs) == 1 else "mixed"
    return overall, langs, unchecked
