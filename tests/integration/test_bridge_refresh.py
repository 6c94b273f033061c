"""A home embedded with an older bridge is upgraded in place from its stored features."""

from __future__ import annotations

import numpy as np


def test_old_bridges_are_rebuilt_without_decoding_images(home, tmp_path):
    from shopmind.catalog.ingest import ingest_catalog
    from shopmind.catalog.store import open_store
    from shopmind.config import get_settings
    from shopmind.demo.catalog import generate_demo_catalog
    from shopmind.search.indexer import build_indexes, image_space_version
    from shopmind.understand.bridge import BRIDGE_VERSION
    from shopmind.understand.features import embed_products

    store = open_store(get_settings())
    csv_path = generate_demo_catalog(tmp_path / "catalog", seed=3, bad_rows=False)
    ingest_catalog(store, csv_path)
    done, errors = embed_products(store)
    assert done > 0 and store.get_meta("bridge_version") == BRIDGE_VERSION
    build_indexes(store, channels=("image",))
    space_before = image_space_version(store)
    ids, fresh = store.load_features()
    tops_before = {pid: store.top_classes(pid) for pid in ids}

    # Pretend the home was made by an older bridge: other vectors, an older version, images gone.
    store.update_bridges([(pid, np.ones(fresh["bridge"].shape[1], np.float32), []) for pid in ids])
    store.set_meta("bridge_version", "conse-v1")
    for path in (get_settings().images_dir).rglob("*"):
        if path.is_file():
            path.unlink()

    done, errors = embed_products(store)
    assert (done, errors) == (0, [])  # nothing re-decoded (the images are gone), nothing failed
    assert store.get_meta("bridge_version") == BRIDGE_VERSION
    _, rebuilt = store.load_features(ids)
    diff = np.abs(rebuilt["bridge"] - fresh["bridge"]).max(axis=1)
    assert (diff < 0.02).all(), diff  # float16 features and stored colour shares: the same vectors
    # The same classes (near-ties may swap places with float16 features).
    same_first = [store.top_classes(pid)[0][0] == tops_before[pid][0][0] for pid in ids]
    assert np.mean(same_first) >= 0.9
    assert all(len({n for n, _ in store.top_classes(pid)} & {n for n, _ in tops_before[pid]}) >= 4 for pid in ids)
    # The zero-shot centring is re-estimated, so the image index moves to the new space.
    build_indexes(store, channels=("image",))
    assert store.get_meta("bridge_centre_count") == str(len(ids))
    assert image_space_version(store).startswith("bridge:") and image_space_version(store) != "bridge"
    assert space_before.startswith("bridge:")
