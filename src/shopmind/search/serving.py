"""Per-replica serving snapshots of a LanceDB vector table: one pinned version, held in memory.

Why: LanceDB is the versioned store that every process shares (a local folder or s3://), but each
LanceDB query pays about 4 ms of fixed planning and I/O. At 1M vectors that left filtered search at
1.86x and unfiltered search at 12x an in-process FAISS index (docs/benchmarks.md). So a replica
that serves queries (`vector_serving: memory`, the default under `shopmind serve`) pins one table
version and loads it into memory: the ids, the metadata columns the filters read, and the vectors,
in a FAISS HNSW graph for large tables or a plain matrix scanned exactly for small ones.

LanceDB stays the source of truth. A snapshot answers only while its version is the table's
latest; otherwise the query goes to LanceDB (always fresh) and a background thread loads or builds
the snapshot of the new version. Writes in this process make the snapshot stale at once; writes by
other processes are noticed within `vector_serving_refresh_s`.

Snapshots of large tables are saved next to the table (under `_serving/` of the LanceDB URI: a
local folder or the same bucket), keyed by table version, so other replicas and restarts load the
graph instead of building it again. A save is visible only once its `meta.json` is written, last.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopmind.domain import Filter

log = logging.getLogger("shopmind.serving")

FORMAT = 1
HNSW_M = 16  # graph degree: 1M x 384-d builds in ~5 min on 2 cores (docs/benchmarks.md)
HNSW_EF_CONSTRUCTION = 64
SUBSET_SCAN_MAX = 20_000  # a filter leaving at most this many rows is answered by an exact scan of them (~10 ms at 384-d)
FILTER_CACHE = 64  # filter sets whose row lists are kept (the category pages a shop repeats)


def faiss_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("faiss") is not None


# --------------------------------------------------------------------------------------------------
# Metadata columns and filters (the same meaning as LanceIndex._where's SQL)
@dataclass
class TextColumn:
    """A string metadata column, lower-cased and dictionary-encoded: `codes[i]` indexes `values` (-1 = null)."""

    codes: np.ndarray
    values: list[str]
    order: np.ndarray  # row numbers grouped by code: a posting list per value, so `col = v` costs its own rows
    bounds: np.ndarray  # value c's rows are order[bounds[c + 1]:bounds[c + 2]]; bounds[0] starts the nulls
    _numbers: np.ndarray | None = None
    _lookup: dict[str, int] | None = None

    @classmethod
    def from_arrow(cls, array) -> TextColumn:
        import pyarrow as pa
        import pyarrow.compute as pc

        encoded = pc.utf8_lower(array.cast(pa.string())).dictionary_encode()
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks() if encoded.num_chunks != 1 else encoded.chunk(0)
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
        values = encoded.dictionary.to_pylist()
        order = np.argsort(codes, kind="stable")  # stable: rows stay ascending within a value (~0.1 s at 1M)
        bounds = np.searchsorted(codes[order], np.arange(-1, len(values) + 1))
        return cls(codes=codes, values=values, order=order, bounds=bounds)

    def code(self, value: str) -> int:
        if self._lookup is None:
            self._lookup = {v: i for i, v in enumerate(self.values)}
        return self._lookup.get(str(value).lower(), -1)

    def rows_equal(self, value: str) -> np.ndarray:
        """Sorted row numbers whose value equals `value` (case-insensitive)."""
        code = self.code(value)
        if code < 0:
            return np.empty(0, np.int64)
        return self.order[self.bounds[code + 1]:self.bounds[code + 2]]

    def numbers(self) -> np.ndarray:
        """Each distinct value as a number (NaN when it is not one), like SQL's TRY_CAST(col AS DOUBLE)."""
        if self._numbers is None:
            out = np.full(len(self.values), np.nan)
            for i, v in enumerate(self.values):
                try:
                    out[i] = float(v)
                except ValueError:
                    pass
            self._numbers = out
        return self._numbers


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
    "=": np.equal, "!=": np.not_equal,
}


def filter_mask(column: TextColumn | np.ndarray, f: Filter, rows: np.ndarray | None = None) -> np.ndarray:
    """Which rows of one column pass `f` (all rows, or only `rows`). Nulls never pass (SQL
    three-valued logic), except a `!=` against a value that is not a number on the numeric price
    column, which the SQL path writes as `true`."""
    from shopmind.search.vector import comparable, finite_number

    if isinstance(column, np.ndarray):  # float64, NaN = null
        values = column if rows is None else column[rows]
        if f.op in {"=", "!="}:
            value = finite_number(f.value)
            if value is None:  # "abc", "nan": no price equals it
                return np.full(len(values), f.op == "!=")
        else:
            value = comparable(f)
        with np.errstate(invalid="ignore"):
            return _COMPARE[f.op](values, value) & ~np.isnan(values)
    codes = column.codes if rows is None else column.codes[rows]
    present = codes >= 0
    if f.op == "=":
        code = column.code(str(f.value))
        return codes == code if code >= 0 else np.zeros(len(codes), bool)
    if f.op == "!=":
        return present & (codes != column.code(str(f.value)))
    per_value = _COMPARE[f.op](column.numbers(), comparable(f))  # NaN compares False
    return present & np.append(per_value, False)[codes]  # code -1 picks the appended False


class Bitmap:
    """Many selected rows as a packed bitmap (1M rows: 125 kB), the form FAISS's selector reads."""

    def __init__(self, mask: np.ndarray, count: int) -> None:
        self.packed, self.count, self.size = np.packbits(mask, bitorder="little"), count, len(mask)

    @classmethod
    def from_rows(cls, rows: np.ndarray, size: int) -> Bitmap:
        mask = np.zeros(size, bool)
        mask[rows] = True
        return cls(mask, len(rows))

    def __len__(self) -> int:
        return self.count

    def rows(self) -> np.ndarray:
        return np.flatnonzero(np.unpackbits(self.packed, count=self.size, bitorder="little"))


# --------------------------------------------------------------------------------------------------
@dataclass
class Snapshot:
    """One table version in memory. `kind` is "hnsw" (FAISS graph) or "exact" (a matrix scan)."""

    name: str
    version: int
    dim: int
    ids: np.ndarray  # object array of str, row order
    vectors: np.ndarray  # (n, dim) float32, L2-normalised; a view into the FAISS storage for "hnsw"
    columns: dict[str, TextColumn | np.ndarray]
    kind: str
    index: Any = None  # the FAISS index for "hnsw"
    source: str = "built"  # or "loaded"
    build_s: float = 0.0
    stamp: str = ""  # when the version was committed: tells a version from the same number of a re-made table
    _row_of: dict[str, int] | None = None
    _filter_rows: OrderedDict = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        return len(self.ids)

    # -- selection ----------------------------------------------------------------------------
    def rows_for(self, filters: Sequence[Filter], restrict_ids: Sequence[str] | None,
                 column_of: Callable[[str], str]) -> np.ndarray | Bitmap | None:
        """The rows passing every filter and in `restrict_ids`: sorted row numbers when they are few
        (an exact scan reads them), a packed bitmap when they are many (the graph walk skips the
        others); None = every row. Per filter set the answer is cached, bounded either way."""
        selection: np.ndarray | Bitmap | None = None
        if filters:
            key = tuple((f.field, f.op, str(f.value)) for f in filters)
            with self._lock:
                selection = self._filter_rows.get(key)
                if selection is not None:
                    self._filter_rows.move_to_end(key)
            if selection is None:
                selection = self._select(filters, column_of)
                with self._lock:
                    self._filter_rows[key] = selection
                    while len(self._filter_rows) > FILTER_CACHE:
                        self._filter_rows.popitem(last=False)
        if restrict_ids is not None:
            if self._row_of is None:
                self._row_of = {pid: i for i, pid in enumerate(self.ids)}
            found = np.fromiter((self._row_of.get(str(p), -1) for p in restrict_ids), np.int64)
            found = np.unique(found[found >= 0])
            if selection is not None:
                rows = selection.rows() if isinstance(selection, Bitmap) else selection
                found = np.intersect1d(rows, found, assume_unique=True)
            selection = self._few_or_bitmap(found)
        return selection

    def _few_or_bitmap(self, rows: np.ndarray) -> np.ndarray | Bitmap:
        """Few rows stay a list (scanned exactly); many become a bitmap (the graph walk skips the rest)."""
        return rows if len(rows) <= SUBSET_SCAN_MAX else Bitmap.from_rows(rows, len(self))

    def _select(self, filters: Sequence[Filter], column_of: Callable[[str], str]) -> np.ndarray | Bitmap:
        """Equality filters on text columns read their posting lists (no pass over every row); the
        other filters are then checked on those rows only, or on every row when there is none."""
        postings, rest = [], []
        for f in filters:
            column = self.columns[column_of(f.field)]
            if f.op == "=" and isinstance(column, TextColumn):
                postings.append(column.rows_equal(str(f.value)))
            else:
                rest.append((column, f))
        if postings:
            rows = postings[0]
            for other in postings[1:]:
                rows = np.intersect1d(rows, other, assume_unique=True)
            for column, f in rest:
                rows = rows[filter_mask(column, f, rows)]
            return self._few_or_bitmap(rows)
        mask = np.ones(len(self), bool)
        for column, f in rest:
            mask &= filter_mask(column, f)
        count = int(mask.sum())
        return np.flatnonzero(mask) if count <= SUBSET_SCAN_MAX else Bitmap(mask, count)

    # -- search -------------------------------------------------------------------------------
    def search(self, q: np.ndarray, k: int, rows: np.ndarray | Bitmap | None, ef: int) -> list[tuple[str, float]]:
        """Top `k` by cosine among `rows` (None = all). `q` is L2-normalised."""
        if (rows is not None and len(rows) == 0) or len(self) == 0 or k <= 0:
            return []
        if self.kind == "exact":
            return self._scan(q, k, rows.rows() if isinstance(rows, Bitmap) else rows)
        if rows is not None and not isinstance(rows, Bitmap):
            return self._scan(q, k, rows)  # few rows: an exact scan of them beats any graph walk
        import faiss

        if rows is None:
            params = faiss.SearchParametersHNSW(efSearch=max(ef, k))
        else:  # a broad filter: walk the graph, skipping rows outside it (wider beam, fewer pass)
            packed = rows.packed
            selector = faiss.IDSelectorBitmap(len(self), faiss.swig_ptr(packed))  # reads `packed`: keep it alive
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(2 * ef, k))
        scores, found = self.index.search(q[None, :], k, params=params)
        return [(self.ids[i], float(s)) for i, s in zip(found[0], scores[0]) if i >= 0]

    def _scan(self, q: np.ndarray, k: int, rows: np.ndarray | None) -> list[tuple[str, float]]:
        scores = (self.vectors if rows is None else self.vectors[rows]) @ q
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        picked = top if rows is None else rows[top]
        return [(self.ids[i], float(scores[j])) for i, j in zip(picked, top)]


def build_snapshot(table, name: str, version: int, dim: int, hnsw: bool) -> Snapshot:
    """The snapshot of an Arrow table (id, vector, m_* columns) read at `version`."""
    import pyarrow as pa

    started = time.perf_counter()
    vec_col = table.column("vector")
    vec_col = vec_col.combine_chunks() if isinstance(vec_col, pa.ChunkedArray) else vec_col
    from shopmind.search.vector import _normalise

    # stored normalised already; normalising again guards tables written by other tools (and makes a writable copy)
    vectors = _normalise(vec_col.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim))
    ids = np.asarray(table.column("id").to_pylist(), dtype=object)
    columns = _columns(table)
    index = None
    if hnsw:
        import faiss

        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.add(vectors)
        del vectors
        vectors = _storage_view(index, dim)
    return Snapshot(name=name, version=version, dim=dim, ids=ids, vectors=vectors, columns=columns,
                    kind="hnsw" if hnsw else "exact", index=index, build_s=round(time.perf_counter() - started, 3))


def _columns(table) -> dict[str, TextColumn | np.ndarray]:
    import pyarrow as pa

    out: dict[str, TextColumn | np.ndarray] = {}
    for name in table.schema.names:
        if not name.startswith("m_"):
            continue
        col = table.column(name)
        if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
            out[name] = col.cast(pa.float64()).to_numpy().astype(np.float64)  # nulls become NaN
        else:
            out[name] = TextColumn.from_arrow(col)
    return out


def _storage_view(index, dim: int) -> np.ndarray:
    """The vectors inside a FAISS HNSWFlat index as a numpy view (no second copy in memory)."""
    import faiss

    storage = faiss.downcast_index(index.storage)
    return faiss.rev_swig_ptr(storage.get_xb(), index.ntotal * dim).reshape(index.ntotal, dim)


# --------------------------------------------------------------------------------------------------
# Saved snapshots: `<root>/<name>/v<version>-<token>/{meta.json, index.faiss, rows.arrow}`
class SnapshotStore:
    """Where one collection's saved snapshots live: a local folder or a prefix in the table's bucket."""

    def __init__(self, filesystem, root: str) -> None:
        self.fs, self.root = filesystem, root.rstrip("/")

    @classmethod
    def for_uri(cls, uri: str, storage_options: dict[str, str] | None = None) -> SnapshotStore:
        """`_serving/` beside the LanceDB tables at `uri` (a path, or s3://bucket/prefix)."""
        from pyarrow import fs as pafs

        if "://" not in uri:
            return cls(pafs.LocalFileSystem(), str(os.path.abspath(uri)) + "/_serving")
        scheme, rest = uri.split("://", 1)
        if scheme.lower() != "s3":
            raise ValueError(f"saving serving snapshots to {scheme}:// is not supported (only local folders and s3://)")
        opts = storage_options or {}
        endpoint = opts.get("aws_endpoint")
        kwargs: dict[str, Any] = {"region": opts.get("aws_region")}
        if opts.get("aws_access_key_id"):
            kwargs.update(access_key=opts["aws_access_key_id"], secret_key=opts.get("aws_secret_access_key"),
                          session_token=opts.get("aws_session_token"))
        if endpoint:
            scheme_part, _, host = endpoint.partition("://")
            kwargs.update(endpoint_override=host or scheme_part, scheme=scheme_part if host else "https")
        return cls(pafs.S3FileSystem(**{k: v for k, v in kwargs.items() if v is not None}), rest.rstrip("/") + "/_serving")

    def _dir(self, name: str) -> str:
        return posixpath.join(self.root, name)

    def _complete(self, name: str) -> list[tuple[int, str, dict]]:
        """(version, folder, meta) of every complete save of `name`, newest first."""
        from pyarrow import fs as pafs

        out = []
        try:
            infos = self.fs.get_file_info(pafs.FileSelector(self._dir(name), allow_not_found=True))
        except OSError:
            return []
        for info in infos:
            base = posixpath.basename(info.path)
            if info.type != pafs.FileType.Directory or not base.startswith("v") or "-" not in base:
                continue
            try:
                version = int(base[1:].split("-", 1)[0])
                with self.fs.open_input_stream(posixpath.join(info.path, "meta.json")) as fh:
                    meta = json.loads(fh.read().decode("utf-8"))
            except (ValueError, OSError):
                continue  # a save still being written (no meta.json yet), or debris of a crashed one
            out.append((version, info.path, meta))
        return sorted(out, key=lambda t: -t[0])

    def load(self, name: str, version: int, dim: int, stamp: str) -> Snapshot | None:
        """The saved snapshot of exactly `version` (committed at `stamp`), or None when there is none
        or it is unreadable."""
        import pyarrow as pa

        for saved_version, folder, meta in self._complete(name):
            if saved_version != version or meta.get("version_time") != stamp:
                continue  # another version, or the same number of a table dropped and made again
            try:
                if meta.get("format") != FORMAT or meta.get("dim") != dim:
                    raise ValueError(f"format {meta.get('format')} / dim {meta.get('dim')}")
                started = time.perf_counter()
                index = self._read_index(posixpath.join(folder, "index.faiss"))
                with self.fs.open_input_file(posixpath.join(folder, "rows.arrow")) as fh:
                    rows = pa.ipc.open_file(fh).read_all()
                if index.ntotal != rows.num_rows or rows.num_rows != meta.get("rows"):
                    raise ValueError(f"{index.ntotal} vectors for {rows.num_rows} rows (meta says {meta.get('rows')})")
                ids = np.asarray(rows.column("id").to_pylist(), dtype=object)
                return Snapshot(name=name, version=version, dim=dim, ids=ids, vectors=_storage_view(index, dim),
                                columns=_columns(rows), kind="hnsw", index=index, source="loaded",
                                build_s=round(time.perf_counter() - started, 3), stamp=stamp)
            except Exception as exc:  # noqa: BLE001 - a damaged save is rebuilt, never served
                log.warning("serving snapshot %s is unreadable (%s); building it again", folder, exc)
        return None

    def save(self, snap: Snapshot, table) -> str:
        """Write `snap` (and the id/metadata columns of `table`) as a new complete save; prune old ones."""
        import pyarrow as pa

        folder = posixpath.join(self._dir(snap.name), f"v{snap.version}-{uuid.uuid4().hex[:8]}")
        self.fs.create_dir(folder, recursive=True)
        self._write_index(snap.index, posixpath.join(folder, "index.faiss"))
        rows = table.select(["id"] + [c for c in table.schema.names if c.startswith("m_")])
        with self.fs.open_output_stream(posixpath.join(folder, "rows.arrow")) as fh:
            with pa.ipc.new_file(fh, rows.schema) as writer:
                writer.write_table(rows)
        meta = {"format": FORMAT, "name": snap.name, "version": snap.version, "version_time": snap.stamp,
                "dim": snap.dim, "rows": len(snap),
                "kind": snap.kind, "hnsw_m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION,
                "built_s": snap.build_s, "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        with self.fs.open_output_stream(posixpath.join(folder, "meta.json")) as fh:  # last: marks it complete
            fh.write(json.dumps(meta).encode("utf-8"))
        self.prune(snap.name, keep=2)
        return folder

    def _local(self) -> bool:
        from pyarrow import fs as pafs

        return isinstance(self.fs, pafs.LocalFileSystem)

    def _read_index(self, path: str):
        import faiss

        if self._local():
            return faiss.read_index(path)
        with self.fs.open_input_stream(path) as fh:
            return faiss.deserialize_index(np.frombuffer(fh.read(), dtype=np.uint8))

    def _write_index(self, index, path: str) -> None:
        import faiss

        if self._local():
            faiss.write_index(index, path)
            return
        with self.fs.open_output_stream(path) as fh:
            fh.write(faiss.serialize_index(index))

    def prune(self, name: str, keep: int) -> None:
        """Delete the saves older than the newest `keep` versions (readers pinned to them reload)."""
        saves = self._complete(name)
        versions = sorted({v for v, _, _ in saves}, reverse=True)[:keep]
        if not versions:
            return
        oldest_kept = versions[-1]
        for version, folder, _ in saves:
            if version < oldest_kept:
                try:
                    self.fs.delete_dir(folder)
                except OSError as exc:
                    log.warning("could not prune serving snapshot %s: %s", folder, exc)


def version_stamp(handle, version: int) -> str:
    """The commit time of `version` ("" when the table no longer lists it)."""
    for entry in handle.list_versions():
        if int(entry["version"]) == version:
            return str(entry["timestamp"])
    return ""


# --------------------------------------------------------------------------------------------------
class SnapshotServer:
    """Keeps the snapshot of one collection current, off the query path.

    `current()` returns the snapshot only when it is of the table's latest version; otherwise it
    returns None (the caller asks LanceDB) and starts one background refresh: load the saved
    snapshot of the new version, or build it (and save it when it is a graph).
    """

    def __init__(self, *, name: str, dim: int, open_version: Callable[[int], Any], latest_version: Callable[[], int],
                 store: SnapshotStore | None, hnsw_min_rows: int, refresh_s: float, quiet_s: float = 0.5) -> None:
        self.name, self.dim = name, dim
        self._open_version, self._latest_version = open_version, latest_version
        self.store, self.hnsw_min_rows, self.refresh_s, self.quiet_s = store, hnsw_min_rows, refresh_s, quiet_s
        self.snapshot: Snapshot | None = None
        self._latest: int | None = None
        self._probed = 0.0
        self._probing = False
        self._busy = False
        self._failed: int | None = None
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)

    @property
    def latest(self) -> int | None:
        """The newest table version seen (by this process's writes or the last probe)."""
        return self._latest

    def note_write(self, version: int) -> None:
        """A write in this process: the snapshot is stale from now on."""
        self._latest, self._probed = version, time.monotonic()

    def current(self) -> Snapshot | None:
        now = time.monotonic()
        if self._latest is None or self.refresh_s == 0:  # first query, or strong consistency: look now
            if not self._probe():
                return None
        elif now - self._probed >= self.refresh_s and not self._probing:
            # Off the query path: on object storage a version check is a network round trip.
            self._probing, self._probed = True, now
            threading.Thread(target=self._probe, daemon=True, name=f"shopmind-probe-{self.name}").start()
        snap = self.snapshot
        if snap is not None and snap.version == self._latest:
            return snap
        self._schedule()
        return None

    def _probe(self) -> bool:
        try:
            self._latest, self._probed = self._latest_version(), time.monotonic()
            return True
        except Exception as exc:  # noqa: BLE001 - cannot tell how fresh the snapshot is: the caller asks LanceDB
            log.warning("serving %s: cannot read the table version (%s)", self.name, exc)
            return False
        finally:
            self._probing = False

    def _schedule(self) -> None:
        with self._lock:
            if self._busy or self._failed == self._latest:
                return
            self._busy = True
        threading.Thread(target=self._refresh_in_background, daemon=True, name=f"shopmind-serving-{self.name}").start()

    def _refresh_in_background(self) -> None:
        version = None
        try:
            version = self._latest_version()
            time.sleep(self.quiet_s)  # writes come in bursts (an ingest): wait for the table to settle
            while (latest := self._latest_version()) != version:
                version = latest
                time.sleep(self.quiet_s)
            self._install(version, save=True)
        except Exception as exc:  # noqa: BLE001 - serving falls back to LanceDB; say why, once per version
            log.warning("serving snapshot of %s v%s failed: %s", self.name, version, exc)
            self._failed = version
        finally:
            with self._lock:
                self._busy = False
                self._done.notify_all()

    def refresh_now(self, save: bool = True) -> Snapshot | None:
        """Load or build the snapshot of the latest version in this thread (indexer, benchmarks, tests)."""
        with self._lock:
            while self._busy:
                self._done.wait()
            self._busy = True
        try:
            version = self._latest_version()
            snap = self._install(version, save=save)
            self._latest, self._probed = version, time.monotonic()
            return snap
        finally:
            with self._lock:
                self._busy = False
                self._done.notify_all()

    def wait(self, timeout: float = 60.0) -> Snapshot | None:
        """Block until a background refresh (if any) ends; the snapshot if it is current."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._busy and time.monotonic() < deadline:
                self._done.wait(timeout=max(0.0, deadline - time.monotonic()))
        self._probe()
        return self.current()

    def _install(self, version: int, save: bool) -> Snapshot | None:
        if self.snapshot is not None and self.snapshot.version == version:
            return self.snapshot
        handle = self._open_version(version)
        stamp = version_stamp(handle, version)
        rows = handle.count_rows()
        hnsw = rows >= self.hnsw_min_rows and faiss_available()
        if rows >= self.hnsw_min_rows and not hnsw:
            log.warning("serving %s: %d rows need faiss-cpu for a graph index (pip install 'shopmind[scale]'); "
                        "queries stay on LanceDB", self.name, rows)
            self._failed = version
            return None
        snap = self.store.load(self.name, version, self.dim, stamp) if (hnsw and self.store is not None) else None
        if snap is None:
            table = handle.to_arrow()
            snap = build_snapshot(table, self.name, version, self.dim, hnsw=hnsw)
            snap.stamp = stamp
            if hnsw and save and self.store is not None:
                try:
                    where = self.store.save(snap, table)
                    log.info("serving snapshot of %s v%d saved to %s", self.name, version, where)
                except Exception as exc:  # noqa: BLE001 - the snapshot still serves; the next replica builds its own
                    log.warning("could not save the serving snapshot of %s v%d: %s", self.name, version, exc)
            del table
        self.snapshot = snap
        self._failed = None
        return snap
