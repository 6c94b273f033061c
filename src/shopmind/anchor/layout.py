"""What goes on an anchor/livestream frame besides the face: watermark, subtitles, product card,
price banner and coupon countdown.

Why overlays are pre-rendered RGBA strips: text rasterisation with a CJK font costs milliseconds,
a frame budget at 25 fps is 40 ms on one core, so every string is drawn once (PIL) and per frame
only alpha-blended into a small region (numpy). The AI-generated mark is part of `Overlay.blend`'s
callers' contract: `stamp_watermark` runs on every frame the studio emits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from shopmind.media import fonts

WATERMARK_TEXT = "AI生成 / AI-generated"
ACCENT = (226, 54, 54)


@dataclass
class Overlay:
    """A pre-rendered RGBA image and where it goes (top-left corner, px)."""

    rgba: np.ndarray
    x: int = 0
    y: int = 0

    def blend(self, frame: np.ndarray, opacity: float = 1.0, x: int | None = None, y: int | None = None) -> None:
        x = self.x if x is None else x
        y = self.y if y is None else y
        h, w = self.rgba.shape[:2]
        H, W = frame.shape[:2]
        x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
        if x1 <= x0 or y1 <= y0:
            return
        src = self.rgba[y0 - y : y1 - y, x0 - x : x1 - x]
        a = src[..., 3:4].astype(np.float32) * (opacity / 255.0)
        region = frame[y0:y1, x0:x1]
        region[:] = (region * (1 - a) + src[..., :3] * a).astype(np.uint8)


def text_panel(text: str, max_width: int, size: int, fill=(255, 255, 255, 255), panel=(0, 0, 0, 150),
               max_lines: int = 2, radius: int | None = None) -> np.ndarray:
    """Wrapped text on a rounded translucent panel, centred, as an RGBA array."""
    font = fonts.font(size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines: list[str] = []
    cur = ""
    for ch in text:
        trial = cur + ch
        if probe.textlength(trial, font=font) > max_width - size and cur:
            lines.append(cur)
            cur = ch.lstrip()
        else:
            cur = trial
    if cur:
        lines.append(cur)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][:-1] + "…"
    widths = [probe.textlength(ln, font=font) for ln in lines] or [0]
    lh = int(size * 1.3)
    pad = size // 2
    w = int(min(max_width, max(widths) + 2 * pad))
    h = lh * len(lines) + pad
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((0, 0, w - 1, h - 1), radius=radius if radius is not None else pad, fill=panel)
    y = pad // 2
    for ln, lw in zip(lines, widths):
        d.text(((w - lw) / 2, y), ln, font=font, fill=fill)
        y += lh
    return np.asarray(img)


def watermark(width: int) -> Overlay:
    """The always-on AI-generated mark, top right (深度合成 rules: a visible, persistent label)."""
    size = max(14, width // 40)
    rgba = text_panel(WATERMARK_TEXT, width, size, fill=(255, 255, 255, 235), panel=(0, 0, 0, 120), max_lines=1)
    return Overlay(rgba, width - rgba.shape[1] - size // 2, size // 2)


def stamp_watermark(frame: np.ndarray, mark: Overlay) -> None:
    mark.blend(frame)


def subtitle(text: str, width: int, height: int) -> Overlay:
    size = max(18, width // 24)
    rgba = text_panel(text, int(width * 0.92), size)
    return Overlay(rgba, (width - rgba.shape[1]) // 2, height - rgba.shape[0] - int(height * 0.05))


def price_banner(label: str, sub: str, width: int) -> np.ndarray:
    """A red price banner: the verified 到手价 large, the breakdown small underneath."""
    big, small = max(24, width // 14), max(14, width // 36)
    top = text_panel(label, int(width * 0.9), big, panel=ACCENT + (235,), max_lines=1)
    if not sub:
        return top
    bottom = text_panel(sub, int(width * 0.9), small, panel=(0, 0, 0, 0), max_lines=2)
    w = max(top.shape[1], bottom.shape[1])
    out = np.zeros((top.shape[0] + bottom.shape[0], w, 4), np.uint8)
    out[: top.shape[0], (w - top.shape[1]) // 2 : (w - top.shape[1]) // 2 + top.shape[1]] = top
    bg = np.zeros_like(bottom)
    bg[..., :3] = ACCENT
    bg[..., 3] = 200
    a = bottom[..., 3:4] / 255.0
    merged = bottom.copy()
    merged[..., :3] = (bottom[..., :3] * a + bg[..., :3] * (1 - a)).astype(np.uint8)
    merged[..., 3] = np.maximum(bottom[..., 3], bg[..., 3])
    out[top.shape[0] :, (w - bottom.shape[1]) // 2 : (w - bottom.shape[1]) // 2 + bottom.shape[1]] = merged
    return out


def countdown_text(seconds_left: float, lang: str = "zh", deal: bool = True) -> str:
    """The on-screen timer; it only says "coupon" when a promotion really lowers this item's price."""
    s = max(0, int(seconds_left))
    clock = f"{s // 60:02d}:{s % 60:02d}"
    if deal:
        return f"优惠券倒计时 {clock}" if lang == "zh" else f"Coupon ends in {clock}"
    return f"本款讲解剩余 {clock}" if lang == "zh" else f"Next item in {clock}"


def product_card(image: Image.Image, title: str, box: tuple[int, int], bg=(255, 255, 255)) -> np.ndarray:
    """The product photo fitted into a rounded white card with its title underneath (RGB)."""
    from shopmind.media.layout import fit_contain

    w, h = box
    card = Image.new("RGB", (w, h), bg)
    title_size = max(16, w // 16)
    strip = text_panel(title, w, title_size, fill=(30, 30, 30, 255), panel=(0, 0, 0, 0), max_lines=2)
    img_h = h - strip.shape[0] - 8
    src = image.convert("RGB")
    rect = fit_contain(src.width, src.height, (8, 8, w - 8, max(16, img_h)))
    card.paste(src.resize((rect[2] - rect[0], rect[3] - rect[1]), Image.LANCZOS), rect[:2])
    arr = np.asarray(card).copy()
    Overlay(strip, (w - strip.shape[1]) // 2, h - strip.shape[0] - 4).blend(arr)
    return arr
