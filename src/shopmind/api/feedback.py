"""Feedback routes: operators rate or edit generated content/answers; export a fine-tuning set."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from shopmind.api.deps import get_shopmind
from shopmind.api.errors import ERROR_RESPONSES
from shopmind.app import Shopmind
from shopmind.errors import BadInput
from shopmind.feedback import Edit, EditIn, ExportReport, FeedbackStore, Rating, RatingIn, export_dataset, open_feedback

router = APIRouter(prefix="/feedback", tags=["feedback"], responses=ERROR_RESPONSES)


def _store(sm: Shopmind = Depends(get_shopmind)) -> Iterator[FeedbackStore]:
    store = open_feedback(sm.settings, catalog=sm.store)
    try:
        yield store
    finally:
        store.conn.close()


class ExportRequest(BaseModel):
    name: str = Field("feedback.jsonl", pattern=r"^[A-Za-z0-9_.\-]{1,100}\.jsonl$",
                      description="File name under $SHOPMIND_HOME/datasets/ (the server never writes elsewhere).")
    min_rating: int = Field(4, ge=2, le=5)
    max_rejected_rating: int = Field(2, ge=1, le=4)
    product_id: str | None = None


@router.post("/ratings", response_model=Rating, status_code=201)
def rate(item: RatingIn, store: FeedbackStore = Depends(_store)) -> Rating:
    return store.add_rating(item)


@router.post("/edits", response_model=Edit, status_code=201)
def edit(item: EditIn, store: FeedbackStore = Depends(_store)) -> Edit:
    return store.add_edit(item)


@router.get("/ratings", response_model=list[Rating])
def ratings(product_id: str | None = None, store: FeedbackStore = Depends(_store)) -> list[Rating]:
    return store.ratings(product_id)


@router.get("/edits", response_model=list[Edit])
def edits(product_id: str | None = None, store: FeedbackStore = Depends(_store)) -> list[Edit]:
    return store.edits(product_id)


@router.get("/summary")
def summary(store: FeedbackStore = Depends(_store)) -> dict:
    return store.summary()


@router.post("/export", response_model=ExportReport)
def export(req: ExportRequest, store: FeedbackStore = Depends(_store)) -> ExportReport:
    if req.max_rejected_rating >= req.min_rating:
        raise BadInput("max_rejected_rating must be below min_rating")
    path = Path(store.settings.home) / "datasets" / req.name
    return export_dataset(store, path, min_rating=req.min_rating, max_rejected_rating=req.max_rejected_rating,
                          product_id=req.product_id)
