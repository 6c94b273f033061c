"""Product-category names: many spellings (zh/en, catalog values) map to the few the rules know."""

from __future__ import annotations

from shopmind.errors import BadInput

KNOWN = ("food", "cosmetics", "apparel", "health_products", "medical_device", "drug", "electronics", "education",
         "real_estate", "finance", "medical_service", "alcohol", "tobacco", "infant_food", "pet", "general")

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
    "education": "education", "edu": "education", "training": "education", "tutoring": "education",
    "course": "education", "courses": "education", "教育": "education", "培训": "education", "教育培训": "education",
    "教培": "education", "课程": "education", "考试培训": "education",
    "real_estate": "real_estate", "realestate": "real_estate", "property": "real_estate", "housing": "real_estate",
    "房地产": "real_estate", "房产": "real_estate", "楼盘": "real_estate", "商铺": "real_estate",
    "finance": "finance", "financial": "finance", "investment": "finance", "insurance": "finance",
    "wealth_management": "finance", "金融": "finance", "理财": "finance", "投资": "finance", "保险": "finance",
    "基金": "finance", "贷款": "finance",
    "medical_service": "medical_service", "medical_services": "medical_service", "clinic": "medical_service",
    "hospital": "medical_service", "medical_aesthetics": "medical_service", "医疗服务": "medical_service",
    "医疗": "medical_service", "医院": "medical_service", "诊所": "medical_service", "医美": "medical_service",
    "医疗美容": "medical_service",
    "alcohol": "alcohol", "liquor": "alcohol", "wine": "alcohol", "beer": "alcohol", "spirits": "alcohol",
    "酒": "alcohol", "酒类": "alcohol", "白酒": "alcohol", "啤酒": "alcohol", "葡萄酒": "alcohol",
    "tobacco": "tobacco", "cigarette": "tobacco", "cigarettes": "tobacco", "e_cigarette": "tobacco",
    "vape": "tobacco", "烟草": "tobacco", "香烟": "tobacco", "卷烟": "tobacco", "电子烟": "tobacco",
    "infant_food": "infant_food", "baby_food": "infant_food", "infant_formula": "infant_food",
    "formula": "infant_food", "婴幼儿食品": "infant_food", "婴儿食品": "infant_food", "奶粉": "infant_food",
    "婴幼儿配方食品": "infant_food", "婴幼儿配方乳粉": "infant_food", "辅食": "infant_food",
    "pet": "pet", "pets": "pet", "pet_supplies": "pet", "pet_food": "pet", "宠物": "pet", "宠物用品": "pet",
    "宠物食品": "pet",
    "general": "general", "other": "general", "通用": "general", "其他": "general",
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
