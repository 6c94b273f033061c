"""Products for a session, from the catalog store or a JSON/JSON-lines file; bad records are reported, not fatal."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from shopmind.domain import ItemError, Product, ProductTags
from shopmind.errors import BadInput, NotFound


def parse_products(records: Sequence[object], source: str = "input") -> tuple[list[Product], list[ItemError]]:
    """Valid products in order, plus one ItemError per record that is not a product."""
    good, bad = [], []
    for i, rec in enumerate(records):
        try:
            if isinstance(rec, dict) and "id" in rec:
                rec = {**rec, "id": str(rec["id"])}
            good.append(Product.model_validate(rec))
        except ValidationError as exc:
            bad.append(ItemError(item=f"{source}[{i}]", stage="parse", reason=exc.errors(include_url=False)[0]["msg"]))
    return good, bad


def load_products_file(path: Path) -> tuple[list[Product], list[ItemError]]:
    """A JSON list, `{"products": [...]}`, or JSON lines of product records."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read products file {path}: {exc}") from None
    errors: list[ItemError] = []
    try:
        data = json.loads(text)
        records = data.get("products", []) if isinstance(data, dict) else data
    except json.JSONDecodeError:
        records = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    errors.append(ItemError(item=f"{Path(path).name}:{n}", stage="parse", reason=f"not JSON: {exc.msg}"))
    if not isinstance(records, list):
        raise BadInput(f"{path}: expected a list of products")
    good, bad = parse_products(records, source=Path(path).name)
    return good, errors + bad


def products_from_store(ids: Sequence[str], store) -> tuple[list[Product], dict[str, ProductTags], list[ItemError]]:
    """Products (and their image tags when tagged) from `store` (the app's catalog); unknown ids become ItemErrors."""
    products, tags, errors = [], {}, []
    for pid in ids:
        try:
            products.append(store.get_product(pid))
        except NotFound as exc:
            errors.append(ItemError(item=str(pid), stage="lookup", reason=exc.message))
            continue
        t = store.get_tags(pid)
        if t is not None:
            tags[pid] = t
    return products, tags, errors
