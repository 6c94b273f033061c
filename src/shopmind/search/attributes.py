"""Attribute-aware re-ranking of the image channel with the fitted taggers.

The query's beliefs about the catalog's labelled columns (understand/attribute_beliefs.py) are
checked against each candidate image's tagger probabilities, predicted from pixels only:
`cosine + weight · agreement`. This adds the structure a small alignment head blurs, while still
searching the images, never the catalog's titles. `fit` chooses the weight on its validation split.
"""

from __future__ import annotations

import numpy as np

from shopmind.catalog.store import CatalogStore
from shopmind.understand.attribute_beliefs import DEFAULT_WEIGHT, FLOOR, AttributeBelief, agreement, beliefs_for
from shopmind.understand.fitting import FittedState, image_inputs


def fitted_weight(state: FittedState) -> float:
    """The weight `fit` chose on its validation split, or the default for older fitted states."""
    return float((state.report.get("attribute_rerank") or {}).get("weight", DEFAULT_WEIGHT))


def rerank(store: CatalogStore, state: FittedState, query: str, ranked: list[tuple[str, float]],
           weight: float | None = None) -> tuple[list[tuple[str, float]], list[AttributeBelief]]:
    """Re-score (id, cosine) candidates by how well their images' predicted tags fit the query."""
    beliefs = beliefs_for(query, state.taggers)
    weight = fitted_weight(state) if weight is None else weight
    if not beliefs or not ranked or weight == 0:
        return ranked, beliefs
    got, feats = store.load_features([pid for pid, _ in ranked])
    if not got:
        return ranked, beliefs
    x = image_inputs(feats)
    image_probs = {b.field: state.taggers[b.field].predict_proba(x) for b in beliefs}
    bonus = agreement(image_probs, {b.field: b.distribution[None] for b in beliefs})[0]
    pos = {pid: i for i, pid in enumerate(got)}
    missing = float(np.log(FLOOR))
    rescored = [(pid, float(score) + weight * (float(bonus[pos[pid]]) if pid in pos else missing)) for pid, score in ranked]
    rescored.sort(key=lambda t: -t[1])
    return rescored, beliefs
