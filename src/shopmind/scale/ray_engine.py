"""Catalog batch work on a Ray cluster (`--engine ray`): the same results as the local path.

Shape of a run:
  * the driver lists the work still to do from the store (so a re-run after a killed driver
    resumes where the last committed batch ended);
  * Ray Data splits it into blocks; an actor pool decodes the images, measures the colours and
    embeds them — every actor loads the encoders once, from the shared models dir;
  * the driver is the one writer: each returned batch is committed through the store's own
    transaction (`INSERT OR REPLACE` keyed by product id), so a retried block (a killed worker is
    retried by Ray) overwrites instead of duplicating.

Tagging and indexing read the stored features and are cheap matrix work; they run on the driver
through the same functions as the local path, so tags are identical by construction.

Ingest keeps its rows on the driver too: parsing untrusted catalog files goes through the one
hardened reader (catalog/ingest.py) and its single writer; only the image work is distributed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from shopmind.errors import BackendUnavailable, BadInput

DEFAULT_LOCAL_CPUS = 2


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data is what we use
    except ImportError as exc:
        raise BackendUnavailable("--engine ray needs the scale extra: pip install 'shopmind[scale]'") from exc
    return ray


def connect(address: str | None = None, num_cpus: int = DEFAULT_LOCAL_CPUS) -> Any:
    """Join a cluster (`auto`, `ray://host:10001`, `host:6379`) or start a local one with `num_cpus`."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False, "include_dashboard": False}
    if address:
        if not (address == "auto" or address.startswith("ray://") or ":" in address):
            raise BadInput(f"--address must be auto, ray://host:port or host:port, got {address!r}")
        kwargs.pop("include_dashboard")
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=num_cpus, **kwargs)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    return ray


class _EmbedActor:
    """One per worker slot: settings and encoders load once, then every batch reuses them."""

    def __init__(self, settings_json: str) -> None:
        from shopmind.config import Settings
        from shopmind.understand import encoders

        self.settings = Settings.model_validate_json(settings_json)
        self.encoder = encoders.image_encoder(self.settings)
        if getattr(self.encoder, "threads", "n/a") is None and getattr(self.encoder, "_session", None) is None:
            # Each actor holds one CPU: onnxruntime's default pool would start a thread per core in
            # every actor, and N actors x N threads on N cores only adds contention.
            self.encoder.threads = max(1, int(self.settings.ray_actor_threads))
        encoders.bridge(self.settings)  # class-name embeddings: load now, not inside the first batch

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        from shopmind.catalog.images import open_image
        from shopmind.errors import BadInput as _BadInput
        from shopmind.understand.colours import analyse_colours
        from shopmind.understand.features import encode_images

        s = self.settings
        good, images, named, descriptors, failed = [], [], [], [], []
        for pid, path, sha in zip(batch["pid"], batch["path"], batch["sha"]):
            try:
                decoded = open_image(s.images_dir / str(path), max_bytes=s.max_image_bytes, max_pixels=s.max_image_pixels)
                n, d = analyse_colours(decoded.image)
            except _BadInput as exc:
                failed.append((str(pid), exc.message))
                continue
            good.append((str(pid), str(sha)))
            images.append(decoded.image)
            named.append(n)
            descriptors.append(d)
        if images:
            feats, bridges, tops = encode_images(s, self.encoder, images, named)
        else:
            feats = bridges = np.zeros((0, 1), np.float32)
            tops = []
        # One row per input so Ray's block sizes stay predictable; failures carry their reason.
        rows = len(good) + len(failed)
        out: dict[str, Any] = {
            "pid": np.array([g[0] for g in good] + [f[0] for f in failed], dtype=object),
            "sha": np.array([g[1] for g in good] + [""] * len(failed), dtype=object),
            "error": np.array([""] * len(good) + [f[1] for f in failed], dtype=object),
            "feat": _objects([feats[i] for i in range(len(good))] + [None] * len(failed), rows),
            "colour": _objects(descriptors + [None] * len(failed), rows),
            "bridge": _objects([bridges[i] for i in range(len(good))] + [None] * len(failed), rows),
            "tops": _objects(list(tops) + [None] * len(failed), rows),
        }
        return out


def _objects(items: list, n: int) -> np.ndarray:
    arr = np.empty(n, dtype=object)
    for i, x in enumerate(items):
        arr[i] = x
    return arr


def ray_embed(
    store,
    *,
    address: str | None = None,
    batch_size: int = 64,
    workers: int | None = None,
    ids: list[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, list]:
    """The embed pass on Ray; same contract as `understand.features.embed_products`."""
    from shopmind.catalog.store import ImageFeatures
    from shopmind.domain import ItemError
    from shopmind.understand.features import pending_embeds

    settings = store.settings
    image_enc, todo = pending_embeds(store, ids)
    if not todo:
        return 0, []
    ray = connect(address)
    found = store.get_products(todo)
    items = [{"pid": pid, "path": found[pid].image_path, "sha": found[pid].image_sha256} for pid in todo if pid in found]
    n_workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    # Settings travel as JSON (paths must be visible to the workers: a shared disk or object store).
    settings_json = settings.model_dump_json()
    ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items) // batch_size, 4 * n_workers)))
    ds = ds.map_batches(
        _EmbedActor,
        fn_constructor_args=(settings_json,),
        batch_size=batch_size,
        batch_format="numpy",
        # the whole pool starts at once: actors load their encoders in parallel, not one after another
        compute=ray.data.ActorPoolStrategy(min_size=n_workers, max_size=n_workers),
        num_cpus=1,
        max_restarts=3,  # a killed actor comes back and its block is retried
        max_task_retries=3,
    )
    done, errors = 0, []
    for batch in ds.iter_batches(batch_size=batch_size, batch_format="numpy", prefetch_batches=1):
        rows = []
        for i, pid in enumerate(batch["pid"]):
            if batch["error"][i]:
                errors.append(ItemError(item=str(pid), stage="embed", reason=str(batch["error"][i])))
                continue
            rows.append(ImageFeatures(str(pid), str(batch["sha"][i]), image_enc.name, np.asarray(batch["feat"][i], np.float32),
                                      np.asarray(batch["colour"][i], np.float32), np.asarray(batch["bridge"][i], np.float32),
                                      list(batch["tops"][i])))
        if rows:
            store.put_features(rows)  # the one writer; INSERT OR REPLACE keyed by product id
            done += len(rows)
        if progress:
            progress(len(batch["pid"]))
    return done, errors


def ray_tag(store, *, address: str | None = None, ocr: bool = False, index: bool = True,
            progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """`shopmind tag --engine ray`: embed on Ray, then tag (+OCR) and index exactly as the local path does."""
    from shopmind.ops.catalog import _counter, _quiet, index_catalog, ocr_catalog
    from shopmind.understand.tagging import tag_products

    progress = progress or _quiet
    todo = len(store.ids_missing_features(store.settings.image_encoder))
    done, errors = ray_embed(store, address=address, progress=_counter(progress, "embed images (ray)", todo))
    summary: dict[str, Any] = {"engine": "ray", "embedded": done, "embed_errors": [e.model_dump() for e in errors]}
    n = store.conn().execute("SELECT COUNT(*) FROM image_features").fetchone()[0]
    summary["tagged"] = tag_products(store, progress=_counter(progress, "tag", n))
    if ocr:
        summary["ocr"] = ocr_catalog(store, progress=progress)
    if index:
        summary["index"] = index_catalog(store, progress=progress)
    return summary


def ray_ingest(store, catalog: Path, *, images: Path | None = None, address: str | None = None, limit: int | None = None,
               embed: bool = True, **ingest_kwargs: Any) -> dict[str, Any]:
    """`shopmind ingest --engine ray`: rows through the hardened reader and its single writer on the
    driver (the store's transactional, idempotent writes), then the image embedding on Ray so the
    catalog is searchable-ready; a re-run skips rows and images already in."""
    from shopmind.catalog.ingest import ingest_catalog

    connect(address)
    report = ingest_catalog(store, Path(catalog), images=images, limit=limit, **ingest_kwargs).model_dump(mode="json")
    report["engine"] = "ray"
    if embed:
        done, errors = ray_embed(store, address=address)
        report["embedded"] = done
        report["embed_errors"] = [e.model_dump() for e in errors]
    return report


def shutdown() -> None:
    """Leave the cluster (stops the local one this process started)."""
    try:
        import ray
    except ImportError:
        return
    if ray.is_initialized():
        ray.shutdown()

