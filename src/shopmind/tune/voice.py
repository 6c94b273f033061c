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
    reg = AdapterRegistry(Path(settings.home))
    if settings.llm == "openai":
        key = "|".join(str(x) for x in (settings.llm_base_url, voice, "lora"))
        llm = backends.get("llm", "openai", cache_key=key, settings=settings, model=voice)
        if reg.exists(voice):  # trained here and served by vLLM: same prompt as in training
            meta = reg.meta(voice)
            llm.prompt_style, llm.voice_length = prompt_style(meta), voice_length(meta)
        return llm
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
    return base.with_lora(voice, gguf, prompt_style=prompt_style(meta),
                          repeat_penalty=float((meta.get("config") or {}).get("serve_repeat_penalty") or 1.0),
                          voice_length=voice_length(meta))


def prompt_style(meta: dict[str, Any]) -> str:
    """The prompt style an adapter was trained with (from its registry record): serving uses the
    same one, so the adapter sees the prompt it learned. Records from before the field existed
    were trained on the full `shopmind` prompt."""
    return str((meta.get("config") or {}).get("prompt_style") or "shopmind")


def voice_length(meta: dict[str, Any]) -> int | None:
    """The length (characters) a voice trained with length hints asks for when a request gives
    none: the median of its training answers, stored at registration."""
    if not (meta.get("config") or {}).get("length_hint"):
        return None
    value = meta.get("typical_chars")
    return int(value) if isinstance(value, (int, float)) and value > 0 else None


def voice_script(script: Any, products: list[Any], llm: Any, voice: str) -> Any:
    """Add one line per product section, written by the brand voice through the full `write`
    loop (compliance + fact checks) in each script language; a line that does not pass is left out
    with a warning. Prices are never given to the voice: the script's verified quotes stay the only
    prices on air."""
    from shopmind.generate import WriteRequest, write

    by_id = {}
    for p in products:
        d = p if isinstance(p, dict) else p.model_dump()
        by_id[str(d.get("id"))] = d
    chars_per_s = {"zh": 4.5, "ja": 6.0}
    for section in script.sections:
        product = by_id.get(str(section.product_id)) if section.product_id else None
        if product is None:
            continue
        attrs = {"商品": str(product.get("title") or "")} | {str(k): str(v) for k, v in
                                                           (product.get("attributes") or {}).items() if str(v).strip()}
        attributes = "*".join(f"{k}#{v}" for k, v in attrs.items() if v)
        texts, seconds = {}, {}
        for lang in script.languages:
            result = write(WriteRequest(content_type="description", attributes=attributes, language=lang,
                                        category=product.get("category"), seed=script.seed), llm)
            if not result.passed:
                script.warnings.append(f"voice {voice}: the {lang} line for {section.product_id} did not pass the checks; left out")
                break
            texts[lang] = result.content["description"]
            spoken = len(texts[lang]) / chars_per_s[lang] if lang in chars_per_s else len(texts[lang].split()) / 2.5
            seconds[lang] = round(spoken, 1)  # a reading-speed estimate, not a TTS measurement
        if len(texts) != len(script.languages):
            continue
        line = type(section.lines[0])(kind="voice", template_id=f"voice:{voice}", text=texts, seconds=seconds,
                                      grounded_in=sorted(attrs), notes=[f"written by adapter {voice}; checked by write()"])
        section.lines.insert(min(1, len(section.lines)), line)
    return script
