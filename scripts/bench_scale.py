"""Scale and cost measurements (issue 14); each subcommand prints one JSON object.

    python scripts/bench_scale.py int8 [--n 256] [--batch 32]      # images/s fp32 vs int8 vs raw onnxruntime
    python scripts/bench_scale.py ray  --catalog CSV --images TAR [--limit N]   # rows/s local path vs Ray
    python scripts/bench_scale.py curve --catalog CSV --images TAR --sizes 1000,5000 --png docs/x.png  # rows/s, RSS vs size
    python scripts/bench_scale.py llm [--model qwen2.5-coder-0.5b-instruct] [--tokens 128] [--rounds 3]  # decode vs llama.cpp's own

Ratios are measured side by side in one process (rounds interleaved, best round kept) because the
machine is shared and a number from another run is not comparable.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"


def _fashion_images(n: int):
    from PIL import Image

    tar = DATA / "fashion" / "images.tar"
    if not tar.is_file():
        sys.exit(f"needs {tar} (the shared evaluation data)")
    out = []
    with tarfile.open(tar) as t:
        for m in t:
            if m.isfile() and m.name.endswith(".jpg"):
                out.append(Image.open(io.BytesIO(t.extractfile(m).read())).convert("RGB"))
                if len(out) >= n:
                    break
    return out


def bench_int8(n: int, batch: int, rounds: int, models_dir: Path | None) -> dict:
    """Images/s of the encoder's own path (decode excluded, preprocess included) and of a bare
    `session.run` on the already-preprocessed tensor, for fp32 and int8, same batch."""
    from shopmind.models.image_efficientnet import EfficientNetLite0, preprocess
    from shopmind.models.quantize import int8_path

    images = _fashion_images(n)
    kw = {"models_dir": models_dir} if models_dir else {}
    encs = {p: EfficientNetLite0(precision=p, **kw) for p in ("fp32", "int8")}
    t0 = time.perf_counter()
    for e in encs.values():
        e._load()
    load_s = time.perf_counter() - t0
    tensors = [preprocess(images[i : i + batch]) for i in range(0, n, batch)]
    best: dict[str, float] = {}
    ratios: dict[str, list[float]] = {p: [] for p in encs}

    def run_features(enc) -> float:
        t = time.perf_counter()
        for i in range(0, n, batch):
            enc.encode(images[i : i + batch])
        return n / (time.perf_counter() - t)

    def run_raw(enc) -> float:
        sess = enc._load()
        t = time.perf_counter()
        for x in tensors:
            sess.run(["features", "logits"], {"pixels": x})
        return n / (time.perf_counter() - t)

    for r in range(rounds):
        for p, enc in encs.items():
            enc.encode(images[:batch])  # warm
            # back to back, order alternating per round: a load change hits both sides of a ratio alike
            if r % 2 == 0:
                feat, raw = run_features(enc), run_raw(enc)
            else:
                raw, feat = run_raw(enc), run_features(enc)
            best[f"{p}_features"] = max(best.get(f"{p}_features", 0.0), feat)
            best[f"{p}_raw_ort"] = max(best.get(f"{p}_raw_ort", 0.0), raw)
            ratios[p].append(feat / raw)
    feats = {p: np.vstack([e.encode(images[i : i + batch]) for i in range(0, n, batch)]) for p, e in encs.items()}
    a, b = feats["fp32"], feats["int8"]
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return {
        "images": n, "batch": batch, "rounds": rounds, "image_source": "fashion/images.tar (60x80 JPEGs, letterboxed to 224)",
        "images_per_s": {k: round(v, 1) for k, v in best.items()},
        "int8_speedup_features": round(best["int8_features"] / best["fp32_features"], 2),
        "int8_speedup_raw": round(best["int8_raw_ort"] / best["fp32_raw_ort"], 2),
        "features_vs_raw_ort": {p: round(best[f"{p}_features"] / best[f"{p}_raw_ort"], 3) for p in encs},
        "features_vs_raw_ort_median_of_rounds": {p: round(float(np.median(v)), 3) for p, v in ratios.items()},
        "features_vs_raw_ort_rounds": {p: [round(x, 3) for x in v] for p, v in ratios.items()},
        "load_average_1min": round(os.getloadavg()[0], 2),
        "fp32_int8_feature_cosine": {"mean": round(float(cos.mean()), 4), "min": round(float(cos.min()), 4)},
        "model_bytes": {"fp32": encs["fp32"].onnx_path.stat().st_size, "int8": int8_path(encs["fp32"].onnx_path).stat().st_size},
        "load_or_build_s": round(load_s, 1),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu (shared)",
    }


LLM_PROMPTS = [
    "为一条黑色高腰半身裙写一段 120 字左右的商品描述。",
    "Write a 100-word product description for a navy knitted cardigan.",
    "用三句话介绍一件白色刺绣牛仔外套的卖点。",
]


def bench_llm(model: str | None, tokens: int, rounds: int) -> dict:
    """Decode tokens/s through shopmind's LLM backend (`stream`, as `write` uses it) against the rate
    llama.cpp itself records for the very same calls (its perf counters: eval tokens / eval time).

    Both figures come from the same generations, so the ratio is the cost of everything shopmind and
    llama-cpp-python add per token (sampling in Python, detokenising, chunking, our stream loop)."""
    import llama_cpp

    from shopmind.config import get_settings
    from shopmind.models.llm import LlamaCppLLM

    settings = get_settings()
    llm = LlamaCppLLM(settings, model_path=model)
    llm.stream([{"role": "user", "content": "hi"}], max_tokens=4)  # load + warm up
    for _ in llm.stream([{"role": "user", "content": "hi"}], max_tokens=4):
        pass
    ctx = llm._llama._ctx.ctx
    runs = []
    for r in range(rounds):
        for prompt in LLM_PROMPTS:
            llm._llama.reset()
            llama_cpp.llama_perf_context_reset(ctx)
            first = last = None
            n = 0
            t0 = time.perf_counter()
            for _piece in llm.stream([{"role": "user", "content": prompt}], max_tokens=tokens, temperature=0.0):
                now = time.perf_counter()
                first = first or now
                last = now
                n += 1
            perf = llama_cpp.llama_perf_context(ctx)
            if n < 8 or perf.n_eval < 8:
                continue
            ours = (n - 1) / (last - first)  # tokens after the first, over the time after the first
            own = perf.n_eval / (perf.t_eval_ms / 1000)  # llama.cpp: single-token decode calls only
            runs.append({"round": r, "tokens": n, "shopmind_tok_s": round(ours, 2), "llama_cpp_tok_s": round(own, 2),
                         "ratio": round(ours / own, 3), "prompt_ms": round(perf.t_p_eval_ms, 1),
                         "wall_s": round(time.perf_counter() - t0, 2)})
    ratios = [x["ratio"] for x in runs]
    import statistics

    return {"model": llm.name, "threads": llm._threads, "max_tokens": tokens, "runs": runs,
            "median_ratio": round(statistics.median(ratios), 3) if ratios else None,
            "median_shopmind_tok_s": round(statistics.median(x["shopmind_tok_s"] for x in runs), 2) if runs else None,
            "median_llama_cpp_tok_s": round(statistics.median(x["llama_cpp_tok_s"] for x in runs), 2) if runs else None,
            "llama_cpp_python": llama_cpp.__version__, "load_average_1min": round(os.getloadavg()[0], 2),
            "machine": f"{platform.machine()} {os.cpu_count()} cpu (shared)"}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ray_round(engine: str, tmp: Path, catalog: Path, images: Path, limit: int | None, address: str | None) -> dict:
    """One ingest + embed + tag pass into a fresh data dir (same models dir) on `engine`."""
    from shopmind.catalog.store import close_store, open_store
    from shopmind.config import get_settings, load_settings
    from shopmind.models import registry
    from shopmind.scale.ray_engine import ray_ingest, ray_tag

    registry.clear()
    settings = load_settings(home=tmp, models_path=get_settings().models_dir).ensure_dirs()
    store = open_store(settings)
    t = time.perf_counter()
    if engine == "local":
        from shopmind.catalog.ingest import ingest_catalog
        from shopmind.ops.catalog import tag_catalog

        ingested = ingest_catalog(store, catalog, images=images, limit=limit).ingested
        t_ing = time.perf_counter() - t
        summ = tag_catalog(store, index=False)
    else:
        ingested = ray_ingest(store, catalog, images=images, limit=limit, address=address)["ingested"]
        t_ing = time.perf_counter() - t
        summ = ray_tag(store, address=address, index=False)
    total = time.perf_counter() - t
    close_store(settings)
    return {"rows": ingested, "ingest_s": round(t_ing, 2), "tag_s": round(total - t_ing, 2),
            "ingest_and_tag_s": round(total, 2),
            "rows_per_s": round(ingested / total, 2) if total else None, "embedded": summ["embedded"],
            "tagged": summ["tagged"], "load_average_1min": round(os.getloadavg()[0], 2),
            # the process's peak so far: for the first round it is that engine's own peak
            "peak_rss_mb": round(_rss_mb(), 1)}


def bench_ray(catalog: Path, images: Path, limit: int | None, address: str | None, rounds: int = 3,
              ray_first: bool = False) -> dict:
    """Ingest + embed + tag rows/s, the local path and the Ray path, rounds interleaved
    (local, ray, ray, local, …) so a change in the machine's load hits both alike; medians reported."""
    import statistics

    from shopmind.scale.ray_engine import connect

    results: dict = {"rounds": []}
    t0 = time.perf_counter()
    connect(address)  # starting a local cluster is a fixed cost, reported on its own
    results["ray_cluster_start_s"] = round(time.perf_counter() - t0, 2)
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            order = ("local", "ray") if (r + ray_first) % 2 == 0 else ("ray", "local")
            for engine in order:
                res = _ray_round(engine, Path(tmp) / f"{engine}{r}", catalog, images, limit, address)
                results["rounds"].append({"round": r, "engine": engine, **res})
    for engine in ("local", "ray"):
        times = [x["ingest_and_tag_s"] for x in results["rounds"] if x["engine"] == engine]
        rows = results["rounds"][0]["rows"]
        med = statistics.median(times)
        results[engine] = {"median_ingest_and_tag_s": med, "rows_per_s": round(rows / med, 2), "all_s": times}
    results["ray_overhead"] = round(results["ray"]["median_ingest_and_tag_s"] / results["local"]["median_ingest_and_tag_s"] - 1, 3)
    results["peak_rss_mb_driver"] = round(_rss_mb(), 1)
    results["catalog"] = str(catalog)
    results["limit"] = limit
    results["machine"] = f"{platform.machine()} {os.cpu_count()} cpu (shared)"
    return results


_CURVE_CHILD = """
import json, resource, sys, time
from pathlib import Path
from shopmind.catalog.ingest import ingest_catalog
from shopmind.catalog.store import open_store
from shopmind.config import load_settings
from shopmind.ops.catalog import tag_catalog
home, catalog, images, n = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
store = open_store(load_settings(home=home).ensure_dirs())
t = time.perf_counter(); rep = ingest_catalog(store, catalog, images=Path(images) if images else None, limit=n); ti = time.perf_counter() - t
t = time.perf_counter(); summ = tag_catalog(store, index=False); tt = time.perf_counter() - t
print(json.dumps({"rows": rep.ingested, "ingest_s": round(ti, 2), "tag_s": round(tt, 2), "tagged": summ["tagged"],
                  "ingest_rows_per_s": round(rep.ingested / ti, 1), "tag_rows_per_s": round(summ["tagged"] / tt, 1) if images else None,
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


def plot_curve(points: list[dict], png: Path, synthetic: list[dict] | None = None) -> None:
    """Rows/s and peak RSS against catalog size (RSS axis from 0, so a flat line looks flat)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
    xs = [p["rows"] for p in points]
    ax[0].plot(xs, [p["ingest_rows_per_s"] for p in points], "o-", label="ingest")
    ax[0].plot(xs, [p["tag_rows_per_s"] for p in points], "s-", label="tag (embed + tag)")
    if synthetic:
        sx = [p["rows"] for p in synthetic]
        ax[0].plot(sx, [p["ingest_rows_per_s"] for p in synthetic], "^--", label="ingest, synthetic, no images")
        ax[1].plot(sx, [p["peak_rss_mb"] for p in synthetic], "^--", color="C3", label="synthetic ingest")
    ax[0].set_xscale("log"), ax[0].set_yscale("log"), ax[0].set_xlabel("catalog rows"), ax[0].set_ylabel("rows/s (log)")
    ax[0].legend(fontsize=7)
    ax[1].plot(xs, [p["peak_rss_mb"] for p in points], "o-", color="C2")
    ax[1].set_ylim(0, max(p["peak_rss_mb"] for p in points + (synthetic or [])) * 1.2)
    ax[1].set_xscale("log"), ax[1].set_xlabel("catalog rows"), ax[1].set_ylabel("peak RSS (MB)")
    fig.suptitle(f"shopmind local path, fashion catalog, 2-core shared CPU, {time.strftime('%Y-%m-%d')}", fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=90)


def _synthetic_catalog(catalog: Path, rows: int, out: Path) -> Path:
    """`rows` products made by cycling the catalog's rows under new ids, without images: the size
    of a large shop's catalog for the ingest and store side (there are only so many real photos)."""
    import csv

    with catalog.open(newline="", encoding="utf-8") as f:
        src = [r for r in csv.DictReader(f)]
    fields = [k for k in src[0] if k != "image"]
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for i in range(rows):
            r = src[i % len(src)]
            w.writerow({**{k: r[k] for k in fields}, "id": f"{r['id']}-{i // len(src)}"})
    return out


def bench_curve(catalog: Path, images: Path, sizes: list[int], png: Path | None, synthetic: list[int] | None = None,
                known: list[dict] | None = None) -> dict:
    """Ingest + tag (local path) rows/s and peak RSS per catalog size, one fresh process per size;
    `synthetic` sizes are ingest-only catalogs without images (see `_synthetic_catalog`); `known`
    points measured earlier (same fields, e.g. the local round of `ray` on the whole catalog) are
    plotted with the new ones instead of being re-run."""
    import subprocess

    points = [dict(p) for p in (known or [])]
    runs = [(n, catalog, str(images)) for n in sizes] + [(n, None, "") for n in (synthetic or [])]
    for n, cat, imgs in runs:
        with tempfile.TemporaryDirectory() as tmp:
            path = cat or _synthetic_catalog(catalog, n, Path(tmp) / "synthetic.csv")
            out = subprocess.run([sys.executable, "-c", _CURVE_CHILD, str(Path(tmp) / "home"), str(path), imgs, str(n)],
                                 capture_output=True, text=True, timeout=7200, check=True)
            point = {"size": n, "synthetic": cat is None, **json.loads(out.stdout.strip().splitlines()[-1]),
                     "load_average_1min": round(os.getloadavg()[0], 2)}
            points.append(point)
            print(json.dumps(point), file=sys.stderr, flush=True)
    points.sort(key=lambda p: (p["synthetic"], p["rows"]))
    if png:
        plot_curve([p for p in points if not p["synthetic"]], png, [p for p in points if p["synthetic"]])
    return {"catalog": str(catalog), "points": points, "png": str(png) if png else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("int8")
    a.add_argument("--n", type=int, default=256)
    a.add_argument("--batch", type=int, default=32)
    a.add_argument("--rounds", type=int, default=3)
    a.add_argument("--models-dir", type=Path, default=None)
    r = sub.add_parser("ray")
    r.add_argument("--catalog", type=Path, required=True)
    r.add_argument("--images", type=Path, required=True)
    r.add_argument("--limit", type=int, default=None)
    r.add_argument("--address", default=None)
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--ray-first", action="store_true", help="start the alternation with the Ray run")
    c = sub.add_parser("curve")
    c.add_argument("--catalog", type=Path, required=True)
    c.add_argument("--images", type=Path, required=True)
    c.add_argument("--sizes", default="1000,2500,5000,10000")
    c.add_argument("--png", type=Path, default=None)
    c.add_argument("--synthetic", default="", help="ingest-only sizes of a synthetic catalog without images, e.g. 200000")
    c.add_argument("--known", type=Path, default=None,
                   help="JSON list of points measured earlier (rows, synthetic, ingest_rows_per_s, tag_rows_per_s, peak_rss_mb) to plot too")
    m = sub.add_parser("llm")
    m.add_argument("--model", default=None, help="bundled model name or GGUF path (default: the configured one)")
    m.add_argument("--tokens", type=int, default=128)
    m.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if args.cmd == "llm":
        res = bench_llm(args.model, args.tokens, args.rounds)
    elif args.cmd == "int8":
        res = bench_int8(args.n, args.batch, args.rounds, args.models_dir)
    elif args.cmd == "curve":
        res = bench_curve(args.catalog, args.images, [int(x) for x in args.sizes.split(",") if x],
                          args.png, [int(x) for x in args.synthetic.split(",") if x],
                          json.loads(args.known.read_text(encoding="utf-8")) if args.known else None)
    else:
        res = bench_ray(args.catalog, args.images, args.limit, args.address, args.rounds, args.ray_first)
    res["date"] = time.strftime("%Y-%m-%d", time.gmtime())
    print(json.dumps(res, ensure_ascii=False))


if __name__ == "__main__":
    main()
