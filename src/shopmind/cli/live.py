"""CLI for the livestream studio: `shopmind live script`, `shopmind live price`, `shopmind eval live-price`.

`live_app` is a Typer group other areas may add commands to (e.g. `tts`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from shopmind.errors import BadInput

console = Console(stderr=True)
live_app = typer.Typer(help="Livestream studio: exact coupon-stacking prices and timed multilingual scripts.",
                       no_args_is_help=True)


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _load_products(products: Optional[Path], ids: Optional[str]):
    """Products and tags from a file or the catalog; bad records are listed on stderr and skipped."""
    from shopmind.live.inputs import load_products_file, products_from_store

    if (products is None) == (ids is None):
        raise BadInput("give exactly one of --products FILE.json or --ids id1,id2")
    if products is not None:
        items, errors = load_products_file(products)
        tags = {}
    else:
        from shopmind.cli.output import current_app

        items, tags, errors = products_from_store(_split(ids), current_app().store)
    for e in errors:
        console.print(f"[yellow]skipped {e.item}[/]: {e.reason}")
    if not items:
        raise BadInput("no usable products")
    return items, tags


@live_app.command("script")
def script_cmd(
    products: Optional[Path] = typer.Option(None, "--products", help="JSON list / JSON lines of products (id, title, price, attributes …)."),
    ids: Optional[str] = typer.Option(None, "--ids", help="Comma-separated catalog product ids."),
    promotions: Optional[Path] = typer.Option(None, "--promotions", help="Promotions YAML/JSON ({promotions: [...], rules: {...}})."),
    lang: str = typer.Option("zh", "--lang", help="Languages, comma-separated: zh,en,ja."),
    duration: float = typer.Option(60, "--duration", help="Session length in minutes."),
    variants: int = typer.Option(1, "--variants", help="How many distinct openings to write."),
    audience: str = typer.Option("general", "--audience", help="general, students, parents, office, travellers, or a label."),
    host: str = typer.Option("主播", "--host", help="Host name said on air."),
    rates: Optional[Path] = typer.Option(None, "--rates", help="Rate table YAML/JSON: {base: CNY, rates: {USD: 0.14, JPY: 21}}."),
    seed: int = typer.Option(0, "--seed"),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the script JSON here (default: stdout)."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Also write a Markdown run sheet."),
    voice: Optional[str] = typer.Option(None, "--voice", help="Registered adapter (brand voice) that adds a checked line per product."),
) -> None:
    """Write a timed live script whose every price is computed by the optimiser and re-verified."""
    from shopmind.live.promotions import load_promotions
    from shopmind.live.script import build_script

    items, tags = _load_products(products, ids)
    promos = load_promotions(promotions) if promotions else None
    script = build_script(items, promos, audience=audience, host_persona=host, languages=_split(lang), duration_min=duration,
                          variants=variants, seed=seed, rates=rates, tags=tags)
    if voice:
        from shopmind.config import get_settings
        from shopmind.tune.voice import get_voiced_llm, voice_script

        script = voice_script(script, items, get_voiced_llm(get_settings(), voice), voice)
    body = script.model_dump_json(indent=2)
    if out:
        out.write_text(body, encoding="utf-8")
        console.print(f"script → {out}")
    else:
        print(body)
    if markdown:
        markdown.write_text(script.to_markdown(), encoding="utf-8")
        console.print(f"markdown → {markdown}")
    for w in script.warnings:
        console.print(f"[yellow]warning[/]: {w}")
    console.print(f"{len(items)} products, {sum(len(s.lines) for s in script.sections)} lines, "
                  f"compliance: {script.compliance}, built in {script.build_ms:.0f} ms")


@live_app.command("price")
def price_cmd(
    items: str = typer.Option(..., "--items", help="Basket as id:qty,id:qty (catalog ids) or id:price:qty."),
    promotions: Optional[Path] = typer.Option(None, "--promotions", help="Promotions YAML/JSON."),
    as_json: bool = typer.Option(False, "--json", help="Print the quote as JSON."),
) -> None:
    """The cheapest legal 到手价 for a basket, with its step-by-step breakdown."""
    from shopmind.live.optimizer import best_price
    from shopmind.live.promotions import load_promotions

    basket = []
    for part in _split(items):
        fields = part.split(":")
        if len(fields) == 3:
            basket.append((fields[0], fields[1], _int(fields[2])))
            continue
        if len(fields) not in (1, 2):
            raise BadInput(f"cannot read basket item {part!r}; write id:qty or id:price:qty")
        from shopmind.cli.output import current_app

        product = current_app().store.get_product(fields[0])
        if product.price is None:
            raise BadInput(f"product {fields[0]} has no price; write id:price:qty")
        basket.append((product.id, f"{product.price:.2f}", _int(fields[1]) if len(fields) == 2 else 1))
    quote = best_price(basket, load_promotions(promotions) if promotions else None)
    if as_json:
        print(quote.model_dump_json())
    else:
        print(quote.breakdown("zh"))
        print(quote.breakdown("en"))


@live_app.command("stream")
def stream_cmd(
    ids: Optional[str] = typer.Option(None, "--ids", help="Comma-separated catalog product ids to rotate through."),
    products: Optional[Path] = typer.Option(None, "--products", help="Or a JSON list / JSON lines of products."),
    hls: Optional[Path] = typer.Option(None, "--hls", help="Write HLS (index.m3u8 + segments) into this folder."),
    rtmp: Optional[str] = typer.Option(None, "--rtmp", help="Or push to this RTMP ingest URL (Douyin/Taobao/OBS)."),
    mp4: Optional[Path] = typer.Option(None, "--mp4", help="Or record the session to an .mp4 (as fast as possible; needs --duration)."),
    duration: Optional[float] = typer.Option(None, "--duration", help="Stop after this many seconds (default: until Ctrl-C)."),
    fps: int = typer.Option(25, "--fps"),
    promotions: Optional[Path] = typer.Option(None, "--promotions", help="Promotions YAML/JSON for the price banner."),
    lang: str = typer.Option("zh", "--lang", help="zh | en"),
    portrait: Optional[Path] = typer.Option(None, "--portrait", help="Presenter photo: the talking anchor appears on stream."),
    consent: Optional[str] = typer.Option(None, "--consent", help="Consent statement for --portrait (or PHOTO.consent.json)."),
    persona: Optional[str] = typer.Option(None, "--persona", help="Anchor persona (name or YAML); its portrait is used if set."),
    hls_window: int = typer.Option(0, "--hls-window", help="Keep only the last N segments (0: keep all)."),
    as_json: bool = typer.Option(False, "--json", help="Print the final stats as one JSON object."),
) -> None:
    """Push a live session to RTMP or HLS in real time: products, verified prices, timers, subtitles, anchor."""
    from shopmind.cli.output import current_app
    from shopmind.live.stream import run_stream

    items, _tags = _load_products(products, ids)
    pic, pers = None, None
    if portrait is not None or persona is not None:
        from shopmind.anchor.personas import load_persona

        pers = load_persona(persona)
        photo = portrait or (Path(pers.portrait) if pers.portrait else None)
        if photo is not None:
            from shopmind.anchor.portrait import load_portrait

            pic = load_portrait(photo, consent_text=consent or pers.consent)

    def progress(frames: int, dropped: int, seconds: float) -> None:
        console.print(f"[dim]{seconds:6.1f}s  {frames / seconds:5.1f} fps  dropped {dropped}[/]")

    from shopmind.live.promotions import load_promotions

    stats = run_stream(items, hls_dir=hls, rtmp=rtmp, mp4=mp4, duration=duration, fps=fps, lang=lang, portrait=pic, persona=pers,
                       promotions=load_promotions(promotions) if promotions else None, hls_window=hls_window,
                       on_stats=None if as_json else progress, store=current_app().store)
    if as_json:
        print(stats.model_dump_json())
    else:
        console.print(f"streamed {stats.seconds:.1f}s to {stats.target}: {stats.fps} fps, {stats.dropped_frames} dropped, "
                      f"{stats.bitrate_kbps} kbit/s, A/V drift {stats.av_drift_ms} ms")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BadInput(f"quantity must be a whole number, got {text!r}") from None


def eval_live_price(
    cases: int = typer.Option(2000, "--cases", min=1, help="Random baskets to compare."),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Optimiser vs brute force: agreement rate and speed on random promotions and baskets."""
    from shopmind.live.evaluate import optimiser_agreement

    result = optimiser_agreement(cases, seed)
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        console.print(result)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add the `live` group and the `eval live-price` command."""
    from shopmind.cli.media import tts_command

    if not any(c.name == "tts" for c in live_app.registered_commands):
        live_app.command("tts")(tts_command)
    app.add_typer(live_app, name="live")
    eval_app.command("live-price")(eval_live_price)
