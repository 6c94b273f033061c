"""Benchmark the livestream studio; prints one JSON object.

- script build time for a 10-product, 60-minute session (zh+en+ja), using the first ten records of
  ../shared/data/fashion100/products.jsonl when present (their INR list price read as the amount), else
  ten synthetic products;
- optimiser vs brute-force agreement rate and speed on 2,000 random promotion/basket cases.

Usage: OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_live.py [--cases 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import date
from pathlib import Path

from shopmind.domain import Product
from shopmind.live.evaluate import optimiser_agreement, script_timing

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fashion100" / "products.jsonl"


def _fashion_products(n: int) -> list[Product]:
    out = []
    with DATA.open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            attrs = {k: str(r[k]) for k in ("brand", "base_colour", "season", "usage", "gender") if r.get(k)}
            attrs.update({k: str(v) for k, v in (r.get("article_attributes") or {}).items()})
            out.append(Product(id=str(r["id"]), title=r["title"], price=r.get("price_inr"), category=r.get("article_type"),
                               description=(r.get("descriptors") or {}).get("description", ""), attributes=attrs))
            if len(out) == n:
                break
    return out


def _synthetic_products(n: int) -> list[Product]:
    return [Product(id=f"s{i}", title=f"Cotton shirt {i}", price=99 + 20 * i, category="Shirts",
                    attributes={"material": "cotton", "size": "S-XL", "season": "Summer"}) for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    products, source = (_fashion_products(10), str(DATA)) if DATA.is_file() else (_synthetic_products(10), "synthetic")
    timing = script_timing(products, ["zh", "en", "ja"], duration_min=60, rates={"base": "CNY", "rates": {"USD": "0.14", "JPY": "21"}})
    timing["dataset"] = source
    agreement = optimiser_agreement(args.cases, args.seed)
    # More promotions per case: the brute force doubles with each choosable one, the optimiser does not.
    larger = optimiser_agreement(max(args.cases // 10, 1), args.seed + 1, max_promos=16)
    print(json.dumps({"benchmark": "live", "date": date.today().isoformat(), "machine": platform.machine(),
                      "python": sys.version.split()[0], "script": timing, "optimiser": agreement,
                      "optimiser_16_promotions": larger}, ensure_ascii=False))


if __name__ == "__main__":
    main()
