"""The embed pass: image features, colours and the zero-shot bridge vector for every product.

Resumable: only products whose image changed or has no features are processed, and each batch
is committed on its own, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from shopmind.catalog.images import open_image
from shopmind.catalog.store import CatalogStore, ImageFeatures
from shopmind.domain import ItemError
from shopmind.errors import BadInput
from shopmind.understand import encoders
from shopmind.understand.colours import analyse_colours


def encode_images(settings, image_enc, images: list, colours: list) -> tuple[np.ndarray, np.ndarray, list[list]]:
    """Encoder features, their text-space (bridge) vectors and top ImageNet classes for a batch.

    CLIP-family encoders (`shares_text_space`) already live in the text space, so their
    embedding is the bridge vector and there are no classes; otherwise the ConSE bridge maps logits.
    """
    feats, logits = image_enc.features_and_logits(images)
    if getattr(image_enc, "shares_text_space", False):
        return feats, feats, [[] for _ in images]
    bridge_vecs, tops = encoders.bridge(settings).embed(logits, colours)  # cached per process
    return feats, bridge_vecs, tops


def refresh_bridges(store: CatalogStore, image_enc, *, batch_size: int = 2000) -> int:
    """Rebuild stored bridge vectors made by an older bridge version, from the stored features.

    The pooled feature determines the ImageNet logits (the network's last layer is linear), so an
    upgrade costs one matrix product per product instead of decoding 40k images again. The
    version is recorded only after the last batch, so an interrupted refresh simply runs again.
    """
    from shopmind.understand.bridge import BRIDGE_VERSION
    from shopmind.understand.tagging import colours_from_descriptor

    if getattr(image_enc, "shares_text_space", False) or not hasattr(image_enc, "logits_from_features"):
        return 0
    if store.get_meta("bridge_version") == BRIDGE_VERSION:
        return 0
    settings = store.settings
    ids = [r[0] for r in store.conn().execute(
        "SELECT product_id FROM image_features WHERE encoder=? ORDER BY product_id", (image_enc.name,))]
    for start in range(0, len(ids), batch_size):
        got, feats = store.load_features(ids[start : start + batch_size])
        logits = image_enc.logits_from_features(feats["feat"])
        colours = [colours_from_descriptor(row) for row in feats["colour"]]
        vecs, tops = encoders.bridge(settings).embed(logits, colours)
        store.update_bridges(list(zip(got, vecs, tops)))
    store.set_meta("bridge_version", BRIDGE_VERSION)
    store.set_meta("bridge_centre_count", "0")  # the zero-shot centring must be re-estimated
    return len(ids)


def pending_embeds(store: CatalogStore, ids: list[str] | None = None) -> tuple[object, list[str]]:
    """The image encoder of these settings and the products (of `ids`, if given) still lacking its features;
    stale bridges are refreshed first. Shared by the local embed pass and the Ray engine."""
    image_enc = encoders.image_encoder(store.settings)
    refresh_bridges(store, image_enc)
    todo = store.ids_missing_features(image_enc.name)
    if ids is not None:
        wanted = set(ids)
        todo = [i for i in todo if i in wanted]
    return image_enc, todo


def embed_products(
    store: CatalogStore,
    *,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
    ids: list[str] | None = None,
) -> tuple[int, list[ItemError]]:
    """Compute features for products that lack them. Returns (count done, per-item errors)."""
    settings = store.settings
    image_enc, todo = pending_embeds(store, ids)
    errors: list[ItemError] = []
    done = 0
    products = store.get_products  # bound once

    def load(pid_path_sha):
        pid, path, sha = pid_path_sha
        try:
            decoded = open_image(path, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)
            named, descriptor = analyse_colours(decoded.image)
            return pid, sha, decoded.image, named, descriptor, None
        except BadInput as exc:
            return pid, sha, None, None, None, exc.message

    with ThreadPoolExecutor(max_workers=2) as pool:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            found = products(chunk)
            jobs = [(pid, settings.images_dir / found[pid].image_path, found[pid].image_sha256) for pid in chunk if pid in found]
            loaded = list(pool.map(load, jobs))
            good = [x for x in loaded if x[5] is None]
            errors.extend(ItemError(item=x[0], stage="embed", reason=x[5]) for x in loaded if x[5] is not None)
            if good:
                feats, bridge_vecs, tops = encode_images(settings, image_enc, [x[2] for x in good], [x[3] for x in good])
                store.put_features(
                    [
                        ImageFeatures(x[0], x[1], image_enc.name, feats[i], x[4], bridge_vecs[i], tops[i])
                        for i, x in enumerate(good)
                    ]
                )
                done += len(good)
            if progress:
                progress(len(chunk))
    return done, errors
