"""Catalog browsing for the console grid: keyset pages over the products table, and small cached thumbnails.

Why keyset paging on the primary key (`WHERE id > ? ORDER BY id LIMIT n`) and not OFFSET: the page
costs the same at product 40,000 as at product 1, so the grid stays fast over a 43k catalog. The
filters (category, price range, title words) narrow the same indexed walk.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from shopmind.domain import Product

PAGE = 48
THUMB_PX = 200


@dataclass
class Page:
    products: list[Product]
    first: str | None
    last: str | None
    has_prev: bool
    has_next: bool
    total: int


def _where(category: str | None, q: str | None, min_price: float | None, max_price: float | None) -> tuple[str, list]:
    clauses, args = [], []
    if category:
        clauses.append("category = ?")
        args.append(category)
    if q:
        for word in q.split()[:5]:
            clauses.append("title LIKE ? ESCAPE '\\'")
            args.append("%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    if min_price is not None:
        clauses.append("price >= ?")
        args.append(min_price)
    if max_price is not None:
        clauses.append("price <= ?")
        args.append(max_price)
    return (" AND ".join(clauses) or "1"), args


def page(store, *, after: str | None = None, before: str | None = None, category: str | None = None, q: str | None = None,
         min_price: float | None = None, max_price: float | None = None, size: int = PAGE) -> Page:
    """One page of products in id order, after `after` (next) or before `before` (previous)."""
    where, args = _where(category, q, min_price, max_price)
    conn = store.conn()
    if before is not None:
        rows = conn.execute(f"SELECT id FROM products WHERE {where} AND id < ? ORDER BY id DESC LIMIT ?",
                            (*args, before, size + 1)).fetchall()
        ids = [r[0] for r in rows][:size][::-1]
        has_prev, has_next = len(rows) > size, True
    else:
        rows = conn.execute(f"SELECT id FROM products WHERE {where} AND id > ? ORDER BY id LIMIT ?",
                            (*args, after or "", size + 1)).fetchall()
        ids = [r[0] for r in rows][:size]
        has_prev, has_next = after is not None, len(rows) > size
    total = conn.execute(f"SELECT COUNT(*) FROM products WHERE {where}", args).fetchone()[0]
    found = store.get_products(ids)
    products = [found[i] for i in ids if i in found]
    return Page(products, ids[0] if ids else None, ids[-1] if ids else None, has_prev, has_next, int(total))


def categories(store, limit: int = 200) -> list[str]:
    rows = store.conn().execute("SELECT DISTINCT category FROM products WHERE category IS NOT NULL AND category != '' "
                              "ORDER BY category LIMIT ?", (limit,)).fetchall()
    return [r[0] for r in rows]


def thumbnail(store, product_id: str, cache_dir: Path) -> bytes | None:
    """A JPEG at most THUMB_PX on its long side, made once per image (the file name carries the image hash)."""
    src = store.image_file(product_id)
    if src is None or not src.is_file():
        return None
    key = hashlib.sha256(f"{src.name}|{THUMB_PX}".encode()).hexdigest()[:24]
    cached = cache_dir / f"{key}.jpg"
    if cached.is_file():
        return cached.read_bytes()
    with Image.open(src) as img:
        img.draft("RGB", (THUMB_PX * 2, THUMB_PX * 2))  # JPEG decoders skip detail we would throw away
        img = img.convert("RGB")
        img.thumbnail((THUMB_PX, THUMB_PX))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80, optimize=True)
    data = buf.getvalue()
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(cached)
    return data
