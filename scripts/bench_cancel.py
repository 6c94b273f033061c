"""How fast a real `shopmind serve` stops generating once its client hangs up (issue 12).

Starts the slow OpenAI-compatible endpoint of tests/e2e/test_cancel_on_disconnect.py (one token per
20 ms) and a real server on a temporary home. Each trial sends a write (plain or NDJSON) or a Q&A
request, hangs up after 10 tokens and measures two things: the time from the hang-up until the
LLM's stream is closed, and the tokens streamed after the hang-up. Prints one JSON object.

    .venv/bin/python scripts/bench_cancel.py --trials 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.live_server import LiveServer, cli, server_env  # noqa: E402
from tests.e2e.test_cancel_on_disconnect import SlowLLM, _hang_up_after_tokens  # noqa: E402

CASES = {
    "write": ("/content/title?stream=none", {"attributes": "类型#上衣*颜色#白色*材质#棉", "max_rounds": 2}),
    "write_ndjson": ("/content/title?stream=ndjson", {"attributes": "类型#上衣*颜色#白色*材质#棉", "max_rounds": 2}),
    "ask": ("/service/ask", {"product_id": "Q1", "question": "这件T恤是什么材质的？", "llm": True}),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    out: dict = {"trials_per_route": args.trials, "token_interval_ms": 20, "hang_up_after_tokens": 10}
    with tempfile.TemporaryDirectory() as tmp, SlowLLM() as llm:
        root = Path(tmp)
        env = server_env(root / "home", SHOPMIND_LLM="openai", SHOPMIND_LLM_BASE_URL=f"http://127.0.0.1:{llm.port}/v1")
        (root / "c.csv").write_text("id,title,price,category,材质\nQ1,白色棉质T恤,99,T-shirts,棉\n", encoding="utf-8")
        cli(env, "ingest", str(root / "c.csv"), "--json")
        server = LiveServer(env).start()
        try:
            for name, (path, body) in CASES.items():
                latencies, extra, stopped = [], [], 0
                for _ in range(args.trials):
                    llm.reset()
                    t_hang, sent = _hang_up_after_tokens(server, llm, path, body)
                    if llm.closed.wait(10):
                        stopped += 1
                        latencies.append((llm.closed_at - t_hang) * 1000)
                        extra.append(llm.sent_at_close - sent)
                    time.sleep(0.5)
                out[name] = {"stopped": stopped, "n": args.trials,
                             "stop_ms_median": round(statistics.median(latencies), 1) if latencies else None,
                             "stop_ms_max": round(max(latencies), 1) if latencies else None,
                             "tokens_after_hangup_max": max(extra) if extra else None}
        finally:
            server.stop()
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
