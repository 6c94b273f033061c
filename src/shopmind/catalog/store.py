"""The catalog store: products, their images, features, tags and OCR text in one SQLite file.

Images live content-addressed under `SHOPMIND_HOME/images/` (written atomically);
every row write happens inside a transaction so an interrupted job keeps what it committed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from shopmind.catalog.db import connect, transaction
from shopmind.config import Settings, get_settings
from shopmind.domain import Filter, ItemError, Product, ProductTags
from shopmind.errors import NotFound

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    price REAL,
    category TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    image_path TEXT,
    image_sha256 TEXT,
    row_hash TEXT NOT NULL,
    source TEXT,
    ingested_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE IF NOT EXISTS image_features (
    product_id TEXT PRIMARY KEY REFERENCES products(id) ON DELETE CASCADE,
    image_sha256 TEXT NOT NULL,
    encoder TEXT NOT NULL,
    feat BLOB NOT NULL,
    colour BLOB NOT NULL,
    bridge BLOB NOT NULL,
    top_classes TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS text_vectors (
    product_id TEXT PRIMARY KEY REFERENCES products(id) ON DELETE CASCADE,
    encoder TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vec BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
    product_id TEXT PRIMARY KEY REFERENCES products(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE IF NOT EXISTS ocr (
    product_id TEXT PRIMARY KEY REFERENCES products(id) ON DELETE CASCADE,
    has_text INTEGER NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    lines TEXT NOT NULL DEFAULT '[]',
    updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE IF NOT EXISTS item_errors (
    run TEXT NOT NULL,
    item TEXT NOT NULL,
    stage TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vector_state (
    collection TEXT NOT NULL,
    product_id TEXT NOT NULL,
    version TEXT NOT NULL,
    PRIMARY KEY (collection, product_id)
);
"""

_F16 = np.float16
_F32 = np.float32


def _blob(arr: np.ndarray, dtype=_F32) -> bytes:
    return np.ascontiguousarray(arr, dtype=dtype).tobytes()


def _unblob(data: bytes, dtype=_F32) -> np.ndarray:
    return np.frombuffer(data, dtype=dtype).astype(np.float32)


class ImageFeatures:
    """Per-product image facts the understanding layer computes once and reuses."""

    __slots__ = ("product_id", "image_sha256", "encoder", "feat", "colour", "bridge", "top_classes")

    def __init__(self, product_id, image_sha256, encoder, feat, colour, bridge, top_classes) -> None:
        self.product_id = product_id
        self.image_sha256 = image_sha256
        self.encoder = encoder
        self.feat = feat
        self.colour = colour
        self.bridge = bridge
        self.top_classes = top_classes


class CatalogStore:
    """All persistent catalog state. One instance per process is enough (thread-safe writes)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.ensure_dirs()
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []  # every thread's connection, so close() can close them all
        self._conns_lock = threading.Lock()
        self._derived: dict[str, tuple[Any, Any]] = {}  # see `derived`
        self._derived_lock = threading.Lock()
        self.conn().executescript(SCHEMA)

    def derived(self, name: str, signature: Any, build: Callable[[], T]) -> T:
        """A value computed from this catalog (an index over its products …), kept while `signature`
        (a cheap fingerprint of what it was built from) is unchanged.

        It lives on the store, so it belongs to this home and to the app that holds the store, and
        goes when the store closes; there is no process-wide cache of catalog-derived data."""
        with self._derived_lock:
            hit = self._derived.get(name)
            if hit is not None and hit[0] == signature:
                return hit[1]
        value = build()
        with self._derived_lock:
            self._derived[name] = (signature, value)
        return value

    # -- connections -------------------------------------------------------------------------
    def conn(self) -> sqlite3.Connection:
        """A connection per thread (sqlite3 connections are not shared across threads)."""
        c = getattr(self._local, "conn", None)
        if c is None:
            c = connect(self.settings)
            self._local.conn = c
            with self._conns_lock:
                self._conns.append(c)
        return c

    def close(self) -> None:
        """Close every thread's connection (the app object calls this when it closes)."""
        with self._conns_lock:
            conns, self._conns = self._conns, []
        self._local = threading.local()
        with self._derived_lock:
            self._derived.clear()
        for c in conns:
            try:
                c.close()
            except sqlite3.ProgrammingError:  # made in another thread that still uses it: leave it to GC
                pass

    # -- products ----------------------------------------------------------------------------
    def row_hashes(self, ids: Iterable[str]) -> dict[str, str]:
        ids = list(ids)
        out: dict[str, str] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            q = f"SELECT id, row_hash FROM products WHERE id IN ({','.join('?' * len(chunk))})"
            out.update({r["id"]: r["row_hash"] for r in self.conn().execute(q, chunk)})
        return out

    def upsert_products(self, rows: list[tuple[Product, str, str]]) -> None:
        """Insert or replace (product, row_hash, source) rows in one transaction."""
        with self._write_lock, transaction(self.conn()) as c:
            c.executemany(
                """INSERT INTO products (id, title, description, price, category, attributes, image_path,
                       image_sha256, row_hash, source)
                   VALUES (?,?,?,?,?,?,?,?,?,?)
                   ON CONFLICT(id) DO UPDATE SET title=excluded.title, description=excluded.description,
                       price=excluded.price, category=excluded.category, attributes=excluded.attributes,
                       image_path=excluded.image_path, image_sha256=excluded.image_sha256,
                       row_hash=excluded.row_hash, source=excluded.source, ingested_at=datetime('now')""",
                [
                    (
                        p.id,
                        p.title,
                        p.description,
                        p.price,
                        p.category,
                        json.dumps(p.attributes, ensure_ascii=False),
                        p.image_path,
                        p.image_sha256,
                        row_hash,
                        source,
                    )
                    for p, row_hash, source in rows
                ],
            )

    @staticmethod
    def _product(row: sqlite3.Row) -> Product:
        return Product(
            id=row["id"],
            title=row["title"],
            description=row["description"],
            price=row["price"],
            category=row["category"],
            attributes=json.loads(row["attributes"]),
            image_path=row["image_path"],
            image_sha256=row["image_sha256"],
        )

    def get_product(self, product_id: str) -> Product:
        row = self.conn().execute("SELECT * FROM products WHERE id=?", (str(product_id),)).fetchone()
        if row is None:
            raise NotFound(f"product {product_id!r} is not in the catalog")
        return self._product(row)

    def get_products(self, ids: Iterable[str]) -> dict[str, Product]:
        ids = [str(i) for i in ids]
        out: dict[str, Product] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            q = f"SELECT * FROM products WHERE id IN ({','.join('?' * len(chunk))})"
            out.update({r["id"]: self._product(r) for r in self.conn().execute(q, chunk)})
        return out

    def iter_products(self, batch: int = 1000) -> Iterator[Product]:
        last = ""
        while True:
            rows = self.conn().execute(
                "SELECT * FROM products WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield self._product(r)
            last = rows[-1]["id"]

    def filter_ids(self, filters: Iterable[Filter]) -> set[str]:
        """Ids of products matching every filter, evaluated in SQLite (attributes via json_extract)."""
        where, args = [], []
        for f in filters:
            if f.field in {"id", "title", "description", "price", "category"}:
                col = f.field
            else:
                path = ("$." + json.dumps(f.field)).replace("'", "''")
                col = f"json_extract(attributes, '{path}')"
            if f.op in {"=", "!="}:
                try:
                    num = float(f.value)
                except (TypeError, ValueError):
                    num = None
                if f.field == "price" and num is not None:
                    where.append(f"price {f.op} ?")
                    args.append(num)
                else:
                    where.append(f"lower(CAST({col} AS TEXT)) {'=' if f.op == '=' else '!='} ?")
                    args.append(str(f.value).lower())
                    if f.op == "!=":
                        where[-1] = f"({col} IS NULL OR {where[-1]})"
            else:
                where.append(f"CAST({col} AS REAL) {f.op} ? AND {col} IS NOT NULL AND trim(CAST({col} AS TEXT)) != ''")
                args.append(float(f.value))
        sql = "SELECT id FROM products" + (" WHERE " + " AND ".join(where) if where else "")
        return {r[0] for r in self.conn().execute(sql, args)}

    def has_field(self, field: str) -> bool:
        """True for a core column, or an attribute key that at least one product has (or an empty catalog)."""
        if field in {"id", "title", "description", "price", "category"}:
            return True
        path = "$." + json.dumps(field)
        row = self.conn().execute(
            "SELECT 1 FROM products WHERE json_extract(attributes, ?) IS NOT NULL LIMIT 1", (path,)
        ).fetchone()
        return row is not None or self.count_products() == 0

    def field_names(self, limit: int = 200) -> list[str]:
        """Core columns plus the attribute keys in the catalog (sorted), for error messages and UIs."""
        rows = self.conn().execute(
            "SELECT DISTINCT j.key FROM products, json_each(products.attributes) AS j ORDER BY j.key LIMIT ?", (limit,)
        ).fetchall()
        return ["id", "title", "description", "price", "category"] + [r[0] for r in rows]

    def count_products(self) -> int:
        return self.conn().execute("SELECT COUNT(*) FROM products").fetchone()[0]

    def product_ids(self) -> list[str]:
        return [r[0] for r in self.conn().execute("SELECT id FROM products ORDER BY id")]

    def image_file(self, product_id: str) -> Path | None:
        product = self.get_product(product_id)
        if not product.image_path:
            return None
        return self.settings.images_dir / product.image_path

    # -- images ------------------------------------------------------------------------------
    def save_image_bytes(self, data: bytes, sha256: str, fmt: str) -> str:
        """Store bytes content-addressed (dedup for free); returns the path relative to images_dir."""
        ext = {"JPEG": "jpg", "MPO": "jpg"}.get(fmt, fmt.lower())
        rel = f"{sha256[:2]}/{sha256}.{ext}"
        dest = self.settings.images_dir / rel
        if dest.exists():
            return rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return rel

    # -- image features ----------------------------------------------------------------------
    def ids_missing_features(self, encoder: str) -> list[str]:
        q = """SELECT p.id FROM products p LEFT JOIN image_features f ON f.product_id = p.id
               WHERE p.image_path IS NOT NULL
                 AND (f.product_id IS NULL OR f.encoder != ? OR f.image_sha256 != p.image_sha256)
               ORDER BY p.id"""
        return [r[0] for r in self.conn().execute(q, (encoder,))]

    def put_features(self, items: list[ImageFeatures]) -> None:
        with self._write_lock, transaction(self.conn()) as c:
            c.executemany(
                """INSERT OR REPLACE INTO image_features
                   (product_id, image_sha256, encoder, feat, colour, bridge, top_classes) VALUES (?,?,?,?,?,?,?)""",
                [
                    (
                        f.product_id,
                        f.image_sha256,
                        f.encoder,
                        _blob(f.feat, _F16),
                        _blob(f.colour),
                        _blob(f.bridge),
                        json.dumps(f.top_classes),
                    )
                    for f in items
                ],
            )

    def update_bridges(self, rows: list[tuple[str, np.ndarray, list]]) -> None:
        """Replace (product_id, bridge vector, top classes) in place, e.g. after the bridge changed."""
        with self._write_lock, transaction(self.conn()) as c:
            c.executemany(
                "UPDATE image_features SET bridge=?, top_classes=? WHERE product_id=?",
                [(_blob(vec), json.dumps(tops), pid) for pid, vec, tops in rows],
            )

    def load_features(self, ids: list[str] | None = None) -> tuple[list[str], dict[str, np.ndarray]]:
        """Stacked feature matrices (`feat`, `colour`, `bridge`) for `ids` (all when None), same order."""
        if ids is None:
            rows = self.conn().execute(
                "SELECT product_id, feat, colour, bridge FROM image_features ORDER BY product_id"
            ).fetchall()
        else:
            rows = []
            for start in range(0, len(ids), 900):
                chunk = ids[start : start + 900]
                q = f"SELECT product_id, feat, colour, bridge FROM image_features WHERE product_id IN ({','.join('?' * len(chunk))})"
                rows.extend(self.conn().execute(q, chunk).fetchall())
            order = {pid: i for i, pid in enumerate(ids)}
            rows.sort(key=lambda r: order[r["product_id"]])
        got = [r["product_id"] for r in rows]
        if not rows:
            return got, {"feat": np.zeros((0, 0), np.float32), "colour": np.zeros((0, 0)), "bridge": np.zeros((0, 0))}
        return got, {
            "feat": np.vstack([_unblob(r["feat"], _F16) for r in rows]),
            "colour": np.vstack([_unblob(r["colour"]) for r in rows]),
            "bridge": np.vstack([_unblob(r["bridge"]) for r in rows]),
        }

    def top_classes(self, product_id: str) -> list[list]:
        row = self.conn().execute("SELECT top_classes FROM image_features WHERE product_id=?", (product_id,)).fetchone()
        return json.loads(row[0]) if row else []

    # -- text vectors ------------------------------------------------------------------------
    def text_hashes(self, encoder: str) -> dict[str, str]:
        return {
            r[0]: r[1]
            for r in self.conn().execute("SELECT product_id, text_hash FROM text_vectors WHERE encoder=?", (encoder,))
        }

    def put_text_vectors(self, encoder: str, items: list[tuple[str, str, np.ndarray]]) -> None:
        with self._write_lock, transaction(self.conn()) as c:
            c.executemany(
                "INSERT OR REPLACE INTO text_vectors (product_id, encoder, text_hash, vec) VALUES (?,?,?,?)",
                [(pid, encoder, h, _blob(v, _F16)) for pid, h, v in items],
            )

    def load_text_vectors(self, encoder: str) -> tuple[list[str], np.ndarray]:
        rows = self.conn().execute(
            "SELECT product_id, vec FROM text_vectors WHERE encoder=? ORDER BY product_id", (encoder,)
        ).fetchall()
        if not rows:
            return [], np.zeros((0, 0), np.float32)
        return [r[0] for r in rows], np.vstack([_unblob(r[1], _F16) for r in rows])

    # -- tags and OCR ------------------------------------------------------------------------
    def put_tags(self, tags: list[ProductTags]) -> None:
        with self._write_lock, transaction(self.conn()) as c:
            c.executemany(
                "INSERT OR REPLACE INTO tags (product_id, source, body) VALUES (?,?,?)",
                [(t.product_id, t.source, t.model_dump_json()) for t in tags],
            )

    def get_tags(self, product_id: str) -> ProductTags | None:
        row = self.conn().execute("SELECT body FROM tags WHERE product_id=?", (str(product_id),)).fetchone()
        if row is None:
            return None
        tags = ProductTags.model_validate_json(row[0])
        ocr = self.get_ocr(product_id)
        if ocr is not None:
            tags.ocr_text = ocr
        return tags

    def all_tags(self) -> dict[str, ProductTags]:
        return {r[0]: ProductTags.model_validate_json(r[1]) for r in self.conn().execute("SELECT product_id, body FROM tags")}

    def ids_missing_ocr(self) -> list[str]:
        q = """SELECT p.id FROM products p LEFT JOIN ocr o ON o.product_id = p.id
               WHERE p.image_path IS NOT NULL AND o.product_id IS NULL ORDER BY p.id"""
        return [r[0] for r in self.conn().execute(q)]

    def put_ocr(self, items: list[tuple[str, bool, str, list]]) -> None:
        with self._write_lock, transaction(self.conn()) as c:
            c.executemany(
                "INSERT OR REPLACE INTO ocr (product_id, has_text, text, lines) VALUES (?,?,?,?)",
                [(pid, int(has), text, json.dumps(lines, ensure_ascii=False)) for pid, has, text, lines in items],
            )

    def get_ocr(self, product_id: str) -> str | None:
        row = self.conn().execute("SELECT text FROM ocr WHERE product_id=?", (str(product_id),)).fetchone()
        return None if row is None else row[0]

    def all_ocr(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.conn().execute("SELECT product_id, text FROM ocr WHERE has_text=1")}

    # -- which products each vector collection holds, and in which version ---------------------
    def indexed_ids(self, collection: str, version: str) -> set[str]:
        q = "SELECT product_id FROM vector_state WHERE collection=? AND version=?"
        return {r[0] for r in self.conn().execute(q, (collection, version))}

    def mark_indexed(self, collection: str, ids: list[str], version: str) -> None:
        with self._write_lock, transaction(self.conn()) as c:
            c.executemany(
                "INSERT OR REPLACE INTO vector_state (collection, product_id, version) VALUES (?,?,?)",
                [(collection, pid, version) for pid in ids],
            )

    # -- errors and meta ---------------------------------------------------------------------
    def record_errors(self, run: str, errors: list[ItemError]) -> None:
        if not errors:
            return
        with self._write_lock, transaction(self.conn()) as c:
            c.executemany(
                "INSERT INTO item_errors (run, item, stage, reason) VALUES (?,?,?,?)",
                [(run, e.item, e.stage, e.reason) for e in errors],
            )

    def get_meta(self, key: str) -> str | None:
        row = self.conn().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        with self._write_lock:
            self.conn().execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?,?)", (key, value))


# The stores open in this process, by home. It stays process-wide on purpose: one database file
# must have one store (its write lock serialises every writer of that file), whichever app or older
# caller asks for it. The `Shopmind` app holds its home's store and closes it (`close_store`) if it
# opened it; state derived from the catalog lives on the store (`CatalogStore.derived`), not here.
_STORES: dict[Path, CatalogStore] = {}
_STORES_LOCK = threading.Lock()


def is_open(settings: Settings) -> bool:
    """Whether a store for `settings.home` is open in this process."""
    with _STORES_LOCK:
        return settings.home in _STORES


def close_store(settings: Settings) -> None:
    """Close and forget the store of `settings.home` (a later open_store reopens it)."""
    with _STORES_LOCK:
        store = _STORES.pop(settings.home, None)
    if store is not None:
        store.close()


def open_store(settings: Settings | None = None) -> CatalogStore:
    """The store for `settings.home` (one per home per process)."""
    settings = settings or get_settings()
    with _STORES_LOCK:
        store = _STORES.get(settings.home)
        if store is None:
            store = CatalogStore(settings)
            _STORES[settings.home] = store
        return store
