"""Zero-shot image -> text-space bridge (ConSE) for catalogs with no training at all.

An image's ImageNet probabilities weight the text embeddings of its top classes; the named
colours measured from pixels are mixed in, since titles say "red" far more often than "jersey".
The result lives in the text encoder's space, so a text query can rank images directly.

Each class is embedded as "a photo of a <all its synonyms>" ("jersey, T-shirt, tee shirt" meets
titles that say "Tshirt"), and probabilities are softened (temperature 2) over the top 10. These
three settings were chosen on a random 996-product split of the fashion catalog disjoint from its
evaluation sample (title→image R@10 0.146 → 0.180 there; docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
import json
import threading
from functools import lru_cache
from importlib import resources

import numpy as np

from shopmind.domain import NamedColour

BRIDGE_VERSION = "conse-v2"  # bump when anything below changes: stored bridge vectors are rebuilt
TOP_CLASSES = 10
TOP_REPORTED = 5  # classes kept with each product for display and zero-shot tagging
TEMPERATURE = 2.0
CLASS_WEIGHT = 1.0
COLOUR_WEIGHT = 0.8
CLASS_PROMPT = "a photo of a {}"


@lru_cache(maxsize=1)
def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names in logit order (first lemma is the readable name)."""
    data = json.loads(resources.files("shopmind.data").joinpath("imagenet_classes.json").read_text("utf-8"))
    return [c.split(",")[0].strip() for c in data["classes"]]


@lru_cache(maxsize=1)
def imagenet_class_texts() -> list[str]:
    """What is embedded for each class: the prompt around the full synonym list."""
    data = json.loads(resources.files("shopmind.data").joinpath("imagenet_classes.json").read_text("utf-8"))
    return [CLASS_PROMPT.format(c.strip()) for c in data["classes"]]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class Bridge:
    """Holds the cached class-name and colour-name embeddings for one text encoder."""

    def __init__(self, text_encoder, cache_dir=None) -> None:
        self.encoder = text_encoder
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._class_vecs: np.ndarray | None = None
        self._colour_vecs: dict[str, np.ndarray] = {}

    def class_vectors(self) -> np.ndarray:
        if self._class_vecs is None:
            with self._lock:
                if self._class_vecs is None:
                    names = imagenet_class_texts()
                    key = hashlib.sha256(("|".join(names) + self.encoder.name).encode()).hexdigest()[:12]
                    path = self.cache_dir / f"imagenet-names-{self.encoder.name}-{key}.npy" if self.cache_dir else None
                    if path is not None and path.exists():
                        vecs = np.load(path)
                    else:
                        vecs = self.encoder.encode_passages(names)
                        if path is not None:
                            path.parent.mkdir(parents=True, exist_ok=True)
                            np.save(path, vecs)
                    self._class_vecs = vecs.astype(np.float32)
        return self._class_vecs

    def colour_vector(self, colour: NamedColour) -> np.ndarray:
        key = colour.name_en
        vec = self._colour_vecs.get(key)
        if vec is None:
            vec = self.encoder.encode_passages([f"{colour.name_en} {colour.name_zh}"])[0]
            self._colour_vecs[key] = vec
        return vec

    def embed(self, logits: np.ndarray, colours: list[list[NamedColour]]) -> tuple[np.ndarray, list[list]]:
        """Bridge vectors (n, dim) and each image's top classes [[name, prob], ...]."""
        logits = np.asarray(logits, np.float32)
        probs = softmax(logits / TEMPERATURE)  # softened for mixing; reported classes keep plain softmax
        plain = softmax(logits)
        class_vecs = self.class_vectors()
        names = imagenet_class_names()
        out = np.zeros((len(logits), class_vecs.shape[1]), np.float32)
        tops: list[list] = []
        for i, p in enumerate(probs):
            idx = np.argsort(-p)[:TOP_CLASSES]
            w = p[idx] / max(p[idx].sum(), 1e-9)
            vec = CLASS_WEIGHT * (w[:, None] * class_vecs[idx]).sum(axis=0)
            for c in colours[i][:2]:
                vec = vec + COLOUR_WEIGHT * c.share * self.colour_vector(c)
            out[i] = vec / max(np.linalg.norm(vec), 1e-9)
            tops.append([[names[j], round(float(plain[i, j]), 4)] for j in idx[:TOP_REPORTED]])
        return out, tops
