"""`shopmind eval sentiment`: accuracy / macro-F1 of the stacked model beside a TF-IDF baseline.

Two protocols, chosen honestly:
* `cv` — k-fold cross-validation on the file itself (used automatically when the file is the one
  the bundled model was trained on, since scoring training rows would flatter us). Each fold
  refits both the stacked model and the baseline on the other rows.
* `model` — apply the bundled model (trained on the dev file only) to another file: out-of-domain.

Any CSV with `review` and `label` (0/1) columns works; a `cat` column adds per-category numbers.
"""

from __future__ import annotations

import csv
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shopmind.errors import BadInput
from shopmind.service.embedcache import EmbeddingCache
from shopmind.service.sentiment import SentimentModel, char_counts, clip_text, file_sha256, fit_sentiment, load_model


@dataclass
class ReviewSet:
    """Deduplicated rows in a seeded shuffled order: texts, labels, categories (or None)."""

    texts: list[str]
    labels: np.ndarray
    cats: list[str | None]
    bad_rows: int


def read_reviews(path: Path, seed: int = 0) -> ReviewSet:
    """Read a review CSV; rows with an empty review or a label other than 0/1 are counted, not fatal."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"no such file: {path}")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = set(reader.fieldnames or [])
        if not {"review", "label"} <= fields:
            raise BadInput(f"{path} needs columns 'review' and 'label'; found {sorted(fields)}")
        rows = [r for r in reader if (r.get("review") or "").strip()]
    random.Random(seed).shuffle(rows)
    texts, labels, cats, seen, bad = [], [], [], set(), 0
    for r in rows:
        label = (r.get("label") or "").strip()
        if label not in {"0", "1"}:
            bad += 1
            continue
        text = clip_text(r["review"])
        if text in seen:  # duplicates across folds would leak answers
            continue
        seen.add(text)
        texts.append(text)
        labels.append(int(label))
        cats.append((r.get("cat") or "").strip() or None)
    if not texts:
        raise BadInput(f"{path} has no usable rows (non-empty review, label 0/1)")
    return ReviewSet(texts, np.array(labels, dtype=np.int64), cats, bad)


def _metrics(gold: np.ndarray, pred: np.ndarray) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "macro_f1": round(float(f1_score(gold, pred, average="macro", zero_division=0)), 4),
        "n": int(len(gold)),
    }


def _report(gold: np.ndarray, pred: np.ndarray, base: np.ndarray, cats: list[str | None]) -> dict:
    out = _metrics(gold, pred)
    if any(c for c in cats):
        per: dict[str, dict] = {}
        arr = np.array([c or "" for c in cats])
        for c in sorted(set(arr.tolist()) - {""}):
            m = arr == c
            per[c] = _metrics(gold[m], pred[m]) | {"baseline_accuracy": _metrics(gold[m], base[m])["accuracy"]}
        out["per_category"] = per
    else:
        out["per_category"] = {}
    out["baseline"] = {"name": "tfidf-char(1-3)+logreg"} | _metrics(gold, base)
    return out


def evaluate_sentiment(
    data: Path,
    *,
    sample: int = 3000,
    protocol: str = "auto",
    folds: int = 5,
    seed: int = 0,
    model_path: Path | None = None,
    cache: EmbeddingCache | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Score the sentiment model on `sample` rows of `data`; see the module doc for protocols."""
    started = time.perf_counter()
    say = progress or (lambda _: None)
    if protocol not in {"auto", "cv", "model"}:
        raise BadInput(f"protocol must be auto, cv or model; got {protocol!r}")
    if sample < 10:
        raise BadInput("sample must be at least 10 rows")
    reviews = read_reviews(data, seed=seed)
    cache = cache or EmbeddingCache()
    n = min(sample, len(reviews.texts))
    model: SentimentModel | None = None
    if protocol != "cv":
        model = load_model(model_path)
    if protocol == "auto":
        protocol = "cv" if model and model.meta.get("train_sha256") == file_sha256(Path(data)) else "model"
        say(f"protocol: {protocol}")
    t0 = time.perf_counter()
    say(f"embedding {n} reviews (cached vectors are reused)")
    new = [0]
    emb = cache.embed(reviews.texts[:n], progress=lambda k: new.__setitem__(0, new[0] + k))
    embed_s = time.perf_counter() - t0
    gold = reviews.labels[:n]
    t1 = time.perf_counter()
    if protocol == "model":
        assert model is not None
        counts = char_counts(reviews.texts[:n])
        prob = model.combine(model.char_logit(counts), model.e5_logit(emb))
        base = 1.0 / (1.0 + np.exp(-model.char_logit(counts)))
        extra = {"trained_on": model.meta.get("train_file"), "train_rows": model.meta.get("train_rows")}
        if model.meta.get("train_sha256") == file_sha256(Path(data)):
            extra["warning"] = "scored on the model's own training file: optimistic; use --protocol cv"
    else:
        if folds < 2:
            raise BadInput("cross-validation needs at least 2 folds")
        counts_all = char_counts(reviews.texts)
        fold_of = np.arange(n) % folds
        prob = np.zeros(n)
        base = np.zeros(n)
        for k in range(folds):
            say(f"fold {k + 1}/{folds}")
            test = np.flatnonzero(fold_of == k)
            train_mask = np.ones(len(reviews.texts), dtype=bool)
            train_mask[test] = False
            train_rows = np.flatnonzero(train_mask)
            remap = -np.ones(len(reviews.texts), dtype=np.int64)
            remap[train_rows] = np.arange(len(train_rows))
            emb_train = np.flatnonzero(fold_of != k)
            fitted = fit_sentiment(counts_all[train_rows], reviews.labels[train_rows], remap[emb_train], emb[emb_train], seed=seed)
            prob[test] = fitted.combine(fitted.char_logit(counts_all[test]), fitted.e5_logit(emb[test]))
            base[test] = 1.0 / (1.0 + np.exp(-fitted.char_logit(counts_all[test])))
        extra = {"folds": folds, "rows_in_file": len(reviews.texts)}
    predict_s = time.perf_counter() - t1
    pred = (prob >= 0.5).astype(np.int64)
    base_pred = (base >= 0.5).astype(np.int64)
    report = {"dataset": str(data), "protocol": protocol, "sample_seed": seed} | _report(gold, pred, base_pred, reviews.cats[:n])
    report |= extra
    report["skipped_rows"] = reviews.bad_rows
    report["timing"] = {
        "embed_seconds": round(embed_s, 2),
        "embedded_new": new[0],  # the rest came from the vector cache
        "embed_ms_per_new_text": round(1000 * embed_s / new[0], 1) if new[0] else None,
        "fit_predict_seconds": round(predict_s, 2),
        "total_seconds": round(time.perf_counter() - started, 2),
    }
    return report
