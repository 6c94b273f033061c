"""A presenter portrait ready to animate: consent record, head-and-shoulders framing, 478 landmarks.

Why this order: mediapipe's face mesh wants a face that fills a good part of its input, while
merchants upload anything from a selfie to a full-body catalog shot. So we find the face first
(CenterFace, bundled), frame a head-and-shoulders crop at the output size, then run the mesh once on
a square crop around the face. The mesh is never recomputed per frame: rendering only warps it.

Consent: the 2023 深度合成 provisions require the consent of the person whose likeness is
synthesised. We refuse any portrait without a consent record (CLI text or a sidecar JSON next to
the image) and copy the record into the render report.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field, ValidationError

from shopmind.anchor.mp import solutions
from shopmind.errors import BadInput

MESH_SIDE = 512  # the square crop the face mesh sees


class Consent(BaseModel):
    """Who agreed that this likeness may be animated, and for what."""

    statement: str = Field(min_length=3, max_length=2000)
    subject: str | None = Field(default=None, max_length=200)
    granted_by: str | None = Field(default=None, max_length=200)
    purpose: str | None = Field(default=None, max_length=500)
    date: str | None = Field(default=None, max_length=40)
    source: str = "cli"


def sidecar_path(image: Path) -> Path:
    """`photo.jpg` -> `photo.consent.json`."""
    return image.with_name(image.stem + ".consent.json")


def load_consent(image: Path, statement: str | None = None) -> Consent:
    """The consent record for `image`: the given statement, else the sidecar JSON; refuse when neither."""
    if statement is not None and statement.strip():
        try:
            return Consent(statement=statement.strip(), date=_dt.date.today().isoformat(), source="cli")
        except ValidationError:
            raise BadInput("--consent must say who agreed and for what (3 to 2000 characters)") from None
    side = sidecar_path(image)
    if side.is_file():
        try:
            data = json.loads(side.read_text(encoding="utf-8"))
            if isinstance(data, str):
                data = {"statement": data}
            return Consent.model_validate({**data, "source": str(side)})
        except (json.JSONDecodeError, ValidationError, TypeError) as exc:
            raise BadInput(f"consent sidecar {side} is not a valid consent record: {exc}") from None
    raise BadInput(
        "refusing to animate a portrait without consent: pass --consent \"<who agreed, for what>\" or write "
        f"{side.name} next to the image (JSON with at least a \"statement\"); likeness synthesis needs the subject's consent"
    )


@dataclass
class Portrait:
    """The framed presenter image (H×W×3 uint8), its 478 face landmarks (x, y px) and the face box."""

    image: np.ndarray
    landmarks: np.ndarray
    face_box: tuple[float, float, float, float]
    consent: Consent

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]


def _largest_face(image: Image.Image) -> tuple[float, float, float, float] | None:
    from shopmind.models.faces import CenterFaceDetector

    dets = CenterFaceDetector().detect(image)
    if not dets:
        return None
    box, _ = max(dets, key=lambda d: (d[0][2] - d[0][0]) * (d[0][3] - d[0][1]) * d[1])
    return tuple(float(v) for v in box)  # type: ignore[return-value]


def frame_head_and_shoulders(image: Image.Image, face: tuple[float, float, float, float], size: tuple[int, int]) -> Image.Image:
    """Crop to the output aspect with the face about a third of the frame wide, eyes in the upper third."""
    W, H = size
    x1, y1, x2, y2 = face
    fw = x2 - x1
    cw = max(fw / 0.38, 16.0)
    ch = cw * H / W
    cx = (x1 + x2) / 2
    top = y1 - 0.22 * ch
    box = (cx - cw / 2, top, cx + cw / 2, top + ch)
    # pad with the border colour where the crop leaves the photo (studio backdrops are plain)
    from shopmind.media.layout import border_colour

    canvas = Image.new("RGB", (int(round(cw)), int(round(ch))), border_colour(image))
    canvas.paste(image, (int(round(-box[0])), int(round(-box[1]))))
    return canvas.resize((W, H), Image.LANCZOS)


def mesh_landmarks(rgb: np.ndarray, face: tuple[float, float, float, float]) -> np.ndarray | None:
    """478 (x, y) landmarks in `rgb` pixel coordinates, from one face-mesh pass on a square face crop."""
    h, w = rgb.shape[:2]
    x1, y1, x2, y2 = face
    side = max(x2 - x1, y2 - y1) * 2.0
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = cx - side / 2, cy - side / 2
    crop = Image.fromarray(rgb).crop((int(left), int(top), int(left + side), int(top + side)))
    crop = crop.resize((MESH_SIDE, MESH_SIDE), Image.BILINEAR)
    scale = int(side) / MESH_SIDE
    with solutions().face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1,
                                        min_detection_confidence=0.3) as fm:
        res = fm.process(np.asarray(crop))
    if not res.multi_face_landmarks:
        return None
    pts = np.array([(p.x, p.y) for p in res.multi_face_landmarks[0].landmark], dtype=np.float64) * MESH_SIDE
    pts = pts * scale + np.array([int(left), int(top)])
    pts[:, 0] = np.clip(pts[:, 0], 0, w - 1)
    pts[:, 1] = np.clip(pts[:, 1], 0, h - 1)
    return pts


def load_portrait(path: str | Path, size: tuple[int, int] = (720, 1280), consent: Consent | None = None,
                  consent_text: str | None = None) -> Portrait:
    """Open, check consent, frame and mesh a presenter photo; BadInput when no face can be found."""
    from shopmind.catalog.images import open_image

    path = Path(path)
    record = consent or load_consent(path, consent_text)
    img = open_image(path).image.convert("RGB")
    face = _largest_face(img)
    if face is None:
        raise BadInput(f"no face found in {path.name}; use a frontal photo with the face clearly visible")
    framed = frame_head_and_shoulders(img, face, size)
    rgb = np.asarray(framed).copy()
    face2 = _largest_face(framed)
    if face2 is None:
        raise BadInput(f"the face in {path.name} is too small or cut off after framing")
    pts = mesh_landmarks(rgb, face2)
    if pts is None:
        raise BadInput(f"could not fit a face mesh to {path.name}; use a frontal, unobstructed face")
    return Portrait(image=rgb, landmarks=pts, face_box=face2, consent=record)
