"""Render a small, self-made demo catalog: product silhouettes in named colours, with attribute rows.

Nothing here comes from outside the project: shapes are drawn with PIL, titles are composed from
bilingual vocabularies, and a few rows are deliberately broken (missing, corrupt, zero-byte image,
malformed price) so the demo shows how bad input is reported without stopping the batch.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)

COLOURS: dict[str, tuple[str, tuple[int, int, int]]] = {
    "Red": ("红色", (200, 30, 40)),
    "Blue": ("蓝色", (35, 70, 190)),
    "Black": ("黑色", (25, 25, 28)),
    "White": ("白色", (238, 238, 232)),
    "Green": ("绿色", (40, 150, 70)),
    "Yellow": ("黄色", (235, 200, 40)),
    "Pink": ("粉色", (240, 150, 180)),
    "Grey": ("灰色", (128, 128, 128)),
}


@dataclass(frozen=True)
class Kind:
    article_en: str
    article_zh: str
    category: str
    base_price: float
    materials: tuple[tuple[str, str], ...]


KINDS = (
    Kind("Tshirts", "T恤", "Apparel", 79.0, (("cotton", "纯棉"), ("modal", "莫代尔"))),
    Kind("Dresses", "连衣裙", "Apparel", 239.0, (("chiffon", "雪纺"), ("linen", "亚麻"))),
    Kind("Trousers", "长裤", "Apparel", 159.0, (("denim", "牛仔布"), ("cotton", "纯棉"))),
    Kind("Shoes", "鞋", "Footwear", 299.0, (("leather", "真皮"), ("canvas", "帆布"))),
    Kind("Handbags", "手提包", "Accessories", 359.0, (("leather", "真皮"), ("nylon", "尼龙"))),
    Kind("Caps", "帽子", "Accessories", 59.0, (("cotton", "纯棉"), ("polyester", "涤纶"))),
)
STYLES = (("casual", "休闲"), ("sporty", "运动"), ("elegant", "优雅"), ("minimalist", "简约"))
GENDERS = (("Women", "女款"), ("Men", "男款"), ("Unisex", "中性"))
PRINTS = ("限时特价 ¥99", "NEW ARRIVAL 新品", "100% COTTON 纯棉", "SALE 五折")


def cjk_font(size: int) -> ImageFont.ImageFont:
    """A font that can draw Chinese, or PIL's default (Latin only) when none is installed."""
    for path in CJK_FONT_CANDIDATES:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def has_cjk_font() -> bool:
    return any(Path(p).is_file() for p in CJK_FONT_CANDIDATES)


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(max(0, min(255, int(c * factor))) for c in rgb)  # type: ignore[return-value]


def _silhouette(draw: ImageDraw.ImageDraw, kind: str, box: tuple[float, float, float, float], fill, edge) -> None:
    """Draw one garment/item outline inside box (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0

    def P(fx: float, fy: float) -> tuple[float, float]:
        return (x0 + fx * w, y0 + fy * h)

    if kind == "Tshirts":
        pts = [P(.3, .05), P(.42, .12), P(.58, .12), P(.7, .05), P(1, .25), P(.85, .42), P(.78, .35),
               P(.78, 1), P(.22, 1), P(.22, .35), P(.15, .42), P(0, .25)]
    elif kind == "Dresses":
        pts = [P(.38, 0), P(.62, 0), P(.66, .3), P(.6, .4), P(.95, 1), P(.05, 1), P(.4, .4), P(.34, .3)]
    elif kind == "Trousers":
        pts = [P(.2, 0), P(.8, 0), P(.88, 1), P(.6, 1), P(.5, .3), P(.4, 1), P(.12, 1)]
    elif kind == "Shoes":
        pts = [P(0, .55), P(.35, .5), P(.55, .3), P(.7, .3), P(.75, .5), P(1, .62), P(1, .8), P(0, .8)]
    elif kind == "Handbags":
        draw.arc([P(.3, .05), P(.7, .55)], 180, 360, fill=edge, width=max(3, int(w * .04)))
        pts = [P(.1, .3), P(.9, .3), P(1, 1), P(0, 1)]
    else:  # Caps
        draw.pieslice([P(.15, .2), P(.85, 1.2)], 180, 360, fill=fill, outline=edge, width=3)
        pts = [P(.5, .68), P(1, .68), P(.95, .78), P(.5, .74)]
    draw.polygon(pts, fill=fill, outline=edge)


def render_product_image(kind: str, rgb: tuple[int, int, int], rng: random.Random, text: str | None = None,
                         size: int = 256) -> Image.Image:
    """A product shot: off-white studio background, soft shadow, the item, optional printed text."""
    bg = (248, 247, 244) if sum(rgb) < 650 else (205, 210, 218)  # keep white items visible
    img = Image.new("RGB", (size, size), bg)
    shadow = Image.new("L", (size, size), 0)
    margin = size * rng.uniform(0.12, 0.2)
    dx, dy = rng.uniform(-8, 8), rng.uniform(-8, 8)
    box = (margin + dx, margin + dy, size - margin + dx, size - margin + dy)
    ImageDraw.Draw(shadow).ellipse([box[0], box[3] - 12, box[2], box[3] + 10], fill=90)
    img.paste(_shade(bg, 0.8), mask=shadow.filter(ImageFilter.GaussianBlur(6)))
    draw = ImageDraw.Draw(img)
    _silhouette(draw, kind, box, rgb, _shade(rgb, 0.6))
    # fabric texture: a few lighter stripes so items are not flat fills
    for _ in range(rng.randint(2, 5)):
        y = rng.uniform(box[1], box[3])
        draw.line([(box[0] + 10, y), (box[2] - 10, y + rng.uniform(-4, 4))], fill=_shade(rgb, 1.15), width=1)
    if text:
        font = cjk_font(max(14, size // 12))
        if not has_cjk_font():
            text = text.encode("ascii", "ignore").decode().strip() or "SALE"
        tw = draw.textlength(text, font=font)
        x, y = (size - tw) / 2, size * 0.86
        draw.rectangle([x - 6, y - 4, x + tw + 6, y + size // 12 + 6], fill=(255, 255, 255))
        draw.text((x, y), text, fill=(200, 0, 0), font=font)
    return img.rotate(rng.uniform(-4, 4), resample=Image.BICUBIC, fillcolor=bg)


FIELDS = ["id", "title", "title_en", "description", "price", "category", "articleType", "baseColour",
          "colour_zh", "gender", "material", "style", "image"]


def generate_demo_catalog(out_dir: Path, n_per_combo: int = 1, seed: int = 0, bad_rows: bool = True) -> Path:
    """Write `catalog.csv` and `images/` under out_dir; returns the CSV path. Deterministic per seed."""
    out_dir = Path(out_dir)
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    n = 0
    for kind in KINDS:
        for colour_en, (colour_zh, rgb) in COLOURS.items():
            for _ in range(n_per_combo):
                n += 1
                pid = f"D{n:04d}"
                material_en, material_zh = rng.choice(kind.materials)
                style_en, style_zh = rng.choice(STYLES)
                gender_en, gender_zh = rng.choice(GENDERS) if kind.category != "Accessories" else GENDERS[2]
                printed = PRINTS[(n // 4) % len(PRINTS)] if n % 4 == 0 else None
                price = round(kind.base_price * rng.uniform(0.7, 1.4)) - 0.1
                if printed and "¥99" in printed:
                    price = 99.0
                jitter = tuple(max(0, min(255, c + rng.randint(-12, 12))) for c in rgb)
                img = render_product_image(kind.article_en, jitter, rng, printed)
                img.save(images / f"{pid}.jpg", quality=90)
                rows.append({
                    "id": pid,
                    "title": f"{colour_zh}{material_zh}{kind.article_zh} {gender_zh} {style_zh}风",
                    "title_en": f"{colour_en} {material_en} {kind.article_en.rstrip('s').lower()} · {gender_en.lower()} · {style_en}",
                    "description": f"{style_zh}{kind.article_zh}，{material_zh}面料，{colour_zh}。A {style_en} {colour_en.lower()} "
                                   f"{material_en} {kind.article_en.rstrip('s').lower()}.",
                    "price": f"{price:.2f}",
                    "category": kind.category,
                    "articleType": kind.article_en,
                    "baseColour": colour_en,
                    "colour_zh": colour_zh,
                    "gender": gender_en,
                    "material": material_en,
                    "style": style_en,
                    "image": f"images/{pid}.jpg",
                })
    if bad_rows:
        (images / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
        (images / "empty.jpg").write_bytes(b"")
        base = dict(rows[0])
        rows.append({**base, "id": "BAD-missing-image", "title": "图片缺失的商品 missing image", "image": "images/nope.jpg"})
        rows.append({**base, "id": "BAD-corrupt-image", "title": "损坏图片 corrupt image", "image": "images/broken.jpg"})
        rows.append({**base, "id": "BAD-empty-image", "title": "空图片 zero-byte image", "image": "images/empty.jpg"})
        rows.append({**base, "id": "BAD-price", "title": "价格格式错误 bad price", "price": "九十九", "image": ""})
        rows.append({**base, "id": "", "title": "no id"})
    path = out_dir / "catalog.csv"
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
    return path
