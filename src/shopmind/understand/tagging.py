"""The tag pass: named colours, ImageNet top classes, and category/style labels for every product.

Labels come from the fitted taggers when `shopmind fit` has trained one for a field, otherwise
zero-shot: the image's ImageNet class mix is compared with the label names in text space.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache
from importlib import resources

import numpy as np
import yaml

from shopmind.catalog.store import CatalogStore
from shopmind.config import Settings
from shopmind.domain import NamedColour, ProductTags, ScoredLabel
from shopmind.understand import encoders
from shopmind.understand.bridge import imagenet_class_names
from shopmind.understand.colours import PALETTE
from shopmind.understand.fitting import image_inputs, load_fitted

ZERO_SHOT_TEMPERATURE = 0.02
TOP_LABELS = 3
_PALETTE_OFFSET = 12 * 3 * 3  # where palette shares start in the colour descriptor


@lru_cache(maxsize=1)
def default_vocab() -> dict[str, list[dict[str, str]]]:
    return yaml.safe_load(resources.files("shopmind.data").joinpath("vocab.yaml").read_text("utf-8"))


def colours_from_descriptor(descriptor: np.ndarray, top: int = 3) -> list[NamedColour]:
    """Named colours recovered from the palette shares stored in the colour descriptor."""
    shares = descriptor[_PALETTE_OFFSET : _PALETTE_OFFSET + len(PALETTE)] ** 2
    out: list[NamedColour] = []
    for i in np.argsort(-shares)[:top]:
        if shares[i] < 0.08 and out:
            break
        p = PALETTE[i]
        out.append(NamedColour(name_en=p.en, name_zh=p.zh, rgb=p.rgb, share=round(float(shares[i]), 3)))
    return out


class ZeroShotLabeler:
    """Scores label names against images through the ImageNet class mix (no training)."""

    def __init__(self, settings: Settings) -> None:
        self.encoder = encoders.text_encoder(settings)
        self.bridge = encoders.bridge(settings)
        self._labels: dict[tuple[str, ...], np.ndarray] = {}
        self._lock = threading.Lock()
        self._name_index = {n: i for i, n in enumerate(imagenet_class_names())}

    def label_vectors(self, labels: tuple[str, ...]) -> np.ndarray:
        with self._lock:
            if labels not in self._labels:
                self._labels[labels] = self.encoder.encode_passages(list(labels))
            return self._labels[labels]

    def class_mix(self, top_classes: list[list]) -> np.ndarray:
        cv = self.bridge.class_vectors()
        if not top_classes:
            return np.zeros(cv.shape[1], np.float32)
        idx = [self._name_index[name] for name, _ in top_classes if name in self._name_index]
        w = np.array([p for name, p in top_classes if name in self._name_index], dtype=np.float32)
        vec = (w[:, None] * cv[idx]).sum(axis=0) / max(w.sum(), 1e-9)
        return vec / max(np.linalg.norm(vec), 1e-9)

    def score(self, mixes: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
        sims = mixes @ self.label_vectors(labels).T / ZERO_SHOT_TEMPERATURE
        sims -= sims.max(axis=1, keepdims=True)
        e = np.exp(sims)
        return e / e.sum(axis=1, keepdims=True)


def _top(probs: np.ndarray, labels: list[str], zh: list[str | None]) -> list[ScoredLabel]:
    order = np.argsort(-probs)[:TOP_LABELS]
    return [ScoredLabel(label=labels[j], label_zh=zh[j], score=round(float(probs[j]), 4)) for j in order]


def zero_shot_fields(store: CatalogStore) -> dict[str, tuple[list[str], list[str | None]]]:
    """Label sets for zero-shot tags: the catalog's own category values if any, else the vocab."""
    vocab = default_vocab()
    fields: dict[str, tuple[list[str], list[str | None]]] = {}
    cats = [r[0] for r in store.conn().execute("SELECT DISTINCT category FROM products WHERE category IS NOT NULL LIMIT 2001")]
    if 2 <= len(cats) <= 2000:
        fields["category"] = (sorted(cats), [None] * len(cats))
    else:
        fields["category"] = ([v["en"] for v in vocab["category"]], [v["zh"] for v in vocab["category"]])
    fields["style"] = ([v["en"] for v in vocab["style"]], [v["zh"] for v in vocab["style"]])
    return fields


def tag_products(
    store: CatalogStore,
    *,
    ids: list[str] | None = None,
    batch_size: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write ProductTags for products with image features; returns how many were tagged."""
    settings = store.settings
    target = ids if ids is not None else [
        r[0] for r in store.conn().execute("SELECT product_id FROM image_features ORDER BY product_id")
    ]
    fitted = load_fitted(settings)
    zs = ZeroShotLabeler(settings)
    zs_fields = zero_shot_fields(store)
    source = "fitted" if fitted and fitted.taggers else "zero-shot"
    done = 0
    for start in range(0, len(target), batch_size):
        chunk = target[start : start + batch_size]
        got, feats = store.load_features(chunk)
        if not got:  # ids without image features (unknown, or their image failed): nothing to tag
            if progress:
                progress(len(chunk))
            continue
        tops = [store.top_classes(pid) for pid in got]
        if got and all(not t for t in tops):
            mixes = feats["bridge"]  # CLIP-family encoder: the image embedding is already in the text space
        else:
            mixes = np.vstack([zs.class_mix(t) for t in tops]) if got else np.zeros((0, 1))
        labels: dict[str, list[list[ScoredLabel]]] = {}
        for name, (names, zh) in zs_fields.items():
            if fitted and name in fitted.taggers:
                continue
            probs = zs.score(mixes, tuple(names))
            labels[name] = [_top(p, names, zh) for p in probs]
        if fitted and fitted.taggers:
            x = image_inputs(feats)
            products = store.get_products(got)
            titles = [products[pid].title if pid in products else "" for pid in got]
            for name, tagger in fitted.taggers.items():
                probs = tagger.predict_proba(x, titles)
                labels[name] = [_top(p, tagger.classes, [None] * len(tagger.classes)) for p in probs]
        gated = {name: t for name, t in fitted.taggers.items() if t.gate_field} if fitted else {}
        products_by_id = store.get_products(got) if gated else {}
        out = []
        for i, pid in enumerate(got):
            skip = {name for name, t in gated.items()
                    if not t.applies_to(_gate_value(products_by_id.get(pid), t.gate_field, labels, i))}
            out.append(
                ProductTags(
                    product_id=pid,
                    colours=colours_from_descriptor(feats["colour"][i]),
                    labels={name: rows[i] for name, rows in labels.items() if name not in skip},
                    imagenet=[ScoredLabel(label=n, score=p) for n, p in tops[i]],
                    source=source,
                )
            )
        store.put_tags(out)
        done += len(out)
        if progress:
            progress(len(chunk))
    return done


def _gate_value(product, gate: str | None, labels: dict[str, list[list[ScoredLabel]]], i: int) -> str | None:
    """The product's category-like gate value: its own attribute when the catalog has it, else the tag."""
    if not gate:
        return None
    if product is not None:
        own = product.category if gate == "category" else product.attributes.get(gate)
        if own:
            return own
    predicted = labels.get(gate)
    if predicted and predicted[i]:
        return predicted[i][0].label
    return None
