"""The feedback loop: operators rate or edit generated content and answers; edits become
preference pairs and the lot exports as a fine-tuning dataset (JSON lines)."""

from shopmind.feedback.export import build_rows, export_dataset, write_jsonl_atomic
from shopmind.feedback.models import Edit, EditIn, ExportReport, Rating, RatingIn
from shopmind.feedback.store import FeedbackStore, open_feedback

__all__ = ["Edit", "EditIn", "ExportReport", "FeedbackStore", "Rating", "RatingIn", "build_rows", "export_dataset",
           "open_feedback", "write_jsonl_atomic"]
