"""GGUF writers: a PEFT LoRA as a llama.cpp LoRA adapter, and a Qwen2 model (optionally with an
adapter merged in) as a full GGUF.

llama.cpp's adapter conventions (the ones its own `convert_lora_to_gguf.py` follows):
- metadata `general.type = adapter`, `adapter.type = lora`, `adapter.lora.alpha`, and the base's
  `general.architecture`;
- for each adapted weight `W` (GGUF name, e.g. `blk.3.attn_q.weight`) two tensors,
  `W.lora_a` with PEFT's `lora_A` (rank × in) and `W.lora_b` with `lora_B` (out × rank);
  llama.cpp scales the product by alpha / rank, as PEFT does.
Qwen2 uses NEOX-style rotary embeddings in llama.cpp, which is HF's layout, so q/k need no permutation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from shopmind.errors import BackendUnavailable, BadInput

# HF module name (inside a decoder layer) → llama.cpp tensor name
_LAYER = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
}
_TOP = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}
_LORA_KEY = re.compile(r"^(?:base_model\.model\.)?(.+)\.lora_([AB])\.weight$")


def gguf_name(hf_module: str) -> str:
    """`model.layers.3.self_attn.q_proj` → `blk.3.attn_q` (BadInput for modules llama.cpp lacks)."""
    m = re.match(r"^model\.layers\.(\d+)\.(.+)$", hf_module)
    if m and m.group(2) in _LAYER:
        return f"blk.{m.group(1)}.{_LAYER[m.group(2)]}"
    if hf_module in _TOP:
        return _TOP[hf_module]
    raise BadInput(f"no llama.cpp tensor for module {hf_module!r}")


def _gguf() -> Any:
    try:
        import gguf
    except ImportError as exc:
        raise BackendUnavailable("GGUF export needs the `gguf` package (pip install 'shopmind[tune]')") from exc
    return gguf


def write_lora_gguf(adapter_dir: Path, out: Path, *, architecture: str = "qwen2", name: str | None = None) -> dict:
    """Write the PEFT adapter in `adapter_dir` as a llama.cpp LoRA GGUF at `out`."""
    import numpy as np
    from safetensors.numpy import load_file

    gguf = _gguf()
    adapter_dir = Path(adapter_dir)
    cfg_file, weights = adapter_dir / "adapter_config.json", adapter_dir / "adapter_model.safetensors"
    if not (cfg_file.is_file() and weights.is_file()):
        raise BadInput(f"{adapter_dir} holds no PEFT adapter (adapter_config.json + adapter_model.safetensors)")
    cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    if cfg.get("peft_type", "LORA") != "LORA":
        raise BadInput(f"only LoRA adapters export to GGUF, not {cfg.get('peft_type')}")
    if cfg.get("use_dora") or cfg.get("use_rslora"):
        raise BadInput("DoRA / rsLoRA adapters have no llama.cpp GGUF form")
    tensors = load_file(str(weights))
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for key, value in tensors.items():
        m = _LORA_KEY.match(key)
        if not m:
            raise BadInput(f"unexpected tensor {key!r} in the adapter (embedding LoRA or extra modules cannot export)")
        pairs.setdefault(m.group(1), {})[m.group(2)] = value
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".gguf.tmp")
    writer = gguf.GGUFWriter(str(tmp), arch=architecture)
    writer.add_string("general.type", "adapter")
    writer.add_string("general.name", name or adapter_dir.name)
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(cfg.get("lora_alpha", cfg.get("r", 8))))
    count = 0
    for module in sorted(pairs):
        ab = pairs[module]
        if set(ab) != {"A", "B"}:
            raise BadInput(f"module {module} lacks lora_A or lora_B")
        base = gguf_name(module) + ".weight"
        writer.add_tensor(base + ".lora_a", ab["A"].astype(np.float32))  # (rank, in)
        writer.add_tensor(base + ".lora_b", ab["B"].astype(np.float32))  # (out, rank)
        count += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    return {"path": str(out), "modules": count, "alpha": cfg.get("lora_alpha"), "rank": cfg.get("r"),
            "bytes": out.stat().st_size}


# ── full Qwen2 models (tiny test bases; merged adapters) ─────────────────────────

def _tokenizer_vocab(tokenizer: Any, vocab_size: int) -> tuple[list[str], list[int], list[str]]:
    """Byte-level BPE tokens, their types and merges from a fast tokenizer's own JSON."""
    data = json.loads(tokenizer.backend_tokenizer.to_str())
    model = data["model"]
    if model.get("type") != "BPE":
        raise BadInput(f"GGUF export supports byte-level BPE tokenizers, not {model.get('type')}")
    by_id: dict[int, str] = {i: t for t, i in model["vocab"].items()}
    special = set()
    for added in data.get("added_tokens", []):
        by_id[added["id"]] = added["content"]
        if added.get("special"):
            special.add(added["id"])
    tokens, types = [], []
    for i in range(vocab_size):
        if i in by_id:
            tokens.append(by_id[i])
            types.append(3 if i in special else 1)  # CONTROL / NORMAL
        else:
            tokens.append(f"[PAD{i}]")
            types.append(5)  # UNUSED
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    return tokens, types, merges


def _rope_theta(cfg: Any) -> float:
    theta = getattr(cfg, "rope_theta", None)
    params = getattr(cfg, "rope_parameters", None) or {}
    return float(theta if theta is not None else params.get("rope_theta", 10000.0))


def write_qwen2_gguf(model: Any, tokenizer: Any, out: Path, *, name: str = "shopmind-qwen2",
                     f16: bool = False) -> dict:
    """Write a (merged) Qwen2ForCausalLM with its tokenizer as a GGUF llama.cpp can load."""
    import numpy as np

    gguf = _gguf()
    cfg = model.config
    if getattr(cfg, "model_type", "") != "qwen2":
        raise BadInput(f"full-model GGUF export supports qwen2 models, not {getattr(cfg, 'model_type', '?')}")
    state = {k: v.detach().float().cpu().numpy() for k, v in model.state_dict().items()}
    if "lm_head.weight" not in state or getattr(cfg, "tie_word_embeddings", False):
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".gguf.tmp")
    w = gguf.GGUFWriter(str(tmp), arch="qwen2")
    w.add_name(name)
    w.add_context_length(int(cfg.max_position_embeddings))
    w.add_embedding_length(int(cfg.hidden_size))
    w.add_block_count(int(cfg.num_hidden_layers))
    w.add_feed_forward_length(int(cfg.intermediate_size))
    w.add_head_count(int(cfg.num_attention_heads))
    w.add_head_count_kv(int(cfg.num_key_value_heads))
    w.add_rope_freq_base(_rope_theta(cfg))
    w.add_layer_norm_rms_eps(float(cfg.rms_norm_eps))
    w.add_file_type(1 if f16 else 0)
    tokens, types, merges = _tokenizer_vocab(tokenizer, int(cfg.vocab_size))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    if tokenizer.eos_token_id is not None:
        w.add_eos_token_id(int(tokenizer.eos_token_id))
    if tokenizer.pad_token_id is not None:
        w.add_pad_token_id(int(tokenizer.pad_token_id))
    w.add_add_bos_token(False)
    if getattr(tokenizer, "chat_template", None):
        w.add_chat_template(tokenizer.chat_template)
    for key, arr in state.items():
        if key.endswith("rotary_emb.inv_freq"):
            continue
        module, _, kind = key.rpartition(".")
        target = f"{gguf_name(module)}.{kind}"
        keep_f32 = arr.ndim == 1 or not f16
        w.add_tensor(target, arr.astype(np.float32 if keep_f32 else np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(out)
    return {"path": str(out), "bytes": out.stat().st_size}


def export_adapter(home: Path, name: str, *, fmt: str = "gguf", merge: bool = False, settings: Any = None) -> dict:
    """`tune export NAME --format gguf [--merge]`: the adapter as a llama.cpp LoRA beside its
    safetensors, or (merge) the base with the adapter folded in as a new full GGUF (f16)."""
    from shopmind.tune.registry import GGUF, AdapterRegistry

    if fmt != "gguf":
        raise BadInput(f"unknown export format {fmt!r}; supported: gguf")
    reg = AdapterRegistry(home)
    meta = reg.meta(name)
    folder = Path(meta["path"])
    if not merge:
        return {"adapter": name, "format": "gguf-lora"} | write_lora_gguf(folder, folder / GGUF, name=name)
    from peft import PeftModel

    from shopmind.tune.base import load_model, load_tokenizer, resolve_base

    spec = resolve_base(meta["base_model"], settings)
    model = PeftModel.from_pretrained(load_model(spec), str(folder)).merge_and_unload()
    info = write_qwen2_gguf(model, load_tokenizer(spec), folder / "merged-f16.gguf", name=f"{name}-merged", f16=True)
    return {"adapter": name, "format": "gguf-merged"} | info
