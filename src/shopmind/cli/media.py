"""CLI for media: `redact`, `poster`, `video`, `nsfw`, `tts` (attach `tts_command` to a group) and `eval media`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from shopmind.errors import BadInput

err = Console(stderr=True)


def _emit(obj: dict, as_json: bool, human: str) -> None:
    if as_json:
        print(json.dumps(obj, ensure_ascii=False))
    else:
        err.print(human)


def redact(
    image: Path = typer.Argument(..., help="Image to redact (never modified)."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the blurred copy (.png/.jpg/.webp)."),
    faces: bool = typer.Option(True, "--faces/--no-faces", help="Blur faces (CenterFace)."),
    text: bool = typer.Option(True, "--text/--no-text", help="Blur personal data found by OCR."),
    face_threshold: Optional[float] = typer.Option(None, help="Face score threshold (default 0.4)."),
    method: str = typer.Option("pixelate", help="pixelate or gaussian."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
) -> None:
    """Blur faces, phone numbers, ID numbers, addresses, emails, waybill and order numbers in an image."""
    from shopmind import ops
    from shopmind.cli.output import current_app

    if method not in {"pixelate", "gaussian"}:
        raise BadInput("--method must be pixelate or gaussian")
    report = ops.redact(current_app(), image, out, faces=faces, text=text, face_threshold=face_threshold, method=method)
    kinds = ", ".join(r.kind for r in report.redactions) or "nothing"
    _emit(report.model_dump(), as_json, f"[green]redacted[/] {len(report.redactions)} region(s) ({kinds}) → {out}")


def _refuse(copy, as_json: bool) -> None:
    """A strict refusal: the findings (JSON on stdout or lines on stderr) and exit code 2."""
    obj = {"refused": True, "passed": False, "findings": [f.model_dump(mode="json") for f in copy.findings]}
    if as_json:
        print(json.dumps(obj, ensure_ascii=False))
    else:
        err.print("[red]refused[/]: the copy does not pass the 广告法/fact guard")
        for f in copy.findings:
            err.print(f"  [{f.severity}] {f.span!r}: {f.why_zh} / {f.why_en}")
    raise typer.Exit(2)


def poster(
    product_id: str = typer.Argument(..., help="Catalog product id."),
    out: Path = typer.Option(..., "--out", "-o", help="Poster file (.png or .jpg)."),
    style: str = typer.Option("minimal", help="minimal | bold | split"),
    ratio: str = typer.Option("3:4", help="1:1 | 3:4 | 9:16"),
    headline: Optional[str] = typer.Option(None, help="Override the headline (still guarded)."),
    point: Optional[list[str]] = typer.Option(None, "--point", "--bullets", help="Selling point (repeatable; still guarded)."),
    copy: str = typer.Option("auto", "--copy", help="auto (write with the LLM, template if unavailable) | write | template."),
    language: Optional[str] = typer.Option(None, "--language", "-l", help="zh | en (default: the title's language)."),
    strict: bool = typer.Option(False, "--strict", help="Refuse (exit 2, findings) instead of rewriting violating copy."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Render an ad poster: photo, guarded headline and selling points (generated or grounded template), price tag."""
    from shopmind import ops
    from shopmind.cli.output import current_app

    got = ops.poster(current_app(), product_id, out, style=style, ratio=ratio, headline=headline, points=point,
                     copy=copy, language=language, strict=strict)
    if got["result"] is None:
        _refuse(got["copy"], as_json)
    result = got["result"]
    _emit(result.model_dump(), as_json, f"[green]poster[/] {result.width}x{result.height} {style} ({result.copy_source} copy) → {out}")


def video(
    product_id: str = typer.Argument(..., help="Catalog product id."),
    out: Path = typer.Option(..., "--out", "-o", help="Output .mp4"),
    fmt: str = typer.Option("vertical", "--format", help="vertical (1080x1920) | square (1080x1080)"),
    seconds: Optional[float] = typer.Option(None, help="Video length (default: as long as the narration)."),
    fps: int = typer.Option(25, help="Frames per second."),
    headline: Optional[str] = typer.Option(None, help="Override the headline (still guarded)."),
    point: Optional[list[str]] = typer.Option(None, "--point", "--bullets", help="Selling point (repeatable; still guarded)."),
    copy: str = typer.Option("auto", "--copy", help="auto | write | template (see `poster`)."),
    language: Optional[str] = typer.Option(None, "--language", "-l", help="zh | en (default: the title's language)."),
    strict: bool = typer.Option(False, "--strict", help="Refuse (exit 2, findings) instead of rewriting violating copy."),
    variant: Optional[list[Path]] = typer.Option(None, "--variant", help="Photo of a colour/variant (repeatable): shown on alternate close-up shots."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Render a narrated product video: hero, close-up and price shots, guarded narration, per-sentence subtitles."""
    from shopmind import ops
    from shopmind.catalog.images import open_image
    from shopmind.cli.output import current_app

    variants = [open_image(v).image for v in variant or []]
    got = ops.video(current_app(), product_id, out, fmt=fmt, seconds=seconds, fps=fps, headline=headline, points=point,
                    copy=copy, language=language, strict=strict, variants=variants or None)
    if got["result"] is None:
        _refuse(got["copy"], as_json)
    result = got["result"]
    _emit(result.model_dump(), as_json,
          f"[green]video[/] {result.width}x{result.height} {result.seconds}s, {len(result.shots)} shots, in {result.render_seconds}s → {out}")


def nsfw(
    images: list[Path] = typer.Argument(..., help="Images to screen."),
    threshold: float = typer.Option(0.7, help="Flag when the NSFW probability is at least this."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Screen images for explicit content (open_nsfw); a bad file is reported, the rest still screened."""
    from shopmind.catalog.images import open_image
    from shopmind.media.screen import screen_images

    results: list[dict] = []
    for path in images:
        try:
            verdict = screen_images([open_image(path).image], threshold)[0]
            results.append({"image": str(path), **verdict.model_dump()})
        except BadInput as exc:
            results.append({"image": str(path), "error": exc.message})
    flagged = sum(1 for r in results if r.get("is_nsfw"))
    _emit({"results": results, "flagged": flagged}, as_json, f"{flagged}/{len(results)} flagged")


def tts_command(
    script: str = typer.Argument(..., help="Text to speak, or a file: the JSON or Markdown that `live script` writes, a JSON list of {text, lang}, or plain text."),
    out: Path = typer.Option(..., "--out", "-o", help="Output .wav"),
    lang: Optional[str] = typer.Option(None, help="zh | en | ja: which language of a multi-language live script (default: its first), or the language of plain text (default zh)."),
    strict: bool = typer.Option(False, "--strict", help="Refuse (exit 2, findings) when a line violates, instead of rewriting it."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Synthesise narration to WAV with per-line start/end times; every line passes the 广告法 guard first."""
    from shopmind import ops
    from shopmind.cli.output import current_app
    from shopmind.live.narration import script_file_lines

    path = Path(script)
    if len(script) < 4096 and "\n" not in script and path.suffix.lower() in {".json", ".md", ".txt"} and path.is_file():
        lines = script_file_lines(path, lang)
    else:
        lines = [{"text": s.strip(), "lang": lang or "zh"} for s in script.splitlines() if s.strip()]
    got = ops.tts(current_app(), lines, out, strict=strict)
    report = got["guard"]
    if got["narration"] is None:
        if as_json:
            print(json.dumps(report, ensure_ascii=False))
        else:
            err.print("[red]refused[/]: a line does not pass the 广告法 guard")
            for f in report["findings"]:
                err.print(f"  [{f['severity']}] {f['span']!r}: {f['why_zh']}")
        raise typer.Exit(2)
    narration = got["narration"]
    _emit({**narration.model_dump(), "guard": report}, as_json,
          f"[green]tts[/] {narration.duration}s audio (rtf {narration.rtf}) → {out}")


tts_cmd = tts_command  # alias: the `live` group may attach either name


def eval_media(
    labels: int = typer.Option(20, help="Synthetic shipping labels to render and redact."),
    faces_dir: Optional[Path] = typer.Option(None, help="Folder of photos (default ../shared/data/fashion100/images)."),
    faces_limit: Optional[int] = typer.Option(None, help="Only the first N photos."),
    anchor_scripts: int = typer.Option(3, help="Anchor renders to measure lip-sync on (0: skip; 10 for the full figure)."),
    tryon: bool = typer.Option(True, "--tryon/--no-tryon", help="Measure try-on keypoint error on a 3x3 grid."),
    video_seconds: float = typer.Option(10.0, "--video-seconds", min=0, max=120, help="Length of the 1080x1920 speed render (0: skip)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Redaction evaluation: planted-PII recall on synthetic labels, face detections on model photos;
    plus anchor lip-sync and try-on keypoint error (keys `anchor`, `tryon`)."""
    from shopmind.media.evaluate import eval_faces, eval_pii_labels, eval_studio

    obj: dict = {"pii": eval_pii_labels(labels)}
    folder = faces_dir or Path.cwd().parent / "shared" / "data" / "fashion100" / "images"
    obj["faces"] = eval_faces(folder, faces_limit) if folder.is_dir() else {"skipped": f"{folder} not found"}
    obj.update(eval_studio(folder, anchor_scripts=anchor_scripts, tryon=tryon))
    if video_seconds >= 1:  # `video_x_realtime`: seconds of 1080x1920 video per second of rendering
        from shopmind.media.evaluate import eval_video_speed

        obj.update(eval_video_speed(folder, seconds=video_seconds))
    _emit(obj, as_json, json.dumps(obj, ensure_ascii=False, indent=1))


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    app.command("redact")(redact)
    app.command("poster")(poster)
    app.command("video")(video)
    app.command("nsfw")(nsfw)
    eval_app.command("media")(eval_media)
