"""Embed a query photo into the same space as the catalog's image vectors (fitted head or bridge)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from shopmind.catalog.store import CatalogStore
from shopmind.understand import encoders
from shopmind.understand.colours import analyse_colours
from shopmind.understand.features import encode_images
from shopmind.understand.fitting import image_inputs, load_fitted


def image_features(store: CatalogStore, image: Image.Image) -> dict[str, np.ndarray]:
    """feat / colour / bridge rows for one image, exactly as the embed pass computes them."""
    settings = store.settings
    named, descriptor = analyse_colours(image)
    encoder = encoders.image_encoder(settings)
    feats, bridge_vecs, _ = encode_images(settings, encoder, [image], [named])
    return {"feat": feats, "colour": descriptor[None, :], "bridge": bridge_vecs}


def embed_query_image(store: CatalogStore, image: Image.Image) -> np.ndarray:
    feats = image_features(store, image)
    fitted = load_fitted(store.settings)
    if fitted and fitted.head:
        return fitted.head.transform_images(image_inputs(feats))[0]
    from shopmind.understand.centring import load_centre

    centre = load_centre(store.settings)
    return centre.images(feats["bridge"])[0] if centre else feats["bridge"][0]
