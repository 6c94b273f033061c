"""Column mapping: which field of a (possibly nested) record fills each core product field.

Catalog exports rarely use our names: `price_inr`, `{"price": {"current": 99}}`,
`{"descriptors": {"description": "…"}}`. The user can say `--map price=price.current`; when
they do not, the first existing path from a short list of common shapes is used. Every choice
is reported in the ingest summary so nothing is guessed silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shopmind.errors import BadInput

MAPPABLE = ("id", "title", "description", "price", "category", "image")

# Tried in order when the user gave no mapping for a field; the first path present in a record wins.
AUTO_CANDIDATES: dict[str, tuple[str, ...]] = {
    "id": ("id", "product_id", "productId", "sku", "item_id", "goods_id"),
    "title": ("title", "name", "product_name", "productDisplayName", "goods_name", "标题"),
    "description": (
        "description", "descriptors.description", "description.text", "description.value", "desc",
        "details.description", "body", "product_description", "描述",
    ),
    "price": (
        "price", "price.current", "price.value", "price.amount", "price.sale", "discounted_price",
        "discounted_price_inr", "sale_price", "price_inr", "price.mrp", "mrp", "list_price", "价格",
    ),
    "category": ("category", "category.name", "categories.0", "类目"),
    "image": ("image", "image_path", "image_url", "images.0", "image.path", "image.url", "img"),
}

_MISSING = object()


def lookup(record: Mapping[str, Any], path: str) -> Any:
    """Value at a dotted path (`price.current`, `images.0`), or `_MISSING`.

    An exact top-level key wins over the dotted reading, so flat CSV headers such as
    `price.current` still work.
    """
    if path in record:
        return record[path]
    value: Any = record
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def parse_map_options(options: Iterable[str]) -> dict[str, str]:
    """`["price=price.current", …]` -> {"price": "price.current"}; BadInput on bad syntax."""
    mapping: dict[str, str] = {}
    for option in options:
        field, sep, path = (option or "").partition("=")
        field, path = field.strip(), path.strip()
        if not sep or not field or not path:
            raise BadInput(f"--map {option!r}: use FIELD=path.in.record, e.g. price=price.current")
        if field not in MAPPABLE:
            raise BadInput(f"--map {option!r}: {field!r} is not a product field; choose from {', '.join(MAPPABLE)}")
        mapping[field] = path
    return mapping


class ColumnMapper:
    """Applies explicit and automatic mappings to raw records, remembering what it used."""

    def __init__(self, explicit: Mapping[str, str] | None = None) -> None:
        self.explicit = dict(explicit or {})
        self.used: dict[str, str] = {}  # field -> path actually used (first time seen)

    def apply(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
        """Core fields filled from their mapped paths (other keys kept), and the paths consumed.

        The caller leaves consumed paths out of the attributes, so a nested description is not
        stored twice.
        """
        out = dict(record)
        consumed: set[str] = set()
        for field in MAPPABLE:
            paths = (self.explicit[field],) if field in self.explicit else AUTO_CANDIDATES[field]
            for path in paths:
                value = lookup(record, path)
                if value is _MISSING or value is None or value == "" or isinstance(value, (dict, list)):
                    continue
                original = record.get(field)
                if isinstance(original, dict):  # e.g. price {current, mrp}: keep the other parts as attributes
                    for key, sub in original.items():
                        out.setdefault(f"{field}.{key}", sub)
                out[field] = value
                if path != field:
                    self.used.setdefault(field, path)
                    consumed.add(path)
                break
        return out, consumed

    def summary(self) -> dict[str, str]:
        """Mappings that were used, explicit ones marked, for the report."""
        return {f: (p if f not in self.explicit else f"{p} (--map)") for f, p in sorted(self.used.items())}
