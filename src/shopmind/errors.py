"""Typed errors shared by all layers; the API maps them to HTTP statuses, the CLI to exit codes."""

from __future__ import annotations


class ShopmindError(Exception):
    """Base error: a stable machine-readable `code` and a human message."""

    code = "error"
    http_status = 500

    def __init__(self, message: str, *, detail: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or {}


class BadInput(ShopmindError):
    """The caller sent something we cannot use (malformed row, corrupt image, wrong type)."""

    code = "bad_input"
    http_status = 422


class NotFound(ShopmindError):
    """A product, experiment, ticket … does not exist."""

    code = "not_found"
    http_status = 404


class NotReady(ShopmindError):
    """A step that this one depends on has not run yet (e.g. search before tagging)."""

    code = "not_ready"
    http_status = 409


class BackendUnavailable(ShopmindError):
    """A configured model or engine cannot be loaded or reached."""

    code = "backend_unavailable"
    http_status = 503


class InvalidExtension(ShopmindError):
    """A plug-in (a YAML rule file, a registered content type or backend) names something the
    core does not know; raised when it is loaded, so it never surfaces later as a 500."""

    code = "invalid_extension"
    http_status = 500


class Cancelled(ShopmindError):
    """The caller went away (an API client disconnected) or asked to stop, so the work was abandoned.

    499 is nginx's "client closed request": nobody reads the response, but logs and tests see why."""

    code = "cancelled"
    http_status = 499
