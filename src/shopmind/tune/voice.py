"""Brand voices at serving time: a registered adapter name → an LLM that writes in that voice.

- llama.cpp backend (default): the adapter's own base GGUF is loaded once (cached like any
  backend) and the adapter's GGUF LoRA is set on it per call (`LlamaCppLLM.with_lora`); a missing
  GGUF export is made on first use. Switching voices is a pointer swap, not a reload.
- OpenAI-compatible backend: the adapter name is sent as `model`, which is how vLLM serves LoRA
  adapters (`--enable-lora --lora-modules NAME=PATH`), so production scales the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shopmind.errors import BadInput
from shopmind.tune.registry import GGUF, AdapterRegistry


def voice_names(settings: Any) -> list[str]:
    return AdapterRegistry(Path(settings.home)).names()


def get_voiced_llm(settings: Any, voice: str | None) -> Any:
    """The configured LLM, or the same backend speaking with adapter `voice` (NotFound when unknown)."""
    from shopmind.models import registry as backends
    from shopmind.models.llm import get_llm

    if not voice:
        return get_llm(settings)
    if settings.llm == "openai":
        key = "|".join(str(x) for x in (settings.llm_base_url, voice, "lora"))
        return backends.get("llm", "openai", cache_key=key, settings=settings, model=voice)
    reg = AdapterRegistry(Path(settings.home))
    meta = reg.meta(voice)  # NotFound with the registered names
    if meta.get("task", "text") != "text":
        raise BadInput(f"adapter {voice} is an image adapter, not a writing voice")
    base_gguf = meta.get("base_gguf")
    if not base_gguf or not Path(base_gguf).is_file():
        raise BadInput(f"adapter {voice} was trained on {meta.get('base_model')}, which has no GGUF for llama.cpp; "
                       "serve it through an OpenAI-compatible server (vLLM LoRA) instead")
    gguf = Path(meta["path"]) / GGUF
    if not gguf.is_file():
        from shopmind.tune.export_gguf import write_lora_gguf

        write_lora_gguf(Path(meta["path"]), gguf, name=voice)
    base = backends.get("llm", "llama-cpp", cache_key=f"lora-base|{base_gguf}|{settings.seed}",
                        settings=settings, model_path=base_gguf)
    return base.with_lora(voice, gguf)
