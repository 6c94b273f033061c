"""One entry point for CLI and API: decode the optional photo, triage, store the ticket."""

from __future__ import annotations

from shopmind.catalog.images import decode_image_bytes
from shopmind.config import get_settings
from shopmind.service.tickets import Ticket, TicketStore
from shopmind.service.triage import TriageResult, triage


def triage_and_store(
    message: str,
    *,
    image_bytes: bytes | None = None,
    order: str | None = None,
    product: str | None = None,
    run_ocr: bool = True,
    store_ticket: bool = True,
    actor: str = "system",
    settings=None,
    store=None,
) -> tuple[TriageResult, Ticket | None]:
    """Triage a message (photo bytes are validated with the catalog's image guards) and open a ticket.

    `settings`/`store` come from the caller's app (the catalog colour is read from `store`);
    without them, the process settings and their store."""
    settings = settings or get_settings()
    image, sha = None, None
    if image_bytes is not None:
        decoded = decode_image_bytes(image_bytes, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)
        image, sha = decoded.image, decoded.sha256
    result = triage(message, image=image, order=order, product=product, run_ocr=run_ocr, store=store,
                    settings=settings)
    ticket = TicketStore(settings).create(result, actor=actor, image_sha256=sha) if store_ticket else None
    return result, ticket
