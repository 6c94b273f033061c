"""Registries of backends by name. Backends load lazily and once per process.

Usage:
    @register("image_encoder", "efficientnet-lite0")
    class EfficientNetLite0: ...

    encoder = get("image_encoder", settings.image_encoder, settings=settings)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from shopmind.errors import BackendUnavailable

_FACTORIES: dict[tuple[str, str], Callable[..., Any]] = {}
_INSTANCES: dict[tuple[str, str, str], Any] = {}
_LOCK = threading.Lock()


def register(kind: str, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Class/factory decorator: make a backend available under (kind, name)."""

    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        _FACTORIES[(kind, name)] = factory
        return factory

    return deco


def available(kind: str) -> list[str]:
    _import_builtin_backends()
    return sorted(name for k, name in _FACTORIES if k == kind)


def factory(kind: str, name: str) -> Callable[..., Any]:
    """The registered factory itself, for kinds whose instances the caller caches per use
    (a vector index per collection), rather than one instance per process."""
    _import_builtin_backends()
    found = _FACTORIES.get((kind, name))
    if found is None:
        raise BackendUnavailable(f"no {kind} backend named {name!r}; available: {', '.join(available(kind)) or 'none'}")
    return found


def get(kind: str, name: str, *, cache_key: str = "", **kwargs: Any) -> Any:
    """The single instance of backend `name` for `kind` (created on first use)."""
    _import_builtin_backends()
    key = (kind, name, cache_key)
    with _LOCK:
        if key in _INSTANCES:
            return _INSTANCES[key]
        factory = _FACTORIES.get((kind, name))
        if factory is None:
            raise BackendUnavailable(
                f"no {kind} backend named {name!r}; available: {', '.join(available(kind)) or 'none'}"
            )
        instance = factory(**kwargs)
        _INSTANCES[key] = instance
        return instance


def clear() -> None:
    """Forget loaded instances (tests switch SHOPMIND_HOME between cases)."""
    with _LOCK:
        _INSTANCES.clear()


_BUILTIN_MODULES = (
    "shopmind.models.image_efficientnet",
    "shopmind.models.text_e5",
    "shopmind.models.ocr",
    "shopmind.models.clip",
    "shopmind.models.llm",
    "shopmind.models.tts_espeak",
    "shopmind.models.tts_piper",  # neural voices (extra `voice`); they register even when their package is absent
    "shopmind.models.tts_kokoro",
    "shopmind.models.tts_select",  # "auto": the `tts_backend` setting, resolved per language
    "shopmind.models.faces",
    "shopmind.models.nsfw",
    "shopmind.search.vector",  # vector_index backends (LanceDB, Qdrant): imported by name, no import-time coupling
)
_imported = False


def _import_builtin_backends() -> None:
    """Import backend modules so their @register decorators run; missing optional ones are skipped."""
    global _imported
    if _imported:
        return
    import importlib
    import importlib.util

    for module in _BUILTIN_MODULES:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    _imported = True
