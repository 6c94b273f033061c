"""Both vector engines behind one interface: upsert, filters, restrict, vectors, delete."""

import numpy as np
import pytest

from shopmind.config import load_settings
from shopmind.domain import Filter
from shopmind.search.vector import open_index, reset_open_indexes

BACKENDS = ["lancedb", pytest.param("qdrant", marks=pytest.mark.skipif(
    __import__("importlib").util.find_spec("qdrant_client") is None, reason="qdrant-client not installed"))]


@pytest.fixture
def settings(tmp_path):
    reset_open_indexes()
    yield load_settings(home=str(tmp_path / "home")).ensure_dirs()
    reset_open_indexes()


def _data(n=300, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(n, dim)).astype(np.float32)
    ids = [f"p{i}" for i in range(n)]
    meta = [{"price": float(10 + i), "articleType": ["Dresses", "Shoes", "Tshirts"][i % 3], "title": f"item {i}"} for i in range(n)]
    return ids, vecs, meta


@pytest.mark.parametrize("backend", BACKENDS)
def test_exact_neighbours_filters_and_upsert(settings, backend):
    ids, vecs, meta = _data()
    index = open_index(settings, "t", 16, backend=backend)
    index.upsert(ids[:150], vecs[:150], meta[:150])
    index.upsert(ids[150:], vecs[150:], meta[150:])
    assert index.count() == 300
    q = vecs[42] + 0.01
    normed = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    expected = [ids[i] for i in np.argsort(-(normed @ (q / np.linalg.norm(q))))[:5]]
    got = index.search(q, 5)
    assert [pid for pid, _ in got] == expected
    assert got[0][0] == "p42" and got[0][1] > 0.99
    # metadata filters are pushed into the engine
    hits = index.search(q, 10, [Filter(field="articleType", op="=", value="shoes"), Filter(field="price", op="<", value=200)])
    assert hits and all(int(pid[1:]) % 3 == 1 and 10 + int(pid[1:]) < 200 for pid, _ in hits)
    # restrict to an id set
    allowed = ["p1", "p2", "p3"]
    assert {pid for pid, _ in index.search(q, 10, restrict_ids=allowed)} == set(allowed)
    assert index.search(q, 10, restrict_ids=[]) == []
    # upsert replaces, never duplicates
    index.upsert(["p42"], -vecs[42:43], [meta[42]])
    assert index.count() == 300
    assert index.search(q, 1)[0][0] != "p42"
    v = index.get_vectors(["p1", "p42", "missing"])
    assert set(v) == {"p1", "p42"} and np.allclose(np.linalg.norm(v["p1"]), 1.0, atol=1e-4)
    index.delete(["p1"])
    assert index.count() == 299


def test_lance_persists_and_ann_builds(settings):
    ids, vecs, meta = _data(n=600, dim=16)
    index = open_index(settings, "persist", 16)
    index.upsert(ids, vecs, meta)
    reset_open_indexes()
    again = open_index(settings, "persist", 16)
    assert again.count() == 600
    assert again.build_ann(force=True) is True
    assert again.search(vecs[7], 1)[0][0] == "p7"


def test_bad_vectors_are_rejected(settings):
    from shopmind.errors import BadInput

    index = open_index(settings, "bad", 16)
    with pytest.raises(BadInput):
        index.upsert(["a", "b"], np.zeros((2, 8), dtype=np.float32))
