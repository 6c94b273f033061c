"""Attribute-aware re-ranking of the image channel with the fitted taggers.

A query such as "Nike Men Navy Blue Running Shoes" names values of the catalog's own labelled
columns (gender=Men, baseColour=Navy Blue, articleType=…). After `fit`, each product image has
tagger probabilities for those columns, predicted from pixels only. Re-ranking the image channel's
candidates by `cosine + weight · mean log p(value | image)` adds exactly the structure a small
alignment head blurs, while still searching the images, never the catalog's titles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from shopmind.catalog.store import CatalogStore
from shopmind.understand.fitting import FittedState, image_inputs

ATTRIBUTE_WEIGHT = 0.04  # tuned on the fashion dev sample: 0.04 / 0.08 / 0.15 -> R@10 0.874 / 0.865 / 0.841
FLOOR = 1e-3
_WORD = re.compile(r"[a-z0-9]+|[\u4e00-\u9fff]+")


def _norm_words(text: str) -> list[str]:
    words = _WORD.findall(text.lower().replace("-", ""))
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]


@dataclass(frozen=True)
class AttributeMatch:
    field: str
    value: str


def _class_index(state: FittedState) -> dict[tuple[str, ...], list[AttributeMatch]]:
    index: dict[tuple[str, ...], list[AttributeMatch]] = {}
    for name, tagger in state.taggers.items():
        for cls in tagger.classes:
            key = tuple(_norm_words(cls))
            if key and len(key) <= 4:
                index.setdefault(key, []).append(AttributeMatch(name, cls))
    return index


_CACHE: dict[str, dict] = {}


def query_attributes(query: str, state: FittedState) -> list[AttributeMatch]:
    """Labelled values named in the query (longest phrase wins; one value per field)."""
    if not state.taggers:
        return []
    index = _CACHE.get(state.version)
    if index is None:
        index = _class_index(state)
        _CACHE.clear()
        _CACHE[state.version] = index
    words = _norm_words(query)
    found: dict[str, AttributeMatch] = {}
    used = [False] * len(words)
    for n in (4, 3, 2, 1):
        for i in range(len(words) - n + 1):
            if any(used[i : i + n]):
                continue
            for match in index.get(tuple(words[i : i + n]), []):
                if match.field not in found:
                    found[match.field] = match
                    used[i : i + n] = [True] * n
    return list(found.values())


def rerank(store: CatalogStore, state: FittedState, query: str, ranked: list[tuple[str, float]],
           weight: float = ATTRIBUTE_WEIGHT) -> tuple[list[tuple[str, float]], list[AttributeMatch]]:
    """Re-score (id, cosine) candidates by how well their images' predicted tags fit the query."""
    matches = query_attributes(query, state)
    if not matches or not ranked:
        return ranked, matches
    got, feats = store.load_features([pid for pid, _ in ranked])
    if not got:
        return ranked, matches
    x = image_inputs(feats)
    bonus = np.zeros(len(got), np.float32)
    for m in matches:
        tagger = state.taggers[m.field]
        j = tagger.classes.index(m.value)
        bonus += np.log(tagger.predict_proba(x)[:, j] + FLOOR)
    bonus /= len(matches)
    pos = {pid: i for i, pid in enumerate(got)}
    rescored = [(pid, float(score) + weight * (float(bonus[pos[pid]]) if pid in pos else float(np.log(FLOOR))))
                for pid, score in ranked]
    rescored.sort(key=lambda t: -t[1])
    return rescored, matches
