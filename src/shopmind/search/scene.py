"""Scene-based recommendation: "what should I wear to the beach / office / a wedding / the gym / in
the rain?" -> catalog items with reasons.

Why rules over the catalog's own fields (plus the image classes) rather than embeddings: a scene is
an occasion, and catalogs already say what occasion an item is for (usage), when (season) and what
it is (article type); the product photo's ImageNet classes add evidence when those fields are
missing. Each matched field becomes a bilingual reason the shopper can read. A scene *photo* is
recognised with the same EfficientNet-Lite0 classifier the image backend already runs: ImageNet has
scene classes (seashore, sandbar, altar …) and telltale objects (dumbbell, umbrella, desk …).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, Field

from shopmind.domain import Product
from shopmind.errors import BadInput

WEIGHTS = {"article": 0.40, "usage": 0.25, "season": 0.15, "keywords": 0.15, "item_classes": 0.25}
AVOID_PENALTY = 0.6
MIN_PHOTO_SCORE = 0.04


class SceneGuess(BaseModel):
    scene: str
    score: float
    evidence: list[tuple[str, float]] = Field(default_factory=list)  # (ImageNet class, probability)
    scores: dict[str, float] = Field(default_factory=dict)


class SceneHit(BaseModel):
    id: str
    title: str
    score: float
    reasons_zh: list[str]
    reasons_en: list[str]


class SceneResult(BaseModel):
    scene: str
    scene_zh: str
    scene_en: str
    from_photo: SceneGuess | None = None
    items: list[SceneHit]
    candidates: int


@lru_cache(maxsize=1)
def scenes() -> dict[str, dict]:
    text = (resources.files("shopmind.search") / "data" / "scenes.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _norm(s: str) -> str:
    return re.sub(r"[\s_\-]+", " ", s.strip().lower())


def _field(product: Product, *names: str) -> str:
    wanted = {_norm(n).replace(" ", "") for n in names}
    for k, v in product.attributes.items():
        if _norm(k).replace(" ", "") in wanted and v:
            return str(v)
    if "category" in names and product.category:
        return product.category
    return ""


@lru_cache(maxsize=4096)
def _pattern(key: str) -> re.Pattern:
    k = _norm(key)
    return re.compile(rf"(?<![a-z]){re.escape(k)}(?![a-z])" if k.isascii() else re.escape(k))


def _best(value: str, table: dict) -> tuple[str, float] | None:
    """The strongest table entry that the value equals or contains (whole words for Latin text)."""
    v = _norm(value)
    if not v:
        return None
    best: tuple[str, float] | None = None
    for key, w in (table or {}).items():
        if (best is None or w > best[1]) and _pattern(str(key)).search(v):
            best = (str(key), float(w))
    return best


def score_product(product: Product, scene: str, top_classes: list | None = None) -> tuple[float, list[str], list[str]]:
    """Score of `product` for `scene` in [0, ~1] with the reasons (zh, en) behind it."""
    spec = scenes()[scene]
    zh: list[str] = []
    en: list[str] = []
    score = 0.0
    article = _field(product, "articleType", "article_type", "品类", "类型", "category", "subCategory")
    usage = _field(product, "usage", "用途", "场合", "风格")
    season = _field(product, "season", "季节", "适用季节")
    if (m := _best(article, spec.get("article", {}))) or (m := _best(product.title, spec.get("article", {}))):
        score += WEIGHTS["article"] * m[1]
        zh.append(f"品类「{m[0]}」适合{spec['zh']}")
        en.append(f"{m[0]}: right for {spec['en']}")
    if m := _best(usage, spec.get("usage", {})):
        score += WEIGHTS["usage"] * m[1]
        zh.append(f"用途：{usage}")
        en.append(f"made for {usage.lower()} wear")
    if m := _best(season, spec.get("season", {})):
        score += WEIGHTS["season"] * m[1]
        zh.append(f"适合季节：{season}")
        en.append(f"{season.lower()} season")
    words = [k for k in spec.get("keywords", []) if _best(f"{product.title} {product.description}", {k: 1.0})]
    if words:
        score += WEIGHTS["keywords"] * min(1.0, 0.6 + 0.2 * len(words))
        zh.append(f"标题提到：{'、'.join(words[:3])}")
        en.append(f"the title mentions {', '.join(words[:3])}")
    if top_classes:
        table = spec.get("item_classes", {})
        hits = [(name, float(p) * float(table[name])) for name, p in top_classes if name in table]
        if hits:
            name, s = max(hits, key=lambda h: h[1])
            score += WEIGHTS["item_classes"] * min(1.0, 2.0 * s)
            zh.append(f"图片识别为「{name}」")
            en.append(f"the photo looks like a {name}")
    avoid = spec.get("avoid", {})
    bad = _best(season, {k: 1.0 for k in avoid.get("season", [])}) or _best(usage, {k: 1.0 for k in avoid.get("usage", [])}) \
        or _best(article, {k: 1.0 for k in avoid.get("article", [])})
    if bad and score > 0:
        score -= AVOID_PENALTY * score
        zh.append(f"但「{bad[0]}」不太适合{spec['zh']}")
        en.append(f"but {bad[0]} is a poor fit for {spec['en']}")
    return round(score, 4), zh, en


def guess_scene(image, encoder=None) -> SceneGuess:
    """Recognise the scene in a photo from ImageNet class probabilities (EfficientNet-Lite0)."""
    from shopmind.models.registry import get
    from shopmind.understand.bridge import imagenet_class_names, softmax

    enc = encoder or get("image_encoder", "efficientnet-lite0")
    _, logits = enc.features_and_logits([image.convert("RGB")])
    probs = softmax(logits)[0]
    names = imagenet_class_names()
    index = {n: i for i, n in enumerate(names)}
    totals: dict[str, float] = {}
    for key, spec in scenes().items():
        totals[key] = float(sum(probs[index[c]] * w for c, w in spec.get("photo_classes", {}).items() if c in index))
    best = max(totals, key=totals.get)
    top = np.argsort(-probs)[:5]
    if totals[best] < MIN_PHOTO_SCORE:
        seen = ", ".join(names[i] for i in top[:3])
        raise BadInput(f"could not tell the scene from this photo (it looks like: {seen}); name one of {', '.join(scenes())}")
    return SceneGuess(scene=best, score=round(totals[best], 4), evidence=[(names[i], round(float(probs[i]), 4)) for i in top],
                      scores={k: round(v, 4) for k, v in totals.items()})


def recommend_for_scene(scene_or_photo: str, store, k: int = 10, encoder=None, allow_photo: bool = True) -> SceneResult:
    """Top-k catalog items for a scene name (beach, office, wedding, gym, rainy) or a scene photo path.

    `allow_photo=False` (the API) never treats the argument as a file path."""
    if not 1 <= k <= 200:
        raise BadInput("k must be between 1 and 200")
    guess = None
    key = scene_or_photo.strip().lower()
    aliases = {"rain": "rainy", "rainy day": "rainy", "海滩": "beach", "沙滩": "beach", "办公": "office", "通勤": "office",
               "婚礼": "wedding", "健身": "gym", "雨天": "rainy"}
    key = aliases.get(key, key)
    if key not in scenes():
        path = Path(scene_or_photo)
        if not allow_photo or not path.is_file():
            raise BadInput(f"unknown scene {scene_or_photo!r}: use one of {', '.join(scenes())} or a photo path")
        from shopmind.catalog.images import open_image

        guess = guess_scene(open_image(path).image, encoder)
        key = guess.scene
    spec = scenes()[key]
    hits: list[SceneHit] = []
    n = 0
    for product in store.iter_products():
        n += 1
        try:
            tops = store.top_classes(product.id)
        except Exception:  # noqa: BLE001 - untagged products simply have no image evidence
            tops = []
        s, zh, en = score_product(product, key, tops)
        if s > 0:
            hits.append(SceneHit(id=product.id, title=product.title, score=s, reasons_zh=zh, reasons_en=en))
    hits.sort(key=lambda h: (-h.score, h.id))
    return SceneResult(scene=key, scene_zh=spec["zh"], scene_en=spec["en"], from_photo=guess, items=_diverse(hits, k),
                       candidates=n)


def _diverse(hits: list[SceneHit], k: int, per_kind: int = 2) -> list[SceneHit]:
    """Best first, but at most `per_kind` items of one kind (first reason) per round, so an outfit emerges."""
    picked: list[SceneHit] = []
    rest = hits
    while rest and len(picked) < k:
        counts: dict[str, int] = {}
        later: list[SceneHit] = []
        for h in rest:
            kind = h.reasons_en[0] if h.reasons_en else ""
            if counts.get(kind, 0) < per_kind and len(picked) < k:
                counts[kind] = counts.get(kind, 0) + 1
                picked.append(h)
            else:
                later.append(h)
        rest = later if len(later) < len(rest) else []
    return picked
