"""The image space: where catalog image vectors and text (or photo) queries meet.

Three ways to put an image next to a text query, best first:

- **fitted**: the alignment head `shopmind fit` trained on this catalog (images and queries both go
  through it);
- **centred**: the zero-shot bridge with the catalog's mean image / mean query removed (estimated
  from the catalog itself, see `centring.py`);
- **raw**: the zero-shot bridge as is (a catalog too small to estimate a centre).

That choice used to be re-derived in the indexer, the search engine and the query-photo path, and a
change in one place would silently put the index and the queries in different spaces. Here it is made
once per (fit, centre) version: `current()` returns an immutable `SpaceState`, and everything that
writes or reads image vectors projects through that same state. Its `version` is stored next to each
indexed vector, so a new fit re-projects the catalog instead of mixing spaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image

from shopmind.config import Settings
from shopmind.understand.centring import Centre, CentreCache, fit_centre, load_centre
from shopmind.understand.fitting import FittedCache, FittedState, image_inputs, load_fitted

if TYPE_CHECKING:
    from shopmind.catalog.store import CatalogStore

SpaceKind = Literal["fitted", "centred", "raw"]
CENTRE_DRIFT = 0.1  # re-estimate the centre when the catalog's image count moved by more than this share


@dataclass(frozen=True)
class SpaceState:
    """One decided image space: project with it, and record `version` with what it produced."""

    kind: SpaceKind
    version: str
    fitted: FittedState | None = None
    centre: Centre | None = None

    def images(self, feats: dict[str, np.ndarray]) -> np.ndarray:
        """Rows of image vectors (feat/colour/bridge arrays as the embed pass stores them) in this space."""
        if self.kind == "fitted":
            return self.fitted.head.transform_images(image_inputs(feats))
        if self.kind == "centred":
            return self.centre.images(feats["bridge"])
        return feats["bridge"]

    def queries(self, qvecs: np.ndarray) -> np.ndarray:
        """Text-query vectors (one row or many) in this space, to search the image collection with."""
        q = np.asarray(qvecs, dtype=np.float32)
        single = q.ndim == 1
        q2 = q[None] if single else q
        if self.kind == "fitted":
            out = self.fitted.head.transform_texts(q2)
        elif self.kind == "centred":
            out = self.centre.queries(q2)
        else:
            out = q2
        return out[0] if single else out


class ImageSpace:
    """The per-home image space; owned by the `Shopmind` app object (or built on demand by old callers)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # this home's fitted head/taggers and bridge centre, read once per change of their files
        self._fitted = FittedCache()
        self._centre = CentreCache()

    def current(self) -> SpaceState:
        """The best space available now (fit and centre files are read once per change of their mtime)."""
        fitted = load_fitted(self.settings, self._fitted)
        if fitted and fitted.head:
            return SpaceState("fitted", f"fitted:{fitted.version}", fitted=fitted)
        centre = load_centre(self.settings, self._centre)
        if centre is not None:
            return SpaceState("centred", f"bridge:{centre.version}", fitted=fitted, centre=centre)
        return SpaceState("raw", "bridge", fitted=fitted)

    @property
    def version(self) -> str:
        return self.current().version

    def prepare(self, store: CatalogStore) -> SpaceState:
        """Before indexing: (re)estimate the zero-shot centre when there is no fitted head and the
        catalog has no centre yet or changed size by more than CENTRE_DRIFT; then decide."""
        fitted = load_fitted(self.settings, self._fitted)
        if not (fitted and fitted.head):
            n = store.conn().execute("SELECT count(*) FROM image_features").fetchone()[0]
            known = int(store.get_meta("bridge_centre_count") or 0)
            if load_centre(self.settings, self._centre) is None or abs(n - known) > CENTRE_DRIFT * max(known, 1):
                if fit_centre(store) is not None:
                    store.set_meta("bridge_centre_count", str(n))
        return self.current()

    def embed_image(self, image: Image.Image) -> np.ndarray:
        """One query photo as a vector of the image collection (same path as the embed pass)."""
        from shopmind.understand.query_image import image_features

        return self.current().images(image_features(self.settings, image))[0]

    def embed_query(self, qvec: np.ndarray) -> np.ndarray:
        """A text-encoder query vector moved into the image space."""
        return self.current().queries(qvec)


def image_space(settings: Settings) -> ImageSpace:
    """A new image space for `settings` (with its own file caches; the app keeps one for its life)."""
    return ImageSpace(settings)
