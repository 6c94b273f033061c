"""Which voice speaks which language: the `tts_backend` setting, resolved per line (TTS "auto").

The setting takes one of
- `auto`: per language, the first installed backend in `PREFERENCE` (an order set from the measured
  round trip in docs/benchmarks.md, "TTS voices (issue 11)"), espeak-ng last;
- a backend name (`espeak-ng`, `piper`, `kokoro`): that voice for every language it speaks, espeak-ng
  for the languages it lacks;
- per-language pairs, `zh=kokoro,en=piper`: those, `auto` for languages not named.
A language no backend speaks is refused with `BadInput`, never silently skipped.

The dispatcher builds its backends on first use (not in `__init__`): the registry holds its lock
while it constructs this object, and asking it for another backend then would deadlock.
"""

from __future__ import annotations

from pathlib import Path

from shopmind.errors import BackendUnavailable, BadInput
from shopmind.models import registry
from shopmind.models.registry import register

LANGS = ("zh", "en", "ja")
FALLBACK = "espeak-ng"
# Measured (docs/benchmarks.md): Piper's en_US voice has the lowest English WER through pocketsphinx;
# Kokoro's packs are Japanese speakers, native for ja only. No neural Mandarin voice ships in a
# package, and no offline Mandarin recogniser either, so zh stays on espeak-ng until one is measured.
PREFERENCE: dict[str, tuple[str, ...]] = {
    "en": ("piper", "kokoro", FALLBACK),
    "zh": (FALLBACK, "kokoro"),
    "ja": ("kokoro", FALLBACK),
}


def parse_spec(spec: str | None) -> dict[str, str]:
    """`tts_backend` → {lang: backend name or "auto"} for every language we speak."""
    spec = (spec or "auto").strip()
    if not spec:
        spec = "auto"
    if "=" not in spec:
        return {lang: spec for lang in LANGS}
    chosen = {lang: "auto" for lang in LANGS}
    for pair in spec.split(","):
        lang, _, name = (p.strip() for p in pair.partition("="))
        if lang not in LANGS or not name:
            raise BadInput(f"tts_backend: bad pair {pair!r}; write e.g. 'zh=kokoro,en=piper' (languages: {', '.join(LANGS)})")
        chosen[lang] = name
    return chosen


@register("tts", "auto")
class AutoTTS:
    """A `TTS` that hands each line to the voice chosen for its language."""

    name = "auto"
    languages = LANGS

    def __init__(self, spec: str | None = None, speed: int | float = 190, settings: object | None = None,
                 models_dir: str | Path | None = None, **_: object) -> None:
        if spec is None:
            if settings is None:
                from shopmind.config import get_settings

                settings = get_settings()
            spec = getattr(settings, "tts_backend", "auto")
            models_dir = models_dir or getattr(settings, "models_dir", None)
        self.spec = spec
        self.choice = parse_spec(spec)
        known = set(registry.available("tts")) - {"auto"}
        unknown = sorted({n for n in self.choice.values() if n != "auto" and n not in known})
        if unknown:
            raise BadInput(f"tts_backend names unknown voice(s) {unknown}; registered: {sorted(known)}")
        self.speed = speed
        self.models_dir = models_dir
        self.last_backend: str | None = None

    def _load(self, name: str) -> object | None:
        kwargs: dict = {"speed": self.speed}
        if self.models_dir is not None:
            kwargs["models_dir"] = self.models_dir
        try:
            return registry.get("tts", name, cache_key=f"speed={self.speed}|{self.models_dir}", **kwargs)
        except (BackendUnavailable, ImportError):
            return None

    @staticmethod
    def _speaks(backend: object, lang: str) -> bool:
        langs = getattr(backend, "languages", None)
        if langs is None:  # espeak-ng declares its voices
            langs = tuple(getattr(backend, "voices", {}) or ())
        return lang in langs

    def backend_for(self, lang: str) -> tuple[str, object]:
        """The (name, backend) that will speak `lang`, after preferences and fallbacks."""
        if lang not in LANGS:
            raise BadInput(f"unsupported TTS language {lang!r}; use one of {list(LANGS)}")
        wanted = self.choice[lang]
        order = PREFERENCE[lang] if wanted == "auto" else (wanted, FALLBACK)
        for name in order:
            backend = self._load(name)
            if backend is not None and self._speaks(backend, lang):
                return name, backend
        raise BackendUnavailable(f"no installed TTS voice speaks {lang!r} (tried {', '.join(order)}); "
                                 "apt-get install espeak-ng")

    def resolved(self) -> dict[str, str | None]:
        """{lang: backend name or None} as it would be used now (for `config show`, the bench)."""
        out: dict[str, str | None] = {}
        for lang in LANGS:
            try:
                out[lang] = self.backend_for(lang)[0]
            except BackendUnavailable:
                out[lang] = None
        return out

    def synthesize(self, text: str, out_path: str, *, lang: str = "zh") -> float:
        name, backend = self.backend_for(lang)
        self.last_backend = name
        return backend.synthesize(text, out_path, lang=lang)
