"""Deterministic, sticky traffic split: sha256(experiment_id:unit_id) → a bucket in [0, 1).

Hashing (not a random draw) means every process, replica and language that knows the two ids
puts the unit in the same arm without shared state; Python's `hash()` is salted per process,
so it would not do.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from itertools import accumulate
from typing import Sequence

from shopmind.errors import BadInput

_BUCKET_BITS = 60  # 15 hex digits: far finer than any traffic weight


def bucket(experiment_id: str, unit_id: str) -> float:
    """Uniform position of a unit in [0, 1) for this experiment (independent across experiments)."""
    digest = hashlib.sha256(f"{experiment_id}:{unit_id}".encode("utf-8")).hexdigest()
    return int(digest[:15], 16) / float(1 << _BUCKET_BITS)


def choose(experiment_id: str, unit_id: str, keys: Sequence[str], weights: Sequence[float]) -> str:
    """The arm for a unit: cumulative weights partition [0, 1) in the variants' declared order."""
    if not keys or len(keys) != len(weights):
        raise BadInput("need one weight per variant")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise BadInput("weights must be non-negative with a positive sum")
    if not unit_id:
        raise BadInput("unit_id must not be empty")
    total = float(sum(weights))
    edges = list(accumulate(w / total for w in weights))
    idx = bisect_right(edges, bucket(experiment_id, unit_id))
    if idx >= len(keys):  # float rounding left the top edge a hair under 1.0
        idx = max(i for i, w in enumerate(weights) if w > 0)
    return keys[idx]
