"""Tuning-studio measurements on a registered adapter (prints one JSON object):

- parity: greedy tokens from transformers (dequantised GGUF base + PEFT adapter) vs llama.cpp
  (the same GGUF base + the exported GGUF LoRA) for 5 prompts, as the number of leading tokens that agree;
- switch: seconds to switch llama.cpp between base and adapter (load once, then set per call).

    SHOPMIND_HOME=... python scripts/bench_tune.py ADAPTER [--tokens 20]

- speed: seconds per training example for a config under several settings (prompt style,
  precision, top-N LoRA layers, answer-only logits), a few optimizer steps each, the base loaded
  once and re-wrapped per trial; the machine's load average is printed beside each figure:

    python scripts/bench_tune.py --speed examples/tune/advertisegen.yaml [--steps 3]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

PROMPTS = ["类型#上衣*材质#牛仔布*颜色#白色*风格#简约", "类型#裙*风格#简约*裙型#连衣裙*裙长#中长裙",
           "类型#裤*材质#棉*裤长#九分裤*裤型#阔腿裤", "类型#上衣*颜色#黑色*衣样式#衬衫*衣领型#翻领",
           "类型#裙*材质#雪纺*图案#碎花*裙型#a字"]


SPEED_TRIALS = [
    {"label": "previous: shopmind prompt, fp32, all layers, full logits", "prompt_style": "shopmind",
     "precision": "fp32", "lora_layers": None, "full_logits": True},
    {"label": "shopmind prompt, fp32, all layers, answer-only logits", "prompt_style": "shopmind",
     "precision": "fp32", "lora_layers": None},
    {"label": "compact prompt, fp32, all layers", "prompt_style": "compact", "precision": "fp32", "lora_layers": None},
    {"label": "compact prompt, bf16 autocast, all layers", "prompt_style": "compact", "precision": "bf16-autocast",
     "lora_layers": None},
    {"label": "compact prompt, fp32, top 8 layers", "prompt_style": "compact", "precision": "fp32", "lora_layers": 8},
    {"label": "compact prompt, bf16 autocast, top 8 layers", "prompt_style": "compact",
     "precision": "bf16-autocast", "lora_layers": 8},
]


def speed(config: str, steps: int, only: list[int] | None) -> None:
    """Time `steps` optimizer steps (after one warm-up step) per trial; one JSON line per trial."""
    import os
    import tempfile

    import torch

    from shopmind.config import get_settings
    import importlib

    base_mod = importlib.import_module("shopmind.tune.base")
    train_mod = importlib.import_module("shopmind.tune.train")  # `shopmind.tune.train` the name is a function
    from shopmind.tune.config import load_config

    settings = get_settings()
    cfg0 = load_config(config)
    spec = base_mod.resolve_base(cfg0.base_model, settings)
    t0 = time.perf_counter()
    tok = base_mod.load_tokenizer(spec)
    model = base_mod.load_model(spec)
    print(json.dumps({"setup_s": round(time.perf_counter() - t0, 1), "threads": torch.get_num_threads(),
                      "load": os.getloadavg()}), flush=True)
    cache = {"model": model}
    base_mod.load_tokenizer = lambda _spec: tok  # the trials share one tokenizer and one base
    base_mod.load_model = lambda _spec, **_: cache["model"]
    sft = train_mod.sft_loss

    def full_logits_loss(m, batch):  # the previous way: logits for every position, HF's own loss
        return m(**batch).loss

    for i, trial in enumerate(SPEED_TRIALS):
        if only and i not in only:
            continue
        cfg = cfg0.model_copy(update={"prompt_style": trial["prompt_style"], "precision": trial["precision"],
                                      "lora_layers": trial["lora_layers"], "max_steps": steps + 1,
                                      "max_length": max(cfg0.max_length, 520 if trial["prompt_style"] == "shopmind" else 0),
                                      "threads": cfg0.threads or 2, "max_minutes": None,
                                      "grad_accum": 2, "batch_size": 1})
        train_mod.sft_loss = full_logits_loss if trial.get("full_logits") else sft
        with tempfile.TemporaryDirectory() as home:
            tr = train_mod.Trainer(cfg, home=Path(home), settings=settings, progress=False, log=lambda _m: None)
            tr._prepare()
            tr.train_step(0)  # warm-up
            load0 = os.getloadavg()[0]
            t1 = time.perf_counter()
            tokens = answer = 0
            for s in range(1, steps + 1):
                out = tr.train_step(s)
                tokens += out["tokens"]
                answer += sum(sum(1 for x in tr.train_set[j].labels if x != -100) for j in tr.stream.step(s))
            dt = time.perf_counter() - t1
            n = steps * tr.per_step
            print(json.dumps({"trial": trial["label"], "examples": n, "s_per_example": round(dt / n, 2),
                              "tokens_per_example": round(tokens / n), "answer_tokens_per_example": round(answer / n),
                              "train_tokens_per_s": round(tokens / dt, 1), "load_before": round(load0, 2),
                              "load_after": round(os.getloadavg()[0], 2)}, ensure_ascii=False), flush=True)
            cache["model"] = tr.model.unload()  # strip this trial's LoRA layers off the shared base


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("adapter", nargs="?")
    ap.add_argument("--tokens", type=int, default=20)
    ap.add_argument("--speed", metavar="CONFIG", help="time training settings for this config instead")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--trials", default="", help="comma-separated trial numbers (default: all)")
    args = ap.parse_args()
    if args.speed:
        speed(args.speed, args.steps, [int(x) for x in args.trials.split(",") if x.strip()] or None)
        return
    if not args.adapter:
        ap.error("name an ADAPTER (or use --speed CONFIG)")

    import numpy as np
    import torch
    from peft import PeftModel

    from shopmind.config import get_settings
    from shopmind.models.llm import LlamaCppLLM
    from shopmind.tune.base import load_model, load_tokenizer, resolve_base
    from shopmind.tune.datasets import _advertisegen_messages, chat_prefix_ids
    from shopmind.tune.export_gguf import write_lora_gguf
    from shopmind.tune.registry import AdapterRegistry

    settings = get_settings()
    meta = AdapterRegistry(settings.home).meta(args.adapter)
    gguf = Path(meta["path"]) / "adapter.gguf"
    if not gguf.is_file():
        write_lora_gguf(Path(meta["path"]), gguf, name=args.adapter)
    spec = resolve_base(meta["base_model"], settings)
    tok = load_tokenizer(spec)
    prompts = [chat_prefix_ids(tok, _advertisegen_messages(p, "", meta["config"]["prompt_style"])[:-1]) for p in PROMPTS]

    llm = LlamaCppLLM(settings, model_path=spec.gguf_path, n_ctx=1024)
    llama = llm._model()
    switch = []
    for lora in ((str(gguf), 1.0), None, (str(gguf), 1.0)):
        t0 = time.perf_counter()
        llm._use_lora(llama, lora)
        switch.append(round(time.perf_counter() - t0, 4))

    def cpp(ids: list[int]) -> list[int]:
        llama.reset()
        llama.eval(ids)
        out = []
        for _ in range(args.tokens):
            t = int(np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),)).argmax())
            out.append(t)
            if t == tok.eos_token_id:
                break
            llama.eval([t])
        return out

    cpp_out = [cpp(ids) for ids in prompts]
    model = PeftModel.from_pretrained(load_model(spec), meta["path"]).eval()
    hf_out = []
    with torch.no_grad():
        for ids in prompts:
            gen = model.generate(torch.tensor([ids]), max_new_tokens=args.tokens, do_sample=False,
                                 eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
            hf_out.append(gen[0, len(ids):].tolist())
    agree = []
    for a, b in zip(cpp_out, hf_out):
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        agree.append(n)
    print(json.dumps({"adapter": args.adapter, "base": meta["base_model"], "prompts": len(PROMPTS),
                      "tokens": args.tokens, "leading_tokens_equal": agree,
                      "identical": sum(a == b for a, b in zip(cpp_out, hf_out)),
                      "llama_cpp_text": [tok.decode(x) for x in cpp_out], "transformers_text": [tok.decode(x) for x in hf_out],
                      "switch_seconds": switch}, ensure_ascii=False))


if __name__ == "__main__":
    main()
