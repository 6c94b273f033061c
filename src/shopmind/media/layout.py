"""Where things go on a poster or video frame: a foreground (product) estimate and text layout.

Why border-colour difference: catalog shots are mostly a product on a plain studio background, so
pixels far (in Lab) from the border's median colour are the product; that is cheap, has no model,
and works on both white and coloured backdrops. Text regions are then chosen to avoid it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels

RATIOS: dict[str, tuple[int, int]] = {"1:1": (1080, 1080), "3:4": (1080, 1440), "9:16": (1080, 1920)}


def border_colour(image: Image.Image, band: float = 0.03) -> tuple[int, int, int]:
    """Median colour of a thin frame around the image: the studio background in product shots."""
    arr = np.asarray(image.convert("RGB"))
    h, w = arr.shape[:2]
    b = max(1, int(min(h, w) * band))
    frame = np.concatenate([arr[:b].reshape(-1, 3), arr[-b:].reshape(-1, 3), arr[:, :b].reshape(-1, 3), arr[:, -b:].reshape(-1, 3)])
    return tuple(int(v) for v in np.median(frame, axis=0))  # type: ignore[return-value]


def foreground_mask(image: Image.Image, threshold: float = 18.0, work_side: int = 320) -> np.ndarray:
    """Boolean mask (same size as `image`) of pixels that differ from the background colour.

    Computed on a small copy: Lab distance to the border median, then morphological close/open
    to fill the product body and drop speckle, then keep components bigger than 1% of the frame.
    """
    rgb = image.convert("RGB")
    w, h = rgb.size
    s = min(1.0, work_side / max(w, h))
    small = np.asarray(rgb.resize((max(1, int(w * s)), max(1, int(h * s))), Image.BILINEAR))
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    bg = cv2.cvtColor(np.uint8([[border_colour(rgb)]]), cv2.COLOR_RGB2LAB).astype(np.float32)[0, 0]
    dist = np.linalg.norm(lab - bg, axis=2)
    mask = (dist > threshold).astype(np.uint8)
    k = max(3, int(min(small.shape[:2]) * 0.03) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    keep = np.zeros_like(mask)
    min_area = 0.01 * mask.size
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] >= min_area:
            keep[labels == i] = 1
    if keep.sum() == 0:  # nothing stands out (e.g. a full-bleed photo): treat the whole frame as product
        keep[:] = 1
    return cv2.resize(keep, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)


def mask_box(mask: np.ndarray, margin: float = 0.04) -> Box:
    """Bounding box of the mask grown by `margin` of the image size, clipped to the image."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    if xs.size == 0:
        return 0, 0, w, h
    mx, my = int(w * margin), int(h * margin)
    return max(0, xs.min() - mx), max(0, ys.min() - my), min(w, xs.max() + 1 + mx), min(h, ys.max() + 1 + my)


def overlap_fraction(mask: np.ndarray, box: Box) -> float:
    """Share of `box`'s pixels that are foreground in `mask` (0 = text sits on background only)."""
    x1, y1, x2, y2 = (int(v) for v in box)
    h, w = mask.shape
    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    if x2 <= x1 or y2 <= y1:
        return 0.0
    return float(mask[y1:y2, x1:x2].mean())


def fit_contain(src_w: int, src_h: int, box: Box) -> Box:
    """Largest rectangle with the source aspect ratio centred inside `box`."""
    bx1, by1, bx2, by2 = box
    bw, bh = bx2 - bx1, by2 - by1
    s = min(bw / src_w, bh / src_h)
    w, h = max(1, int(src_w * s)), max(1, int(src_h * s))
    x, y = bx1 + (bw - w) // 2, by1 + (bh - h) // 2
    return x, y, x + w, y + h


def fit_cover(src_w: int, src_h: int, dst_w: int, dst_h: int, focus: tuple[float, float] = (0.5, 0.5)) -> Box:
    """Crop box in source pixels that fills dst's aspect, centred on `focus` (fractions) when possible."""
    target = dst_w / dst_h
    if src_w / src_h > target:
        cw, ch = int(src_h * target), src_h
    else:
        cw, ch = src_w, int(src_w / target)
    cx = int(np.clip(focus[0] * src_w - cw / 2, 0, src_w - cw))
    cy = int(np.clip(focus[1] * src_h - ch / 2, 0, src_h - ch))
    return cx, cy, cx + cw, cy + ch


def least_covered(mask: np.ndarray, candidates: list[Box]) -> Box:
    """The candidate text region overlapping the product least (ties: the first listed)."""
    scores = [overlap_fraction(mask, c) for c in candidates]
    return candidates[int(np.argmin(scores))]


@dataclass
class TextBlock:
    lines: list[str]
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont
    line_height: int


def wrap_text(text: str, fnt: ImageFont.ImageFont, max_width: int) -> list[str]:
    """Greedy wrap by measured width: breaks between words for Latin, between characters for CJK."""
    draw = ImageDraw.Draw(Image.new("L", (1, 1)))
    tokens: list[str] = []
    word = ""
    for ch in text:
        if ch.isascii() and not ch.isspace():
            word += ch
            continue
        if word:
            tokens.append(word)
            word = ""
        tokens.append(ch)
    if word:
        tokens.append(word)
    lines: list[str] = []
    cur = ""
    for tok in tokens:
        trial = cur + tok
        if cur and draw.textlength(trial, font=fnt) > max_width:
            lines.append(cur.rstrip())
            cur = tok.lstrip()
        else:
            cur = trial
    if cur.strip():
        lines.append(cur.rstrip())
    return lines


def fit_text(text: str, box: Box, font_for_size, max_size: int, min_size: int = 18, max_lines: int = 3, spacing: float = 1.25) -> TextBlock:
    """Largest font size (from `max_size` down) at which `text` wraps into `box` in <= `max_lines` lines."""
    bw, bh = box[2] - box[0], box[3] - box[1]
    size = max_size
    while True:
        fnt = font_for_size(size)
        lines = wrap_text(text, fnt, bw)
        lh = int(size * spacing)
        if (len(lines) <= max_lines and lh * len(lines) <= bh) or size <= min_size:
            if len(lines) > max_lines:
                lines = lines[:max_lines]
                lines[-1] = lines[-1][: max(1, len(lines[-1]) - 1)] + "…"
            return TextBlock(lines, fnt, lh)
        size = max(min_size, int(size * 0.9))
