"""A/B test routes: create experiments, sticky assignment, batch event ingestion, analysis,
sample-size planning, and stopping with promotion of the winner to active content."""

from __future__ import annotations

from typing import Any, Iterator, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from shopmind.api.deps import get_shopmind
from shopmind.api.errors import ERROR_RESPONSES
from shopmind.app import Shopmind
from shopmind.errors import BadInput, NotFound
from shopmind.experiments import analysis as ab_analysis
from shopmind.experiments import stats
from shopmind.experiments.models import ActiveContent, Assignment, EventIngestReport, Experiment, ExperimentSpec, Metric
from shopmind.experiments.store import ExperimentStore, open_experiments

router = APIRouter(prefix="/ab", tags=["experiments"], responses=ERROR_RESPONSES)
MAX_BATCH = 10_000


def _store(sm: Shopmind = Depends(get_shopmind)) -> Iterator[ExperimentStore]:
    """One connection per request: SQLite connections are cheap and must not be shared across writers."""
    store = open_experiments(sm.settings)
    try:
        yield store
    finally:
        store.conn.close()


class AssignRequest(BaseModel):
    unit_id: str = Field(..., min_length=1, max_length=256, description="User or session id.")


class EventBatch(BaseModel):
    events: list[dict[str, Any]] = Field(..., description="Events (experiment_id, unit_id, type, [variant, amount, "
                                          "event_id, ts]); each is validated alone, bad ones are reported by position.")


class StopRequest(BaseModel):
    variant: str | None = Field(None, description="Promote this arm instead of the analysed winner.")
    force: bool = Field(False, description="Promote despite a sample-ratio mismatch or no clear winner (control).")


class StopResponse(BaseModel):
    experiment_id: str
    promoted: str
    active_content: ActiveContent
    analysis: ab_analysis.Analysis


class PlanRequest(BaseModel):
    metric: Literal["proportion", "mean"] = "proportion"
    baseline: float | None = Field(None, description="Control conversion rate (proportion metric).")
    std: float | None = Field(None, description="Per-unit standard deviation (mean metric).")
    mde: float = Field(..., description="Minimum detectable effect: relative for proportions unless absolute=true.")
    absolute: bool = False
    alpha: float = Field(0.05, gt=0, lt=0.5)
    power: float = Field(0.8, gt=0, lt=1)
    ratio: float = Field(1.0, gt=0, description="Treatment units per control unit.")


@router.post("/experiments", response_model=Experiment, status_code=201)
def create_experiment(spec: ExperimentSpec, sm: Shopmind = Depends(get_shopmind)) -> Experiment:
    from shopmind import ops

    return ops.experiment(sm, spec)


@router.get("/experiments", response_model=list[Experiment])
def list_experiments(status: Literal["running", "stopped"] | None = None,
                     store: ExperimentStore = Depends(_store)) -> list[Experiment]:
    return store.list(status)


@router.get("/experiments/{experiment_id}", response_model=Experiment)
def get_experiment(experiment_id: str, store: ExperimentStore = Depends(_store)) -> Experiment:
    return store.get(experiment_id)


@router.post("/experiments/{experiment_id}/assign", response_model=Assignment)
def assign(experiment_id: str, req: AssignRequest, store: ExperimentStore = Depends(_store)) -> Assignment:
    return store.assign(experiment_id, req.unit_id)


@router.post("/events", response_model=EventIngestReport)
def ingest_events(batch: EventBatch, store: ExperimentStore = Depends(_store)) -> EventIngestReport:
    """Idempotent on `event_id`; the report's `errors[].line` is the event's 0-based position."""
    if len(batch.events) > MAX_BATCH:
        raise BadInput(f"at most {MAX_BATCH} events per batch, got {len(batch.events)}")
    return store.ingest(enumerate(batch.events), source="api")


@router.get("/experiments/{experiment_id}/analysis", response_model=ab_analysis.Analysis)
def analysis(experiment_id: str, metric: Metric | None = None, alpha: float | None = None,
             bayes: Literal["exact", "mc"] = "exact", seed: int = 0,
             store: ExperimentStore = Depends(_store)) -> ab_analysis.Analysis:
    if alpha is not None and not 0 < alpha < 0.5:
        raise BadInput("alpha must be in (0, 0.5)")
    return ab_analysis.analyze(store, experiment_id, metric=metric, alpha=alpha, bayes_method=bayes, seed=seed)


@router.post("/experiments/{experiment_id}/stop", response_model=StopResponse)
def stop(experiment_id: str, req: StopRequest | None = None, store: ExperimentStore = Depends(_store)) -> dict:
    req = req or StopRequest()
    return ab_analysis.stop(store, experiment_id, variant=req.variant, force=req.force)


@router.get("/active-content/{product_id}/{content_type}", response_model=ActiveContent)
def active_content(product_id: str, content_type: str, store: ExperimentStore = Depends(_store)) -> ActiveContent:
    found = store.active_content(product_id, content_type)
    if found is None:
        raise NotFound(f"no active {content_type!r} content promoted for product {product_id!r}")
    return found


@router.post("/plan")
def plan(req: PlanRequest) -> dict:
    """Units per arm for the given effect, alpha and power."""
    try:
        return _plan(req)
    except (ValueError, ArithmeticError) as exc:  # impossible or overflowing inputs are the caller's, not a 500
        raise BadInput(f"cannot plan with these inputs: {exc}") from None


def _plan(req: PlanRequest) -> dict:
    if req.metric == "proportion":
        if req.baseline is None:
            raise BadInput("a proportion plan needs `baseline`")
        return stats.sample_size_proportions(req.baseline, req.mde, relative=not req.absolute, alpha=req.alpha,
                                             power=req.power, ratio=req.ratio)
    if req.std is None:
        raise BadInput("a mean plan needs `std`")
    return stats.sample_size_means(req.std, req.mde, alpha=req.alpha, power=req.power, ratio=req.ratio)
