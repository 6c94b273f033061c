"""Build (incrementally) the three retrieval channels from the store.

- `text`:  e5 passage vectors of each product's text -> vector collection "text"
- `image`: image vectors in text space (fitted head if `fit` ran, else the zero-shot bridge) -> "image"
- `lexical`: BM25 over bilingual product text (rebuilt whole; it is fast)
Everything is keyed by product id and upserted, so re-running only adds what changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from shopmind.catalog.store import CatalogStore
from shopmind.domain import Product
from shopmind.search.lexical import LexicalIndex, product_text
from shopmind.search.vector import open_index
from shopmind.understand import encoders
from shopmind.understand.image_space import ImageSpace

TEXT_COLLECTION = "text"
IMAGE_COLLECTION = "image"
FILTER_FIELDS_LIMIT = 40


def dense_text(p: Product) -> str:
    """The short text embedded for dense search (title first: e5-small truncates long input)."""
    extras = [p.category or ""] + [v for v in p.attributes.values() if len(v) <= 40][:8]
    return " ".join([p.title, *extras, p.description[:200]]).strip()


def metadata(p: Product) -> dict[str, str | float | None]:
    meta: dict[str, str | float | None] = {"price": p.price, "category": p.category, "title": p.title[:200]}
    for key, value in list(p.attributes.items())[:FILTER_FIELDS_LIMIT]:
        if len(value) <= 120:
            meta[key] = value
    return meta


def image_space_version(store: CatalogStore, space: ImageSpace | None = None) -> str:
    """Which image space vectors indexed now would be in (see `understand/image_space.py`)."""
    return (space or ImageSpace(store.settings)).current().version


def image_vectors(store: CatalogStore, feats: dict[str, np.ndarray], space: ImageSpace | None = None) -> np.ndarray:
    """Image vectors in the space search uses (fitted head, else centred bridge, else raw bridge)."""
    return (space or ImageSpace(store.settings)).current().images(feats)


def build_indexes(
    store: CatalogStore,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    batch: int = 2000,
    channels: tuple[str, ...] = ("text", "image", "lexical"),
    space: ImageSpace | None = None,
) -> dict:
    """Bring the channels up to date; `space` is the app's image space (built here when not given)."""
    settings = store.settings
    enc = encoders.text_encoder(settings)
    stats: dict = {}
    if "text" in channels:
        stats.update(_index_text(store, enc, progress))
    if "image" in channels:
        stats.update(_index_images(store, enc, progress, batch, space or ImageSpace(settings)))
    if "lexical" in channels:
        stats.update(_index_lexical(store))
    return stats


def _index_text(store: CatalogStore, enc, progress) -> dict:
    settings = store.settings
    # Dense text channel: only products whose text changed.
    known = store.text_hashes(enc.name)
    todo: list[tuple[str, str, str]] = []
    for p in store.iter_products():
        text = dense_text(p)
        h = hashlib.sha256(text.encode()).hexdigest()[:16]
        if known.get(p.id) != h:
            todo.append((p.id, h, text))
    text_index = open_index(settings, TEXT_COLLECTION, enc.dim)
    for start in range(0, len(todo), 256):
        chunk = todo[start : start + 256]
        vecs = enc.encode_passages([t for _, _, t in chunk])
        products = store.get_products([pid for pid, _, _ in chunk])
        # Index first, then record the hash: a crash in between only means re-embedding, never a gap.
        text_index.upsert([pid for pid, _, _ in chunk], vecs, [metadata(products[pid]) for pid, _, _ in chunk])
        store.put_text_vectors(enc.name, [(pid, h, v) for (pid, h, _), v in zip(chunk, vecs)])
        if progress:
            progress("text", min(start + 256, len(todo)), len(todo))
    text_index.build_ann()
    return {"text_embedded": len(todo)}


def _index_images(store: CatalogStore, enc, progress, batch: int, space: ImageSpace) -> dict:
    settings = store.settings
    # Image channel: re-project everything when the space changed (new fit or centre), else only new products.
    state = space.prepare(store)
    version = state.version
    image_index = open_index(settings, IMAGE_COLLECTION, enc.dim)
    feature_ids = [r[0] for r in store.conn().execute("SELECT product_id FROM image_features ORDER BY product_id")]
    done_ids = store.indexed_ids(IMAGE_COLLECTION, version)
    pending = [pid for pid in feature_ids if pid not in done_ids]
    for start in range(0, len(pending), batch):
        chunk = pending[start : start + batch]
        got, feats = store.load_features(chunk)
        vecs = state.images(feats)
        products = store.get_products(got)
        image_index.upsert(got, vecs, [metadata(products[pid]) for pid in got])
        store.mark_indexed(IMAGE_COLLECTION, got, version)
        if progress:
            progress("image", min(start + batch, len(pending)), len(pending))
    image_index.build_ann()
    return {"image_indexed": len(pending), "image_space": version}


def _index_lexical(store: CatalogStore) -> dict:
    settings = store.settings
    tags = store.all_tags()
    ocr = store.all_ocr()
    ids, texts = [], []
    for p in store.iter_products():
        ids.append(p.id)
        texts.append(product_text(p, tags.get(p.id), ocr.get(p.id)))
    LexicalIndex.build(ids, texts).save(settings.home / "index" / "bm25")
    store.set_meta("lexical_index_count", str(len(ids)))
    return {"lexical_docs": len(ids)}
