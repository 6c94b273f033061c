"""Privacy redaction: blur faces and personal data (phones, IDs, addresses …) printed on images.

Why: sellers upload shipping labels, chat screenshots and model photos; publishing them leaks
buyers' and models' identities. Faces come from the face-detector backend, text PII from OCR
lines scanned by `pii.find_pii`; a match inside an OCR line gets a box interpolated along the
line by character position. The input file is never modified: output goes to a new file only.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import cv2
import numpy as np
from PIL import Image
from pydantic import BaseModel, Field

from shopmind.catalog.images import decode_image_bytes, open_image
from shopmind.config import Settings, get_settings
from shopmind.errors import BackendUnavailable, BadInput
from shopmind.media.pii import find_pii, mask
from shopmind.models import registry

RedactionKind = Literal["face", "phone", "id_number", "address", "email", "waybill", "order_number"]
BlurMethod = Literal["pixelate", "gaussian"]


class Redaction(BaseModel):
    """One blurred region. `text` is the masked value for text PII, None for faces."""

    kind: RedactionKind
    box: list[float] = Field(description="[x1, y1, x2, y2] in pixels of the input image")
    score: float
    text: str | None = None


class RedactionReport(BaseModel):
    redactions: list[Redaction]
    width: int
    height: int
    faces: int = 0
    text_lines: int = 0
    out: str | None = None
    seconds: float = 0.0
    warnings: list[str] = Field(default_factory=list)


class LineReader(Protocol):
    """What redaction needs from OCR: text lines with their boxes (4 points or x1,y1,x2,y2)."""

    def read(self, image: Image.Image) -> list[tuple[Any, str, float]]: ...


class _RapidOCRLines:
    """Fallback OCR when no `ocr` backend is registered: RapidOCR (PP-OCRv4, bundled ONNX weights)."""

    name = "rapidocr-direct"

    def __init__(self) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except Exception as exc:  # noqa: BLE001
            raise BackendUnavailable(f"OCR needs rapidocr_onnxruntime: {exc}") from exc
        self._engine = RapidOCR()

    def read(self, image: Image.Image) -> list[tuple[Any, str, float]]:
        bgr = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)
        result, _ = self._engine(bgr)
        return [(box, text, float(score)) for box, text, score in (result or [])]


_FALLBACK_OCR: _RapidOCRLines | None = None


def default_ocr(settings: Settings | None = None) -> LineReader:
    """The configured OCR backend, or RapidOCR directly if that backend is not installed."""
    global _FALLBACK_OCR
    settings = settings or get_settings()
    try:
        return registry.get("ocr", settings.ocr)
    except BackendUnavailable:
        if _FALLBACK_OCR is None:
            _FALLBACK_OCR = _RapidOCRLines()
        return _FALLBACK_OCR


def default_face_detector() -> Any:
    return registry.get("face_detector", "centerface")


def _char_width(ch: str) -> float:
    """Relative advance of a character: CJK/fullwidth glyphs are about twice as wide as Latin ones."""
    if ch.isspace():
        return 0.5
    return 1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.55


def _quad(box: Any) -> np.ndarray:
    """OCR boxes come as 4 corner points (tl, tr, br, bl) or as [x1, y1, x2, y2]; return 4x2 corners."""
    arr = np.asarray(box, dtype=np.float64)
    if arr.shape == (4, 2):
        return arr
    if arr.shape == (4,):
        x1, y1, x2, y2 = arr
        return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)
    if arr.size == 8:
        return arr.reshape(4, 2)
    raise BadInput(f"unrecognised OCR box shape {arr.shape}")


def substring_box(line_box: Any, text: str, start: int, end: int, pad: float = 0.35) -> list[float]:
    """Box of text[start:end] inside an OCR line box, interpolated by weighted character position.

    The line's top and bottom edges are walked from left to right in proportion to the glyph
    widths before `start` and up to `end`; `pad` widens the result by a fraction of the line height
    (OCR boxes are tight and character widths are estimates).
    """
    q = _quad(line_box)
    widths = [_char_width(c) for c in text] or [1.0]
    total = sum(widths)
    t0 = sum(widths[:start]) / total
    t1 = sum(widths[:end]) / total
    tl, tr, br, bl = q
    pts = np.array([tl + (tr - tl) * t0, tl + (tr - tl) * t1, bl + (br - bl) * t0, bl + (br - bl) * t1])
    x1, y1 = pts.min(axis=0)
    x2, y2 = pts.max(axis=0)
    h = float(np.linalg.norm(bl - tl)) or (y2 - y1)
    return [float(x1 - pad * h), float(y1 - 0.1 * h), float(x2 + pad * h), float(y2 + 0.1 * h)]


def _clip(box: Sequence[float], w: int, h: int) -> list[float]:
    x1, y1, x2, y2 = box
    return [round(max(0.0, min(float(w), x1)), 1), round(max(0.0, min(float(h), y1)), 1),
            round(max(0.0, min(float(w), x2)), 1), round(max(0.0, min(float(h), y2)), 1)]


def find_redactions(
    image: Image.Image,
    *,
    faces: bool = True,
    text: bool = True,
    face_threshold: float | None = None,
    face_detector: Any | None = None,
    ocr: LineReader | None = None,
    min_ocr_score: float = 0.3,
) -> tuple[list[Redaction], dict[str, int]]:
    """Regions to blur in `image`, plus counts (faces found, OCR lines read)."""
    w, h = image.size
    found: list[Redaction] = []
    stats = {"faces": 0, "text_lines": 0}
    if faces:
        detector = face_detector or default_face_detector()
        dets = detector.detect(image) if face_threshold is None else detector.detect(image, threshold=face_threshold)
        for box, score in dets:
            x1, y1, x2, y2 = box
            # CenterFace boxes are tight around the face; grow them so hairline and chin are covered too.
            gx, gy = 0.15 * (x2 - x1), 0.15 * (y2 - y1)
            found.append(Redaction(kind="face", box=_clip([x1 - gx, y1 - gy, x2 + gx, y2 + gy], w, h), score=float(score)))
        stats["faces"] = len(dets)
    if text:
        reader = ocr or default_ocr()
        lines = [ln for ln in reader.read(image) if float(ln[2]) >= min_ocr_score and str(ln[1]).strip()]
        stats["text_lines"] = len(lines)
        for box, line, score in lines:
            for hit in find_pii(str(line)):
                sub = substring_box(box, str(line), hit.start, hit.end)
                found.append(
                    Redaction(kind=hit.kind, box=_clip(sub, w, h), score=round(float(score), 4), text=mask(hit.text, hit.kind))
                )
    return found, stats


def blur_regions(image: Image.Image, boxes: Sequence[Sequence[float]], method: BlurMethod = "pixelate") -> Image.Image:
    """A copy of `image` with every box made unreadable (coarse pixelation plus a Gaussian pass)."""
    arr = np.array(image.convert("RGB"))
    H, W = arr.shape[:2]
    for box in boxes:
        x1, y1 = int(max(0, np.floor(box[0]))), int(max(0, np.floor(box[1])))
        x2, y2 = int(min(W, np.ceil(box[2]))), int(min(H, np.ceil(box[3])))
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        roi = arr[y1:y2, x1:x2]
        rh, rw = roi.shape[:2]
        if method == "pixelate":
            cell = max(8, min(rw, rh) // 3)  # ~3 cells across a text line: glyphs become unreadable
            small = cv2.resize(roi, (max(1, rw // cell), max(1, rh // cell)), interpolation=cv2.INTER_AREA)
            roi = cv2.resize(small, (rw, rh), interpolation=cv2.INTER_NEAREST)
        k = max(5, (min(rw, rh) // 2) | 1)
        arr[y1:y2, x1:x2] = cv2.GaussianBlur(roi, (k, k), 0)
    return Image.fromarray(arr)


def redact_image(image: Image.Image, *, method: BlurMethod = "pixelate", **kwargs: Any) -> tuple[Image.Image, RedactionReport]:
    """Find and blur everything personal; returns the new image and the report (input untouched)."""
    t0 = time.perf_counter()
    redactions, stats = find_redactions(image, **kwargs)
    out = blur_regions(image, [r.box for r in redactions], method)
    report = RedactionReport(
        redactions=redactions, width=image.size[0], height=image.size[1],
        faces=stats["faces"], text_lines=stats["text_lines"], seconds=round(time.perf_counter() - t0, 3),
    )
    return out, report


def _format_for(path: Path) -> str:
    ext = path.suffix.lower()
    if ext in {".jpg", ".jpeg"}:
        return "JPEG"
    if ext == ".png":
        return "PNG"
    if ext == ".webp":
        return "WEBP"
    raise BadInput(f"output must be .png, .jpg or .webp, got {path.name!r}")


def save_image_atomic(image: Image.Image, out: Path) -> None:
    """Write via a temp file + rename so a crash never leaves a half-written image."""
    fmt = _format_for(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            image.convert("RGB").save(fh, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def redact_file(src: str | Path, out: str | Path, **kwargs: Any) -> RedactionReport:
    """Redact the image at `src` into `out`; refuses to overwrite the input."""
    src, out = Path(src), Path(out)
    if not src.is_file():
        raise BadInput(f"input image not found: {src}")
    if out.resolve() == src.resolve() or (out.exists() and os.path.samefile(out, src)):
        raise BadInput("--out must differ from the input: redaction never modifies the original")
    _format_for(out)
    settings = get_settings()
    image = open_image(src, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels).image
    redacted, report = redact_image(image, **kwargs)
    save_image_atomic(redacted, out)
    report.out = str(out)
    return report


def redact_bytes(data: bytes, *, fmt: str = "PNG", **kwargs: Any) -> tuple[bytes, RedactionReport]:
    """Redact an uploaded image held in memory; returns encoded bytes of the blurred image."""
    settings = get_settings()
    image = decode_image_bytes(data, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels).image
    redacted, report = redact_image(image, **kwargs)
    buf = io.BytesIO()
    redacted.save(buf, fmt)
    return buf.getvalue(), report
