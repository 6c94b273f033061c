"""Ad posters: the product photo, a headline, selling points and a price tag, in several templates.

Why templates + a foreground estimate: the headline must never sit on the product itself. Each
template reserves regions for the photo and the copy; `bold` (full-bleed photo) picks the text band
that overlaps the estimated product least. The result reports how much text landed on the product.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw
from pydantic import BaseModel

from shopmind.domain import Product
from shopmind.errors import BadInput
from shopmind.media import fonts
from shopmind.media.layout import (
    RATIOS,
    Box,
    border_colour,
    fit_contain,
    fit_cover,
    fit_text,
    foreground_mask,
    least_covered,
    mask_box,
    overlap_fraction,
)

Style = Literal["minimal", "bold", "split"]
STYLES: tuple[str, ...] = ("minimal", "bold", "split")
ACCENT = (214, 40, 57)  # promotional red, readable on white and on dark panels


class PosterResult(BaseModel):
    out: str | None = None
    width: int
    height: int
    style: Style
    ratio: str
    headline: str
    points: list[str]
    price: str | None
    product_box: list[int]
    text_boxes: list[list[int]]
    text_on_product: float  # max share of any text box covered by the product (0 = fully clear)
    cjk_font: bool


def price_label(price: float | None) -> str | None:
    if price is None:
        return None
    return f"¥{price:.0f}" if float(price).is_integer() else f"¥{price:.2f}"


_NOT_SELLING_POINTS = {"title", "title_en", "image", "image_url", "url", "sku", "id", "barcode", "ean"}


def _same_script(text: str, chinese: bool) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text)) == chinese


def default_copy(product: Product, max_points: int = 3) -> tuple[str, list[str]]:
    """Headline from the title; selling points from description clauses, then attributes.

    Points stay in the headline's script (a Chinese headline gets Chinese points when there are
    any), and identifier-like columns (title_en, sku, image …) are never read out as features.
    """
    headline = product.title.strip()
    chinese = bool(re.search(r"[\u4e00-\u9fff]", headline))
    clauses = [c.strip() for c in re.split(r"[。！!；;\n.]", product.description or "")]
    clauses = [c for c in clauses if 2 <= len(c) <= 30]
    attrs = []
    for key, value in product.attributes.items():
        value = str(value).strip()
        if (not value or value.upper() in {"NA", "N/A", "NONE"} or key.lower() in _NOT_SELLING_POINTS
                or key.lower().endswith(("_en", "_id", "_url")) or len(value) > 40 or value in headline):
            continue
        attrs.append(f"{key}{': ' if key.isascii() else '：'}{value}")
    ordered = [c for c in clauses if _same_script(c, chinese)] + [a for a in attrs if _same_script(a, chinese)]
    ordered += [c for c in clauses + attrs if c not in ordered]
    points: list[str] = []
    for item in ordered:
        if item not in points:
            points.append(item)
        if len(points) >= max_points:
            break
    return headline, points


def _lighten(rgb: tuple[int, int, int], amount: float = 0.35) -> tuple[int, int, int]:
    return tuple(int(c + (255 - c) * amount) for c in rgb)  # type: ignore[return-value]


def _luma(rgb: tuple[int, int, int]) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


class _Painter:
    """Draws the copy into a panel and remembers each text box (for the overlap check)."""

    def __init__(self, canvas: Image.Image) -> None:
        self.canvas = canvas
        self.draw = ImageDraw.Draw(canvas, "RGBA")
        self.boxes: list[Box] = []

    def text_block(self, text: str, box: Box, size: int, fill, max_lines: int) -> int:
        block = fit_text(text, box, fonts.font, max_size=size, max_lines=max_lines)
        y = box[1]
        for line in block.lines:
            l, t, r, b = self.draw.textbbox((box[0], y), line, font=block.font)
            self.draw.text((box[0], y), line, font=block.font, fill=fill)
            self.boxes.append((l, t, r, b))
            y += block.line_height
        return y

    def price_tag(self, price: str, anchor: tuple[int, int], size: int) -> None:
        fnt = fonts.font(size)
        l, t, r, b = self.draw.textbbox(anchor, price, font=fnt)
        pad = int(size * 0.3)
        self.draw.rounded_rectangle((l - pad, t - pad, r + pad, b + pad), radius=pad, fill=ACCENT)
        self.draw.text(anchor, price, font=fnt, fill=(255, 255, 255))
        self.boxes.append((l - pad, t - pad, r + pad, b + pad))

    def copy_panel(self, panel: Box, headline: str, points: list[str], price: str | None, fg, sub) -> None:
        x1, y1, x2, y2 = panel
        W = self.canvas.width
        ph = y2 - y1
        head_h = int(ph * (0.45 if points else 0.6))
        y = self.text_block(headline, (x1, y1, x2, y1 + head_h), int(W * 0.07), fg, max_lines=2)
        y = max(y, y1 + int(ph * 0.05)) + int(W * 0.01)
        price_h = int(W * 0.08) if price else 0
        room = max(1, y2 - price_h - y)
        for p in points:
            line_h = min(int(W * 0.045), max(18, room // max(1, len(points))))
            if y + line_h > y2 - price_h:
                break
            y = self.text_block("· " + p, (x1, y, x2, y + line_h), int(line_h * 0.8), sub, max_lines=1)
        if price:
            size = int(W * 0.06)
            self.price_tag(price, (x1 + int(size * 0.3), y2 - int(size * 1.3)), size)


def render_poster(
    product: Product,
    image: Image.Image,
    *,
    style: Style = "minimal",
    ratio: str = "3:4",
    headline: str | None = None,
    points: list[str] | None = None,
) -> tuple[Image.Image, PosterResult]:
    """Compose the poster in memory; `headline`/`points` override the copy taken from the product."""
    if style not in STYLES:
        raise BadInput(f"unknown poster style {style!r}; choose one of {', '.join(STYLES)}")
    if ratio not in RATIOS:
        raise BadInput(f"unknown ratio {ratio!r}; choose one of {', '.join(RATIOS)}")
    auto_head, auto_points = default_copy(product)
    head = (headline or auto_head).strip()
    if not head:
        raise BadInput("the poster needs a headline (the product has no title)")
    pts = [p.strip() for p in (points if points is not None else auto_points) if p and p.strip()][:4]
    price = price_label(product.price)
    W, H = RATIOS[ratio]
    src = image.convert("RGB")
    mask = foreground_mask(src)
    bg = border_colour(src)
    canvas_mask = np.zeros((H, W), dtype=bool)

    def place(crop: Box, dest: Box) -> Box:
        """Paste src[crop] into dest (contain), recording the product mask in canvas coordinates."""
        piece = src.crop(crop)
        rect = fit_contain(piece.width, piece.height, dest)
        size = (rect[2] - rect[0], rect[3] - rect[1])
        canvas.paste(piece.resize(size, Image.LANCZOS), rect[:2])
        m = Image.fromarray(mask[crop[1] : crop[3], crop[0] : crop[2]].astype(np.uint8) * 255).resize(size, Image.NEAREST)
        canvas_mask[rect[1] : rect[3], rect[0] : rect[2]] |= np.asarray(m) > 0
        return rect

    if style == "minimal":
        canvas = Image.new("RGB", (W, H), bg)
        painter = _Painter(canvas)
        product_rect = place(mask_box(mask), (int(W * 0.08), int(H * 0.05), int(W * 0.92), int(H * 0.63)))
        fg = (20, 20, 20) if _luma(bg) > 120 else (250, 250, 250)
        painter.copy_panel((int(W * 0.08), int(H * 0.67), int(W * 0.92), int(H * 0.96)), head, pts, price, fg, fg)
    elif style == "split":
        canvas = Image.new("RGB", (W, H), bg)
        painter = _Painter(canvas)
        panel_col = (28, 32, 44)
        if H > W:
            cut = int(H * 0.62)
            product_rect = place(mask_box(mask), (int(W * 0.06), int(H * 0.03), int(W * 0.94), cut - int(H * 0.02)))
            painter.draw.rectangle((0, cut, W, H), fill=panel_col)
            panel = (int(W * 0.07), cut + int(H * 0.03), int(W * 0.93), H - int(H * 0.03))
        else:
            cut = int(W * 0.55)
            product_rect = place(mask_box(mask), (int(W * 0.03), int(H * 0.06), cut - int(W * 0.02), int(H * 0.94)))
            painter.draw.rectangle((cut, 0, W, H), fill=panel_col)
            panel = (cut + int(W * 0.04), int(H * 0.08), W - int(W * 0.04), H - int(H * 0.06))
        painter.copy_panel(panel, head, pts, price, (255, 255, 255), (210, 214, 224))
    else:  # bold: full-bleed photo when a band stays clear of the product, else photo beside the band
        ys, xs = np.nonzero(mask)
        focus = (float(xs.mean()) / src.width, float(ys.mean()) / src.height) if xs.size else (0.5, 0.5)
        band_h = int(H * 0.3)
        candidates: list[Box] = [(0, H - band_h, W, H), (0, 0, W, band_h)]
        if W >= H:
            candidates += [(0, 0, int(W * 0.45), H), (int(W * 0.55), 0, W, H)]
        canvas = Image.new("RGB", (W, H), bg)
        painter = _Painter(canvas)
        product_rect = place(fit_cover(src.width, src.height, W, H, focus), (0, 0, W, H))
        band = least_covered(canvas_mask, candidates)
        if overlap_fraction(canvas_mask, band) > 0.05:
            canvas.paste(bg, (0, 0, W, H))
            canvas_mask[:] = False
            band = candidates[0]
            rest = (int(W * 0.04), int(H * 0.03), W - int(W * 0.04), band[1] - int(H * 0.01))
            product_rect = place(mask_box(mask), rest)
        painter.draw.rectangle(band, fill=(ACCENT[0] // 2, ACCENT[1] // 2, ACCENT[2] // 2, 235))
        m = int(W * 0.05)
        painter.copy_panel((band[0] + m, band[1] + m // 2, band[2] - m, band[3] - m // 2), head, pts, price, (255, 255, 255), (240, 230, 230))
    overlap = max((overlap_fraction(canvas_mask, b) for b in painter.boxes), default=0.0)
    result = PosterResult(
        width=W, height=H, style=style, ratio=ratio, headline=head, points=pts, price=price,
        product_box=[int(v) for v in product_rect], text_boxes=[[int(v) for v in b] for b in painter.boxes],
        text_on_product=round(overlap, 4), cjk_font=fonts.has_cjk_font(),
    )
    return canvas, result


def make_poster(product: Product, image_path: str | Path, out: str | Path, **kwargs) -> PosterResult:
    """Render and save a poster (PNG or JPEG by the suffix of `out`)."""
    from shopmind.catalog.images import open_image
    from shopmind.media.redact import save_image_atomic

    image = open_image(Path(image_path)).image
    canvas, result = render_poster(product, image, **kwargs)
    save_image_atomic(canvas, Path(out))
    result.out = str(out)
    return result
