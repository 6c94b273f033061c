"""Guarded image decoding: every bad file becomes BadInput with a reason; good ones come out upright RGB."""

import io

import pytest
from PIL import Image

from shopmind.catalog.images import decode_image_bytes
from shopmind.errors import BadInput


def _jpeg(size=(40, 30), color=(200, 10, 10), exif_orientation=None) -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", size, color)
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        img.save(buf, "JPEG", exif=exif)
    else:
        img.save(buf, "JPEG")
    return buf.getvalue()


def test_good_image_decodes_to_rgb():
    d = decode_image_bytes(_jpeg())
    assert d.image.mode == "RGB" and (d.width, d.height) == (40, 30) and d.format == "JPEG" and len(d.sha256) == 64


def test_exif_orientation_is_applied():
    d = decode_image_bytes(_jpeg(size=(40, 30), exif_orientation=6))  # rotate 90°
    assert (d.width, d.height) == (30, 40)


def test_rgba_png_is_flattened_on_white():
    buf = io.BytesIO()
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(buf, "PNG")
    d = decode_image_bytes(buf.getvalue())
    assert d.image.getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "zero bytes"),
        (b"hello, I am a text file", "not an image"),
        (_jpeg()[:200], "truncated"),
    ],
)
def test_bad_bytes_are_reported(data, reason):
    with pytest.raises(BadInput) as exc:
        decode_image_bytes(data)
    assert reason.split()[0] in exc.value.message or "corrupt" in exc.value.message


def test_decompression_bomb_guard():
    buf = io.BytesIO()
    Image.new("1", (6000, 6000)).save(buf, "PNG")  # small file, 36 Mpx
    with pytest.raises(BadInput, match="decompression bomb"):
        decode_image_bytes(buf.getvalue(), max_pixels=10_000_000)


def test_huge_file_rejected_before_decoding():
    with pytest.raises(BadInput, match="too large"):
        decode_image_bytes(b"\xff" * 2000, max_bytes=1000)


def test_wrong_type():
    with pytest.raises(BadInput, match="expected image bytes"):
        decode_image_bytes("not bytes")  # type: ignore[arg-type]
