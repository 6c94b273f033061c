"""What `live tts` reads: the files `live script` writes, turned into spoken lines for one language.

`live script --out FILE.json` writes a whole `LiveScript` (sections → lines, each line's text per
language) and `--markdown FILE.md` a run sheet per language; `tts` also takes a plain JSON list of
`{text, lang}` or a plain text file. Demo cues (staged actions, "show the fabric") are not spoken.
Long lines are split at sentence ends so each stays within the synthesiser's line limit.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from shopmind.errors import BadInput

SPOKEN_LANGS = ("zh", "en", "ja")
MAX_CHARS = 500
_MD_HEADER = re.compile(r"^#\s+Live script\s+\((\w+)\b")
_MD_LINE = re.compile(r"^-\s+\*\*(\w+)\*\*\s+\[~?\d+s\]\s+(.*)$")
_SENTENCE_END = re.compile(r"(?<=[。！？!?.；;])\s*")


def _split_long(text: str, limit: int = MAX_CHARS) -> list[str]:
    text = " ".join(text.split())
    if len(text) <= limit:
        return [text] if text else []
    out, current = [], ""
    for piece in _SENTENCE_END.split(text):
        while len(piece) > limit:  # one enormous sentence: cut it
            out.append(piece[:limit])
            piece = piece[limit:]
        if len(current) + len(piece) + 1 > limit and current:
            out.append(current.strip())
            current = ""
        current += piece + " "
    if current.strip():
        out.append(current.strip())
    return out


def _check_lang(lang: str) -> str:
    if lang not in SPOKEN_LANGS:
        raise BadInput(f"unsupported narration language {lang!r}; use one of {', '.join(SPOKEN_LANGS)}")
    return lang


def _from_live_script(data: dict, lang: str | None, name: str) -> list[dict]:
    languages = data.get("languages") or []
    chosen = lang or (languages[0] if languages else "zh")
    if languages and chosen not in languages:
        raise BadInput(f"{name} has no {chosen!r} text; it was written in {', '.join(languages)}")
    _check_lang(chosen)
    lines: list[dict] = []
    for section in data.get("sections") or []:
        for line in (section.get("lines") if isinstance(section, dict) else None) or []:
            if not isinstance(line, dict) or line.get("kind") == "demo":
                continue
            text = (line.get("text") or {}).get(chosen) if isinstance(line.get("text"), dict) else None
            for part in _split_long(str(text or "")):
                lines.append({"text": part, "lang": chosen})
    return lines


def _from_markdown(text: str, lang: str | None) -> list[dict]:
    blocks: dict[str, list[dict]] = {}
    current: str | None = None
    for raw in text.splitlines():
        header = _MD_HEADER.match(raw.strip())
        if header:
            current = header.group(1)
            blocks.setdefault(current, [])
            continue
        if raw.startswith("## Alternative openings"):
            current = None  # alternatives are not part of the running order
            continue
        m = _MD_LINE.match(raw.strip())
        if m and current is not None and m.group(1) != "demo":
            blocks[current].extend({"text": part, "lang": current} for part in _split_long(m.group(2)))
    if not blocks:
        return []
    chosen = lang or next(iter(blocks))
    if chosen not in blocks:
        raise BadInput(f"the run sheet has no {chosen!r} section; it has {', '.join(blocks)}")
    _check_lang(chosen)
    return blocks[chosen]


def script_file_lines(path: Path, lang: str | None = None) -> list[dict]:
    """Spoken lines `[{text, lang}]` from a live script JSON, a run sheet, a JSON list or a text file.

    `lang` picks the language of a multi-language script (default: its first language); for a
    plain text file it is the language of every line (default zh).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path.name}: cannot read the script ({exc})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise BadInput(f"{path.name}: not valid JSON ({exc})") from None
        if isinstance(data, dict) and "sections" in data:
            lines = _from_live_script(data, lang, path.name)
        elif isinstance(data, list):
            lines = [{"text": str(item.get("text", "")), "lang": _check_lang(str(item.get("lang") or lang or "zh"))}
                     for item in data if isinstance(item, dict) and str(item.get("text", "")).strip()]
        else:
            raise BadInput(f"{path.name}: expected a `live script` JSON or a list of {{text, lang}}")
    elif path.suffix.lower() == ".md" and _MD_HEADER.search(text.split("\n", 1)[0].strip() or ""):
        lines = _from_markdown(text, lang)
    else:
        chosen = _check_lang(lang or "zh")
        lines = [{"text": part, "lang": chosen} for row in text.splitlines() for part in _split_long(row)]
    if not lines:
        raise BadInput(f"{path.name}: no lines to speak")
    return lines
