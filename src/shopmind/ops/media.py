"""Media operations that run as jobs (a video takes tens of seconds on two cores).

The rendered file is kept under `$SHOPMIND_HOME/outputs/<job id>.<ext>` and fetched with
`GET /jobs/{id}/file`; the client never names a server path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

VIDEO_OPTIONS = ("fmt", "seconds", "fps", "headline", "points", "copy", "language", "strict")


def outputs_dir(settings) -> Path:
    return settings.home / "outputs"


def job_output(settings, job_id: str, suffix: str) -> Path:
    """Where a job's file lives (job ids are generated hex, never client text)."""
    folder = outputs_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{job_id}{suffix}"


def _video_job(params: dict[str, Any], ctx) -> dict[str, Any]:
    from shopmind.ops.core import video

    app = ctx.app
    out = job_output(app.settings, ctx.job.id, ".mp4")
    ctx.progress("render video", 0, 1)
    got = video(app, params["product_id"], out, **{k: params[k] for k in VIDEO_OPTIONS if params.get(k) is not None})
    ctx.progress("render video", 1, 1)
    copy = got["copy"].model_dump(mode="json")
    if got["result"] is None:
        return {"refused": True, "copy": copy, "file": None}
    return {"refused": False, "copy": copy, "video": got["result"].model_dump(mode="json"), "file": out.name}


def media_job_kinds() -> dict:
    """Media operations as jobs: re-running a crashed render simply renders again."""
    from shopmind.ops.jobs import JobKind

    return {"video": JobKind(_video_job, description="render a narrated product video (MP4)")}
