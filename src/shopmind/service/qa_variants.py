"""Finds a product's variants in the catalog: same title stem (colour/size words removed) or
same brand + article type, so Q&A can answer "what other colours does this come in?".

The index is built once per catalog state (row count, last ingest time, title lengths) and
reused across questions; a re-ingest changes the signature and triggers a rebuild.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shopmind.catalog.store import CatalogStore
from shopmind.domain import Product
from shopmind.service.qa_lexicon import Lexicon, load_lexicon

_SIZE_TOKENS = {"xxs", "xs", "s", "m", "l", "xl", "xxl", "xxxl", "2xl", "3xl", "4xl", "free", "size", "码"}
_NON_WORD = re.compile(r"[^0-9a-z\u4e00-\u9fff]+")
_NA = {"", "na", "n/a", "none", "null", "-", "nan"}


@dataclass(frozen=True)
class VariantRef:
    """Another catalog product related to the asked one, with what distinguishes it."""

    id: str
    title: str
    colour: str | None
    size: str | None


@dataclass
class VariantIndex:
    by_stem: dict[str, list[VariantRef]] = field(default_factory=dict)
    by_line: dict[tuple[str, str], list[VariantRef]] = field(default_factory=dict)
    brands: set[str] = field(default_factory=set)


def attribute_by_field(product: Product, wanted: str, lex: Lexicon) -> str | None:
    """First non-empty attribute whose column maps to canonical field `wanted`."""
    for key, value in product.attributes.items():
        if lex.field_for_key(key) == wanted and str(value).strip().lower() not in _NA:
            return str(value).strip()
    return None


def colour_of(product: Product, lex: Lexicon) -> str | None:
    colour = attribute_by_field(product, "colour", lex)
    if colour:
        return colour
    title = product.title.lower()
    found = [v for v, kind in lex.value_kind.items() if kind == "colour" and re.search(rf"(?<![a-z]){re.escape(v)}(?![a-z])", title)]
    return max(found, key=len).title() if found else None


def title_stem(product: Product, lex: Lexicon) -> str:
    """Title with colour and size words removed: variants of one style share it."""
    text = product.title.lower()
    colours = sorted((v for v, kind in lex.value_kind.items() if kind == "colour"), key=len, reverse=True)
    own = colour_of(product, lex)
    if own:
        colours.insert(0, own.lower())
    for colour in colours:
        text = re.sub(rf"(?<![a-z]){re.escape(colour)}(?![a-z])", " ", text)
    for zh in (lex.zh(c) for c in colours):
        if zh:
            text = text.replace(zh, " ")
    tokens = [t for t in _NON_WORD.split(text) if t and t not in _SIZE_TOKENS]
    return " ".join(tokens)


def line_key(product: Product, lex: Lexicon) -> tuple[str, str] | None:
    brand = attribute_by_field(product, "brand", lex)
    kind = attribute_by_field(product, "article_type", lex) or product.category
    if not brand or not kind:
        return None
    return brand.lower(), kind.lower()


def _ref(product: Product, lex: Lexicon) -> VariantRef:
    return VariantRef(product.id, product.title, colour_of(product, lex), attribute_by_field(product, "size", lex))


def build_index(store: CatalogStore, lex: Lexicon | None = None) -> VariantIndex:
    lex = lex or load_lexicon()
    index = VariantIndex()
    for product in store.iter_products():
        ref = _ref(product, lex)
        stem = title_stem(product, lex)
        if stem:
            index.by_stem.setdefault(stem, []).append(ref)
        key = line_key(product, lex)
        if key:
            index.by_line.setdefault(key, []).append(ref)
        brand = attribute_by_field(product, "brand", lex)
        if brand:
            index.brands.add(brand)
    return index


def _signature(store: CatalogStore) -> tuple:
    row = store.conn().execute(
        "SELECT COUNT(*), MAX(ingested_at), TOTAL(LENGTH(title)), TOTAL(LENGTH(attributes)) FROM products"
    ).fetchone()
    return tuple(row)


def get_index(store: CatalogStore) -> VariantIndex:
    """The variant index of this store's current catalog (rebuilt after any change). It is kept on the
    store (the app's, one per home), so two homes never share one and it goes when the store closes."""
    return store.derived("qa_variants", _signature(store), lambda: build_index(store))


def find_variants(store: CatalogStore, product: Product) -> tuple[list[VariantRef], list[VariantRef]]:
    """(same-style variants by title stem, other products of the same brand + article type)."""
    lex = load_lexicon()
    index = get_index(store)
    stem = title_stem(product, lex)
    same_style = [r for r in index.by_stem.get(stem, []) if r.id != product.id] if stem else []
    style_ids = {r.id for r in same_style}
    key = line_key(product, lex)
    same_line = [r for r in index.by_line.get(key, []) if r.id != product.id and r.id not in style_ids] if key else []
    return same_style, same_line
