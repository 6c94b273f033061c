"""The OCR pass: text printed on product images (`限时特价 ¥99`), as its own resumable job.

Recognition costs ~1 s/image on 2 cores, so it is gated: the cheap text detector runs first and
only images where it finds text regions go through recognition. Results are committed per batch.
"""

from __future__ import annotations

from collections.abc import Callable

from shopmind.catalog.images import open_image
from shopmind.catalog.store import CatalogStore
from shopmind.domain import ItemError
from shopmind.errors import BadInput
from shopmind.understand import encoders

MIN_SCORE = 0.5


def run_ocr(
    store: CatalogStore,
    *,
    ids: list[str] | None = None,
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
    limit: int | None = None,
) -> dict:
    """OCR every product image not yet processed; returns counts (checked, with_text, errors)."""
    settings = store.settings
    ocr = encoders.ocr_backend(settings)
    todo = store.ids_missing_ocr()
    if ids is not None:
        wanted = set(ids)
        todo = [i for i in todo if i in wanted]
    if limit is not None:
        todo = todo[:limit]
    stats = {"checked": 0, "detected_text": 0, "recognised": 0, "errors": []}
    pending: list[tuple[str, bool, str, list]] = []
    for pid in todo:
        try:
            path = store.image_file(pid)
            image = open_image(path, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels).image
            boxes = ocr.detect(image)
            if boxes:
                stats["detected_text"] += 1
                lines = [(box, text, float(score)) for box, text, score in ocr.read(image) if float(score) >= MIN_SCORE and text.strip()]
                text = " ".join(t for _, t, _ in lines)
                if text:
                    stats["recognised"] += 1
                pending.append((pid, bool(text), text, [{"box": b, "text": t, "score": round(s, 3)} for b, t, s in lines]))
            else:
                pending.append((pid, False, "", []))
        except BadInput as exc:
            stats["errors"].append(ItemError(item=pid, stage="ocr", reason=exc.message))
        stats["checked"] += 1
        if len(pending) >= batch_size:
            store.put_ocr(pending)
            pending.clear()
        if progress:
            progress(1)
    if pending:
        store.put_ocr(pending)
    return stats
