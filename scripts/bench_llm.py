"""Benchmark the configured LLM backend: load time, time to first token, decode tokens/s, and the
latency of one grounded `write` per content type. Prints one JSON object.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_llm.py --runs 3
    SHOPMIND_LLM_MODEL=qwen2.5-coder-0.5b-instruct .venv/bin/python scripts/bench_llm.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

PROMPTS = [
    "用两句话介绍一件白色刺绣牛仔外套。",
    "为一条黑色高腰半身裙写一段 60 字左右的商品描述。",
    "Describe a navy knitted cardigan for an online shop in two sentences.",
]
ATTRS = "类型#上衣*材质#牛仔布*颜色#白色*风格#简约*图案#刺绣*衣样式#外套*衣款式#破洞"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="streamed prompts to time")
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--types", default="title,description", help="content types to time through write()")
    args = ap.parse_args()

    from shopmind.config import get_settings
    from shopmind.generate import WriteRequest, write
    from shopmind.models.llm import get_llm

    settings = get_settings()
    t0 = time.perf_counter()
    llm = get_llm(settings)
    llm.complete([{"role": "user", "content": "hi"}], max_tokens=1)  # forces the (lazy) model load
    load_s = time.perf_counter() - t0

    runs = []
    for prompt in (PROMPTS * args.runs)[: args.runs]:
        pieces = list(llm.stream([{"role": "user", "content": prompt}], max_tokens=args.max_tokens, temperature=0.0))
        u = dict(llm.last_usage)
        ttft = u["time_to_first_token_s"] or 0.0
        decode_s = max(u["seconds"] - ttft, 1e-9)
        runs.append({"chars": len("".join(pieces)), "tokens": u["completion_tokens"], "ttft_s": ttft,
                     "total_s": u["seconds"], "decode_tokens_per_s": round(max(u["completion_tokens"] - 1, 0) / decode_s, 2)})
        print(f"stream: {runs[-1]}", file=sys.stderr)

    writes = {}
    for ctype in [t for t in args.types.split(",") if t]:
        r = write(WriteRequest(content_type=ctype, attributes=ATTRS, max_rounds=1), llm)
        writes[ctype] = {"latency_s": r.latency_s, "rounds": r.rounds, "passed": r.passed,
                         "completion_tokens": r.completion_tokens, "text": r.text}
        print(f"write {ctype}: {writes[ctype]}", file=sys.stderr)

    print(json.dumps({
        "benchmark": "llm",
        "backend": llm.name,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "llm_threads": os.environ.get("SHOPMIND_LLM_THREADS")},
        "load_s": round(load_s, 3),
        "sample_size": len(runs),
        "ttft_s_mean": round(statistics.fmean(r["ttft_s"] for r in runs), 3),
        "decode_tokens_per_s_mean": round(statistics.fmean(r["decode_tokens_per_s"] for r in runs), 2),
        "end_to_end_tokens_per_s": round(sum(r["tokens"] for r in runs) / sum(r["total_s"] for r in runs), 2),
        "runs": runs,
        "write": writes,
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
