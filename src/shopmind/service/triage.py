"""Complaint triage: issue type, sentiment, urgency, entities and the evidence behind each.

Issue type comes from two sources that fail differently:
* a hand-written zh/en cue lexicon (`data/triage_cues.yaml`): precise, explainable, blind to
  paraphrase;
* a multinomial logistic regression over e5 sentence embeddings plus the lexicon scores, fitted
  on our labelled messages: catches paraphrase, cannot say why.
The classifier is used when a fitted head exists; the cues that fired are always reported.
Urgency is rule-based on purpose (anger, repeated contact, safety, escalation threats, money),
so an agent can see exactly why a ticket jumped the queue.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import BaseModel, Field

from shopmind.errors import BadInput, BackendUnavailable, NotReady
from shopmind.service.entities import Entities, extract

ISSUE_TYPES: tuple[str, ...] = (
    "logistics_damage", "quality_defect", "wrong_item", "missing_parts", "size_fit",
    "not_as_described", "delivery_delay", "refund_request", "other",
)
IssueType = Literal[
    "logistics_damage", "quality_defect", "wrong_item", "missing_parts", "size_fit",
    "not_as_described", "delivery_delay", "refund_request", "other",
]
Urgency = Literal["low", "medium", "high", "critical"]
DATA_DIR = Path(__file__).with_name("data")
CUES_FILE = DATA_DIR / "triage_cues.yaml"
BUNDLED_HEAD = DATA_DIR / "triage_head.npz"
MAX_MESSAGE_CHARS = 5000


class Evidence(BaseModel):
    """One observation that influenced the triage."""

    source: Literal["text", "ocr", "image", "catalog", "model", "entities"]
    kind: str  # e.g. "cue", "anger", "dominant_colour", "colour_mismatch"
    detail: str
    supports: str | None = None  # issue type or urgency factor it supports
    weight: float = 0.0


class SentimentView(BaseModel):
    label: Literal["positive", "negative"]
    score: float  # P(positive)


class TriageResult(BaseModel):
    issue_type: IssueType
    confidence: float
    scores: dict[str, float]
    method: Literal["classifier", "lexicon"]
    sentiment: SentimentView | None
    urgency: Urgency
    urgency_score: float
    urgency_reasons: list[str]
    entities: Entities
    evidence: list[Evidence]
    redacted_message: str
    lang: Literal["zh", "en"]
    warnings: list[str] = Field(default_factory=list)


# ---------------------------------------------------------------- lexicon

class _Cue:
    def __init__(self, pattern: str, weight: float, group: str) -> None:
        self.regex = re.compile(pattern, re.I)
        self.weight = float(weight)
        self.group = group


@lru_cache(maxsize=4)
def load_cues(path: str = str(CUES_FILE)) -> tuple[dict[str, list[_Cue]], dict[str, tuple[float, list[_Cue]]]]:
    """Issue cues per type and urgency cues per factor, compiled once."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    issues = {
        name: [_Cue(c["p"], c.get("w", 1), name) for c in spec["cues"]]
        for name, spec in raw["issue_types"].items()
    }
    unknown = set(issues) - set(ISSUE_TYPES)
    if unknown:
        raise ValueError(f"{path}: unknown issue types {sorted(unknown)}")
    urgency = {
        name: (float(spec.get("weight", 1)), [_Cue(c["p"], 1, name) for c in spec["cues"]])
        for name, spec in raw["urgency"].items()
    }
    return issues, urgency


def cue_scores(text: str, *, source: str = "text", scale: float = 1.0) -> tuple[dict[str, float], list[Evidence]]:
    """Sum of fired cue weights per issue type, with one evidence item per matched span."""
    issues, _ = load_cues()
    scores = {t: 0.0 for t in ISSUE_TYPES}
    fired: list[Evidence] = []
    for name, cues in issues.items():
        for cue in cues:
            for m in cue.regex.finditer(text):
                scores[name] += cue.weight * scale
                fired.append(Evidence(source=source, kind="cue", detail=m.group(0), supports=name, weight=cue.weight * scale))
    return scores, fired


def lexicon_vector(texts: Sequence[str]) -> np.ndarray:
    """(n, 8) cue scores for the typed issues, log-squashed (the classifier's extra features)."""
    rows = []
    for t in texts:
        s, _ = cue_scores(t)
        rows.append([np.log1p(s[k]) for k in ISSUE_TYPES[:-1]])
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), len(ISSUE_TYPES) - 1)


def lexicon_decide(scores: dict[str, float]) -> tuple[str, float]:
    """The best-scoring type, or `other` when no cue fired; confidence is its share of the score."""
    best = max(ISSUE_TYPES[:-1], key=lambda k: scores[k])
    total = sum(scores.values())
    if scores[best] <= 0:
        return "other", 0.5
    return best, round(scores[best] / total, 4)


def detect_lang(text: str) -> Literal["zh", "en"]:
    han = len(re.findall(r"[\u4e00-\u9fff]", text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return "zh" if han * 2 >= latin and han > 0 else "en"


# ---------------------------------------------------------------- classifier

class TriageHead:
    """Multinomial logistic regression over [e5 embedding, lexicon scores]."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, classes: list[str], meta: dict | None = None) -> None:
        self.coef, self.intercept, self.classes, self.meta = coef, intercept, classes, meta or {}

    @staticmethod
    def features(texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        return np.hstack([embeddings, lexicon_vector(texts)])

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str], embeddings: np.ndarray, c: float = 10.0) -> "TriageHead":
        from sklearn.linear_model import LogisticRegression

        if len(set(labels)) < 2:
            raise BadInput("triage training needs at least two issue types")
        clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
        clf.fit(cls.features(texts, embeddings), list(labels))
        coef, intercept = clf.coef_, clf.intercept_
        if coef.shape[0] == 1:  # binary: sklearn keeps one row; softmax([0, z]) == sigmoid(z)
            coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.array([0.0, intercept[0]])
        return cls(coef.astype(np.float32), intercept.astype(np.float32), [str(x) for x in clf.classes_])

    def predict_proba(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        z = self.features(texts, embeddings) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            np.savez_compressed(fh, coef=self.coef, intercept=self.intercept, classes=np.array(self.classes),
                                meta=np.array(json.dumps(self.meta, ensure_ascii=False)))
        return path

    @classmethod
    def load(cls, path: Path) -> "TriageHead":
        if not Path(path).is_file():
            raise NotReady(f"no triage head at {path}: run `shopmind service fit-triage`")
        with np.load(path) as z:
            return cls(z["coef"], z["intercept"], [str(c) for c in z["classes"]], json.loads(str(z["meta"])))


def head_path() -> Path | None:
    """A head fitted into the data home wins over the bundled one; None when neither exists."""
    from shopmind.config import get_settings

    home = get_settings().models_dir / "triage_head.npz"
    for p in (home, BUNDLED_HEAD):
        if p.is_file():
            return p
    return None


_ID_RE = re.compile(r"(?:订单号?|单号|order\s*(?:no\.?|number|#)?)?\s*[:：#]?\s*[A-Za-z]{0,3}-?\d{5,}|\d{3}\*{4}\d{4}", re.I)


def model_text(text: str) -> str:
    """The message without order numbers and masked phones: ids carry no issue signal for e5."""
    return " ".join(_ID_RE.sub(" ", text).split()) or text


def embed(texts: Sequence[str]) -> np.ndarray:
    """e5 vectors of the messages' model text (cached on disk for batches, not for single messages)."""
    from shopmind.service.embedcache import EmbeddingCache
    from shopmind.service.sentiment import clip_text

    return EmbeddingCache(persist=len(texts) >= 16).embed([clip_text(model_text(t)) for t in texts])


# ---------------------------------------------------------------- urgency

def urgency(text: str, entities: Entities, sentiment: SentimentView | None) -> tuple[Urgency, float, list[str], list[Evidence]]:
    """Rule-based urgency: a score from fired factors, `critical` whenever safety is at stake."""
    _, factors = load_cues()
    score, reasons, evidence, safety = 0.0, [], [], False
    for name, (weight, cues) in factors.items():
        hits = [m.group(0) for cue in cues for m in cue.regex.finditer(text)]
        if hits:
            score += weight
            safety = safety or name == "safety"
            reasons.append(f"{name}: {', '.join(sorted(set(hits))[:4])}")
            evidence += [Evidence(source="text", kind=name, detail=h, supports=f"urgency:{name}", weight=weight) for h in hits[:4]]
    if re.search(r"[!！]{2,}", text) or len(re.findall(r"\b[A-Z]{4,}\b", text)) >= 2:
        score += 0.5
        reasons.append("anger: shouting punctuation/caps")
    top_amount = max((a.amount * (7.0 if a.currency == "USD" else 1.0) for a in entities.amounts), default=0.0)
    if top_amount >= 2000:
        score += 2
        reasons.append(f"money: ≈¥{top_amount:.0f} at stake")
    elif top_amount >= 500:
        score += 1
        reasons.append(f"money: ≈¥{top_amount:.0f} at stake")
    if sentiment is not None and sentiment.score < 0.1:
        score += 0.5
        reasons.append(f"sentiment: strongly negative (P(pos)={sentiment.score:.2f})")
    if safety:
        level: Urgency = "critical"
    elif score >= 3:
        level = "high"
    elif score >= 1:
        level = "medium"
    else:
        level = "low"
    return level, score, reasons, evidence


# ---------------------------------------------------------------- image

def image_evidence(image, *, product_id: str | None, run_ocr: bool = True, store=None,
                   settings=None) -> tuple[list[Evidence], dict[str, float], str, list[str]]:
    """What a customer photo shows: dominant colour (vs the catalog's colour), and OCR text.

    Returns evidence, score boosts per issue type, OCR text and warnings.
    """
    from shopmind.understand.colours import PALETTE_EN, PALETTE_ZH, analyse_colours

    evidence: list[Evidence] = []
    boosts = {t: 0.0 for t in ISSUE_TYPES}
    warnings: list[str] = []
    named, _ = analyse_colours(image)
    if named:
        top = named[0]
        evidence.append(Evidence(source="image", kind="dominant_colour", detail=f"{top.name_zh}/{top.name_en} ({top.share:.0%})"))
        catalog = _catalog_colours(product_id, PALETTE_EN, PALETTE_ZH, warnings, store, settings)
        if catalog:
            photo = {c.name_en for c in named if c.share >= 0.15} or {top.name_en}
            if photo & catalog:
                evidence.append(Evidence(source="catalog", kind="colour_match", detail=f"photo {sorted(photo)} ∩ catalog {sorted(catalog)}"))
            else:
                detail = f"photo colours {sorted(photo)} vs catalog {sorted(catalog)}"
                for t in ("wrong_item", "not_as_described"):
                    boosts[t] += 1.5
                    evidence.append(Evidence(source="catalog", kind="colour_mismatch", detail=detail, supports=t, weight=1.5))
    ocr_text = ""
    if run_ocr:
        try:
            from shopmind.config import get_settings
            from shopmind.understand import encoders

            lines = encoders.ocr_backend(settings or get_settings()).read(image)
            ocr_text = " ".join(t for _, t, s in lines if float(s) >= 0.5 and t.strip())
            if ocr_text:
                evidence.append(Evidence(source="ocr", kind="text_in_photo", detail=ocr_text[:200]))
        except (BackendUnavailable, ImportError, RuntimeError, OSError) as exc:
            warnings.append(f"OCR skipped: {exc}")
    return evidence, boosts, ocr_text, warnings


def _catalog_colours(product_id: str | None, palette_en: dict, palette_zh: dict, warnings: list[str],
                     store=None, settings=None) -> set[str]:
    """Palette names of the product's colour: measured tags first, then a colour attribute."""
    if not product_id:
        return set()
    try:
        if store is None:  # older callers: the configured home's store
            from shopmind.catalog.store import open_store
            from shopmind.config import get_settings

            store = open_store(settings or get_settings())
        tags = store.get_tags(product_id)
        if tags and tags.colours:
            return {c.name_en for c in tags.colours if c.share >= 0.15} or {tags.colours[0].name_en}
        product = store.get_product(product_id)
    except Exception as exc:  # noqa: BLE001 - a missing product must not sink the ticket
        warnings.append(f"catalog colour unavailable for {product_id}: {exc}")
        return set()
    for key in ("baseColour", "colour", "color", "颜色"):
        value = product.field(key) if product else None
        if isinstance(value, str) and value.strip():
            v = value.strip()
            hit = palette_en.get(v.lower()) or palette_zh.get(v) or palette_zh.get(v + "色")
            if hit:
                return {hit.en}
    return set()


# ---------------------------------------------------------------- main entry

def triage(
    message: str,
    *,
    image=None,
    order: str | None = None,
    product: str | None = None,
    use_classifier: bool = True,
    use_sentiment: bool = True,
    run_ocr: bool = True,
    store=None,
    settings=None,
) -> TriageResult:
    """Triage one customer message (optionally with a decoded PIL photo).

    `store` is the catalog the product's colour is read from (default: the configured home's)."""
    if not isinstance(message, str) or not message.strip():
        raise BadInput("message is empty")
    if len(message) > MAX_MESSAGE_CHARS:
        raise BadInput(f"message too long: {len(message)} characters > {MAX_MESSAGE_CHARS}")
    text = message.strip()
    warnings: list[str] = []
    entities, redacted = extract(text, order=order, product=product)
    scores, evidence = cue_scores(redacted)
    ocr_text = ""
    if image is not None:
        img_ev, boosts, ocr_text, img_warn = image_evidence(image, product_id=product, run_ocr=run_ocr,
                                                             store=store, settings=settings)
        evidence += img_ev
        warnings += img_warn
        for k, v in boosts.items():
            scores[k] += v
        if ocr_text:
            ocr_scores, ocr_ev = cue_scores(ocr_text, source="ocr", scale=0.5)
            evidence += ocr_ev
            for k, v in ocr_scores.items():
                scores[k] += v
            ocr_entities, _ = extract(ocr_text)
            for o in ocr_entities.order_numbers:
                if o not in entities.order_numbers:
                    entities.order_numbers.append(o)
    issue, confidence = lexicon_decide(scores)
    method: Literal["classifier", "lexicon"] = "lexicon"
    out_scores = {k: round(v, 3) for k, v in scores.items()}
    path = head_path() if use_classifier else None
    emb = None
    if path is not None:
        try:
            head = TriageHead.load(path)
            emb = embed([redacted])
            probs = head.predict_proba([redacted], emb)[0]
            # photo evidence is not among the head's features: add it as a log-odds nudge
            nudges = np.array([_photo_support(c, evidence) for c in head.classes])
            logits = np.log(np.maximum(probs, 1e-9)) + nudges
            probs = np.exp(logits - logits.max())
            probs /= probs.sum()
            best = int(np.argmax(probs))
            issue, confidence, method = head.classes[best], round(float(probs[best]), 4), "classifier"
            out_scores = {c: round(float(p), 4) for c, p in zip(head.classes, probs)}
            evidence.append(Evidence(source="model", kind="classifier", detail=f"{issue} p={confidence:.2f}", supports=issue, weight=confidence))
        except (NotReady, BackendUnavailable) as exc:
            warnings.append(f"classifier unavailable, lexicon used: {exc}")
    sentiment = None
    if use_sentiment:
        try:
            from shopmind.service.sentiment import load_model

            model = load_model()
            if emb is None:
                emb = embed([redacted])
            p = float(model.predict_proba([redacted], embeddings=emb)[0])
            sentiment = SentimentView(label="positive" if p >= 0.5 else "negative", score=round(p, 4))
        except (NotReady, BackendUnavailable) as exc:
            warnings.append(f"sentiment unavailable: {exc}")
    level, u_score, reasons, u_evidence = urgency(redacted, entities, sentiment)
    evidence += u_evidence
    if entities.order_numbers:
        evidence.append(Evidence(source="entities", kind="order_number", detail=", ".join(entities.order_numbers)))
    return TriageResult(
        issue_type=issue, confidence=confidence, scores=out_scores, method=method, sentiment=sentiment,
        urgency=level, urgency_score=u_score, urgency_reasons=reasons, entities=entities, evidence=evidence,
        redacted_message=redacted, lang=detect_lang(text), warnings=warnings,
    )


def _photo_support(cls: str, evidence: list[Evidence]) -> float:
    """Sum of photo/catalog/OCR evidence weights that support `cls`."""
    return sum(e.weight for e in evidence if e.supports == cls and e.source in {"image", "catalog", "ocr"})
