"""The livestream script builder: opening, grounded product segments, transitions and closing.

Every selling point comes from the product's own fields/attributes (and optional image tags);
every price comes from the optimiser and is parsed back out of the rendered line and compared to
the quote before the line is kept. Lines are written from bilingual/trilingual templates in
`data/script_templates.yaml`, so the zh, en and ja scripts are the same script, line for line.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from shopmind.domain import Product, ProductTags
from shopmind.errors import BadInput
from shopmind.live.currency import DEFAULT_CURRENCY, RateTable, format_money, load_rates, numbers_in
from shopmind.live.glossary import to_zh
from shopmind.live.guard import screen
from shopmind.live.optimizer import BasketItem, PriceQuote, best_price
from shopmind.live.promotions import PromotionSet, parse_promotions

LANGUAGES = ("zh", "en", "ja")
# Speaking rates: Mandarin live hosts ≈ 4.5 characters/s; English ≈ 2.5 words/s (150 wpm);
# Japanese broadcast speech ≈ 5.5 characters/s (about 330 characters a minute).
CJK_RATE = {"zh": 4.5, "ja": 5.5, "en": 4.5}
WORD_RATE = 2.5
TRANSITION_S = 10.0
# The guard reads zh and en; ja shares kanji with zh (最終, 最初) and would be misread, so a ja line
# is kept or dropped together with its zh/en twin.
SCREENED = ("zh", "en")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'.,%-]*")
_EMPTY = {"", "na", "n/a", "none", "null", "-", "unknown"}


class HostPersona(BaseModel):
    """Who speaks: the name said on air (one name for every language)."""

    name: str = Field("主播", min_length=1, max_length=40)


class Audience(BaseModel):
    """Who listens, as said in each language (a preset key such as `students`, or free labels)."""

    key: str = "general"
    labels: dict[str, str] = Field(default_factory=dict)


class ScriptLine(BaseModel):
    """One spoken (or staged) line in every language, with its timing and what grounds it."""

    kind: str
    template_id: str = ""
    text: dict[str, str]
    seconds: dict[str, float]
    planned_s: float | None = Field(None, description="Demo cues: stage time this line fills.")
    grounded_in: list[str] = Field(default_factory=list)
    price_verified: bool | None = None
    notes: list[str] = Field(default_factory=list)


class ScriptSection(BaseModel):
    """Opening, one product segment, a transition or the closing, with its place in the plan."""

    kind: str
    product_id: str | None = None
    start_s: float = 0.0
    planned_s: float = 0.0
    lines: list[ScriptLine] = Field(default_factory=list)


class LiveScript(BaseModel):
    """A whole session's script: sections in order, alternative openings and the price quotes used."""

    languages: list[str]
    currencies: dict[str, str]
    duration_min: float
    audience: str
    host: str
    seed: int
    sections: list[ScriptSection]
    opening_variants: list[dict[str, str]]
    quotes: dict[str, PriceQuote]
    compliance: str
    warnings: list[str] = Field(default_factory=list)
    build_ms: float = 0.0

    def spoken_seconds(self, lang: str) -> float:
        return round(sum(l.seconds.get(lang, 0.0) for s in self.sections for l in s.lines if l.kind != "demo"), 1)

    def to_markdown(self, lang: str | None = None) -> str:
        """A run sheet per language: sections with start times, lines with their spoken seconds."""
        out = []
        for lg in [lang] if lang else self.languages:
            out.append(f"# Live script ({lg}, {self.duration_min:g} min, {self.currencies[lg]})\n")
            for s in self.sections:
                mm, ss = divmod(int(s.start_s), 60)
                title = s.kind + (f" · {s.product_id}" if s.product_id else "")
                out.append(f"## {mm:02d}:{ss:02d} {title} ({s.planned_s:.0f}s)\n")
                for line in s.lines:
                    t = line.planned_s if line.planned_s is not None else line.seconds.get(lg, 0.0)
                    out.append(f"- **{line.kind}** [~{t:.0f}s] {line.text[lg]}")
                out.append("")
            if len(self.opening_variants) > 1:
                out.append("## Alternative openings\n")
                out.extend(f"{i}. {v[lg]}" for i, v in enumerate(self.opening_variants[1:], 2))
                out.append("")
        return "\n".join(out)


@lru_cache(maxsize=1)
def templates() -> dict[str, Any]:
    """The script templates shipped with the package."""
    path = Path(__file__).with_name("data") / "script_templates.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def spoken_seconds(text: str, lang: str) -> float:
    """Estimated speaking time: CJK characters at the language's rate plus words at 2.5/s."""
    cjk = len(_CJK.findall(text))
    words = len(_WORD.findall(_CJK.sub(" ", text)))
    return round(cjk / CJK_RATE.get(lang, 4.5) + words / WORD_RATE, 2)


# -- line rendering with price verification -------------------------------------------------------
class _Ctx:
    """Per-build settings every line needs: languages, currencies, rates."""

    def __init__(self, languages: list[str], currencies: dict[str, str], rates: RateTable) -> None:
        self.languages = languages
        self.currencies = currencies
        self.rates = rates

    def line(self, kind: str, tpl: dict, fields: dict[str, dict[str, str]] | None = None,
             money: dict[str, Decimal] | None = None, grounded_in: list[str] | None = None) -> ScriptLine:
        """Render `tpl` in every language; money (in CNY) is converted, formatted and re-verified."""
        text, secs, verified = {}, {}, None
        for lg in self.languages:
            f = dict((fields or {}).get(lg, {}))
            cur = self.currencies[lg]
            values = {k: self.rates.convert(v, cur) for k, v in (money or {}).items()}
            if "saved" in values and {"original", "final"} <= values.keys():
                values["saved"] = values["original"] - values["final"]  # so the on-screen sum adds up
            rendered = tpl[lg].format(**f, **{k: format_money(v, cur, lg) for k, v in values.items()})
            if money:
                blank = tpl[lg].format(**f, **{k: "" for k in values})
                extra = Counter(numbers_in(rendered)) - Counter(numbers_in(blank))
                verified = extra == Counter(values.values()) and verified is not False
            if lg == "en":  # a sentence may open with a lower-case label such as the audience
                rendered = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), rendered)
            text[lg] = rendered
            secs[lg] = spoken_seconds(rendered, lg)
        return ScriptLine(kind=kind, template_id=tpl.get("id", ""), text=text, seconds=secs,
                          grounded_in=grounded_in or [], price_verified=verified)


def _per_lang(languages: list[str], **values: Any) -> dict[str, dict[str, str]]:
    """Fields per language: a dict value is taken per language, anything else is the same everywhere."""
    return {lg: {k: (v.get(lg) or v.get("en") or next(iter(v.values()))) if isinstance(v, dict) else str(v)
                 for k, v in values.items()} for lg in languages}


def _clean(value: Any) -> str | None:
    text = " ".join(str(value).split()) if value is not None else ""
    return None if text.lower() in _EMPTY else text


def _facts(product: Product, tags: ProductTags | None) -> list[tuple[str, dict[str, str], str]]:
    """(source, label per language, value) facts to say, from attributes, category and image colours."""
    labels = templates()["field_labels"]
    facts = []
    for key, raw in product.attributes.items():
        value = _clean(raw)
        if value is None or len(value) > 60:
            continue
        label = labels.get(key.lower().replace(" ", "")) or labels.get(key.lower()) or {"zh": key, "en": key, "ja": key}
        facts.append((f"attributes.{key}", label, _said(value)))
    if product.category and _clean(product.category):
        facts.append(("category", labels["articletype"], _said(_clean(product.category))))
    return facts[:6]


def _said(value: str) -> dict[str, str]:
    """A catalog value per language: zh through the glossary (Men → 男士), others as written."""
    return {"zh": to_zh(value), "en": value, "ja": value}


def _first_sentence(text: str, limit: int = 80) -> str | None:
    for part in re.split(r"(?<=[。！？!?.])\s+|\n+", text or ""):
        part = _clean(part)
        if not part or (len(_CJK.findall(part)) < 6 and len(part.split()) < 3):
            continue  # a heading such as "Wash Care" or a fragment is not a selling point
        return part if len(part) <= limit else part[:limit].rstrip() + "…"
    return None


def _lookup(product: Product, keys: list[str]) -> tuple[str, str] | None:
    lowered = {k.lower(): (k, v) for k, v in product.attributes.items()}
    for key in keys:
        if key in lowered and _clean(lowered[key][1]):
            return f"attributes.{lowered[key][0]}", _clean(lowered[key][1])
    return None


def _care_from_description(product: Product) -> tuple[str, str] | None:
    for part in re.split(r"\n+|。", product.description or ""):
        part = _clean(part)
        if part and re.search(r"wash|洗|dry clean|iron|熨", part, re.I) and len(part) <= 80 and not re.fullmatch(r"wash care", part, re.I):
            return "description", part
    return None


# -- sections ---------------------------------------------------------------------------------------
def _opening_variants(ctx: _Ctx, host: str, audience: dict[str, str], n: int, first: str, variants: int, seed: int) -> list[ScriptLine]:
    """`variants` distinct openings: greeting × hook × agenda combinations drawn without repetition."""
    op = templates()["opening"]
    g, h, a = op["greeting"], op["hook"], op["agenda"]
    space = len(g) * len(h) * len(a)
    if not 1 <= variants <= space:
        raise BadInput(f"variants must be between 1 and {space} (distinct template combinations)")
    picks = random.Random(seed).sample(range(space), variants)
    lines = []
    for idx in picks:
        gi, rest = divmod(idx, len(h) * len(a))
        hi, ai = divmod(rest, len(a))
        parts = [g[gi], h[hi], a[ai]]
        tpl = {"id": "+".join(p["id"] for p in parts)}
        for lg in ctx.languages:
            tpl[lg] = (" " if lg == "en" else "").join(p[lg] for p in parts)
        fields = _per_lang(ctx.languages, host=host, audience=audience, n=n, first=first)
        lines.append(ctx.line("opening", tpl, fields, grounded_in=["host", "audience", "products"]))
    for lg in ctx.languages:
        if len({l.text[lg] for l in lines}) != len(lines):
            raise AssertionError("opening variants must be distinct")
    return lines


def _deal_text(quote: PriceQuote, languages: list[str]) -> dict[str, str]:
    names = templates()["deal_names"]
    kinds = list(dict.fromkeys(s.kind for s in quote.steps if s.kind in names and s.amount < 0))
    return {lg: names["joiner"][lg].join(names[k][lg] for k in kinds) for lg in languages}


def _product_section(ctx: _Ctx, product: Product, link: int, quote: PriceQuote | None, promos: PromotionSet,
                     tags: ProductTags | None, rng: random.Random) -> tuple[ScriptSection, list[str]]:
    t, q = templates()["product"], templates()["qa"]
    langs, warnings = ctx.languages, []
    title = product.title
    sec = ScriptSection(kind="product", product_id=product.id)
    sec.lines.append(ctx.line("intro", rng.choice(t["intro"]), _per_lang(langs, title=title, link=link), grounded_in=["title"]))
    for src, label, value in _facts(product, tags):
        sec.lines.append(ctx.line("selling_point", rng.choice(t["fact"]), _per_lang(langs, field=label, value=value), grounded_in=[src]))
    if tags and tags.colours and tags.colours[0].share >= 0.2:
        c = tags.colours[0]
        sec.lines.append(ctx.line("selling_point", t["colour"][0], _per_lang(langs, value={"zh": c.name_zh, "en": c.name_en, "ja": c.name_en}),
                                  grounded_in=["tags.colours"]))
    desc = _first_sentence(product.description)
    if desc:
        sec.lines.append(ctx.line("selling_point", t["description"][0], _per_lang(langs, value=desc), grounded_in=["description"]))
    sec.lines.append(ctx.line("demo", rng.choice(t["demo"]), _per_lang(langs, title=title), grounded_in=["title"]))

    # expected questions, answered from facts or honestly deferred
    answers = {"size": _lookup(product, templates()["qa_fields"]["size"]),
               "material": _lookup(product, templates()["qa_fields"]["material"]),
               "shipping": _lookup(product, templates()["qa_fields"]["shipping"]),
               "care": _lookup(product, templates()["qa_fields"]["care"]) or _care_from_description(product)}
    for topic in ("size", "material", "price", "shipping", "care"):
        question = q["question"][topic]
        if topic == "price":
            if quote is None:
                sec.lines.append(ctx.line("qa", q["unknown"], _per_lang(langs, question=question), grounded_in=[]))
            else:
                sec.lines.append(ctx.line("qa", q["price_known"], _per_lang(langs, question=question),
                                          money={"final": quote.final_total}, grounded_in=["quote.final_total"]))
            continue
        found = answers[topic]
        if found:
            sec.lines.append(ctx.line("qa", q["known"], _per_lang(langs, question=question, value=_said(found[1])), grounded_in=[found[0]]))
        elif topic != "care":
            sec.lines.append(ctx.line("qa", q["unknown"], _per_lang(langs, question=question), grounded_in=[]))

    if quote is None:
        warnings.append(f"{product.id}: no price in the catalog, price lines left out")
    else:
        if quote.savings > 0:
            sec.lines.append(ctx.line("deal", t["deal"][0], _per_lang(langs, deal=_deal_text(quote, langs)), grounded_in=["quote.steps"]))
            sec.lines.append(ctx.line("price", rng.choice(t["price_with_deal"]), None,
                                      money={"original": quote.original_total, "final": quote.final_total, "saved": quote.savings},
                                      grounded_in=["quote.original_total", "quote.final_total", "quote.savings"]))
        else:
            sec.lines.append(ctx.line("price", t["price_plain"][0], None, money={"final": quote.final_total}, grounded_in=["quote.final_total"]))
        for g in quote.gifts:
            sec.lines.append(ctx.line("gift", t["gift"][0], _per_lang(langs, gift={"zh": g.gift_zh, "en": g.gift_en, "ja": g.gift_ja or g.gift_en}),
                                      money={"threshold": g.threshold}, grounded_in=[f"promotions.{g.id}"]))
        sec.lines.extend(_urgency(ctx, product, quote, promos))
    sec.lines.append(ctx.line("cta", rng.choice(t["cta"]), _per_lang(langs, link=link), grounded_in=["link"]))
    return sec, warnings


def _urgency(ctx: _Ctx, product: Product, quote: PriceQuote, promos: PromotionSet) -> list[ScriptLine]:
    """Urgency only from real limits: stock or an end time on a promotion this price actually uses."""
    t = templates()["product"]
    used = set(quote.applied) | {s.promo_id for s in quote.steps if s.promo_id} | {g.id for g in quote.gifts}
    relevant = [p for p in promos.promotions if p.id in used and p.covers(product.id)]
    out = []
    stocks = [p.stock for p in relevant if p.stock]
    if stocks:
        out.append(ctx.line("urgency", t["urgency_stock"][0], _per_lang(ctx.languages, stock=min(stocks)), grounded_in=["promotions.stock"]))
    ends = sorted(p.ends_at for p in relevant if p.ends_at)
    if ends:
        out.append(ctx.line("urgency", t["urgency_time"][0], _per_lang(ctx.languages, ends=ends[0].strftime("%Y-%m-%d %H:%M")),
                            grounded_in=["promotions.ends_at"]))
    return out


def _resolve_audience(audience: str | Audience, languages: list[str]) -> tuple[str, dict[str, str]]:
    presets = templates()["audiences"]
    if isinstance(audience, Audience):
        base = presets.get(audience.key, {})
        labels = {lg: audience.labels.get(lg) or base.get(lg) or audience.key for lg in LANGUAGES}
        return audience.key, labels
    if audience in presets:
        return audience, {lg: presets[audience][lg] for lg in LANGUAGES}
    text = _clean(audience)
    if not text or len(text) > 40:
        raise BadInput("audience must be a preset key or a short label (1–40 characters)")
    return text, {lg: text for lg in LANGUAGES}


def _guarded_product(product: Product) -> tuple[Product, list[str]]:
    """The product with its title, description and attribute values each passed through the guard
    on its own, before any of them is put into a template: a claim hidden in a field is cut at the
    source, and the line-level guard then sees it in context as well."""
    from shopmind.compliance.guard import guard

    notes: list[str] = []

    def clean(text: str) -> str:
        g = guard(text, category=product.category)
        if g.text != text:
            notes.append(f"{product.id}: field rewritten by the guard: {text[:40]!r} -> {g.text[:40]!r}")
        return g.text if g.passed else ""

    title = clean(product.title) or to_zh(str(product.category or "")) or "商品"
    attrs = {k: v2 for k, v in product.attributes.items() if (v2 := clean(str(v)) if isinstance(v, str) else v) not in ("", None)}
    desc = clean(product.description) if product.description else product.description
    return product.model_copy(update={"title": title, "attributes": attrs, "description": desc}), notes


def _screen_sections(sections: list[ScriptSection], products: dict[str, Product], tags: dict[str, ProductTags],
                     languages: list[str]) -> tuple[str, list[str]]:
    """The guard over every line: rewrite or drop violating lines in every language; price lines must re-verify."""
    warnings = []
    for sec in sections:
        product = products.get(sec.product_id or "")
        category = product.category if product else None
        seen = {}
        if product is not None and sec.product_id in tags:
            seen = {f"image_colour_{i}": f"{c.name_zh} {c.name_en}" for i, c in enumerate(tags[sec.product_id].colours)}
        kept = []
        for line in sec.lines:
            new, drop = dict(line.text), False
            for lg in [lg for lg in languages if lg in SCREENED]:
                # price lines hold converted optimiser amounts, not the catalog price: compliance only
                facts_of = None if line.price_verified is not None else product
                text, notes = screen(line.text[lg], category, facts_of, seen if facts_of is not None else None)
                line.notes.extend(f"{lg} {n}" for n in notes)
                if text is None or (line.price_verified and Counter(numbers_in(text)) != Counter(numbers_in(line.text[lg]))):
                    drop = True
                    break
                new[lg] = text
            if drop:
                warnings.append(f"dropped a {line.kind} line of {sec.kind} {sec.product_id or ''}: compliance")
                continue
            if new != line.text:
                line.text = new
                line.seconds = {lg: spoken_seconds(new[lg], lg) for lg in languages}
            kept.append(line)
        sec.lines = kept
    return "on", warnings


def _plan(sections: list[ScriptSection], duration_s: float, languages: list[str]) -> list[str]:
    """Fit sections to the session: fixed shares for opening/closing/transitions, demos absorb slack."""
    n_products = sum(s.kind == "product" for s in sections)
    opening, closing = max(30.0, 0.05 * duration_s), max(20.0, 0.03 * duration_s)
    fixed = opening + closing + TRANSITION_S * max(n_products - 1, 0)
    per_product = (duration_s - fixed) / n_products
    warnings = []
    if per_product <= 0:
        raise BadInput(f"{duration_s / 60:g} minutes is too short for {n_products} products")
    clock = 0.0
    for s in sections:
        s.planned_s = {"opening": opening, "closing": closing, "transition": TRANSITION_S}.get(s.kind, per_product)
        spoken = sum(max(l.seconds.values()) for l in s.lines if l.kind != "demo")
        if spoken > s.planned_s:
            warnings.append(f"{s.kind} {s.product_id or ''}: spoken {spoken:.0f}s exceeds its {s.planned_s:.0f}s slot")
        for l in s.lines:
            if l.kind == "demo":
                l.planned_s = round(max(max(l.seconds.values()), s.planned_s - spoken), 1)
        s.start_s, s.planned_s = round(clock, 1), round(s.planned_s, 1)
        clock += s.planned_s
    return warnings


def build_script(products: Sequence[Product | dict], promotions: PromotionSet | dict | list | None = None,
                 audience: str | Audience = "general", host_persona: str | HostPersona = "主播",
                 languages: Sequence[str] = ("zh",), duration_min: float = 60, variants: int = 1, seed: int = 0,
                 rates: RateTable | dict | str | Path | None = None, currencies: dict[str, str] | None = None,
                 tags: dict[str, ProductTags] | None = None) -> LiveScript:
    """Build a timed, grounded, price-verified live script in every requested language."""
    started = time.perf_counter()
    languages = list(dict.fromkeys(languages))
    if not languages or any(lg not in LANGUAGES for lg in languages):
        raise BadInput(f"languages must be among {list(LANGUAGES)}, got {languages}")
    if not 1 <= duration_min <= 24 * 60:
        raise BadInput("duration_min must be between 1 and 1440")
    try:
        items = [p if isinstance(p, Product) else Product.model_validate(p) for p in products]
    except ValueError as exc:
        raise BadInput(f"invalid product: {exc}") from None
    if not items:
        raise BadInput("give at least one product")
    if len({p.id for p in items}) != len(items):
        raise BadInput("product ids must be unique")
    field_notes: list[str] = []
    for i, p in enumerate(items):
        items[i], notes = _guarded_product(p)
        field_notes += notes
    promos = parse_promotions(promotions)
    table = load_rates(rates)
    host = host_persona.name if isinstance(host_persona, HostPersona) else HostPersona(name=host_persona).name
    audience_key, audience_labels = _resolve_audience(audience, languages)

    warnings: list[str] = list(field_notes)
    chosen_cur = {}
    for lg in languages:
        cur = (currencies or {}).get(lg, DEFAULT_CURRENCY[lg]).upper()
        if not table.has(cur):
            warnings.append(f"{lg}: no {table.base}→{cur} rate given, prices shown in {table.base}")
            cur = table.base.upper()
        chosen_cur[lg] = cur
    ctx = _Ctx(languages, chosen_cur, table)

    quotes: dict[str, PriceQuote] = {}
    for p in items:
        if p.price is not None and p.price >= 0:
            quotes[p.id] = best_price([BasketItem(product_id=p.id, unit_price=Decimal(str(round(p.price, 2))), qty=1)], promos)

    openings = _opening_variants(ctx, host, audience_labels, len(items), items[0].title, variants, seed)
    sections = [ScriptSection(kind="opening", lines=[openings[0]])]
    for i, p in enumerate(items, 1):
        if i > 1:
            tr = random.Random(f"{seed}:transition:{p.id}").choice(templates()["transition"])
            sections.append(ScriptSection(kind="transition", lines=[ctx.line("transition", tr, _per_lang(languages, prev=items[i - 2].title, next=p.title), grounded_in=["title"])]))
        sec, warn = _product_section(ctx, p, i, quotes.get(p.id), promos, (tags or {}).get(p.id), random.Random(f"{seed}:{p.id}"))
        sections.append(sec)
        warnings.extend(warn)
    closing = ScriptSection(kind="closing")
    for tpl in templates()["closing"]:
        closing.lines.append(ctx.line("closing", tpl, _per_lang(languages, n=len(items), audience=audience_labels, host=host), grounded_in=["host", "audience"]))
    sections.append(closing)

    for sec in sections:  # a price line whose numbers do not read back as the quote never ships
        if any(l.price_verified is False for l in sec.lines):
            warnings.append(f"{sec.product_id}: a price line did not match its quote and was dropped")
            sec.lines = [l for l in sec.lines if l.price_verified is not False]
    status, warn = _screen_sections(sections, {p.id: p for p in items}, tags or {}, languages)
    warnings.extend(warn)
    warnings.extend(_plan(sections, duration_min * 60, languages))
    return LiveScript(languages=languages, currencies=chosen_cur, duration_min=duration_min, audience=audience_key, host=host,
                      seed=seed, sections=sections, opening_variants=[l.text for l in openings], quotes=quotes,
                      compliance=status, warnings=warnings, build_ms=round((time.perf_counter() - started) * 1000, 1))
