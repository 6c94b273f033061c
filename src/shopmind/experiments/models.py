"""Typed records of the experiments capability (they cross the API, CLI and store boundaries)."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

EventType = Literal["impression", "click", "add_to_cart", "purchase", "revenue"]
Metric = Literal["ctr", "add_to_cart", "purchase", "revenue"]
EVENT_TYPES: tuple[str, ...] = ("impression", "click", "add_to_cart", "purchase", "revenue")
# metric -> the event a unit must have to count as converted (revenue sums `revenue` amounts instead)
METRIC_EVENT: dict[str, str] = {"ctr": "click", "add_to_cart": "add_to_cart", "purchase": "purchase", "revenue": "revenue"}

_KEY = r"^[A-Za-z0-9_.\-]{1,64}$"


class VariantSpec(BaseModel):
    """One arm: a key, the content it shows (any JSON: a title string, a poster path …) and its weight."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(..., pattern=_KEY, examples=["A"])
    payload: Any = Field(..., description="The content shown in this arm (JSON).", examples=[{"title": "夏季新款碎花连衣裙"}])
    weight: float = Field(1.0, ge=0.0)
    control: bool = False

    @field_validator("weight")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("weight must be finite")
        return v


class ExperimentSpec(BaseModel):
    """What to test: content variants of one product's content type, judged on one primary metric."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, pattern=_KEY, description="Optional id; generated when absent.")
    name: str = Field("", max_length=200)
    product_id: str = Field(..., min_length=1)
    content_type: str = Field(..., pattern=_KEY, examples=["title", "poster"])
    metric: Metric = "ctr"
    alpha: float = Field(0.05, gt=0.0, lt=0.5)
    variants: list[VariantSpec] = Field(..., min_length=2, max_length=20)

    @model_validator(mode="after")
    def _arms(self) -> "ExperimentSpec":
        keys = [v.key for v in self.variants]
        if len(set(keys)) != len(keys):
            raise ValueError("variant keys must be unique")
        if sum(v.weight for v in self.variants) <= 0:
            raise ValueError("at least one variant needs a positive weight")
        controls = [v for v in self.variants if v.control]
        if len(controls) > 1:
            raise ValueError("at most one variant can be the control")
        if not controls:  # the first arm is the control unless told otherwise
            self.variants[0].control = True
        return self

    @property
    def control_key(self) -> str:
        return next(v.key for v in self.variants if v.control)


class Experiment(ExperimentSpec):
    """A stored experiment with its lifecycle."""

    id: str
    status: Literal["running", "stopped"] = "running"
    created_at: str
    stopped_at: str | None = None
    winner: str | None = None


class Assignment(BaseModel):
    experiment_id: str
    unit_id: str
    variant: str
    payload: Any
    new: bool = Field(False, description="True when this call made the assignment.")


class EventIn(BaseModel):
    """One behavioural event. `variant` may be omitted: the unit's sticky assignment fills it in."""

    model_config = ConfigDict(extra="forbid")

    experiment_id: str = Field(..., min_length=1)
    unit_id: str = Field(..., min_length=1, max_length=256)
    type: EventType
    variant: str | None = None
    amount: float | None = None
    event_id: str | None = Field(None, min_length=1, max_length=256, description="Idempotency key.")
    ts: str | None = None

    @model_validator(mode="after")
    def _amount(self) -> "EventIn":
        if self.amount is not None and (not math.isfinite(self.amount) or self.amount < 0):
            raise ValueError("amount must be a finite, non-negative number")
        if self.type == "revenue" and self.amount is None:
            raise ValueError("a revenue event needs an amount")
        return self


class RowError(BaseModel):
    """A rejected event: its line (CSV, 1 = header) or position (API batch, 0-based) and why."""

    line: int
    reason: str
    event_id: str | None = None


class EventIngestReport(BaseModel):
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[RowError] = Field(default_factory=list)
    seconds: float = 0.0


class ActiveContent(BaseModel):
    """The content currently live for a product and content type (set by promoting a winner)."""

    product_id: str
    content_type: str
    payload: Any
    experiment_id: str | None = None
    variant: str | None = None
    updated_at: str
