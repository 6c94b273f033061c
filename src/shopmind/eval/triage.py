"""`shopmind eval triage`: per-class precision/recall and macro-F1 of issue-type triage.

The labelled file is JSON lines `{"text", "lang", "label", "order"?, "image_hint"?}`. The classifier
is fitted on that same kind of file, so on the training file we cross-validate (stratified k-fold:
the head is refitted on the other folds); on any other file we apply the fitted head as is.
The lexicon alone is always reported beside it, as the no-training baseline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shopmind.errors import BadInput
from shopmind.service.sentiment import file_sha256
from shopmind.service.triage import ISSUE_TYPES, TriageHead, cue_scores, embed, head_path, lexicon_decide


def read_labelled(path: Path) -> tuple[list[dict], list[str]]:
    """Valid rows and one message per bad line (bad lines never stop the evaluation)."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"no such file: {path}")
    rows, errors = [], []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {i}: not JSON ({exc.msg})")
            continue
        if not isinstance(rec, dict) or not str(rec.get("text") or "").strip():
            errors.append(f"line {i}: missing text")
        elif rec.get("label") not in ISSUE_TYPES:
            errors.append(f"line {i}: unknown label {rec.get('label')!r}")
        else:
            rows.append(rec)
    if not rows:
        raise BadInput(f"{path} has no usable labelled rows")
    return rows, errors


def _class_report(gold: list[str], pred: list[str]) -> dict:
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    labels = [c for c in ISSUE_TYPES if c in set(gold) | set(pred)]
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    present = [c for c in labels if c in set(gold)]
    return {
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "macro_f1": round(float(f1_score(gold, pred, labels=present, average="macro", zero_division=0)), 4),
        "per_class": {
            c: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4), "f1": round(float(f[i]), 4), "support": int(s[i])}
            for i, c in enumerate(labels)
        },
    }


def fit_head(rows: list[dict], embeddings: np.ndarray) -> TriageHead:
    texts = [r["text"] for r in rows]
    return TriageHead.fit(texts, [r["label"] for r in rows], embeddings)


def evaluate_triage(
    data: Path, *, protocol: str = "auto", folds: int = 5, seed: int = 0, progress: Callable[[str], None] | None = None
) -> dict:
    """Lexicon and classifier scores on a labelled file; see the module doc for protocols."""
    from sklearn.model_selection import StratifiedKFold

    started = time.perf_counter()
    say = progress or (lambda _: None)
    if protocol not in {"auto", "cv", "model"}:
        raise BadInput(f"protocol must be auto, cv or model; got {protocol!r}")
    rows, errors = read_labelled(data)
    texts = [r["text"] for r in rows]
    gold = [r["label"] for r in rows]
    lex_pred = [lexicon_decide(cue_scores(t)[0])[0] for t in texts]
    path = head_path()
    head = TriageHead.load(path) if path else None
    if protocol == "auto":
        protocol = "cv" if head is None or head.meta.get("train_sha256") == file_sha256(Path(data)) else "model"
    say(f"protocol: {protocol}; embedding {len(texts)} messages")
    emb = embed(texts)
    if protocol == "model":
        if head is None:
            raise BadInput("no fitted triage head: use --protocol cv or run `shopmind service fit-triage`")
        clf_pred = [head.classes[i] for i in head.predict_proba(texts, emb).argmax(axis=1)]
        extra: dict = {"head": str(path), "head_trained_on": head.meta.get("train_file")}
    else:
        counts = np.bincount([ISSUE_TYPES.index(g) for g in gold])
        k = int(min(folds, counts[counts > 0].min()))
        if k < 2:
            raise BadInput("cross-validation needs at least 2 examples of every label")
        clf_pred = [""] * len(rows)
        for i, (tr, te) in enumerate(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(texts, gold)):
            say(f"fold {i + 1}/{k}")
            fitted = fit_head([rows[j] for j in tr], emb[tr])
            probs = fitted.predict_proba([texts[j] for j in te], emb[te])
            for j, row in zip(te, probs.argmax(axis=1)):
                clf_pred[j] = fitted.classes[row]
        extra = {"folds": k}
    by_lang = {}
    for lang in sorted({r.get("lang", "?") for r in rows}):
        idx = [i for i, r in enumerate(rows) if r.get("lang", "?") == lang]
        by_lang[lang] = {
            "n": len(idx),
            "classifier_macro_f1": _class_report([gold[i] for i in idx], [clf_pred[i] for i in idx])["macro_f1"],
            "lexicon_macro_f1": _class_report([gold[i] for i in idx], [lex_pred[i] for i in idx])["macro_f1"],
        }
    clf = _class_report(gold, clf_pred)
    return {
        "dataset": str(data), "n": len(rows), "protocol": protocol, "seed": seed, **extra,
        "accuracy": clf["accuracy"], "macro_f1": clf["macro_f1"], "per_class": clf["per_class"],
        "method": "logreg(e5 embedding + cue scores)",
        "baseline": {"name": "cue lexicon only"} | _class_report(gold, lex_pred),
        "by_lang": by_lang,
        "bad_rows": len(errors), "bad_row_messages": errors[:20],
        "seconds": round(time.perf_counter() - started, 2),
    }


def train_head(data: Path, out: Path) -> dict:
    """Fit the head on a whole labelled file and save it (with the file's hash, so eval can tell)."""
    rows, errors = read_labelled(data)
    emb = embed([r["text"] for r in rows])
    head = fit_head(rows, emb)
    head.meta = {"train_file": Path(data).name, "train_sha256": file_sha256(Path(data)), "n": len(rows), "classes": head.classes}
    head.save(out)
    return {"head": str(out), "n": len(rows), "bad_rows": len(errors), "classes": head.classes}
