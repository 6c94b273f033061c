"""Hybrid multimodal search: lexical BM25 + dense text + image vectors, fused by reciprocal rank.

Each channel ranks candidates on its own; reciprocal rank fusion (RRF, k=60) adds
`weight / (60 + rank)` per channel, which needs no score calibration between channels.
Every hit carries `why`: the words it matched, and its rank and similarity in each channel.
"""

from __future__ import annotations

import math
import re
import threading
import time

import numpy as np
from PIL import Image

from shopmind.catalog.store import CatalogStore
from shopmind.domain import Filter, Product, SearchHit, SearchResult
from shopmind.errors import BadInput, NotReady
from shopmind.search.indexer import IMAGE_COLLECTION, TEXT_COLLECTION
from shopmind.search.lexical import LexicalIndex, product_text
from shopmind.search.text import expand_query, tokenize
from shopmind.search.vector import open_index
from shopmind.understand import encoders
from shopmind.understand.image_space import ImageSpace
from shopmind.understand.query_image import image_features

RRF_K = 60
CANDIDATES = 100
CHANNEL_WEIGHTS = {"lexical": 1.0, "text": 1.0, "text→image": 1.0, "image": 1.5}
_FILTER_RE = re.compile(r"^\s*([A-Za-z_\u3400-\u9fff][\w\u3400-\u9fff .-]*?)\s*(<=|>=|!=|=|<|>)\s*(.+?)\s*$")


def parse_filter(expr: str) -> Filter:
    """`articleType=Dresses`, `price<300` -> Filter (numbers become floats)."""
    m = _FILTER_RE.match(expr or "")
    if not m:
        raise BadInput(f"cannot parse filter {expr!r}; use FIELD=VALUE, FIELD<NUMBER, FIELD>=NUMBER …")
    field, op, raw = m.groups()
    value: str | float = raw
    if op in {"<", "<=", ">", ">="}:
        try:
            value = float(raw)
        except ValueError:
            raise BadInput(f"filter {expr!r}: {op} needs a number") from None
        if not math.isfinite(value):
            raise BadInput(f"filter {expr!r}: {op} needs a finite number")
    return Filter(field=field.strip(), op=op, value=value)


class SearchEngine:
    """Serves queries over the indexes built by `search.indexer.build_indexes`."""

    def __init__(self, store: CatalogStore, *, attribute_rerank: bool = True,
                 space: ImageSpace | None = None) -> None:
        self.store = store
        self.space = space or ImageSpace(store.settings)  # the app's image space when built by `Shopmind`
        self.attribute_rerank = attribute_rerank  # re-rank the image channel by fitted tag agreement
        self.settings = store.settings
        self._lexical: LexicalIndex | None = None
        self._lexical_count: str | None = None
        self._lock = threading.Lock()

    # -- channels ----------------------------------------------------------------------------
    def lexical(self) -> LexicalIndex | None:
        count = self.store.get_meta("lexical_index_count")
        with self._lock:
            if self._lexical is None or count != self._lexical_count:
                folder = self.settings.home / "index" / "bm25"
                self._lexical = LexicalIndex.load(folder) if folder.exists() else None
                self._lexical_count = count
            return self._lexical

    def _vector_index(self, name: str):
        return open_index(self.settings, name, encoders.text_encoder(self.settings).dim)

    def _ensure_ready(self, mode: str = "hybrid") -> None:
        if mode == "image":
            if self._vector_index(IMAGE_COLLECTION).count() == 0:
                raise NotReady("no image vectors indexed yet: run `shopmind tag` (or `shopmind index`) first")
        elif self.store.get_meta("lexical_index_count") is None:
            raise NotReady("the catalog is not indexed yet: run `shopmind index` (or `shopmind tag`) first")

    def _allowed_ids(self, filters: list[Filter]) -> set[str] | None:
        if not filters:
            return None
        return self.store.filter_ids(filters)

    def _check_filter_fields(self, filters: list[Filter] | None) -> None:
        """A misspelt field would match nothing and look like "no such products": say so instead."""
        unknown = [f.field for f in filters or [] if not self.store.has_field(f.field)]
        if unknown:
            known = self.store.field_names()
            raise BadInput(f"unknown filter field(s) {', '.join(map(repr, unknown))}; known fields: {', '.join(known)}",
                           detail={"unknown": unknown, "known_fields": known})

    def _vector_search(self, name: str, vec, filters: list[Filter], allowed: set[str] | None,
                       restrict_ids: list[str] | None) -> list[tuple[str, float]]:
        """Push filters into the vector engine when it can; otherwise restrict to the ids SQLite allowed."""
        index = self._vector_index(name)
        if filters and index.can_filter(filters):
            return index.search(vec, CANDIDATES, filters, restrict_ids)
        return index.search(vec, CANDIDATES, None, sorted(allowed) if allowed is not None else None)

    # -- public API --------------------------------------------------------------------------
    def search(
        self,
        query: str | None = None,
        image: Image.Image | None = None,
        *,
        filters: list[Filter] | None = None,
        k: int = 10,
        mode: str = "hybrid",
        restrict_ids: list[str] | None = None,
    ) -> SearchResult:
        """Text, image, or both. mode: hybrid (all channels), image (image vectors only), text."""
        if not (query and query.strip()) and image is None:
            raise BadInput("give a text query, an image, or both")
        if k < 1 or k > 1000:
            raise BadInput("k must be between 1 and 1000")
        if mode not in {"hybrid", "image", "text"}:
            raise BadInput(f"unknown mode {mode!r} (hybrid, image, text)")
        self._check_filter_fields(filters)
        self._ensure_ready(mode)
        started = time.perf_counter()
        filters = filters or []
        rankings: dict[str, list[tuple[str, float]]] = {}
        matched_tokens: list[str] = []
        matched_attributes: list[str] = []
        allowed = self._allowed_ids(filters)
        if restrict_ids is not None:
            allowed = set(restrict_ids) if allowed is None else allowed & set(restrict_ids)
        if allowed is not None and not allowed:
            return SearchResult(query=query, hits=[], took_ms=0.0, backend=self.settings.vector_backend)
        space = self.space.current()  # one decision for this query: text→image and photo channels agree
        if query and query.strip():
            enc = encoders.text_encoder(self.settings)
            qvec = enc.encode_query(query)
            if mode in {"hybrid", "text"}:
                lex = self.lexical()
                if lex is not None:
                    res = lex.search(query, CANDIDATES, allowed)
                    rankings["lexical"] = [(pid, score) for pid, score, _ in res]
                    matched_tokens = expand_query(tokenize(query))
                rankings["text"] = self._vector_search(TEXT_COLLECTION, qvec, filters, allowed, restrict_ids)
            if mode in {"hybrid", "image"}:
                fitted = space.fitted
                tvec = space.queries(qvec)
                ranked = self._vector_search(IMAGE_COLLECTION, tvec, filters, allowed, restrict_ids)
                if fitted and fitted.taggers and self.attribute_rerank:
                    from shopmind.search.attributes import rerank

                    ranked, attr_matches = rerank(self.store, fitted, query, ranked)
                    matched_attributes = [f"{m.field}={m.value} ({m.confidence:.2f})" for m in attr_matches]
                rankings["text→image"] = ranked
        if image is not None:
            ivec = space.images(image_features(self.settings, image))[0]
            rankings["image"] = self._vector_search(IMAGE_COLLECTION, ivec, filters, allowed, restrict_ids)
        hits = self._fuse(rankings, k, matched_tokens)
        if matched_attributes:
            for hit in hits:
                if "text→image" in hit.signals:
                    hit.signals["text→image"]["attributes"] = matched_attributes
                    hit.why += f"; image tags checked for {', '.join(matched_attributes)}"
        return SearchResult(
            query=query, hits=hits, took_ms=round((time.perf_counter() - started) * 1000, 2),
            backend=f"{self.settings.vector_backend}+bm25 ({space.version})",
        )

    def _fuse(self, rankings: dict[str, list[tuple[str, float]]], k: int, tokens: list[str]) -> list[SearchHit]:
        scores: dict[str, float] = {}
        signals: dict[str, dict] = {}
        for channel, ranked in rankings.items():
            weight = CHANNEL_WEIGHTS.get(channel, 1.0)
            for rank, (pid, score) in enumerate(ranked, start=1):
                scores[pid] = scores.get(pid, 0.0) + weight / (RRF_K + rank)
                signals.setdefault(pid, {})[channel] = {"rank": rank, "score": round(float(score), 4)}
        top = sorted(scores, key=lambda pid: (-scores[pid], pid))[:k]
        products = self.store.get_products(top)
        hits = []
        for pid in top:
            product = products.get(pid)
            why = self._explain(product, signals[pid], tokens)
            hits.append(SearchHit(id=pid, score=round(scores[pid], 6), title=product.title if product else "",
                                  why=why, signals=signals[pid], product=product))
        return hits

    def _explain(self, product: Product | None, sig: dict, tokens: list[str]) -> str:
        parts = []
        if "lexical" in sig and product is not None:
            doc_tokens = set(tokenize(product_text(product, self.store.get_tags(product.id))))
            words = [t for t in tokens if t in doc_tokens]
            if words:
                parts.append("matched words: " + ", ".join(words[:6]))
        labels = {"text": "text meaning", "text→image": "picture matches the words", "image": "looks like the query image", "lexical": "keyword score"}
        for channel in ("image", "text→image", "text", "lexical"):
            if channel in sig:
                parts.append(f"{labels[channel]} (rank {sig[channel]['rank']}, {sig[channel]['score']:.2f})")
        return "; ".join(parts)

    def similar(self, product_id: str, k: int = 10, diversity: float = 0.3) -> SearchResult:
        return self.recommend([product_id], k=k, diversity=diversity)

    def recommend(self, history: list[str], k: int = 10, diversity: float = 0.3) -> SearchResult:
        """Nearest neighbours of the history's image+text embeddings, MMR-diversified, history excluded."""
        if not history:
            raise BadInput("history is empty: give at least one product id")
        if not 0.0 <= diversity <= 1.0:
            raise BadInput("diversity must be between 0 and 1")
        self._ensure_ready("image")
        started = time.perf_counter()
        for pid in history:
            self.store.get_product(pid)  # NotFound for unknown ids
        img_index = self._vector_index(IMAGE_COLLECTION)
        txt_index = self._vector_index(TEXT_COLLECTION)
        img = img_index.get_vectors(history)
        txt = txt_index.get_vectors(history)
        candidates: dict[str, float] = {}
        pool = max(CANDIDATES, 5 * k)
        for index, vecs in ((img_index, img), (txt_index, txt)):
            if not vecs:
                continue
            centre = np.mean(list(vecs.values()), axis=0)
            centre /= max(np.linalg.norm(centre), 1e-9)
            for pid, score in index.search(centre, pool + len(history)):
                candidates[pid] = candidates.get(pid, 0.0) + score
        for pid in history:
            candidates.pop(pid, None)
        if not candidates:
            return SearchResult(hits=[], took_ms=0.0, backend=self.settings.vector_backend)
        cand_ids = list(candidates)
        cand_vecs = img_index.get_vectors(cand_ids)
        chosen = _mmr(cand_ids, candidates, cand_vecs, k, diversity)
        products = self.store.get_products(chosen)
        hits = [
            SearchHit(id=pid, score=round(candidates[pid], 4), title=products[pid].title if pid in products else "",
                      why=f"similar to {', '.join(history[:3])} in look and description (relevance {candidates[pid]:.2f})",
                      product=products.get(pid))
            for pid in chosen
        ]
        return SearchResult(hits=hits, took_ms=round((time.perf_counter() - started) * 1000, 2), backend=self.settings.vector_backend)


def _mmr(ids: list[str], relevance: dict[str, float], vecs: dict[str, np.ndarray], k: int, diversity: float) -> list[str]:
    """Maximal marginal relevance: trade relevance against similarity to what is already chosen."""
    chosen: list[str] = []
    remaining = sorted(ids, key=lambda pid: -relevance[pid])[: max(50, 5 * k)]
    top_rel = max(relevance.values()) or 1.0
    while remaining and len(chosen) < k:
        best, best_score = None, -1e9
        for pid in remaining:
            redundancy = 0.0
            if chosen and pid in vecs:
                redundancy = max(float(vecs[pid] @ vecs[c]) for c in chosen if c in vecs) if any(c in vecs for c in chosen) else 0.0
            score = (1 - diversity) * relevance[pid] / top_rel - diversity * redundancy
            if score > best_score:
                best, best_score = pid, score
        chosen.append(best)
        remaining.remove(best)
    return chosen
