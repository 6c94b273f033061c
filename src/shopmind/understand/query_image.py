"""Embed a query photo into the same space as the catalog's image vectors (see `image_space.py`)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from shopmind.catalog.store import CatalogStore
from shopmind.config import Settings
from shopmind.understand import encoders
from shopmind.understand.colours import analyse_colours
from shopmind.understand.features import encode_images


def image_features(source: CatalogStore | Settings, image: Image.Image) -> dict[str, np.ndarray]:
    """feat / colour / bridge rows for one image, exactly as the embed pass computes them."""
    settings = source if isinstance(source, Settings) else source.settings
    named, descriptor = analyse_colours(image)
    encoder = encoders.image_encoder(settings)
    feats, bridge_vecs, _ = encode_images(settings, encoder, [image], [named])
    return {"feat": feats, "colour": descriptor[None, :], "bridge": bridge_vecs}


def embed_query_image(store: CatalogStore, image: Image.Image, space=None) -> np.ndarray:
    """The photo as a vector of the image collection; `space` defaults to the store's home's image space."""
    from shopmind.understand.image_space import ImageSpace

    space = space or ImageSpace(store.settings)
    return space.current().images(image_features(store.settings, image))[0]
