"""Train the bundled sentiment model from the dev review file only.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/train_sentiment.py \
        --data ../shared/data/reviews/online_shopping_10_cats.dev.csv --embed-rows 14000

View A (char TF-IDF) learns from every deduplicated row; view B (e5) from the first
`--embed-rows` rows of the seeded shuffle (embedding all 50k rows takes ~40 min on one core).
In-domain quality is measured by `shopmind eval sentiment` with k-fold CV, not here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

from shopmind.eval.sentiment import read_reviews
from shopmind.service.embedcache import EmbeddingCache
from shopmind.service.sentiment import BUNDLED_MODEL, char_counts, file_sha256, fit_sentiment


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--embed-rows", type=int, default=14000)
    ap.add_argument("--out", type=Path, default=BUNDLED_MODEL)
    ap.add_argument("--cache", type=Path, default=None, help="e5 vector cache folder (default $SHOPMIND_E5_CACHE or home)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    started = time.perf_counter()
    reviews = read_reviews(args.data, seed=args.seed)
    n_emb = min(args.embed_rows, len(reviews.texts))
    done = [0]

    def progress(k: int) -> None:
        done[0] += k
        print(f"embedded {done[0]} new texts", file=sys.stderr)

    emb = EmbeddingCache(args.cache).embed(reviews.texts[:n_emb], progress=progress)
    counts = char_counts(reviews.texts)
    model = fit_sentiment(counts, reviews.labels, np.arange(n_emb), emb, seed=args.seed)
    model.meta = {
        "train_file": args.data.name,
        "train_sha256": file_sha256(args.data),
        "train_rows": len(reviews.texts),
        "embedded_rows": n_emb,
        "seed": args.seed,
        "trained_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "combiner": [round(float(v), 4) for v in model.combiner],
    }
    path = model.save(args.out)
    print(json.dumps({"model": str(path), "bytes": path.stat().st_size, "seconds": round(time.perf_counter() - started, 1)} | model.meta, ensure_ascii=False))


if __name__ == "__main__":
    main()
