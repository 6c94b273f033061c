"""CLI for the virtual anchor studio: `shopmind anchor render|personas`, `shopmind tryon`.

The commands only parse and print; the work is in `shopmind.anchor`, `shopmind.media.tryon`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from shopmind.cli.output import emit_json
from shopmind.errors import BadInput

err = Console(stderr=True)
anchor_app = typer.Typer(help="Virtual anchor studio: a consented portrait speaks a script (AI-generated, watermarked).",
                         no_args_is_help=True)


def _script_lines(text: Optional[str], script: Optional[Path], lang: str) -> list[dict]:
    if (text is None) == (script is None):
        raise BadInput("give exactly one of --text \"…\" or --script FILE.json")
    if script is not None:
        try:
            data = json.loads(script.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise BadInput(f"{script}: not a readable JSON script: {exc}") from None
        if not isinstance(data, list) or not all(isinstance(x, dict) and "text" in x for x in data):
            raise BadInput(f"{script}: expected a JSON list of {{text, lang}}")
        return [{"text": str(x["text"]), "lang": x.get("lang", lang)} for x in data]
    parts = [p.strip() for p in re.split(r"(?<=[。！？!?])\s*|\n", text.replace("\\n", "\n")) if p and p.strip()]
    if not parts:
        raise BadInput("--text is empty")
    return [{"text": p, "lang": lang} for p in parts]


@anchor_app.command("render")
def render_cmd(
    portrait: Path = typer.Option(..., "--portrait", help="Presenter photo (frontal face; full-body photos are cropped)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output .mp4"),
    text: Optional[str] = typer.Option(None, "--text", help="What to say (one line per sentence)."),
    script: Optional[Path] = typer.Option(None, "--script", help="JSON list of {text, lang} instead of --text."),
    consent: Optional[str] = typer.Option(None, "--consent", help="Consent statement (else PHOTO.consent.json is read)."),
    persona: Optional[str] = typer.Option(None, "--persona", help="Built-in persona name or a persona YAML file."),
    lang: Optional[str] = typer.Option(None, "--lang", help="zh | en (default: the persona's voice language)."),
    resolution: int = typer.Option(720, "--resolution", help="720 (720x1280) or 1080 (1080x1920)."),
    fps: int = typer.Option(25, "--fps"),
    measure: bool = typer.Option(True, "--measure/--no-measure", help="Measure lip-sync on the written file."),
    use_phonemes: bool = typer.Option(True, "--phonemes/--no-phonemes", help="Shape lips from espeak-ng phoneme timings too."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Render a talking presenter: TTS, lip-sync, blinks, gaze, head motion, subtitles and an AI-generated mark."""
    from shopmind.anchor.personas import load_persona
    from shopmind.anchor.portrait import load_portrait
    from shopmind.anchor.studio import RESOLUTIONS, render_anchor

    if resolution not in RESOLUTIONS:
        raise BadInput(f"--resolution must be one of {sorted(RESOLUTIONS)}")
    p = load_persona(persona)
    lines = _script_lines(text, script, lang or p.voice.lang)
    pic = load_portrait(portrait, RESOLUTIONS[resolution], consent_text=consent)
    result = render_anchor(pic, lines, out, fps=fps, persona=p, measure=measure, use_phonemes=use_phonemes)
    if as_json:
        emit_json(result.model_dump(mode="json"))
    else:
        err.print(f"[green]anchor[/] {result.duration_s}s at {result.width}x{result.height} in {result.render_seconds}s "
                  f"({result.realtime_factor}x real time), lip-sync r={result.lipsync_correlation} "
                  f"offset={result.lipsync_offset_ms} ms → {out}")


@anchor_app.command("personas")
def personas_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """List the built-in anchor personas."""
    from shopmind.anchor.personas import list_personas, load_persona

    items = [load_persona(n).model_dump() for n in list_personas()]
    if as_json:
        emit_json({"personas": items})
    else:
        for it in items:
            err.print(f"{it['name']}: {it['description_en']} (voice {it['voice']['lang']} @ {it['voice']['speed']}, layout {it['layout']})")


def tryon_cmd(
    person: Path = typer.Argument(..., help="Photo of the person (front-facing, upper body visible)."),
    product_id: str = typer.Argument(..., help="Catalog id of an upper-body garment (its photo is the garment)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output image (.png or .jpg)."),
    backend: str = typer.Option("geometric", "--backend", help="Try-on backend (geometric; a diffusion backend can plug in)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Virtual try-on (geometric stage): warp the product's garment onto the person by body keypoints."""
    from shopmind.catalog.images import open_image
    from shopmind.cli.output import current_app
    from shopmind.media.tryon import try_on
    from shopmind.ops.core import product_with_image

    if out.suffix.lower() not in {".png", ".jpg", ".jpeg"}:
        raise BadInput(f"--out must be a .png or .jpg file, got {out.name!r}")
    product, path = product_with_image(current_app(), product_id)
    image, result = try_on(open_image(person).image, open_image(path).image, backend=backend)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    obj = {"out": str(out), "product_id": product.id, **result.model_dump()}
    if as_json:
        emit_json(obj)
    else:
        err.print(f"[green]try-on[/] {product.title} → {out} (keypoint error {result.keypoint_error['mean']:.3f} of torso, "
                  f"{result.seconds}s; {result.stage})")


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add the `anchor` group and the `tryon` command."""
    app.add_typer(anchor_app, name="anchor")
    app.command("tryon")(tryon_cmd)
