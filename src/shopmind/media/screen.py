"""NSFW screening of images before they are published (uploads, posters, video frames).

Why a threshold per call: marketplaces differ (lingerie shops need a looser screen than a
children's store); the default 0.7 follows open_nsfw's authors' guidance that scores above ~0.8
are likely NSFW and below ~0.2 likely safe, leaving a margin for review.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image
from pydantic import BaseModel

from shopmind.errors import BadInput
from shopmind.models import registry

DEFAULT_THRESHOLD = 0.7


class NSFWVerdict(BaseModel):
    nsfw_score: float
    threshold: float
    is_nsfw: bool
    backend: str


def screen_images(images: Sequence[Image.Image], threshold: float = DEFAULT_THRESHOLD, backend: str = "open-nsfw") -> list[NSFWVerdict]:
    """One verdict per image; `is_nsfw` when the model's NSFW probability >= threshold."""
    if not 0.0 < threshold <= 1.0:
        raise BadInput("NSFW threshold must be in (0, 1]")
    model = registry.get("nsfw", backend)
    scores = model.score(list(images))
    return [NSFWVerdict(nsfw_score=s, threshold=threshold, is_nsfw=s >= threshold, backend=model.name) for s in scores]
