"""The ten output languages: codes, names for prompts, and tolerant parsing of what callers type."""

from __future__ import annotations

from shopmind.errors import BadInput

# code -> (English name, Chinese name) — prompts name the language both ways.
LANGUAGES: dict[str, tuple[str, str]] = {
    "zh": ("Simplified Chinese", "简体中文"),
    "en": ("English", "英语"),
    "ja": ("Japanese", "日语"),
    "ko": ("Korean", "韩语"),
    "fr": ("French", "法语"),
    "de": ("German", "德语"),
    "es": ("Spanish", "西班牙语"),
    "it": ("Italian", "意大利语"),
    "pt": ("Portuguese", "葡萄牙语"),
    "ru": ("Russian", "俄语"),
}

_ALIASES = {
    "zh-cn": "zh", "zh_cn": "zh", "zh-hans": "zh", "cn": "zh", "chinese": "zh", "中文": "zh", "简体中文": "zh",
    "en-us": "en", "en-gb": "en", "english": "en", "英语": "en", "英文": "en",
    "japanese": "ja", "jp": "ja", "日语": "ja", "日文": "ja",
    "korean": "ko", "kr": "ko", "韩语": "ko", "韩文": "ko",
    "french": "fr", "法语": "fr", "german": "de", "德语": "de", "spanish": "es", "西班牙语": "es",
    "italian": "it", "意大利语": "it", "portuguese": "pt", "pt-br": "pt", "葡萄牙语": "pt",
    "russian": "ru", "俄语": "ru",
}


def normalise_language(value: str | None) -> str:
    """A supported language code (default zh); anything else is a BadInput listing the choices."""
    if value is None or not str(value).strip():
        return "zh"
    key = str(value).strip().lower()
    code = key if key in LANGUAGES else _ALIASES.get(key)
    if code is None:
        raise BadInput(f"unsupported language {value!r}; use one of {', '.join(LANGUAGES)}",
                       detail={"language": value, "supported": list(LANGUAGES)})
    return code


def language_names(code: str) -> tuple[str, str]:
    return LANGUAGES[normalise_language(code)]
