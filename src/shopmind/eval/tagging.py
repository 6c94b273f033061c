"""`shopmind eval tagging`: accuracy and macro-F1 of zero-shot or fitted tags against a labelled column."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from shopmind.catalog.ingest import ingest_catalog, read_rows
from shopmind.catalog.store import CatalogStore
from shopmind.errors import BadInput
from shopmind.understand.features import embed_products
from shopmind.understand.fitting import image_inputs, load_fitted
from shopmind.understand.tagging import ZeroShotLabeler, colours_from_descriptor


def _is_colour_field(name: str) -> bool:
    lowered = name.lower()
    return "colour" in lowered or "color" in lowered or "颜色" in name


def evaluate_tagging(
    store: CatalogStore, catalog: Path, field: str, *, source: str = "auto", images: Path | None = None,
    image_only: bool = False,
) -> dict:
    """Tag the catalog's products and score them against `field`; fitted taggers also read the title
    unless `image_only`, and then the image-only score is reported beside the joint one."""
    from sklearn.metrics import accuracy_score, f1_score

    def scores(pred: list[str]) -> dict:
        return {"accuracy": round(float(accuracy_score(gold, pred)), 4),
                "macro_f1": round(float(f1_score(gold, pred, average="macro", zero_division=0)), 4)}

    started = time.perf_counter()
    rows = [r for _, r in read_rows(catalog) if isinstance(r, dict) and r.get("id")]
    truth = {str(r["id"]).strip(): str(r.get(field) or "").strip() for r in rows}
    truth = {k: v for k, v in truth.items() if v}
    if not truth:
        raise BadInput(f"column {field!r} has no labels in {catalog}")
    ingest_catalog(store, catalog, images=images)
    embed_products(store, ids=list(truth))
    ids, feats = store.load_features(list(truth))
    if not ids:
        raise BadInput("no product of this catalog has image features (all images failed?)")
    fitted = load_fitted(store.settings)
    use_fitted = source == "fitted" or (source == "auto" and fitted is not None and field in fitted.taggers)
    if use_fitted:
        if fitted is None or field not in fitted.taggers:
            raise BadInput(f"no fitted tagger for {field!r}: run `shopmind fit` on a catalog labelled with it")
        tagger = fitted.taggers[field]
        x = image_inputs(feats)
        products = store.get_products(ids)
        titles = None if image_only else [products[pid].title if pid in products else "" for pid in ids]
        pred = tagger.predict(x, titles)
        pred_image = tagger.predict(x) if titles is not None and tagger.title_model is not None else None
        inputs = "image+title" if pred_image is not None else "image"
        method = "fitted"
    else:
        labels = tuple(sorted(set(truth.values())))
        zs = ZeroShotLabeler(store.settings)
        if _is_colour_field(field):
            enc = zs.encoder
            mixes = []
            for row in feats["colour"]:
                named = colours_from_descriptor(row, top=2)
                vecs = enc.encode_passages([c.name_en for c in named])
                w = np.array([c.share for c in named], dtype=np.float32)[:, None]
                v = (w * vecs).sum(axis=0)
                mixes.append(v / max(np.linalg.norm(v), 1e-9))
            mixes = np.vstack(mixes)
        else:
            mixes = np.vstack([zs.class_mix(store.top_classes(pid)) for pid in ids])
        probs = zs.score(mixes, labels)
        pred = [labels[i] for i in probs.argmax(axis=1)]
        pred_image, inputs = None, "image"
        method = "zero-shot"
    gold = [truth[pid] for pid in ids]
    result = {"dataset": str(catalog), "field": field, "method": method, "inputs": inputs, "n": len(ids),
              "n_classes": len(set(gold)), **scores(pred)}
    if pred_image is not None:
        result["image_only"] = scores(pred_image)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result
