"""Product facts the copy must stay grounded in: from the catalog (attributes, image tags, OCR) or
from a free attribute string such as AdvertiseGen's `类型#上衣*材质#牛仔布*颜色#白色`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from shopmind.errors import BadInput

MAX_ATTRIBUTE_CHARS = 4000
_TAG_COLOUR_MIN_SHARE = 0.15
_TAG_LABEL_MIN_SCORE = 0.5
# AdvertiseGen's garment types map to the compliance engine's "apparel" rules.
_APPAREL_TYPES = {"上衣", "裙", "裤", "外套", "鞋", "连衣裙", "衬衫", "T恤", "卫衣", "毛衣"}


class ProductFacts(BaseModel):
    """Everything the writer may state; anything else it says is unverified."""

    source: Literal["catalog", "attributes"]
    product_id: str | None = None
    title: str | None = None
    category: str | None = None  # product category; the loop maps it to compliance rules when known
    price: float | None = None
    attributes: list[tuple[str, str]] = Field(default_factory=list)  # ordered; keys may repeat
    colours: list[str] = Field(default_factory=list)  # seen in the image (zh / en names)
    image_labels: list[str] = Field(default_factory=list)
    ocr_text: str | None = None
    description: str | None = None
    selling_points: list[str] = Field(default_factory=list)  # supplied by the merchant: facts too

    def texts(self) -> list[str]:
        """Every fact string (for the fact checker's "is this stated anywhere" tests)."""
        out = [v for _, v in self.attributes] + [k for k, _ in self.attributes]
        out += self.colours + self.image_labels + self.selling_points
        out += [t for t in (self.title, self.ocr_text, self.description) if t]
        if self.price is not None:
            out.append(f"{self.price:g}")
        return out

    def grouped(self) -> dict[str, list[str]]:
        """Attributes grouped by key, values in order (prompts read better that way)."""
        groups: dict[str, list[str]] = {}
        for key, value in self.attributes:
            groups.setdefault(key, [])
            if value not in groups[key]:
                groups[key].append(value)
        return groups


def parse_attribute_string(text: str) -> list[tuple[str, str]]:
    """`k#v*k#v` → [(k, v), …]; a malformed pair is a BadInput naming it."""
    if not isinstance(text, str) or not text.strip():
        raise BadInput("attribute string is empty")
    if len(text) > MAX_ATTRIBUTE_CHARS:
        raise BadInput(f"attribute string too long ({len(text)} chars, max {MAX_ATTRIBUTE_CHARS})")
    pairs: list[tuple[str, str]] = []
    for raw in text.strip().split("*"):
        if not raw.strip():
            continue
        key, sep, value = raw.partition("#")
        if not sep or not key.strip() or not value.strip():
            raise BadInput(f"attribute {raw!r} is not of the form key#value (e.g. 类型#上衣*颜色#白色)",
                           detail={"pair": raw})
        pairs.append((key.strip(), value.strip()))
    if not pairs:
        raise BadInput("attribute string holds no key#value pairs")
    return pairs


def _apparel_category(pairs: list[tuple[str, str]]) -> str | None:
    for key, value in pairs:
        if key in {"类型", "type", "category"} and (value in _APPAREL_TYPES or value.endswith(("裙", "裤", "衣"))):
            return "apparel"
    return None


def from_attributes(text: str, *, selling_points: list[str] | None = None, price: float | None = None,
                    category: str | None = None) -> ProductFacts:
    """Facts from an AdvertiseGen-style attribute string."""
    pairs = parse_attribute_string(text)
    return ProductFacts(source="attributes", attributes=pairs, price=price,
                        category=category or _apparel_category(pairs), selling_points=_clean_points(selling_points))


def _clean_points(points: list[str] | None) -> list[str]:
    out = []
    for p in points or []:
        if not isinstance(p, str):
            raise BadInput("selling points must be strings")
        if p.strip():
            out.append(p.strip())
    return out


def from_product(product_id: str, *, store: Any = None, selling_points: list[str] | None = None,
                 category: str | None = None) -> ProductFacts:
    """Facts of a catalog product: its fields and attributes, confident image tags and OCR text.

    `store` is the catalog the product lives in (the app's `Shopmind.store`); this module never opens
    one itself, so two apps on two homes in one process each read their own products."""
    if store is None:
        raise TypeError("from_product needs the catalog store: pass store= (e.g. Shopmind.open(home).store), "
                        "or call shopmind.ops.write(app, ...)")
    product = store.get_product(product_id)  # NotFound propagates with the id
    tags = store.get_tags(product_id)
    pairs = [(k, str(v)) for k, v in product.attributes.items() if str(v).strip()]
    colours: list[str] = []
    labels: list[str] = []
    ocr = None
    if tags is not None:
        for c in tags.colours:
            if c.share >= _TAG_COLOUR_MIN_SHARE:
                colours += [c.name_zh, c.name_en]
        for ranked in tags.labels.values():
            if ranked and ranked[0].score >= _TAG_LABEL_MIN_SCORE:
                labels += [x for x in (ranked[0].label_zh, ranked[0].label) if x]
        ocr = tags.ocr_text or None
    if ocr is None and hasattr(store, "get_ocr"):
        ocr = store.get_ocr(product_id) or None
    return ProductFacts(
        source="catalog", product_id=product.id, title=product.title, price=product.price,
        category=category or product.category, attributes=pairs, colours=colours,
        image_labels=labels, ocr_text=ocr, description=(product.description or None) and product.description[:600],
        selling_points=_clean_points(selling_points),
    )
