"""Serving LanceDB tables from an in-memory snapshot (search/serving.py): the same answers as LanceDB,
never stale, a graph for large tables, saved and loaded by table version, damaged saves rebuilt."""

import logging

import numpy as np
import pytest

from shopmind.config import load_settings
from shopmind.domain import Filter
from shopmind.search import serving as serving_mod
from shopmind.search import vector as vector_mod
from shopmind.search.serving import TextColumn, filter_mask
from shopmind.search.vector import open_index, reset_open_indexes

DIM = 16
needs_faiss = pytest.mark.skipif(not serving_mod.faiss_available(), reason="faiss-cpu not installed")


@pytest.fixture
def home(tmp_path):
    reset_open_indexes()
    yield tmp_path / "home"
    reset_open_indexes()


def _settings(home, serving, **kw):
    return load_settings(home=str(home), vector_serving=serving, vector_serving_refresh_s=0.0, **kw).ensure_dirs()


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(n, DIM)).astype(np.float32)
    ids = [f"p{i}" for i in range(n)]
    meta = []
    for i in range(n):
        m = {"price": None if i % 17 == 0 else float(10 + i), "articleType": ["Dresses", "SHOES", "tshirts"][i % 3],
             "size": ["38", "40", "42", "XL", None][i % 5]}
        meta.append(m)
    return ids, vecs, meta


FILTER_SETS = [
    [],
    [Filter(field="articleType", op="=", value="Shoes")],
    [Filter(field="articleType", op="!=", value="shoes")],
    [Filter(field="price", op="<", value=100)],
    [Filter(field="price", op=">=", value=300), Filter(field="articleType", op="=", value="dresses")],
    [Filter(field="price", op="=", value=42.0)],
    [Filter(field="price", op="!=", value=42.0)],
    [Filter(field="size", op="<=", value=40)],  # numbers kept as strings: compared as numbers
    [Filter(field="size", op="!=", value="xl")],  # nulls never pass
    [Filter(field="articleType", op="=", value="no such type")],
    [Filter(field="articleType", op="=", value="shoes"), Filter(field="size", op="=", value="40")],  # two posting lists
    [Filter(field="size", op="=", value="xl"), Filter(field="price", op="<", value=300),
     Filter(field="articleType", op="!=", value="dresses")],  # a posting list, then the rest on its rows
]


def test_memory_answers_exactly_like_lancedb(home):
    ids, vecs, meta = _data()
    truth = open_index(_settings(home, "lancedb"), "t", DIM)
    truth.upsert(ids, vecs, meta)
    served = open_index(_settings(home, "memory"), "t", DIM)
    assert served.serving().refresh_now() is not None
    rng = np.random.default_rng(1)
    checked = 0
    for filters in FILTER_SETS:
        for restrict in (None, ids[::7], ["p3", "missing", "p3"]):
            q = vecs[rng.integers(len(ids))] + 0.1 * rng.normal(size=DIM).astype(np.float32)
            want = truth.search(q, 12, filters, restrict)
            got = served.search(q, 12, filters, restrict)
            assert served.serving().snapshot.source == "built"
            assert [p for p, _ in got] == [p for p, _ in want], (filters, restrict)
            assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-5)
            checked += bool(want)
    assert checked >= 20  # most combinations return hits, so the comparison is not vacuous
    with pytest.raises(Exception, match="cannot filter"):
        served.search(vecs[0], 5, [Filter(field="colour", op="=", value="red")])
    assert served.search(vecs[0], 5, restrict_ids=[]) == []


def test_a_stale_snapshot_is_never_served(home):
    ids, vecs, meta = _data()
    index = open_index(_settings(home, "memory"), "t", DIM)
    index.upsert(ids[:300], vecs[:300], meta[:300])
    server = index.serving()
    first = server.refresh_now()
    assert first.version == server.latest
    index.upsert(["new"], vecs[350:351], [meta[350]])  # this process's write: stale at once
    assert index.search(vecs[350], 1)[0][0] == "new"  # answered by LanceDB meanwhile
    snap = server.wait(timeout=30)
    assert snap is not None and snap.version > first.version and "new" in set(snap.ids)
    assert index.search(vecs[350], 1)[0][0] == "new"
    index.delete(["new"])
    assert index.search(vecs[350], 1)[0][0] != "new"
    # another process's write (a second handle on the folder) is noticed at the next probe
    other = open_index(_settings(home, "lancedb"), "t", DIM)
    other.upsert(["other"], -vecs[0:1], [meta[0]])
    assert index.search(-vecs[0], 1)[0][0] == "other"


def test_reads_during_writes_are_whole_versions(home):
    import threading

    ids, vecs, meta = _data(600)
    index = open_index(_settings(home, "memory"), "t", DIM)
    index.upsert(ids[:100], vecs[:100], meta[:100])
    index.serving().refresh_now()
    errors: list[BaseException] = []
    written = set(ids[:100])

    def write():
        for s in range(100, 600, 100):
            index.upsert(ids[s:s + 100], vecs[s:s + 100], meta[s:s + 100])
            written.update(ids[s:s + 100])

    writer = threading.Thread(target=write)
    writer.start()
    while writer.is_alive():
        try:
            hits = index.search(vecs[5], 10, [Filter(field="articleType", op="=", value="dresses")])
            assert hits and all(p in written or p in ids for p in (h for h, _ in hits))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            break
    writer.join()
    assert not errors
    assert index.serving().wait(timeout=30) is not None
    assert len(index.serving().snapshot) == 600


@needs_faiss
def test_large_tables_get_a_graph_that_is_saved_and_loaded(home, monkeypatch, caplog):
    monkeypatch.setattr(vector_mod, "ANN_MIN_ROWS", 1000)
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(20, DIM)).astype(np.float32)
    n = 3000
    vecs = centres[rng.integers(0, 20, n)] + 0.5 * rng.normal(size=(n, DIM)).astype(np.float32)
    ids = [f"g{i}" for i in range(n)]
    meta = [{"price": float(i), "cat": str(i % 50)} for i in range(n)]
    writer = open_index(_settings(home, "auto"), "big", DIM)  # the indexer: a one-shot CLI process
    writer.upsert(ids, vecs, meta)
    assert writer.build_ann(force=True)  # the indexer also saves the serving graph of this version
    saved = list((home / "vectors" / "lancedb" / "_serving" / "big").glob("v*/meta.json"))
    assert len(saved) == 1

    served = open_index(_settings(home, "memory"), "big", DIM)
    snap = served.serving().refresh_now()
    assert snap.kind == "hnsw" and snap.source == "loaded" and len(snap) == n
    normed = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    recall = []
    for i in range(40):
        q = normed[i * 7] + 0.05 * rng.normal(size=DIM).astype(np.float32)
        q /= np.linalg.norm(q)
        want = set(np.array(ids)[np.argsort(-(normed @ q))[:10]])
        recall.append(len(want & {p for p, _ in served.search(q, 10)}) / 10)
    assert np.mean(recall) >= 0.95
    # a narrow filter: exact scan of its rows; a broad one (over SUBSET_SCAN_MAX): the graph, skipping others
    narrow = served.search(normed[0], 10, [Filter(field="cat", op="=", value="7")])
    assert len(narrow) == 10 and all(int(p[1:]) % 50 == 7 for p, _ in narrow)
    monkeypatch.setattr(serving_mod, "SUBSET_SCAN_MAX", 100)
    wide = [Filter(field="price", op=">=", value=1500)]
    assert isinstance(snap.rows_for(wide, None, vector_mod.column_name), serving_mod.Bitmap)
    broad = served.search(normed[0], 10, wide)
    assert len(broad) == 10 and all(int(p[1:]) >= 1500 for p, _ in broad)
    # a broad filter and a broad id restriction together: their intersection, still on the graph
    allowed = ids[::2]
    both = served.search(normed[0], 10, wide, allowed)
    assert len(both) == 10 and all(int(p[1:]) >= 1500 and int(p[1:]) % 2 == 0 for p, _ in both)
    few = served.search(normed[0], 10, wide, ids[1500:1520])
    assert {p for p, _ in few} <= set(ids[1500:1520]) and len(few) == 10

    # a damaged save is reported and rebuilt, never served
    (saved[0].parent / "index.faiss").write_bytes(b"not a faiss index")
    reset_open_indexes()
    again = open_index(_settings(home, "memory"), "big", DIM)
    with caplog.at_level(logging.WARNING, logger="shopmind.serving"):
        snap = again.serving().refresh_now()
    assert snap.source == "built" and len(snap) == n
    assert "unreadable" in caplog.text


@needs_faiss
def test_old_saves_are_pruned(home, monkeypatch):
    monkeypatch.setattr(vector_mod, "ANN_MIN_ROWS", 200)
    ids, vecs, meta = _data(300)
    index = open_index(_settings(home, "memory"), "t", DIM)
    for round_ in range(4):
        index.upsert(ids, vecs + round_, meta)
        index.serving().refresh_now()
    folders = list((home / "vectors" / "lancedb" / "_serving" / "t").glob("v*"))
    assert len(folders) == 2


@needs_faiss
def test_a_remade_table_never_loads_the_old_tables_graph(home, monkeypatch):
    import lancedb

    monkeypatch.setattr(vector_mod, "ANN_MIN_ROWS", 200)
    ids, vecs, meta = _data(300)
    index = open_index(_settings(home, "memory"), "t", DIM)
    index.upsert(ids, vecs, meta)
    first = index.serving().refresh_now()
    assert first.kind == "hnsw" and first.source == "built"
    lancedb.connect(str(home / "vectors" / "lancedb")).drop_table("t")  # made again: versions restart at 1
    reset_open_indexes()
    again = open_index(_settings(home, "memory"), "t", DIM)
    again.upsert([f"n{i}" for i in range(300)], vecs[::-1].copy(), meta)
    snap = again.serving().refresh_now()
    assert snap.version == first.version and snap.source == "built" and snap.ids[0] == "n0"


def test_filter_mask_follows_sql_nulls():
    import pyarrow as pa

    col = TextColumn.from_arrow(pa.array(["10", "X", None, "2.5", "x"]))
    assert filter_mask(col, Filter(field="s", op="=", value="x")).tolist() == [False, True, False, False, True]
    assert filter_mask(col, Filter(field="s", op="!=", value="x")).tolist() == [True, False, False, True, False]
    assert filter_mask(col, Filter(field="s", op=">", value=2)).tolist() == [True, False, False, True, False]
    price = np.array([1.0, np.nan, 3.0])
    assert filter_mask(price, Filter(field="price", op="!=", value=1)).tolist() == [False, False, True]
    assert filter_mask(price, Filter(field="price", op="=", value="abc")).tolist() == [False, False, False]
    assert filter_mask(price, Filter(field="price", op="!=", value="abc")).tolist() == [True, True, True]


def test_serve_mode_defaults(home):
    s = load_settings(home=str(home))
    assert s.vector_serving == "auto"
    index = open_index(s.ensure_dirs(), "t", DIM)
    ids, vecs, meta = _data(50)
    index.upsert(ids, vecs, meta)
    assert index.serving() is None  # a one-shot CLI process asks LanceDB directly


@pytest.mark.parametrize("serving", ["lancedb", "memory"])
def test_hostile_filter_values_are_clear_errors_or_no_match(home, serving):
    from shopmind.errors import BadInput
    from shopmind.search.hybrid import parse_filter

    ids, vecs, meta = _data(60)
    index = open_index(_settings(home, serving), "t", DIM)
    index.upsert(ids, vecs, meta)
    if serving == "memory":
        assert index.serving().refresh_now() is not None
    for bad in (Filter(field="price", op="<", value=float("nan")), Filter(field="size", op=">=", value=float("inf")),
                Filter(field="price", op="<", value="abc")):
        with pytest.raises(BadInput, match="finite number"):
            index.search(vecs[0], 5, [bad])
    # "nan" or "inf" as an equality value is no price: nothing equals it, everything differs from it
    assert index.search(vecs[0], 5, [Filter(field="price", op="=", value="nan")]) == []
    assert len(index.search(vecs[0], 5, [Filter(field="price", op="!=", value="inf")])) == 5
    assert index.search(vecs[0], 5, [Filter(field="articleType", op="=", value="x' OR '1'='1")]) == []  # data, not SQL
    for expr in ("price<nan", "price>=1e400", "size<=-inf"):
        with pytest.raises(BadInput, match="finite number"):
            parse_filter(expr)
