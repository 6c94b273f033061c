"""Shared fixtures: an isolated SHOPMIND_HOME per test and the path to ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh data directory; the process-wide settings and store caches are reset around it."""
    from shopmind.config import get_settings

    monkeypatch.setenv("SHOPMIND_HOME", str(tmp_path / "home"))
    # Models are exported once per machine and shared by tests (the ONNX export costs seconds).
    monkeypatch.setenv("SHOPMIND_MODELS_PATH", str(REPO / ".shopmind" / "test-models"))
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def shared_data(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared evaluation data not available: {path}")
    return path


@pytest.fixture
def fashion_dir() -> Path:
    return shared_data("fashion")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("SHOPMIND_SKIP_SLOW"):
        skip = pytest.mark.skip(reason="SHOPMIND_SKIP_SLOW set")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip)
