"""Serve HLS streams written by `shopmind live stream --hls <home>/streams/<name>`.

Why a narrow static route instead of a generic file server: only `<home>/streams/<name>/` is
exposed, names are checked against a strict pattern (no path traversal), and only the playlist and
its `.ts` segments are served, with the content types HLS players expect and no caching of the
live playlist.
"""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.responses import FileResponse

from shopmind.api.errors import ERROR_RESPONSES
from shopmind.config import get_settings
from shopmind.errors import NotFound

router = APIRouter(prefix="/streams", tags=["live"])
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
_FILE = re.compile(r"^(index\.m3u8|seg_\d{1,9}\.ts)$")


def streams_dir():
    return get_settings().home / "streams"


@router.get("", responses=ERROR_RESPONSES)
def list_streams() -> dict[str, list[str]]:
    """Stream folders that hold a playlist."""
    root = streams_dir()
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "index.m3u8").is_file()) if root.is_dir() else []
    return {"streams": names}


@router.get("/{name}/{file}", responses=ERROR_RESPONSES)
def stream_file(name: str, file: str) -> FileResponse:
    """The HLS playlist (`index.m3u8`) or one segment (`seg_00001.ts`) of stream `name`."""
    if not _NAME.match(name) or not _FILE.match(file):
        raise NotFound("no such stream file")
    path = streams_dir() / name / file
    if not path.is_file():
        raise NotFound(f"stream {name!r} has no {file}")
    if file.endswith(".m3u8"):
        return FileResponse(path, media_type="application/vnd.apple.mpegurl", headers={"Cache-Control": "no-cache"})
    return FileResponse(path, media_type="video/mp2t")
