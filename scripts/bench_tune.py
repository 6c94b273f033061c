"""Tuning-studio measurements on a registered adapter (prints one JSON object):

- parity: greedy tokens from transformers (dequantised GGUF base + PEFT adapter) vs llama.cpp
  (the same GGUF base + the exported GGUF LoRA) for 5 prompts, as the number of leading tokens that agree;
- switch: seconds to switch llama.cpp between base and adapter (load once, then set per call).

    SHOPMIND_HOME=... python scripts/bench_tune.py ADAPTER [--tokens 20]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

PROMPTS = ["类型#上衣*材质#牛仔布*颜色#白色*风格#简约", "类型#裙*风格#简约*裙型#连衣裙*裙长#中长裙",
           "类型#裤*材质#棉*裤长#九分裤*裤型#阔腿裤", "类型#上衣*颜色#黑色*衣样式#衬衫*衣领型#翻领",
           "类型#裙*材质#雪纺*图案#碎花*裙型#a字"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("adapter")
    ap.add_argument("--tokens", type=int, default=20)
    args = ap.parse_args()

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
