"""Content A/B tests: sticky hash assignment, durable event ingestion, frequentist + Bayesian
analysis with an SRM guardrail, sample-size planning, and promotion of winners to active content."""

from shopmind.experiments.analysis import Analysis, analyze, stop
from shopmind.experiments.models import ActiveContent, Assignment, EventIn, EventIngestReport, Experiment, ExperimentSpec
from shopmind.experiments.store import ExperimentStore, get_active_content, open_experiments

__all__ = [
    "ActiveContent", "Analysis", "Assignment", "EventIn", "EventIngestReport", "Experiment", "ExperimentSpec",
    "ExperimentStore", "analyze", "get_active_content", "open_experiments", "stop",
]
