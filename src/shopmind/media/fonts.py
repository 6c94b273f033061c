"""CJK-capable fonts for posters, subtitles and synthetic test images.

Why a search list: Chinese text drawn with PIL's default bitmap font becomes boxes; we look for a
CJK font the OS ships (WenQuanYi Zen Hei, Noto CJK, Droid Sans Fallback) and say clearly when none
is present instead of silently rendering tofu.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)
LATIN_FALLBACKS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@lru_cache(maxsize=1)
def cjk_font_path() -> Path | None:
    """First CJK font found (`SHOPMIND_FONT` overrides), or None when the system has none."""
    from shopmind.config import get_settings

    override = str(get_settings().font) if get_settings().font else None
    for cand in ((override,) if override else ()) + CJK_FONT_CANDIDATES:
        if cand and Path(cand).is_file():
            return Path(cand)
    return None


def has_cjk_font() -> bool:
    return cjk_font_path() is not None


@lru_cache(maxsize=64)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font of `size` px that draws Chinese when the system has a CJK font, else the best fallback."""
    path = cjk_font_path()
    if path is not None:
        return ImageFont.truetype(str(path), size=size)
    for cand in LATIN_FALLBACKS:
        if Path(cand).is_file():
            return ImageFont.truetype(cand, size=size)
    return ImageFont.load_default(size=size)
