"""Colour from pixels: named dominant colours (zh + en) and a compact colour descriptor.

ImageNet features barely see colour, yet shoppers search by it, so we measure it directly:
estimate the background from the border, keep foreground pixels, then
(1) assign each to the nearest named colour in CIE Lab -> shares, and
(2) build an HSV histogram -> the descriptor the fitted head and taggers consume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from shopmind.domain import NamedColour


@dataclass(frozen=True)
class PaletteColour:
    en: str
    zh: str
    rgb: tuple[int, int, int]


# Names follow common e-commerce colour filters (Taobao / Myntra style), zh first.
PALETTE: tuple[PaletteColour, ...] = (
    PaletteColour("Black", "黑色", (20, 20, 20)),
    PaletteColour("White", "白色", (245, 245, 245)),
    PaletteColour("Grey", "灰色", (128, 128, 128)),
    PaletteColour("Silver", "银色", (192, 192, 192)),
    PaletteColour("Red", "红色", (200, 30, 40)),
    PaletteColour("Maroon", "酒红色", (110, 20, 35)),
    PaletteColour("Pink", "粉色", (240, 140, 170)),
    PaletteColour("Magenta", "玫红色", (200, 40, 140)),
    PaletteColour("Orange", "橙色", (240, 130, 30)),
    PaletteColour("Yellow", "黄色", (240, 210, 40)),
    PaletteColour("Gold", "金色", (200, 160, 60)),
    PaletteColour("Beige", "米色", (225, 205, 170)),
    PaletteColour("Cream", "奶白色", (245, 235, 210)),
    PaletteColour("Khaki", "卡其色", (170, 150, 100)),
    PaletteColour("Brown", "棕色", (120, 75, 40)),
    PaletteColour("Tan", "驼色", (190, 140, 90)),
    PaletteColour("Olive", "橄榄绿", (110, 115, 40)),
    PaletteColour("Green", "绿色", (40, 150, 60)),
    PaletteColour("Teal", "青色", (20, 130, 130)),
    PaletteColour("Turquoise Blue", "湖蓝色", (60, 190, 200)),
    PaletteColour("Blue", "蓝色", (40, 90, 200)),
    PaletteColour("Navy Blue", "藏青色", (25, 35, 80)),
    PaletteColour("Purple", "紫色", (120, 50, 150)),
    PaletteColour("Lavender", "淡紫色", (190, 170, 220)),
)
PALETTE_EN = {p.en.lower(): p for p in PALETTE}
PALETTE_ZH = {p.zh: p for p in PALETTE}

_HUE_BINS, _SAT_BINS, _VAL_BINS = 12, 3, 3
DESCRIPTOR_DIM = _HUE_BINS * _SAT_BINS * _VAL_BINS + len(PALETTE) + 4


def _srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(N,3) uint8 sRGB -> (N,3) CIE Lab (D65)."""
    c = rgb.astype(np.float64) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


_PALETTE_LAB = _srgb_to_lab(np.array([p.rgb for p in PALETTE], dtype=np.uint8))


def _pixels(image: Image.Image, side: int = 64) -> np.ndarray:
    small = image.convert("RGB").copy()
    small.thumbnail((side, side), Image.BILINEAR)
    return np.asarray(small, dtype=np.uint8)


def foreground_mask(arr: np.ndarray, tol: float = 18.0) -> np.ndarray:
    """Pixels that differ from the border colour (product shots sit on plain backgrounds)."""
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]]).astype(np.float32)
    bg = np.median(border, axis=0)
    dist = np.linalg.norm(arr.astype(np.float32) - bg, axis=2)
    mask = dist > tol
    if mask.mean() < 0.03:  # nothing stands out: the whole image is the product (e.g. a close-up)
        mask[:] = True
    return mask


def _hsv(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(np.float32) / 255.0
    mx, mn = c.max(axis=1), c.min(axis=1)
    delta = mx - mn
    h = np.zeros_like(mx)
    nz = delta > 1e-6
    r, g, b = c[:, 0], c[:, 1], c[:, 2]
    idx = nz & (mx == r)
    h[idx] = ((g[idx] - b[idx]) / delta[idx]) % 6
    idx = nz & (mx == g) & ~(mx == r)
    h[idx] = (b[idx] - r[idx]) / delta[idx] + 2
    idx = nz & (mx == b) & ~(mx == r) & ~(mx == g)
    h[idx] = (r[idx] - g[idx]) / delta[idx] + 4
    s = np.where(mx > 1e-6, delta / np.maximum(mx, 1e-6), 0)
    return np.stack([h / 6.0, s, mx], axis=1)


def analyse_colours(image: Image.Image, top: int = 3) -> tuple[list[NamedColour], np.ndarray]:
    """Named dominant colours (share of foreground, >= 8%) and the colour descriptor vector."""
    arr = _pixels(image)
    mask = foreground_mask(arr)
    fg = arr[mask]
    lab = _srgb_to_lab(fg)
    nearest = np.argmin(((lab[:, None, :] - _PALETTE_LAB[None, :, :]) ** 2).sum(axis=2), axis=1)
    shares = np.bincount(nearest, minlength=len(PALETTE)).astype(np.float32) / max(len(fg), 1)
    named: list[NamedColour] = []
    for i in np.argsort(-shares)[:top]:
        if shares[i] < 0.08 and named:
            break
        members = fg[nearest == i]
        mean_rgb = tuple(int(v) for v in members.mean(axis=0)) if len(members) else PALETTE[i].rgb
        named.append(NamedColour(name_en=PALETTE[i].en, name_zh=PALETTE[i].zh, rgb=mean_rgb, share=round(float(shares[i]), 3)))
    hsv = _hsv(fg)
    hb = np.minimum((hsv[:, 0] * _HUE_BINS).astype(int), _HUE_BINS - 1)
    sb = np.minimum((hsv[:, 1] * _SAT_BINS).astype(int), _SAT_BINS - 1)
    vb = np.minimum((hsv[:, 2] * _VAL_BINS).astype(int), _VAL_BINS - 1)
    hist = np.bincount((hb * _SAT_BINS + sb) * _VAL_BINS + vb, minlength=_HUE_BINS * _SAT_BINS * _VAL_BINS)
    hist = hist.astype(np.float32) / max(len(fg), 1)
    stats = np.array([mask.mean(), hsv[:, 1].mean(), hsv[:, 2].mean(), hsv[:, 2].std()], dtype=np.float32)
    descriptor = np.concatenate([np.sqrt(hist), np.sqrt(shares), stats]).astype(np.float32)
    return named, descriptor
