"""Guarded image decoding: every way an uploaded file can be bad becomes a `BadInput` with a reason.

Checks, cheapest first: size on disk (zero bytes, huge), header sniff (not an image),
pixel count before decoding (decompression bomb), full decode (truncated/corrupt),
then EXIF orientation so products are stored upright.
"""

from __future__ import annotations

import hashlib
import io
import warnings

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from shopmind.errors import BadInput

# Never decode partial files silently: a truncated JPEG must be reported, not padded with grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False

DEFAULT_MAX_BYTES = 40 * 1024 * 1024
DEFAULT_MAX_PIXELS = 64_000_000
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO"}


class DecodedImage:
    """An upright RGB image with the facts ingestion stores about it."""

    __slots__ = ("image", "sha256", "format", "width", "height", "nbytes")

    def __init__(self, image: Image.Image, sha256: str, fmt: str, nbytes: int) -> None:
        self.image = image
        self.sha256 = sha256
        self.format = fmt
        self.width, self.height = image.size
        self.nbytes = nbytes


def decode_image_bytes(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS
) -> DecodedImage:
    """Decode untrusted bytes into an upright RGB image or raise `BadInput` saying why."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BadInput(f"expected image bytes, got {type(data).__name__}")
    nbytes = len(data)
    if nbytes == 0:
        raise BadInput("empty file (zero bytes)")
    if nbytes > max_bytes:
        raise BadInput(f"file too large: {nbytes} bytes > limit {max_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            fmt = probe.format or "?"
            if fmt not in ALLOWED_FORMATS:
                raise BadInput(f"unsupported image format {fmt}")
            w, h = probe.size
            if w <= 0 or h <= 0:
                raise BadInput(f"invalid image size {w}x{h}")
            if w * h > max_pixels:
                raise BadInput(f"decompression bomb guard: {w}x{h} = {w * h} pixels > limit {max_pixels}")
            probe.load()  # full decode: raises on truncated or corrupt data
            image = ImageOps.exif_transpose(probe)
            image = _to_rgb(image)
    except BadInput:
        raise
    except UnidentifiedImageError:
        raise BadInput("not an image (unrecognised format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadInput(f"decompression bomb guard: {exc}") from None
    except OSError as exc:  # truncated / corrupt streams
        raise BadInput(f"corrupt or truncated image: {exc}") from None
    except (ValueError, SyntaxError, MemoryError, Exception) as exc:  # noqa: BLE001 - any decoder failure is bad input
        raise BadInput(f"cannot decode image: {type(exc).__name__}: {exc}") from None
    return DecodedImage(image, hashlib.sha256(data).hexdigest(), fmt, nbytes)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Flatten transparency onto white (product shots are shown on white) and drop palettes."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.split()[-1])
        return canvas
    return image.convert("RGB")


def open_image(path, **limits) -> DecodedImage:
    """Read and decode a file with the same guards (the size limit is checked before reading)."""
    import os

    max_bytes = limits.get("max_bytes", DEFAULT_MAX_BYTES)
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise BadInput(f"image file not readable: {exc.strerror or exc}") from None
    if size > max_bytes:
        raise BadInput(f"file too large: {size} bytes > limit {max_bytes}")
    with open(path, "rb") as fh:
        return decode_image_bytes(fh.read(), **limits)
