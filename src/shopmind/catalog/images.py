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


# --------------------------------------------------------------------------------------------------
# Remote images (off by default): SSRF guards
# --------------------------------------------------------------------------------------------------
def _address_refused(ip: str) -> str | None:
    """Why a peer address is refused, or None when it is a public unicast address."""
    import ipaddress

    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if getattr(addr, "ipv4_mapped", None):
        addr = addr.ipv4_mapped
    for flag in ("is_loopback", "is_private", "is_link_local", "is_multicast", "is_reserved", "is_unspecified"):
        if getattr(addr, flag):
            return f"{flag[3:].replace('_', '-')} address {addr}"
    return None


def fetch_image_url(url: str, *, max_bytes: int = DEFAULT_MAX_BYTES, timeout: float = 10.0,
                    allow_private: bool = False) -> bytes:
    """GET an image over http(s) with server-side request forgery guards.

    The host is resolved and every address checked *before* connecting (no private, loopback,
    link-local, multicast or reserved addresses unless `allow_private`); the socket's actual peer
    is checked again after connecting (DNS rebinding); redirects are not followed; the body is
    read up to `max_bytes`.
    """
    import http.client
    import socket
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise BadInput(f"not an http(s) image URL: {url[:80]!r}")
    if parts.username or parts.password:
        raise BadInput("image URLs with credentials are refused")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise BadInput(f"image URL host does not resolve: {exc}") from None
    if not allow_private:
        for info in infos:
            why = _address_refused(info[4][0])
            if why:
                raise BadInput(f"image URL refused: {parts.hostname} resolves to a {why}; nothing was fetched")

    def create_connection(address, *args, **kwargs):
        # Checked on the socket itself, before any byte (TLS hello included) goes out.
        sock = socket.create_connection(address, *args, **kwargs)
        why = None if allow_private else _address_refused(sock.getpeername()[0])
        if why:
            sock.close()
            raise BadInput(f"image URL refused: connected to a {why}")
        return sock

    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, port, timeout=timeout)
    conn._create_connection = create_connection  # type: ignore[attr-defined]
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("GET", target, headers={"User-Agent": "shopmind-ingest", "Accept": "image/*"})
        resp = conn.getresponse()
        if resp.status != 200:
            raise BadInput(f"image URL answered HTTP {resp.status} (redirects are not followed)")
        length = resp.getheader("Content-Length")
        if length and length.isdigit() and int(length) > max_bytes:
            raise BadInput(f"file too large: {length} bytes > limit {max_bytes}")
        data = resp.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise BadInput(f"file too large: more than {max_bytes} bytes")
        return data
    except BadInput:
        raise
    except (OSError, http.client.HTTPException) as exc:
        raise BadInput(f"image URL could not be fetched: {type(exc).__name__}: {exc}") from None
    finally:
        conn.close()
