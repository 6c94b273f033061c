"""Vector collections behind one small interface, on real vector engines.

Default: **LanceDB** embedded under `SHOPMIND_HOME/vectors` (columnar files, SQL-like metadata
filters pushed into the scan, IVF-PQ ANN index once a collection is large). `vector_uri` points
LanceDB at object storage (s3://…) or LanceDB Cloud for scale.
Alternative: **Qdrant** (`vector_backend: qdrant`): local embedded mode under the home, or a
Qdrant server/cluster when `vector_uri` is an http(s) URL. See docs/decisions.md for the numbers.

Vectors are L2-normalised; scores returned are cosine similarities, best first.
"""

from __future__ import annotations

import math
import os
import re
import threading
from datetime import timedelta
import uuid
from collections.abc import Sequence

import numpy as np

from shopmind.config import Settings
from shopmind.domain import Filter
from shopmind.errors import BackendUnavailable, BadInput
from shopmind.models.protocols import VectorIndex
from shopmind.models.registry import available, factory, register

ANN_MIN_ROWS = 100_000  # below this an exact scan is fast (~10 ms) and exact
_SAFE = re.compile(r"[^0-9A-Za-z_]")


# The contract lives with the other backend protocols; the backends below register under "vector_index".


def column_name(field: str) -> str:
    """Metadata field -> a safe column name (`baseColour` -> `m_baseColour`)."""
    return "m_" + _SAFE.sub("_", field)[:60]


def _normalise(vectors: np.ndarray) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim == 1:
        v = v[None]
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(norms, 1e-12)


def finite_number(value: str | float) -> float | None:
    """`value` as a finite float, or None ("abc", "nan", "inf" are no prices; as SQL literals they
    would even read as column names)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def comparable(f: Filter) -> float:
    """The number a `<`, `<=`, `>`, `>=` filter compares with; a clear BadInput when there is none."""
    number = finite_number(f.value)
    if number is None:
        raise BadInput(f"filter {f.field}{f.op}{f.value!r}: {f.op} needs a finite number")
    return number


def _sql_literal(value: str | float) -> str:
    if isinstance(value, (int, float)):
        return repr(float(value))
    return "'" + str(value).replace("'", "''") + "'"


# --------------------------------------------------------------------------------------------------
def _is_object_store(uri: str) -> bool:
    return uri.split("://", 1)[0].lower() in ("s3", "s3+ddb", "gs", "az", "abfs") if "://" in uri else False


def object_store_options() -> dict[str, str]:
    """LanceDB storage options for S3-compatible stores from the standard AWS variables, plus
    AWS_ENDPOINT_URL for MinIO/Ceph/moto (plain http allowed only when the endpoint says http)."""
    opts: dict[str, str] = {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        opts["aws_endpoint"] = endpoint
        if endpoint.startswith("http://"):
            opts["allow_http"] = "true"
    for env, key in (("AWS_ACCESS_KEY_ID", "aws_access_key_id"), ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"),
                     ("AWS_SESSION_TOKEN", "aws_session_token")):
        if os.environ.get(env):
            opts[key] = os.environ[env]
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        opts["aws_region"] = region
    return opts


@register("vector_index", "lancedb")
class LanceIndex:
    """One LanceDB table per collection: id, vector, price (float) and string metadata columns."""

    def __init__(self, settings: Settings, name: str, dim: int) -> None:
        try:
            import lancedb
        except ImportError as exc:  # pragma: no cover - lancedb is a core dependency
            raise BackendUnavailable("lancedb is not installed: pip install lancedb") from exc
        self.name, self.dim = name, dim
        uri = settings.vector_uri or str(settings.vectors_dir / "lancedb")
        kwargs: dict = {}
        if _is_object_store(uri):
            # Shared tables (many `serve` replicas, one indexer): every read checks for a newer table
            # version, and a version is only visible once its manifest is committed, so no torn reads.
            kwargs["storage_options"] = object_store_options()
            kwargs["read_consistency_interval"] = timedelta(seconds=settings.vector_read_consistency_s)
        self._db = lancedb.connect(uri, **kwargs)
        self._uri, self._storage_options = uri, kwargs.get("storage_options")
        self._lock = threading.Lock()
        self._ann: bool | None = None  # vector index present? (cached by _has_ann)
        self._table = self._open()
        self._serving_mode, self._ef = settings.vector_serving, settings.vector_serving_ef
        self._refresh_s = settings.vector_serving_refresh_s
        self._server = None  # SnapshotServer, made once the table exists (see serving())
        self._probe = None  # a second handle, moved to the latest version to notice other writers

    # -- in-memory serving snapshots (search/serving.py) -----------------------------------------
    def serving(self):
        """The snapshot server of this collection, or None when it is not served from memory."""
        if self._server is None and self._serving_mode == "memory" and self._table is not None:
            with self._lock:
                if self._server is None:
                    self._server = self._new_server()
        return self._server

    def _new_server(self):
        from shopmind.search.serving import SnapshotServer

        return SnapshotServer(name=self.name, dim=self.dim, open_version=self._open_version,
                              latest_version=self._latest_version, store=self._snapshot_store(),
                              hnsw_min_rows=ANN_MIN_ROWS, refresh_s=self._refresh_s)

    def _snapshot_store(self):
        from shopmind.search.serving import SnapshotStore

        try:
            return SnapshotStore.for_uri(self._uri, self._storage_options)
        except ValueError as exc:  # gs://, az://: serve from memory, but each replica builds its own graph
            import logging

            logging.getLogger("shopmind.serving").warning("%s", exc)
            return None

    def _open_version(self, version: int):
        """A handle pinned to `version` (a separate one: the writer's stays at the latest)."""
        handle = self._db.open_table(self.name)
        handle.checkout(version)
        return handle

    def _latest_version(self) -> int:
        if self._probe is None:
            self._probe = self._db.open_table(self.name)
        else:
            self._probe.checkout_latest()
        return int(self._probe.version)

    def _wrote(self) -> None:
        if self._server is not None:
            self._server.note_write(int(self._table.version))

    def _open(self):
        try:
            return self._db.open_table(self.name)
        except (FileNotFoundError, ValueError):
            return None

    def _columns(self) -> set[str]:
        return set(self._table.schema.names) if self._table is not None else set()

    def _rows(self, ids: Sequence[str], vectors: np.ndarray, metadata: Sequence[dict] | None, columns: list[str]):
        import pyarrow as pa

        vecs = _normalise(vectors)
        if vecs.shape != (len(ids), self.dim):
            raise BadInput(f"collection {self.name!r}: expected {len(ids)}×{self.dim} vectors, got {vecs.shape}")
        meta = list(metadata) if metadata is not None else [{} for _ in ids]
        arrays = {
            "id": pa.array([str(i) for i in ids], pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vecs.reshape(-1), pa.float32()), self.dim),
        }
        by_safe = [{column_name(k): v for k, v in m.items()} for m in meta]
        for col in columns:
            if col == "m_price":
                vals = []
                for m in meta:
                    try:
                        vals.append(None if m.get("price") is None else float(m["price"]))
                    except (TypeError, ValueError):
                        vals.append(None)
                arrays[col] = pa.array(vals, pa.float64())
            else:
                arrays[col] = pa.array([None if b.get(col) is None else str(b[col]) for b in by_safe], pa.string())
        return pa.table(arrays)

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadata: Sequence[dict] | None = None) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            if self._table is None:
                keys: dict[str, None] = {"price": None}
                for m in metadata or []:
                    for k in m:
                        keys.setdefault(k, None)
                columns = [column_name(k) for k in keys]
                data = self._rows(ids, vectors, metadata, list(dict.fromkeys(columns)))
                self._table = self._db.create_table(self.name, data=data, mode="create")
                return
            columns = [c for c in self._table.schema.names if c.startswith("m_")]
            data = self._rows(ids, vectors, metadata, columns)
            (self._table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(data))
            self._wrote()

    def delete(self, ids: Sequence[str]) -> None:
        if self._table is None or not ids:
            return
        self._table.delete("id IN (" + ",".join(_sql_literal(str(i)) for i in ids) + ")")
        self._wrote()

    def count(self) -> int:
        if self._table is None:
            self._table = self._open()
        return 0 if self._table is None else self._table.count_rows()

    def can_filter(self, filters: Sequence[Filter]) -> bool:
        cols = self._columns()
        return all(column_name(f.field) in cols for f in filters)

    def _cannot_filter(self, filters: Sequence[Filter]) -> BadInput:
        return BadInput(f"collection {self.name!r} cannot filter on {[f.field for f in filters]}; pass restrict_ids")

    def _where(self, filters: Sequence[Filter]) -> str:
        parts = []
        for f in filters:
            col = column_name(f.field)
            if f.op in {"=", "!="}:
                if col == "m_price":
                    number = finite_number(f.value)
                    if number is None:  # "abc", "nan": no price equals it
                        parts.append("false" if f.op == "=" else "true")
                    else:
                        parts.append(f"{col} {f.op} {number!r}")
                else:
                    cmp = "=" if f.op == "=" else "!="
                    parts.append(f"lower({col}) {cmp} {_sql_literal(str(f.value).lower())}")
            else:
                number = comparable(f)
                if col == "m_price":
                    parts.append(f"{col} {f.op} {number!r}")
                else:  # numeric comparison on a string column: "XL" is no number, so no match and no error
                    parts.append(f"TRY_CAST({col} AS DOUBLE) {f.op} {number!r}")
        return " AND ".join(parts)

    def search(self, vector: np.ndarray, k: int, filters: Sequence[Filter] | None = None,
               restrict_ids: Sequence[str] | None = None) -> list[tuple[str, float]]:
        filters = list(filters or [])
        if restrict_ids is not None and len(restrict_ids) == 0:
            return []
        server = self.serving()
        snap = server.current() if server is not None else None
        if snap is not None:  # the in-memory snapshot is of the latest version: answer from it
            if any(column_name(f.field) not in snap.columns for f in filters):
                raise self._cannot_filter(filters)
            rows = snap.rows_for(filters, restrict_ids, column_name)
            return snap.search(_normalise(vector)[0], k, rows, self._ef)
        if server is not None and (server.latest or 0) > self._table.version:
            self._table.checkout_latest()  # another process wrote: answer from its version, as the snapshot will
        n = self.count()
        if n == 0:
            return []
        clauses = []
        if filters:
            if not self.can_filter(filters):
                raise self._cannot_filter(filters)
            clauses.append(self._where(filters))
        allowed = set(map(str, restrict_ids)) if restrict_ids is not None else None
        if allowed is not None and len(allowed) <= 2000:
            clauses.append("id IN (" + ",".join(_sql_literal(i) for i in sorted(allowed)) + ")")
            allowed = None  # enforced by the scan
        q = _normalise(vector)[0]
        limit = k if allowed is None else min(n, max(k * 20, 1000))
        query = self._table.search(q, vector_column_name="vector").metric("cosine").limit(limit).select(["id", "_distance"])
        if clauses:
            query = query.where(" AND ".join(f"({c})" for c in clauses), prefilter=True)
        if self._has_ann():
            query = query.nprobes(32).refine_factor(5)
        table = query.to_arrow()
        ids = table.column("id").to_pylist()
        dists = table.column("_distance").to_numpy()
        out = [(pid, float(1.0 - d)) for pid, d in zip(ids, dists) if allowed is None or pid in allowed]
        return out[:k]

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        if self._table is None or not ids:
            return {}
        out: dict[str, np.ndarray] = {}
        ids = [str(i) for i in ids]
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            where = "id IN (" + ",".join(_sql_literal(i) for i in chunk) + ")"
            tbl = self._table.search().where(where).select(["id", "vector"]).limit(len(chunk)).to_arrow()
            vecs = np.asarray(tbl.column("vector").to_pylist(), dtype=np.float32)
            out.update(zip(tbl.column("id").to_pylist(), vecs))
        return out

    def _has_ann(self) -> bool:
        """Whether the table carries a vector index; looked up once per handle, not per query."""
        if self._ann is None:
            try:
                self._ann = any("vector" in (ix.columns or []) for ix in self._table.list_indices())
            except Exception:  # noqa: BLE001 - older/newer lancedb APIs: treat as no index
                self._ann = False
        return self._ann

    def build_ann(self, force: bool = False) -> bool:
        """IVF-PQ index once the collection is large enough for a scan to hurt; exact below."""
        n = self.count()
        if n == 0 or (n < ANN_MIN_ROWS and not force):
            return False
        partitions = max(1, int(np.sqrt(n)))
        sub_vectors = max(1, self.dim // 8)
        from lancedb.index import IvfPq

        self._table.create_index("vector", replace=True,
                                 config=IvfPq(distance_type="cosine", num_partitions=partitions, num_sub_vectors=sub_vectors))
        self._ann = True
        self._save_serving_snapshot()
        return True

    def _save_serving_snapshot(self) -> None:
        """Build and save the serving graph of this version now, so `serve` replicas load it instead of
        building it (skipped when serving is switched off, or without faiss-cpu)."""
        from shopmind.search.serving import faiss_available

        if self._serving_mode == "lancedb" or not faiss_available():
            return
        server = self.serving() or self._new_server()  # a one-shot indexer: a server just for this save
        try:
            server.refresh_now(save=True)
        except Exception as exc:  # noqa: BLE001 - the LanceDB index is built; replicas will build the graph themselves
            import logging

            logging.getLogger("shopmind.serving").warning("could not build the serving graph of %s: %s", self.name, exc)


# --------------------------------------------------------------------------------------------------
@register("vector_index", "qdrant")
class QdrantIndex:
    """Qdrant collection: embedded local mode by default, server/cluster when `vector_uri` is a URL."""

    def __init__(self, settings: Settings, name: str, dim: int) -> None:
        try:
            from qdrant_client import QdrantClient, models
        except ImportError as exc:
            raise BackendUnavailable("vector_backend=qdrant needs `pip install shopmind[vector]` (qdrant-client)") from exc
        self.name, self.dim, self._m = name, dim, models
        uri = settings.vector_uri
        if uri and uri.startswith(("http://", "https://")):
            self._client = QdrantClient(url=uri, api_key=os.environ.get("QDRANT_API_KEY"))
        else:
            self._client = _local_qdrant(str(settings.vectors_dir / "qdrant"))
        if not self._client.collection_exists(name):
            self._client.create_collection(name, vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE))

    @staticmethod
    def _point_id(pid: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "shopmind:" + pid))

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, metadata: Sequence[dict] | None = None) -> None:
        vecs = _normalise(vectors)
        meta = list(metadata) if metadata is not None else [{} for _ in ids]
        for start in range(0, len(ids), 512):
            points = []
            for pid, vec, m in zip(ids[start : start + 512], vecs[start : start + 512], meta[start : start + 512]):
                payload = {k: (v if k == "price" else (None if v is None else str(v).lower())) for k, v in m.items()}
                payload["_id"] = str(pid)
                points.append(self._m.PointStruct(id=self._point_id(str(pid)), vector=vec.tolist(), payload=payload))
            self._client.upsert(self.name, points=points, wait=True)

    def delete(self, ids: Sequence[str]) -> None:
        self._client.delete(self.name, points_selector=self._m.PointIdsList(points=[self._point_id(str(i)) for i in ids]))

    def count(self) -> int:
        return self._client.count(self.name, exact=True).count

    def can_filter(self, filters: Sequence[Filter]) -> bool:
        return True

    def _filter(self, filters: Sequence[Filter], restrict_ids: Sequence[str] | None):
        m = self._m
        must, must_not = [], []
        for f in filters:
            if f.op in {"=", "!="}:
                value = f.value if f.field == "price" else str(f.value).lower()
                cond = m.FieldCondition(key=f.field, match=m.MatchValue(value=value)) if f.field != "price" else \
                    m.FieldCondition(key="price", range=m.Range(gte=float(f.value), lte=float(f.value)))
                (must if f.op == "=" else must_not).append(cond)
            else:
                bound = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}[f.op]
                must.append(m.FieldCondition(key=f.field, range=m.Range(**{bound: float(f.value)})))
        if restrict_ids is not None:
            must.append(m.HasIdCondition(has_id=[self._point_id(str(i)) for i in restrict_ids]))
        return m.Filter(must=must or None, must_not=must_not or None) if (must or must_not) else None

    def search(self, vector: np.ndarray, k: int, filters: Sequence[Filter] | None = None,
               restrict_ids: Sequence[str] | None = None) -> list[tuple[str, float]]:
        if restrict_ids is not None and len(restrict_ids) == 0:
            return []
        res = self._client.query_points(self.name, query=_normalise(vector)[0].tolist(), limit=k,
                                        query_filter=self._filter(filters or [], restrict_ids), with_payload=["_id"])
        return [(p.payload["_id"], float(p.score)) for p in res.points]

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        pts = self._client.retrieve(self.name, ids=[self._point_id(str(i)) for i in ids], with_vectors=True, with_payload=["_id"])
        return {p.payload["_id"]: np.asarray(p.vector, dtype=np.float32) for p in pts}

    def build_ann(self, force: bool = False) -> bool:
        return False  # Qdrant maintains its HNSW graph itself (server mode); local mode is exact


# Stays process-wide, one per folder: Qdrant's local mode locks its folder, so a second client in the
# same process would fail; keyed by folder, two homes never share one.
_LOCAL_QDRANT: dict[str, object] = {}


def _local_qdrant(path: str):
    """One local Qdrant client per folder per process (local mode locks its folder)."""
    from qdrant_client import QdrantClient

    if path not in _LOCAL_QDRANT:
        _LOCAL_QDRANT[path] = QdrantClient(path=path)
    return _LOCAL_QDRANT[path]


BACKENDS = {"lancedb": LanceIndex, "qdrant": QdrantIndex}
# Stays process-wide, one handle per (backend, data folder, collection): embedded engines want one
# writer per folder (see _LOCAL_QDRANT), and the indexer and the search engine of one home must see
# the same handle. Keyed by folder, so two homes never share one.
_OPEN: dict[tuple, VectorIndex] = {}
_OPEN_LOCK = threading.Lock()


def open_index(settings: Settings, name: str, dim: int, backend: str | None = None) -> VectorIndex:
    """The collection `name` on the configured backend (cached per process, data dir and backend)."""
    backend = backend or settings.vector_backend
    if backend not in available("vector_index"):
        raise BadInput(f"unknown vector backend {backend!r}; choose one of {available('vector_index')}")
    key = (backend, str(settings.vectors_dir), settings.vector_uri, name, dim, settings.vector_serving)
    with _OPEN_LOCK:
        index = _OPEN.get(key)
        if index is None:
            index = factory("vector_index", backend)(settings, name, dim)
            _OPEN[key] = index
        return index


def reset_open_indexes() -> None:
    """Forget cached handles (tests that swap data directories)."""
    with _OPEN_LOCK:
        _OPEN.clear()
        _LOCAL_QDRANT.clear()
