"""Typed feedback records: an operator's 1–5 rating of an output, or an edit (before → after)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Target = Literal["content", "answer"]  # generated product content, or a customer-service answer


class _Prompted(BaseModel):
    """What produced the output: the instruction/prompt and its input (product facts, the question …)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    target: Target = "content"
    product_id: str | None = None
    content_type: str | None = Field(None, max_length=64, examples=["title", "description", "answer"])
    instruction: str = Field(..., min_length=1, max_length=20_000, examples=["为这件商品写一个电商标题"])
    input: str | None = Field(None, max_length=50_000, description="Context given with the instruction; "
                              "filled from the catalog's product facts when absent and product_id is known.")
    operator: str | None = Field(None, max_length=200)
    comment: str | None = Field(None, max_length=2_000)


class RatingIn(_Prompted):
    output: str = Field(..., min_length=1, max_length=50_000)
    rating: int = Field(..., ge=1, le=5)


class EditIn(_Prompted):
    before: str = Field(..., min_length=1, max_length=50_000)
    after: str = Field(..., min_length=1, max_length=50_000)

    @model_validator(mode="after")
    def _changed(self) -> "EditIn":
        if self.before == self.after:
            raise ValueError("an edit must change the text (before == after)")
        return self


class Rating(RatingIn):
    id: int
    created_at: str
    input: str = ""


class Edit(EditIn):
    id: int
    created_at: str
    input: str = ""


class ExportReport(BaseModel):
    path: str
    rows: int
    pairs: int = Field(..., description="Rows with a `rejected` answer (preference pairs).")
    from_edits: int
    from_ratings: int
    skipped_duplicates: int
