"""The whole understand → index → search path on the CLIP backend (a tiny random CLIP saved locally).

Random weights rank nothing meaningfully; what is checked is that a CLIP configuration drives
every layer (embedding, zero-shot tags, indexing, text/image search) without code changes.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

REPO = Path(__file__).resolve().parents[2]


def test_pipeline_runs_on_clip(tmp_path, monkeypatch):
    from shopmind.catalog.images import open_image
    from shopmind.catalog.ingest import ingest_catalog
    from shopmind.catalog.store import open_store
    from shopmind.config import get_settings
    from shopmind.demo.catalog import generate_demo_catalog
    from shopmind.models import clip as clip_mod
    from shopmind.models import registry
    from shopmind.search.hybrid import SearchEngine
    from shopmind.search.indexer import build_indexes
    from shopmind.search.vector import reset_open_indexes
    from shopmind.understand.features import embed_products
    from shopmind.understand.tagging import tag_products

    spec = importlib.util.spec_from_file_location("make_tiny_clip", REPO / "scripts" / "make_tiny_clip.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    model_dir = builder.make_tiny_clip(tmp_path / "tiny-clip", seed=0)

    monkeypatch.setenv("SHOPMIND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOPMIND_IMAGE_ENCODER", "clip")
    monkeypatch.setenv("SHOPMIND_TEXT_ENCODER", "clip")
    monkeypatch.setenv("SHOPMIND_CLIP_MODEL", str(model_dir))
    get_settings.cache_clear()
    registry.clear()
    clip_mod.clear_shared()
    reset_open_indexes()
    try:
        store = open_store(get_settings())
        csv_path = generate_demo_catalog(tmp_path / "cat", bad_rows=False)
        assert ingest_catalog(store, csv_path).ingested == 48
        done, errors = embed_products(store)
        assert done == 48 and not errors
        assert tag_products(store) == 48
        tags = store.get_tags("D0001")
        assert tags.colours[0].name_en == "Red" and tags.labels  # pixel colours + CLIP zero-shot labels
        stats = build_indexes(store)
        assert stats["image_indexed"] == 48 and stats["lexical_docs"] == 48
        engine = SearchEngine(store)
        hits = engine.search("红色 T恤", k=5).hits
        assert len(hits) == 5 and hits[0].product.attributes["baseColour"] == "Red"  # lexical channel carries it
        photo = open_image(store.image_file("D0009")).image
        assert engine.search(None, photo, k=3).hits[0].id == "D0009"  # identical image is its own nearest
    finally:
        get_settings.cache_clear()
        registry.clear()
        clip_mod.clear_shared()
        reset_open_indexes()
