"""`shopmind fit`: train the alignment head and attribute taggers on the catalog, save them, use them.

The fitted state lives in `SHOPMIND_HOME/fitted/` (head.npz, taggers/*.npz, fit.json);
search and tagging pick it up automatically once it exists.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shopmind.catalog.store import CatalogStore
from shopmind.config import Settings
from shopmind.errors import NotReady
from shopmind.understand import encoders
from shopmind.understand.align import AlignConfig, AlignmentHead
from shopmind.understand.attribute_beliefs import agreement, choose_weight, query_beliefs
from shopmind.understand.filecache import FileCache
from shopmind.understand.taggers import AttributeTagger

NON_LABEL_FIELDS = {"id", "title", "description", "price", "image", "title_en", "year", "colour_zh"}
MAX_CLASSES = 1000
# Values that mean "this field has no value here" (fashion exports write NA for a skirt's sleeve length).
MISSING_VALUES = {"", "na", "n/a", "n.a.", "none", "null", "nil", "-", "--", "nan", "not applicable", "无", "不适用"}
# Category-like fields, most specific first: the first one labelled on most products gates the others.
GATE_FIELDS = ("articleType", "article_type", "category", "subCategory", "sub_category", "masterCategory", "master_category")
APPLIES_MIN_SHARE = 0.5  # a field applies to a gate value when at least this share of its products have it
GATE_MIN_COUNT = 3  # gate values seen fewer times in training are left applicable (too little evidence)


def is_missing(value: object) -> bool:
    """True for an empty or "NA"-style value (not a label to learn)."""
    return value is None or str(value).strip().lower() in MISSING_VALUES


def applicability(values: dict[str, dict[str, str]], ids: list[str], fields: list[str]) -> tuple[str | None, dict[str, list[str]]]:
    """Learn from the training data which fields do not apply to which categories.

    `values` is {id: {field: raw value}}. The gate is the first of GATE_FIELDS present on at least
    90 % of `ids`; for every other field, the gate values whose products mostly lack it (missing
    or "NA") are returned, so tagging abstains there instead of guessing a sleeve length for shoes.
    """
    gate = None
    for name in GATE_FIELDS:
        if sum(1 for pid in ids if not is_missing(values.get(pid, {}).get(name))) >= 0.9 * max(len(ids), 1):
            gate = name
            break
    if gate is None:
        return None, {}
    per_gate: dict[str, list[str]] = {}
    for pid in ids:
        g = values.get(pid, {}).get(gate)
        if not is_missing(g):
            per_gate.setdefault(str(g), []).append(pid)
    out: dict[str, list[str]] = {}
    for name in fields:
        if name == gate:
            continue
        off = sorted(g for g, members in per_gate.items() if len(members) >= GATE_MIN_COUNT
                     and sum(1 for pid in members if not is_missing(values[pid].get(name))) < APPLIES_MIN_SHARE * len(members))
        if off:
            out[name] = off
    return gate, out


def image_inputs(feats: dict[str, np.ndarray]) -> np.ndarray:
    """The input every fitted model sees: pooled image features + colour descriptor (weighted up)."""
    return np.hstack([feats["feat"], 4.0 * feats["colour"]]).astype(np.float32)


def fitted_dir(settings: Settings) -> Path:
    return settings.home / "fitted"


@dataclass
class FittedState:
    head: AlignmentHead | None
    taggers: dict[str, AttributeTagger] = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    version: str = ""


class FittedCache(FileCache[FittedState]):
    """One home's fitted state, read once per change of fit.json (by mtime and size).

    The `Shopmind` app's image space holds one, so fitted heads live as long as the app and two
    apps on two homes never share one; `load_fitted` without a cache reads the files afresh."""

    def get(self, settings: Settings) -> FittedState | None:
        report_path = fitted_dir(settings) / "fit.json"
        return self.read(report_path, lambda: _read_fitted(settings, report_path))


def _read_fitted(settings: Settings, report_path: Path) -> FittedState:
    report = json.loads(report_path.read_text("utf-8"))
    head_path = fitted_dir(settings) / "head.npz"
    head = AlignmentHead.load(head_path) if head_path.exists() else None
    loaded = [AttributeTagger.load(p) for p in sorted((fitted_dir(settings) / "taggers").glob("*.npz"))]
    taggers = {t.field_name: t for t in loaded}
    return FittedState(head=head, taggers=taggers, report=report, version=report.get("version", ""))


def load_fitted(settings: Settings, cache: FittedCache | None = None) -> FittedState | None:
    """The fitted head and taggers, or None before `fit` has run (through `cache`, the app's, when given)."""
    return (cache or FittedCache()).get(settings)


def label_fields(store: CatalogStore, ids: list[str]) -> dict[str, dict[str, str]]:
    """Attribute columns that look like labels (few distinct values, enough coverage) -> {id: value}."""
    products = store.get_products(ids)
    columns: dict[str, dict[str, str]] = {}
    for pid, p in products.items():
        values = dict(p.attributes)
        if p.category:
            values["category"] = p.category
        for key, value in values.items():
            if key not in NON_LABEL_FIELDS and not is_missing(value) and len(value) <= 60:
                columns.setdefault(key, {})[pid] = value
    chosen = {}
    for key, col in columns.items():
        counts: dict[str, int] = {}
        for v in col.values():
            counts[v] = counts.get(v, 0) + 1
        distinct = len(counts)
        if len(col) < 20 or distinct < 2 or distinct > MAX_CLASSES or len(col) < 0.5 * len(ids):
            continue
        if max(counts.values()) > 0.97 * len(col) or distinct > 0.5 * len(col):
            continue
        chosen[key] = col
    return chosen


def title_query_vectors(store: CatalogStore, ids: list[str], titles: list[str]) -> np.ndarray:
    """e5 *query* embeddings of titles (queries are what the head must meet), cached on disk."""
    settings = store.settings
    enc = encoders.text_encoder(settings)
    key = hashlib.sha256(("\n".join(titles) + enc.name).encode()).hexdigest()[:16]
    path = settings.models_dir / "cache" / f"title-queries-{key}.npy"
    if path.exists():
        return np.load(path)
    vecs = enc.encode_queries(titles)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def fit_catalog(
    store: CatalogStore,
    *,
    exclude_ids: set[str] | None = None,
    fields: list[str] | None = None,
    seed: int = 0,
    epochs: int = 40,
    tagger_epochs: int = 25,
    validation_fraction: float = 0.05,
    progress=None,
) -> dict:
    """Train and save the head (+ taggers); returns the report written to fit.json."""
    settings = store.settings
    ids, feats = store.load_features()
    exclude_ids = exclude_ids or set()
    keep = [i for i, pid in enumerate(ids) if pid not in exclude_ids]
    if len(keep) < 16:
        raise NotReady(f"fit needs at least 16 products with image features; found {len(keep)} (run `shopmind tag` first)")
    ids = [ids[i] for i in keep]
    x = image_inputs({k: v[keep] for k, v in feats.items()})
    products = store.get_products(ids)
    titles = [products[p].title for p in ids]
    started = time.perf_counter()
    t = title_query_vectors(store, ids, titles)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids))
    n_val = int(len(ids) * validation_fraction) if len(ids) >= 200 else 0
    val, train = order[:n_val], order[n_val:]
    cfg = AlignConfig(seed=seed, epochs=epochs, batch_size=min(512, max(16, len(train) // 4)))
    head = AlignmentHead(config=cfg).fit(x[train], t[train], x_val=x[val] if n_val else None, t_val=t[val] if n_val else None, progress=progress)
    out_dir = fitted_dir(settings)
    head.save(out_dir / "head.npz")
    report: dict = {"head": head.metrics, "taggers": {}, "seed": seed, "n_products": len(ids), "excluded": len(exclude_ids)}
    columns = label_fields(store, ids)
    if fields:
        columns = {k: v for k, v in columns.items() if k in fields}
    tag_dir = out_dir / "taggers"
    for old in tag_dir.glob("*.npz") if tag_dir.exists() else []:
        old.unlink()
    index = {pid: i for i, pid in enumerate(ids)}
    raw_values = {pid: {**p.attributes, **({"category": p.category} if p.category else {})} for pid, p in products.items()}
    gate, not_applicable = applicability(raw_values, [ids[i] for i in train], sorted(columns))
    if gate:
        report["gate_field"] = gate
        report["not_applicable"] = not_applicable
    taggers: dict[str, AttributeTagger] = {}
    for name, col in sorted(columns.items()):
        labelled = [index[p] for p in col]
        labelled_set = set(labelled)
        tr = [i for i in train if i in labelled_set]
        va = [i for i in val if i in labelled_set]
        tagger = AttributeTagger(field_name=name, seed=seed, epochs=tagger_epochs).fit(
            x[tr], [col[ids[i]] for i in tr], x_val=x[va] if va else None, y_val=[col[ids[i]] for i in va] if va else None,
            titles=[titles[i] for i in tr], titles_val=[titles[i] for i in va] if va else None,
        )
        if name in not_applicable:
            tagger.gate_field, tagger.not_applicable = gate, not_applicable[name]
        tagger.save(tag_dir / f"{_safe(name)}.npz")
        report["taggers"][name] = tagger.metrics
        taggers[name] = tagger
    if taggers and n_val >= 20:
        report["attribute_rerank"] = _choose_rerank_weight(head, taggers, x[val], t[val], [titles[i] for i in val])
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["version"] = hashlib.sha256(json.dumps(report, sort_keys=True).encode()).hexdigest()[:12]
    tmp = out_dir / "fit.json.tmp"
    tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False), "utf-8")
    tmp.replace(out_dir / "fit.json")
    return report


def _choose_rerank_weight(head: AlignmentHead, taggers: dict[str, AttributeTagger], x_val: np.ndarray,
                          t_val: np.ndarray, titles_val: list[str]) -> dict:
    """Title→image search on the validation split: which attribute re-rank weight gives the best MRR."""
    similarity = head.transform_texts(t_val) @ head.transform_images(x_val).T
    image_probs = {name: tagger.predict_proba(x_val) for name, tagger in taggers.items()}
    bonus = agreement(image_probs, query_beliefs(titles_val, taggers))
    weight, mrr = choose_weight(similarity, bonus)
    return {"weight": weight, "validation_mrr_by_weight": mrr, "n": len(titles_val)}


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
