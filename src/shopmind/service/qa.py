"""Product Q&A grounded in catalog facts (`shopmind service ask`).

Flow: validate → build the product's facts (catalog, tags, variants) → retrieve the facts the
question needs → compose a deterministic answer (the fallback and the reference) → optionally
let the LLM phrase it from the cited facts, accepting its text only when every number,
colour, material and brand it names is in those facts → compliance check.
Questions the facts do not cover get a refusal, never an LLM guess.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from shopmind.catalog.store import CatalogStore, open_store
from shopmind.config import Settings, get_settings
from shopmind.domain import Finding, Product
from shopmind.errors import BadInput, Cancelled, ShopmindError
from shopmind.service.qa_compose import compose, grounding_problems, looks_like_refusal
from shopmind.service.qa_facts import Fact, build_facts
from shopmind.service.qa_lexicon import is_chinese, load_lexicon
from shopmind.service.qa_retrieve import Retrieval, retrieve
from shopmind.service.qa_variants import get_index

MAX_QUESTION_CHARS = 500
_MARK = re.compile(r"\[(F\d+)\]")


class CitedFact(BaseModel):
    """A fact the answer rests on."""

    id: str
    field: str
    value: str
    source: str
    score: float | None = Field(None, description="e5 similarity of the fact to the question")


class QAAnswer(BaseModel):
    """An answer, the facts it cites, and how it was produced."""

    product_id: str
    question: str
    language: Literal["zh", "en"]
    answer: str
    answerable: bool
    citations: list[CitedFact] = Field(default_factory=list)
    intents: list[str] = Field(default_factory=list)
    method: Literal["llm", "composed", "refusal"]
    llm_used: bool = False
    llm_rejected: bool = False
    llm_reject_reasons: list[str] = Field(default_factory=list)
    llm_error: str | None = None
    compliance_verdict: str = "clean"
    findings: list[Finding] = Field(default_factory=list)
    reason: str = ""
    timing_ms: dict[str, float] = Field(default_factory=dict)


@dataclass
class _Prepared:
    product: Product
    question: str
    lang: str
    retrieval: Retrieval
    cited: list[Fact]
    composed: str
    brands: set[str]
    timing: dict[str, float]


def _validate(product_id: str, question: str) -> tuple[str, str]:
    if not isinstance(question, str) or not question.strip():
        raise BadInput("question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise BadInput(f"question is too long ({len(question)} > {MAX_QUESTION_CHARS} characters)")
    if not isinstance(product_id, str) or not product_id.strip():
        raise BadInput("product id is empty")
    return product_id.strip(), " ".join(question.split())


def _prepare(store: CatalogStore, product_id: str, question: str) -> _Prepared:
    t0 = time.perf_counter()
    product_id, question = _validate(product_id, question)
    product = store.get_product(product_id)  # NotFound for unknown ids
    lex = load_lexicon()
    facts = build_facts(store, product, store.get_tags(product_id), lex)
    t1 = time.perf_counter()
    retrieval = retrieve(question, facts, lex)
    lang = "zh" if is_chinese(question) else "en"
    composed = compose(retrieval, lang, lex)
    t2 = time.perf_counter()
    return _Prepared(product, question, lang, retrieval, [s.fact for s in retrieval.facts], composed,
                     get_index(store).brands, {"facts_ms": (t1 - t0) * 1000, "retrieve_ms": (t2 - t1) * 1000})


# -- LLM ---------------------------------------------------------------------------------------
def _load_llm(settings: Settings) -> tuple[Any | None, str | None]:
    """The configured LLM, or (None, why not). Imported lazily: the backend is optional."""
    try:
        from shopmind.models.llm import get_llm
    except ImportError as exc:
        return None, f"LLM backend module not available ({exc})"
    try:
        return get_llm(settings), None
    except ShopmindError as exc:
        return None, exc.message
    except Exception as exc:  # a broken optional backend must not break Q&A
        return None, f"{type(exc).__name__}: {exc}"


def build_messages(prep: _Prepared) -> list[dict[str, str]]:
    """Prompt: the numbered cited facts, the question, and strict grounding instructions."""
    lang_name = "简体中文" if prep.lang == "zh" else "English"
    facts = "\n".join(f"[{f.id}] {f.field}: {f.value}" + (f" ({f.value_zh})" if f.value_zh else "") for f in prep.cited)
    system = (
        "You answer a shopper's question about one product using ONLY the facts given. "
        f"Reply in {lang_name}, in one or two short sentences, and cite the facts you use like [F1]. "
        "Do not add colours, materials, numbers, brands or claims that are not in the facts. "
        "No advertising language, no superlatives."
    )
    user = f"Facts:\n{facts}\n\nDraft answer built from the facts:\n{prep.composed}\n\nQuestion: {prep.question}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _check_llm_text(raw: str, prep: _Prepared) -> tuple[str, list[Fact], list[str]]:
    """Strip citation marks; return (text, facts it cites, grounding problems)."""
    by_id = {f.id: f for f in prep.cited}
    marks = [m for m in _MARK.findall(raw)]
    cited = [by_id[m] for m in dict.fromkeys(marks) if m in by_id] or list(prep.cited)
    text = " ".join(re.sub(r"\s*\[F\d+\]", "", raw).split()).strip()
    problems: list[str] = []
    if not text:
        problems.append("empty answer")
    if any(m not in by_id for m in marks):
        problems.append("cites a fact id that was not given")
    if prep.lang == "zh" and not is_chinese(text):
        problems.append("not in the question's language")
    if looks_like_refusal(text):
        problems.append("refused although facts cover the question")
    problems.extend(grounding_problems(text, cited, prep.question, brands=prep.brands))
    return text, cited, problems


# -- finishing ---------------------------------------------------------------------------------
def _compliance(text: str, category: str | None) -> tuple[str, list[Finding], str]:
    from shopmind.compliance import check, rewrite

    try:
        report = check(text, category)
    except BadInput:  # a catalog category the rule sets do not know: check with the general rules
        category = None
        report = check(text, category)
    if report.verdict == "violation":
        text = rewrite(text, category).text
        report = check(text, category)
    return text, report.findings, report.verdict


def _finish(prep: _Prepared, *, text: str, cited: list[Fact], method: str, llm_used: bool,
            rejected: list[str], llm_error: str | None, started: float, llm_ms: float) -> QAAnswer:
    t0 = time.perf_counter()
    final, findings, verdict = _compliance(text, prep.product.category)
    if method == "llm" and verdict == "violation":
        final, findings, verdict = _compliance(prep.composed, prep.product.category)
        method, rejected, cited = "composed", rejected + ["compliance violation"], list(prep.cited)
    timing = dict(prep.timing)
    timing.update(llm_ms=llm_ms, compliance_ms=(time.perf_counter() - t0) * 1000,
                  total_ms=(time.perf_counter() - started) * 1000)
    scores = {s.fact.id: s.score for s in prep.retrieval.facts}
    return QAAnswer(
        product_id=prep.product.id, question=prep.question, language=prep.lang, answer=final,
        answerable=prep.retrieval.answerable,
        citations=[CitedFact(id=f.id, field=f.field, value=f.value, source=f.source, score=round(scores.get(f.id, 0.0), 4))
                   for f in cited],
        intents=prep.retrieval.intents, method=method, llm_used=llm_used, llm_rejected=bool(rejected) and llm_used,
        llm_reject_reasons=rejected, llm_error=llm_error, compliance_verdict=verdict, findings=findings,
        reason=prep.retrieval.reason, timing_ms={k: round(v, 2) for k, v in timing.items()},
    )


def _resolve_llm(use_llm: bool | None, llm: Any | None, settings: Settings) -> tuple[Any | None, str | None]:
    if use_llm is False:
        return None, None
    if llm is not None:
        return llm, None
    return _load_llm(settings)


def ask_events(product_id: str, question: str, *, use_llm: bool | None = None, llm: Any | None = None,
               settings: Settings | None = None, store: CatalogStore | None = None,
               max_tokens: int = 160, cancel: threading.Event | None = None) -> Iterator[dict]:
    """Stream of events: `facts` (what will be cited), `delta` (LLM text as it comes; provisional),
    then `answer` (the verified QAAnswer). Validation errors raise before the first event."""
    started = time.perf_counter()
    settings = settings or get_settings()
    store = store or open_store(settings)
    prep = _prepare(store, product_id, question)
    yield {"event": "facts", "answerable": prep.retrieval.answerable, "intents": prep.retrieval.intents,
           "citations": [CitedFact(id=f.id, field=f.field, value=f.value, source=f.source).model_dump() for f in prep.cited]}
    if not prep.retrieval.answerable:
        yield {"event": "delta", "text": prep.composed}
        yield {"event": "answer", "answer": _finish(prep, text=prep.composed, cited=[], method="refusal", llm_used=False,
                                                    rejected=[], llm_error=None, started=started, llm_ms=0.0).model_dump(mode="json")}
        return
    model, error = _resolve_llm(use_llm, llm, settings)
    text, cited, method, rejected, llm_ms = prep.composed, list(prep.cited), "composed", [], 0.0
    if model is not None:
        t0 = time.perf_counter()
        pieces: list[str] = []
        try:
            stream = model.stream(build_messages(prep), max_tokens=max_tokens, temperature=0.2, seed=settings.seed)
            try:
                for piece in stream:
                    _stop_if(cancel)
                    pieces.append(piece)
                    yield {"event": "delta", "text": piece, "provisional": True}
            finally:
                _close(stream)  # now, not when the traceback is collected: the backend stops at once
            raw = "".join(pieces)
        except Cancelled:
            raise
        except Exception as exc:  # backend failure → composed answer
            raw, error = "", f"{type(exc).__name__}: {exc}"
        llm_ms = (time.perf_counter() - t0) * 1000
        text, cited, method, rejected = _accept_llm(raw, prep, (text, cited, method))
    if method != "llm":
        yield {"event": "delta", "text": text}
    yield {"event": "answer", "answer": _finish(prep, text=text, cited=cited, method=method, llm_used=model is not None,
                                                rejected=rejected, llm_error=error, started=started,
                                                llm_ms=llm_ms).model_dump(mode="json")}


def _accept_llm(raw: str, prep: Any, fallback: tuple[str, list, str]) -> tuple[str, list, str, list]:
    """The LLM's answer if every fact it states is in the cited facts, else the composed fallback."""
    if raw:
        llm_text, llm_cited, rejected = _check_llm_text(raw, prep)
        if not rejected:
            return llm_text, llm_cited, "llm", rejected
        return (*fallback, rejected)
    return (*fallback, [])


def _stop_if(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("the client went away; the answer was not finished")


def _complete(model: Any, messages: list[dict], cancel: threading.Event | None, **opts: Any) -> str:
    """The LLM's whole answer; with a `cancel` event it is streamed so generation stops at the next token
    once the event is set (closing the stream tells the backend to stop too)."""
    if cancel is None or not hasattr(model, "stream"):
        return model.complete(messages, **opts)
    pieces = []
    stream = model.stream(messages, **opts)
    try:
        for piece in stream:
            _stop_if(cancel)
            pieces.append(piece)
    finally:
        _close(stream)
    return "".join(pieces)


def _close(stream: Any) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        close()


def ask(product_id: str, question: str, *, use_llm: bool | None = None, llm: Any | None = None,
        settings: Settings | None = None, store: CatalogStore | None = None, max_tokens: int = 160,
        cancel: threading.Event | None = None) -> QAAnswer:
    """Answer one question about one product (see module doc). `use_llm=None`: use it if available.
    `cancel`: stop the LLM with `Cancelled` once set (the API sets it when the client disconnects)."""
    started = time.perf_counter()
    settings = settings or get_settings()
    store = store or open_store(settings)
    prep = _prepare(store, product_id, question)
    if not prep.retrieval.answerable:
        return _finish(prep, text=prep.composed, cited=[], method="refusal", llm_used=False, rejected=[],
                       llm_error=None, started=started, llm_ms=0.0)
    model, error = _resolve_llm(use_llm, llm, settings)
    text, cited, method, rejected, llm_ms = prep.composed, list(prep.cited), "composed", [], 0.0
    if model is not None:
        t0 = time.perf_counter()
        try:
            raw = _complete(model, build_messages(prep), cancel, max_tokens=max_tokens, temperature=0.2,
                            seed=settings.seed)
        except Cancelled:
            raise
        except Exception as exc:  # backend failure → composed answer
            raw, error = "", f"{type(exc).__name__}: {exc}"
        llm_ms = (time.perf_counter() - t0) * 1000
        text, cited, method, rejected = _accept_llm(raw, prep, (text, cited, method))
    return _finish(prep, text=text, cited=cited, method=method, llm_used=model is not None, rejected=rejected,
                   llm_error=error, started=started, llm_ms=llm_ms)
