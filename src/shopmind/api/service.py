"""`/service/tickets`: open a ticket from a customer message (+ optional photo), read it, move it."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from shopmind.api.deps import get_shopmind
from shopmind.api.errors import ERROR_RESPONSES
from shopmind.app import Shopmind
from shopmind.errors import BadInput
from shopmind.service.tickets import Ticket, TicketStore

router = APIRouter(prefix="/service", tags=["service"])


class TicketCreate(BaseModel):
    """A customer's message; the photo travels as base64 (data-URL prefixes are accepted)."""

    message: str = Field(..., description="The customer's message, zh or en.")
    image_base64: str | None = Field(None, description="Optional photo (JPEG/PNG/WebP…), base64.")
    order: str | None = None
    product_id: str | None = None
    ocr: bool = Field(True, description="Read text in the photo (~1 s).")


class StatusChange(BaseModel):
    status: str = Field(..., description="open | in_progress | waiting_customer | resolved | closed")
    actor: str = "agent"
    note: str | None = None


def _decode_b64(data: str) -> bytes:
    payload = data.split(",", 1)[1] if data.startswith("data:") and "," in data else data
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise BadInput("image_base64 is not valid base64") from None


@router.post("/tickets", response_model=Ticket, status_code=201, responses=ERROR_RESPONSES)
def create_ticket(body: TicketCreate, sm: Shopmind = Depends(get_shopmind)) -> Ticket:
    """Triage the message and store a ticket (status `open`, first audit entry `created`)."""
    from shopmind import ops

    if not body.message.strip():
        raise BadInput("message is empty")
    image = _decode_b64(body.image_base64) if body.image_base64 else None
    _, ticket = ops.triage(sm, body.message, image_bytes=image, order=body.order, product=body.product_id,
                           run_ocr=body.ocr, actor="api")
    assert ticket is not None
    return ticket


@router.get("/tickets/{ticket_id}", response_model=Ticket, responses=ERROR_RESPONSES)
def get_ticket(ticket_id: str) -> Ticket:
    return TicketStore().get(ticket_id)


@router.patch("/tickets/{ticket_id}", response_model=Ticket, responses=ERROR_RESPONSES)
def change_status(ticket_id: str, body: StatusChange) -> Ticket:
    """Move a ticket along open → in_progress → waiting_customer → resolved → closed (reopen allowed)."""
    return TicketStore().set_status(ticket_id, body.status, actor=body.actor, note=body.note)
