"""LanceDB tables on S3-compatible storage (`vector_uri=s3://…`): one writer, two readers, no torn reads.

A real S3 API server (moto's, in this process, on a free port) holds the table. While the writer
commits batches of 100 rows, two independent readers (separate connections, like two `serve`
replicas) count and search: every count they see must be a committed total (a multiple of 100,
never a partial batch), never go backwards, and every hit must be a row that exists. Older table
versions stay readable. Skips when moto/boto3 are not installed.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("moto.server", reason="moto[server] is not installed (pip install 'shopmind[s3test]')")
boto3 = pytest.importorskip("boto3")

BATCH, BATCHES, DIM = 100, 6, 16


@pytest.fixture
def s3(monkeypatch):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
                 "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="shopmind")
    yield endpoint
    server.stop()


def _settings(tmp_path, who: str):
    from shopmind.config import load_settings

    return load_settings(home=str(tmp_path / who), vector_uri="s3://shopmind/vectors").ensure_dirs()


def _batch(k: int) -> tuple[list[str], np.ndarray, list[dict]]:
    rng = np.random.default_rng(k)
    ids = [f"p{k}-{i}" for i in range(BATCH)]
    return ids, rng.normal(size=(BATCH, DIM)).astype(np.float32), [{"price": float(i), "batch": str(k)} for i in range(BATCH)]


def test_one_writer_two_readers_on_s3(s3, tmp_path):
    from shopmind.search.vector import LanceIndex

    writer = LanceIndex(_settings(tmp_path, "writer"), "image", DIM)
    writer.upsert(*_batch(0))
    readers = [LanceIndex(_settings(tmp_path, f"reader{i}"), "image", DIM) for i in range(2)]
    assert [r.count() for r in readers] == [BATCH, BATCH]
    committed = {BATCH}
    seen: list[list[int]] = [[], []]
    problems: list[str] = []
    done = threading.Event()

    def read(i: int) -> None:
        r = readers[i]
        q = np.ones(DIM, np.float32)
        while not done.is_set():
            try:
                n = r.count()
                hits = r.search(q, 5)
            except Exception as exc:  # noqa: BLE001 - a failing read is exactly what the test looks for
                problems.append(f"reader {i}: {type(exc).__name__}: {exc}")
                return
            seen[i].append(n)
            if n % BATCH:
                problems.append(f"reader {i} saw a partial batch: {n} rows")
            if any(not pid.startswith("p") for pid, _ in hits):
                problems.append(f"reader {i} got a bad hit {hits}")

    threads = [threading.Thread(target=read, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        for k in range(1, BATCHES):
            writer.upsert(*_batch(k))
            committed.add(BATCH * (k + 1))
    finally:
        done.set()
        for t in threads:
            t.join(60)
    assert not problems, problems[:5]
    for obs in seen:
        assert obs, "a reader never completed a read"
        assert obs == sorted(obs), "a reader went back to an older version"
        assert set(obs) <= committed
    assert [r.count() for r in readers] == [BATCH * BATCHES] * 2  # both replicas see the final table
    # Re-writing a batch (the indexer re-run) updates in place: same count, new values.
    ids, vecs, meta = _batch(3)
    writer.upsert(ids, -vecs, meta)
    assert readers[0].count() == BATCH * BATCHES
    got = readers[1].get_vectors(ids[:1])[ids[0]]
    assert np.allclose(got, -vecs[0] / np.linalg.norm(vecs[0]), atol=1e-5)


def test_versions_stay_readable(s3, tmp_path):
    import lancedb

    from shopmind.search.vector import LanceIndex, object_store_options

    writer = LanceIndex(_settings(tmp_path, "writer"), "text", DIM)
    for k in range(3):
        writer.upsert(*_batch(k))
    table = lancedb.connect("s3://shopmind/vectors", storage_options=object_store_options()).open_table("text")
    versions = [v["version"] for v in table.list_versions()]
    assert len(versions) >= 3
    table.checkout(versions[0])
    assert table.count_rows() == BATCH  # the first committed version, untouched by later writes
    table.checkout_latest()
    assert table.count_rows() == 3 * BATCH


def test_serving_graph_saved_in_the_bucket_is_loaded_by_replicas(s3, tmp_path, monkeypatch):
    """The indexer saves the serving graph beside the table (s3://…/_serving/); two `serve` replicas
    load it instead of building it, answer from memory, and still notice the indexer's next write."""
    pytest.importorskip("faiss")
    import shopmind.search.vector as vector_mod
    from shopmind.config import load_settings
    from shopmind.search.vector import LanceIndex

    monkeypatch.setattr(vector_mod, "ANN_MIN_ROWS", 500)
    writer = LanceIndex(_settings(tmp_path, "indexer"), "image", DIM)
    for k in range(BATCHES):
        writer.upsert(*_batch(k))
    assert writer.build_ann(force=True)
    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=s3, region_name="us-east-1")
            .list_objects_v2(Bucket="shopmind", Prefix="vectors/_serving/image/")["Contents"]]
    assert any(k.endswith("/meta.json") for k in keys) and any(k.endswith("/index.faiss") for k in keys)

    replicas = []
    for i in range(2):
        settings = load_settings(home=str(tmp_path / f"replica{i}"), vector_uri="s3://shopmind/vectors",
                                 vector_serving="memory", vector_serving_refresh_s=0.0).ensure_dirs()
        replica = LanceIndex(settings, "image", DIM)
        snap = replica.serving().refresh_now()
        assert snap.source == "loaded" and snap.kind == "hnsw" and len(snap) == BATCH * BATCHES
        replicas.append(replica)
    q = _batch(2)[1][7]
    assert all(r.search(q, 1)[0][0] == "p2-7" for r in replicas)
    ids, vecs, meta = _batch(BATCHES)  # the indexer writes again: replicas answer from LanceDB until reloaded
    writer.upsert(ids, vecs, meta)
    assert all(r.search(vecs[3], 1)[0][0] == ids[3] for r in replicas)
    for replica in replicas:  # each loads the new version in the background, then answers from it again
        snap = replica.serving().wait(timeout=60)
        assert snap is not None and len(snap) == BATCH * (BATCHES + 1)


def test_object_store_options_follow_the_endpoint(monkeypatch):
    from shopmind.search.vector import object_store_options

    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://minio.internal:9000")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    opts = object_store_options()
    assert opts["aws_endpoint"] == "https://minio.internal:9000" and "allow_http" not in opts
