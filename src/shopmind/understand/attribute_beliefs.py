"""What a text query says about the catalog's labelled attributes, and how images agree with it.

A query such as "Nike Men Navy Blue Running Shoes" implies values of the catalog's own labelled
columns (gender=Men, baseColour=Navy Blue, articleType=Sports Shoes). After `fit`, each tagger's
title model reads the query like a product title and gives a belief over its classes; taggers
fitted before title models existed rely on spotting class names alone. A value the query spells
out ("red", "tshirts") is taken as certain and overrides the title model for its field. Each image's
agreement with a belief is log Σ_c q(c | query) · p(c | image), from its pixels only, so search
still ranks images, never the catalog's titles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from shopmind.understand.taggers import AttributeTagger

# The title model's belief about a field counts when one value reaches this probability, and only
# if the query has words left over once spelled-out values are taken: a query made only of values
# ("unisex green tshirts") says nothing about season or usage, and guessing them from correlations
# cost attribute queries nDCG@10 0.785 -> 0.722 on the fashion image channel.
MIN_CONFIDENCE = 0.5
FLOOR = 1e-3
DEFAULT_WEIGHT = 0.08  # used when the fitted state did not choose one on its validation split
WEIGHT_GRID = (0.0, 0.04, 0.08, 0.15, 0.25)
_WORD = re.compile(r"[a-z0-9]+|[\u4e00-\u9fff]+")


@dataclass(frozen=True)
class AttributeBelief:
    """The query's belief over one field's classes; `value` is its most likely class."""

    field: str
    value: str
    confidence: float
    distribution: np.ndarray


def _norm_words(text: str) -> list[str]:
    words = _WORD.findall(text.lower().replace("-", ""))
    return [w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words]


_Index = dict[tuple[str, ...], list[tuple[str, str]]]


def _class_index(taggers: Mapping[str, AttributeTagger]) -> _Index:
    """Normalised class-name phrases -> (field, class) for spotting values in query text."""
    index: _Index = {}
    for name, tagger in taggers.items():
        for cls in tagger.classes:
            key = tuple(_norm_words(cls))
            if key and len(key) <= 4:
                index.setdefault(key, []).append((name, cls))
    return index


def _spot(query: str, index: _Index) -> tuple[dict[str, str], bool]:
    """Class names spelled out in the query (longest phrase wins; one value per field), and whether
    any query word is left unexplained by them."""
    words = _norm_words(query)
    found: dict[str, str] = {}
    used = [False] * len(words)
    for n in (4, 3, 2, 1):
        for i in range(len(words) - n + 1):
            if any(used[i : i + n]):
                continue
            for field_name, cls in index.get(tuple(words[i : i + n]), []):
                if field_name not in found:
                    found[field_name] = cls
                    used[i : i + n] = [True] * n
    return found, not all(used)


def named_values(query: str, taggers: Mapping[str, AttributeTagger]) -> dict[str, str]:
    """Class names spelled out in the query, by field."""
    return _spot(query, _class_index(taggers))[0]


def query_beliefs(queries: list[str], taggers: Mapping[str, AttributeTagger]) -> dict[str, np.ndarray]:
    """field -> (n_queries × n_classes) beliefs; a row is all zero where the query is not confident."""
    index = _class_index(taggers)
    spotted = [_spot(query, index) for query in queries]
    has_more_words = np.array([more for _, more in spotted], dtype=bool)
    out: dict[str, np.ndarray] = {}
    for name, tagger in taggers.items():
        q = np.zeros((len(queries), len(tagger.classes)), np.float32)
        if tagger.title_model is not None:
            probs = np.exp(tagger.title_model.log_proba(queries))
            confident = (probs.max(axis=1) >= MIN_CONFIDENCE) & has_more_words
            q[confident] = probs[confident]
        for i, (values, _) in enumerate(spotted):
            if name in values:
                q[i] = 0.0
                q[i, tagger.classes.index(values[name])] = 1.0
        out[name] = q
    return out


def beliefs_for(query: str, taggers: Mapping[str, AttributeTagger]) -> list[AttributeBelief]:
    """The confident beliefs of one query, for re-ranking and for explaining hits."""
    beliefs = []
    for name, rows in query_beliefs([query], taggers).items():
        q = rows[0]
        if q.any():
            j = int(q.argmax())
            beliefs.append(AttributeBelief(name, taggers[name].classes[j], round(float(q[j]), 3), q))
    return beliefs


def agreement(image_probs: Mapping[str, np.ndarray], beliefs: Mapping[str, np.ndarray]) -> np.ndarray:
    """(n_queries × n_images) mean over a query's confident fields of log Σ_c q(c) p(c | image)."""
    fields = [f for f in beliefs if f in image_probs]
    n_q = next(iter(beliefs.values())).shape[0] if beliefs else 0
    n_i = next(iter(image_probs.values())).shape[0] if image_probs else 0
    total = np.zeros((n_q, n_i), np.float32)
    counts = np.zeros(n_q, np.float32)
    for f in fields:
        active = beliefs[f].any(axis=1)
        total[active] += np.log(beliefs[f][active] @ image_probs[f].T + FLOOR)
        counts += active
    return total / np.maximum(counts, 1.0)[:, None]


def choose_weight(similarity: np.ndarray, bonus: np.ndarray, candidates: int = 100) -> tuple[float, dict[str, float]]:
    """Pick the re-rank weight with the best MRR where query i's match is image i (a validation split).

    Mirrors search: only each query's top `candidates` by cosine are re-ranked.
    """
    n = similarity.shape[0]
    k = min(candidates, similarity.shape[1])
    top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    rows = np.arange(n)[:, None]
    sim, bon = similarity[rows, top], bonus[rows, top]
    is_match = top == np.arange(n)[:, None]
    mrr = {}
    for w in WEIGHT_GRID:
        score = sim + w * bon
        match_score = np.where(is_match, score, -np.inf).max(axis=1)
        rank = (score > match_score[:, None]).sum(axis=1) + 1
        mrr[str(w)] = round(float(np.where(np.isfinite(match_score), 1.0 / rank, 0.0).mean()), 4)
    best = max(WEIGHT_GRID, key=lambda w: (mrr[str(w)], -w))
    return best, mrr
