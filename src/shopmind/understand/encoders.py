"""The configured backends, loaded once per process: image encoder, text encoder, OCR, bridge."""

from __future__ import annotations

import threading

from shopmind.config import Settings
from shopmind.models import registry
from shopmind.models.protocols import OCR, ImageEncoder, TextEncoder

# Stays process-wide: a bridge is shared immutable weights keyed by model folder, not per-home state.
_BRIDGES: dict[tuple[str, str], object] = {}
_LOCK = threading.Lock()


def image_encoder(settings: Settings) -> ImageEncoder:
    return registry.get(
        "image_encoder", settings.image_encoder, cache_key=f"{settings.models_dir}|{settings.image_precision}",
        models_dir=settings.models_dir, settings=settings,
    )


def text_encoder(settings: Settings) -> TextEncoder:
    return registry.get(
        "text_encoder", settings.text_encoder, cache_key=str(settings.models_dir),
        models_dir=settings.models_dir, settings=settings,
    )


def ocr_backend(settings: Settings) -> OCR:
    return registry.get("ocr", settings.ocr)


def bridge(settings: Settings):
    """The zero-shot bridge for the configured text encoder (class-name embeddings cached on disk)."""
    from shopmind.understand.bridge import Bridge

    key = (settings.text_encoder, str(settings.models_dir))
    with _LOCK:
        if key not in _BRIDGES:
            _BRIDGES[key] = Bridge(text_encoder(settings), cache_dir=settings.models_dir)
        return _BRIDGES[key]
