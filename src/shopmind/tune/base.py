"""Load the base model and tokenizer a run trains on.

Three kinds of `base_model`:
- a bundled alias (`qwen2.5-coder-0.5b-instruct`, …): the verified GGUF is dequantised to torch
  weights by transformers' GGUF loader (needs the `gguf` package); llama.cpp later serves the
  adapter on top of the very same GGUF file, so train and serve share one base;
- a local folder (HF layout, or one holding a single `.gguf`);
- a hub id: loaded with `local_files_only` (no download at run time); a clear error says how to
  make it available when it is not cached.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopmind.errors import BackendUnavailable, BadInput


@dataclass
class BaseSpec:
    """Where the base lives: `path` (folder or hub id) plus `gguf_file` when it is a GGUF."""

    model_id: str
    path: str
    gguf_file: str | None = None

    @property
    def gguf_path(self) -> Path | None:
        return Path(self.path) / self.gguf_file if self.gguf_file else None


def resolve_base(base_model: str, settings: Any = None) -> BaseSpec:
    from shopmind.models.gguf_parts import BUNDLED, ensure_model

    if base_model in BUNDLED:
        if settings is None:
            from shopmind.config import get_settings

            settings = get_settings()
        gguf = ensure_model(settings.models_dir, base_model)
        return BaseSpec(model_id=base_model, path=str(gguf.parent), gguf_file=gguf.name)
    path = Path(base_model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return BaseSpec(model_id=base_model, path=str(path.parent), gguf_file=path.name)
    if path.is_dir():
        if (path / "config.json").is_file():
            return BaseSpec(model_id=base_model, path=str(path))
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return BaseSpec(model_id=base_model, path=str(path), gguf_file=ggufs[0].name)
        raise BadInput(f"{path}: neither an HF model folder (config.json) nor a folder with exactly one .gguf")
    if "/" in base_model and not base_model.startswith((".", "/", "~")):
        return BaseSpec(model_id=base_model, path=base_model)  # hub id, loaded from the local cache only
    raise BadInput(f"base model {base_model!r} is not a bundled alias ({', '.join(sorted(BUNDLED))}), "
                   "a local model folder, a .gguf file or a hub id")


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise BackendUnavailable("device: cuda was asked for but no CUDA GPU is visible")
    return device


def pick_dtype(precision: str, device: str) -> Any:
    import torch

    if precision == "auto":
        if device == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if precision == "bf16-autocast":  # weights stay fp32; the trainer runs matmuls under bf16 autocast
        return torch.float32
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def load_tokenizer(spec: BaseSpec) -> Any:
    from transformers import AutoTokenizer

    kwargs: dict[str, Any] = {"gguf_file": spec.gguf_file} if spec.gguf_file else {}
    try:
        tok = AutoTokenizer.from_pretrained(spec.path, local_files_only=True, **kwargs)
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(f"cannot load the tokenizer of {spec.model_id}: {exc}. Hub ids must be in the "
                                 "local HF cache (this tool never downloads at run time).") from exc
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(spec: BaseSpec, *, device: str = "cpu", dtype: Any = None, load_in_4bit: bool = False) -> Any:
    """The base causal LM, frozen, on `device`."""
    import torch
    from transformers import AutoModelForCausalLM

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    kwargs: dict[str, Any] = {"local_files_only": True, "dtype": dtype or torch.float32}
    if spec.gguf_file:
        kwargs["gguf_file"] = spec.gguf_file
    if load_in_4bit:
        if device != "cuda":
            raise BadInput("load_in_4bit needs a CUDA GPU (bitsandbytes)")
        try:
            from transformers import BitsAndBytesConfig
        except ImportError as exc:  # pragma: no cover - depends on the transformers build
            raise BackendUnavailable("load_in_4bit needs bitsandbytes") from exc
        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=kwargs["dtype"])
        kwargs["device_map"] = {"": 0}
    try:
        model = AutoModelForCausalLM.from_pretrained(spec.path, **kwargs)
    except ImportError as exc:
        raise BackendUnavailable(f"loading {spec.model_id} needs a missing package: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(f"cannot load base model {spec.model_id}: {exc}") from exc
    if not load_in_4bit:
        model.to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    return model
