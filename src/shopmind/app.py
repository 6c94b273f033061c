"""The `Shopmind` application object: one data home, opened once, handed to every operation.

It owns what belongs to one home: the settings, the catalog store, the vector indexes, the image
space and the search engine (built once, so its BM25 cache survives between requests). Backends
(encoders, OCR, LLM, TTS) come from the model registry on first use.

Where it is built:
- CLI: the root callback puts it on the Typer context (`ctx.obj`); `cli.output.current_app()` finds it;
- API: `create_app` builds it, the lifespan closes it; routes take `Depends(get_shopmind)`;
- Python: `with Shopmind.open(home) as sm: sm.ops.search(...)` (see `shopmind.ops`).

Opening is cheap and touches no disk: the store, indexes and models load on first use.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopmind.config import Settings, get_settings, load_settings
from shopmind.understand.image_space import ImageSpace

if TYPE_CHECKING:
    from shopmind.catalog.store import CatalogStore
    from shopmind.models.protocols import LLM, OCR, TTS, ImageEncoder, TextEncoder
    from shopmind.search.hybrid import SearchEngine
    from shopmind.search.vector import VectorIndex


class Shopmind:
    """Per-home state and the single place interfaces get it from."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.image_space = ImageSpace(settings)
        self._lock = threading.RLock()
        self._store: CatalogStore | None = None
        self._search: SearchEngine | None = None
        self._owns_store = False  # close only a store this app opened (older callers may share one)
        self._closed = False

    @classmethod
    def open(cls, home: str | Path | None = None, settings: Settings | None = None, **overrides: Any) -> Shopmind:
        """The app for `home` (default: the configured one); `overrides` are Settings fields."""
        if settings is None:
            settings = load_settings(home=home, **overrides) if (home is not None or overrides) else get_settings()
        else:
            update = {k: v for k, v in overrides.items() if v is not None}
            if home is not None:
                update["home"] = Path(home).expanduser().resolve()
            if update:
                settings = Settings(**{**settings.model_dump(), **update})
        return cls(settings)

    # -- per-home state ------------------------------------------------------------------------
    @property
    def store(self) -> CatalogStore:
        """The catalog store (opened on first use; the same instance `open_store(settings)` returns)."""
        with self._lock:
            if self._closed:
                from shopmind.errors import NotReady

                raise NotReady("this Shopmind app has been closed; open a new one")
            if self._store is None:
                from shopmind.catalog.store import is_open, open_store

                self._owns_store = not is_open(self.settings)
                self._store = open_store(self.settings)
            return self._store

    @property
    def search(self) -> SearchEngine:
        """The search engine, built once per app (its BM25 index stays loaded between queries)."""
        with self._lock:
            if self._search is None:
                from shopmind.search.hybrid import SearchEngine

                self._search = SearchEngine(self.store, space=self.image_space)
            return self._search

    def index(self, name: str) -> VectorIndex:
        """The vector collection `name` ("text" or "image") on the configured backend."""
        from shopmind.search.vector import open_index

        return open_index(self.settings, name, self.text_encoder.dim)

    def warm_vector_serving(self) -> None:
        """Start loading the in-memory search snapshots of a serving replica now, not at its first
        query (they load in the background; LanceDB answers until they are ready)."""
        if self.settings.vector_serving != "memory" or self.settings.vector_backend != "lancedb":
            return
        from shopmind.search.indexer import IMAGE_COLLECTION, TEXT_COLLECTION

        for name in (TEXT_COLLECTION, IMAGE_COLLECTION):
            server = self.index(name).serving()  # None while the collection does not exist yet
            if server is not None:
                server.current()

    # -- backends (process-wide instances from the registry, keyed by model folder) -------------
    @property
    def image_encoder(self) -> ImageEncoder:
        from shopmind.understand import encoders

        return encoders.image_encoder(self.settings)

    @property
    def text_encoder(self) -> TextEncoder:
        from shopmind.understand import encoders

        return encoders.text_encoder(self.settings)

    @property
    def ocr(self) -> OCR:
        from shopmind.understand import encoders

        return encoders.ocr_backend(self.settings)

    @property
    def llm(self) -> LLM:
        from shopmind.models.llm import get_llm

        return get_llm(self.settings)

    @property
    def tts(self) -> TTS:
        from shopmind.models import registry

        # the voice per language from `tts_backend` (auto: best installed, espeak-ng the fallback)
        spec = self.settings.tts_backend
        return registry.get("tts", "auto", cache_key=f"{spec}|{self.settings.models_dir}", spec=spec,
                            models_dir=self.settings.models_dir)

    # -- operations ------------------------------------------------------------------------------
    @property
    def ops(self) -> _BoundOps:
        """`sm.ops.search(query=...)` == `shopmind.ops.search(sm, query=...)`."""
        return _BoundOps(self)

    # -- lifetime --------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the store and drop the search engine; the app cannot be used afterwards."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._search = None
            if self._store is not None and self._owns_store:
                from shopmind.catalog.store import close_store

                close_store(self.settings)
            self._store = None

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Shopmind:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Shopmind(home={str(self.settings.home)!r}{', closed' if self._closed else ''})"


class _BoundOps:
    """The operations of `shopmind.ops.OPERATIONS` with the app filled in."""

    def __init__(self, app: Shopmind) -> None:
        self._app = app

    def __getattr__(self, name: str) -> Any:
        from shopmind.ops import OPERATIONS

        op = OPERATIONS.get(name)
        if op is None:
            raise AttributeError(f"no operation {name!r}; operations: {', '.join(sorted(OPERATIONS))}")
        return lambda *args, **kwargs: op(self._app, *args, **kwargs)

    def __dir__(self) -> list[str]:
        from shopmind.ops import OPERATIONS

        return sorted(OPERATIONS)
