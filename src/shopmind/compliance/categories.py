"""Product-category names: many spellings (zh/en, catalog values) map to the few the rules know."""

from __future__ import annotations

from shopmind.errors import BadInput

KNOWN = ("food", "cosmetics", "apparel", "health_products", "medical_device", "drug", "electronics", "general")

_ALIASES: dict[str, str] = {
    "food": "food", "foods": "food", "ordinary_food": "food", "snack": "food", "snacks": "food", "beverage": "food",
    "食品": "food", "普通食品": "food", "零食": "food", "饮料": "food",
    "cosmetics": "cosmetics", "cosmetic": "cosmetics", "beauty": "cosmetics", "skincare": "cosmetics",
    "makeup": "cosmetics", "化妆品": "cosmetics", "美妆": "cosmetics", "护肤品": "cosmetics",
    "apparel": "apparel", "clothing": "apparel", "fashion": "apparel", "shoes": "apparel", "服装": "apparel",
    "服饰": "apparel", "女装": "apparel", "男装": "apparel", "鞋": "apparel",
    "health_products": "health_products", "health_product": "health_products", "health_food": "health_products",
    "supplements": "health_products", "supplement": "health_products", "保健品": "health_products",
    "保健食品": "health_products",
    "medical_device": "medical_device", "device": "medical_device", "devices": "medical_device",
    "医疗器械": "medical_device",
    "drug": "drug", "drugs": "drug", "medicine": "drug", "药品": "drug",
    "electronics": "electronics", "electronic": "electronics", "digital": "electronics", "数码": "electronics",
    "电子产品": "electronics", "家电": "electronics",
    "general": "general", "other": "general", "通用": "general",
}


def normalise_category(category: str | None) -> str | None:
    """Map a caller's category to a rule category; unknown names are a BadInput (typos would hide violations)."""
    if category is None or not str(category).strip():
        return None
    key = str(category).strip().lower().replace("-", "_").replace(" ", "_")
    if key not in _ALIASES:
        raise BadInput(f"unknown product category {category!r}; use one of {', '.join(KNOWN)} (or a zh alias)",
                       detail={"category": category, "known": list(KNOWN)})
    return _ALIASES[key]
