"""A learned clause classifier for the 广告法 claims that word lists and compositional rules cannot list.

Why this shape (measured, see docs/decisions.md "Compliance v2 — classifier"):

* **Character 1–4-gram hashed TF-IDF + logistic regression.** Chinese ad claims are short and their
  wording varies around a few stems (降血压 / 降压, 三天见效 / 7天淡斑); character n-grams catch those
  stems without a tokenizer, and hashing means the model ships no vocabulary file. e5-small was measured
  at 40–180 ms per clause on this shared CPU, far over the 200 texts/s budget, so the runtime model is
  purely lexical.
* **Platt-calibrated probability.** Out-of-fold decision scores are mapped through a fitted sigmoid, so
  the two thresholds (violation / borderline) are chosen on probabilities that mean something.
* **Nearest example, not a category head.** The category, the article (legal basis) and the "why" come
  from the most similar violation rows of the shipped corpus (`data/clause_corpus.jsonl`), so every
  finding can show the user which known illegal wording it resembles.

The engine calls `classify_clauses(text, language)` for copy the rules did not decide; it returns `Hit`
records like the rule passes do, with `rule_id="zh.model.<category>"` and no replacement (drop the clause).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from shopmind.compliance.hits import Hit
from shopmind.errors import BadInput, NotReady

DATA_DIR = Path(__file__).with_name("data")
BUNDLED_MODEL = DATA_DIR / "clause_model.npz"
BUNDLED_CORPUS = DATA_DIR / "clause_corpus.jsonl"
N_HASH = 2**18
NGRAMS = (1, 4)
MIN_CLAUSE_CHARS = 4  # shorter fragments (居家, 稳赚) are scored only inside their sentence: alone they are noise
MAX_CLAUSE_CHARS = 200  # a "clause" longer than this is a run-on paragraph: score its opening only
CATEGORIES = (
    "absolute_term", "authority_endorsement", "medical_claim", "guarantee_or_efficacy",
    "false_urgency_or_price", "superstition", "comparative_disparagement", "other",
)
DEFAULT_ARTICLE = {
    "absolute_term": "广告法第九条第三项",
    "authority_endorsement": "广告法第十六条第一款第四项",
    "medical_claim": "广告法第十七条",
    "guarantee_or_efficacy": "广告法第二十八条第二款第二项",
    "false_urgency_or_price": "明码标价和禁止价格欺诈规定",
    "superstition": "广告法第九条第八项",
    "comparative_disparagement": "广告法第十三条",
    "other": "广告法第二十八条第二款",
}
CATEGORY_EN = {
    "absolute_term": "absolute term", "authority_endorsement": "authority endorsement",
    "medical_claim": "medical claim", "guarantee_or_efficacy": "efficacy guarantee",
    "false_urgency_or_price": "urgency or price claim", "superstition": "superstition",
    "comparative_disparagement": "disparaging comparison", "other": "misleading claim",
}
SUPPORTED_LANGUAGES = ("zh", "mixed")
# Comma-level clause marks (the brief's 。！？；，and newlines); sentences come from context.sentence_bounds.
_CLAUSE_BREAK = re.compile(r"[，,。！？!?；;\n]")
_SENTENCE_BREAK = re.compile(r"[。！？!?\n]|\.(?=\s|$)")
_HAS_WORD = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
_RANK = {"violation": 0, "borderline": 1}
# Statements only an approved drug / device / health-food advertisement carries (广告法第16、18条 and the
# review standards). Their presence means disease wording may be the approved indication: a medical-claim
# finding then drops to borderline ("check the approval") instead of violation.
_APPROVED_AD_MARKERS = re.compile(
    r"本品不能代替药物|请按药品说明书|药师指导下购买和使用|请仔细阅读产品说明书|医务人员的?指导下|"
    r"禁忌内容或者?注意事项详见说明书|国械注|械注准|械备|国药准字|广告批准文号|广告审查证明|审查批准文号|国食健|卫食健|"
    r"保健食品批准文号|医疗器械注册证|药品注册证|(?<![A-Za-z])OTC(?![A-Za-z])")


# ---------------------------------------------------------------- features


def _vectorizer():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(analyzer="char", ngram_range=NGRAMS, n_features=N_HASH, alternate_sign=False,
                             norm=None, lowercase=True)


_VEC = None
_VEC_LOCK = threading.Lock()


def char_counts(texts: Sequence[str]) -> sp.csr_matrix:
    """Raw hashed character n-gram counts (whitespace collapsed, clipped to MAX_CLAUSE_CHARS)."""
    global _VEC
    if _VEC is None:
        with _VEC_LOCK:
            _VEC = _VEC or _vectorizer()
    return _VEC.transform([" ".join(str(t).split())[:MAX_CLAUSE_CHARS] for t in texts]).tocsr()


def fit_idf(counts: sp.csr_matrix) -> np.ndarray:
    """Smoothed inverse document frequency per hash bucket."""
    df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
    return (np.log((1.0 + counts.shape[0]) / (1.0 + df)) + 1.0).astype(np.float32)


def tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear tf × idf with L2-normalised rows (done by hand: cheaper than sklearn for a handful of rows)."""
    x = counts.astype(np.float32)  # a copy: the counts stay untouched
    x.data = (1.0 + np.log(x.data)) * idf[x.indices]
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    norms = np.sqrt(np.bincount(rows, weights=x.data.astype(np.float64) ** 2, minlength=x.shape[0]))
    norms[norms == 0] = 1.0
    x.data /= norms[rows].astype(np.float32)  # row scaling in place: a sparse diag product costs an N_HASH workspace
    return x


# ---------------------------------------------------------------- the model


@dataclass
class Example:
    """One shipped violation row: what a finding points to as its nearest known wording."""

    text: str
    category: str
    article: str
    source: str


@dataclass
class ClauseModel:
    """Violation head + Platt calibration + thresholds, a category head, and the nearest-example index.

    The category head is a one-vs-rest logistic regression over the same TF-IDF features, fitted on the
    violation rows only and stored sparse (hash buckets never seen in training have no weight).
    """

    idf: np.ndarray
    w: np.ndarray
    b: float
    platt: np.ndarray  # [a, c]: p = sigmoid(a * score + c)
    thresholds: dict  # {"violation": float, "borderline": float}
    cat_w: sp.csr_matrix | None = None  # (len(CATEGORIES), N_HASH)
    cat_b: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)
    _index: sp.csr_matrix | None = None

    def scores(self, counts: sp.csr_matrix) -> np.ndarray:
        """Raw decision scores (log-odds before calibration)."""
        return np.asarray(tfidf(counts, self.idf) @ self.w).ravel() + self.b

    def calibrate(self, scores: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.platt[0] * scores + self.platt[1])))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated P(violation) per text (clause)."""
        if not len(texts):
            return np.zeros(0)
        return self.calibrate(self.scores(char_counts(texts)))

    def predict_category(self, x: sp.csr_matrix) -> list[str]:
        """Most likely category per TF-IDF row ("other" when the model has no category head)."""
        if self.cat_w is None or self.cat_b is None:
            return ["other"] * x.shape[0]
        z = np.asarray((x @ self.cat_w.T).todense()) + self.cat_b
        return [CATEGORIES[int(i)] for i in z.argmax(axis=1)]

    def attach_examples(self, examples: list[Example]) -> "ClauseModel":
        self.examples = examples
        self._index = tfidf(char_counts([e.text for e in examples]), self.idf) if examples else None
        return self

    def nearest(self, texts: Sequence[str]) -> list[tuple[str, Example | None, float]]:
        """(category, most similar shipped violation of that category, its cosine) per text."""
        if not len(texts):
            return []
        x = tfidf(char_counts(texts), self.idf)
        cats = self.predict_category(x)
        if self._index is None:
            return [(c, None, 0.0) for c in cats]
        sims = (x @ self._index.T).toarray()
        out = []
        for cat, row in zip(cats, sims):
            same = [i for i in np.argsort(-row)[:50] if self.examples[i].category == cat]
            best = int(same[0]) if same else int(row.argmax())
            if self.cat_w is None:  # no category head: take the nearest example's
                cat = self.examples[best].category
            out.append((cat, self.examples[best], float(row[best])))
        return out

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        cat = self.cat_w if self.cat_w is not None else sp.csr_matrix((len(CATEGORIES), N_HASH), dtype=np.float32)
        cat_b = self.cat_b if self.cat_b is not None else np.zeros(len(CATEGORIES))
        with open(path, "wb") as fh:
            np.savez_compressed(
                fh, idf=self.idf.astype(np.float16), w=self.w.astype(np.float16), b=self.b, platt=self.platt,
                thresholds=np.array(json.dumps(self.thresholds)), meta=np.array(json.dumps(self.meta, ensure_ascii=False)),
                cat_data=cat.data.astype(np.float16), cat_indices=cat.indices.astype(np.int32),
                cat_indptr=cat.indptr.astype(np.int32), cat_b=np.asarray(cat_b, dtype=np.float32),
                has_cat=np.array(self.cat_w is not None),
            )
        return path

    @classmethod
    def load(cls, path: Path, corpus: Path | None = BUNDLED_CORPUS) -> "ClauseModel":
        path = Path(path)
        if not path.is_file():
            raise NotReady(f"no clause model at {path}: run scripts/train_clause_classifier.py")
        with np.load(path) as z:
            cat_w = cat_b = None
            if "has_cat" in z.files and bool(z["has_cat"]):
                cat_w = sp.csr_matrix((z["cat_data"].astype(np.float32), z["cat_indices"], z["cat_indptr"]),
                                      shape=(len(CATEGORIES), N_HASH))
                cat_b = z["cat_b"].astype(np.float32)
            model = cls(idf=z["idf"].astype(np.float32), w=z["w"].astype(np.float32), b=float(z["b"]),
                        platt=z["platt"].astype(np.float64), thresholds=json.loads(str(z["thresholds"])),
                        cat_w=cat_w, cat_b=cat_b, meta=json.loads(str(z["meta"])))
        if corpus is not None and Path(corpus).is_file():
            model.attach_examples([Example(r["text"], r["category"], r["article"], r["source"])
                                   for r in read_corpus(corpus) if r["label"] == "violation"])
        return model


def read_corpus(path: Path = BUNDLED_CORPUS) -> list[dict]:
    """The shipped training corpus rows (text, label, category, article, source)."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                row = json.loads(line)
                if not {"text", "label", "category", "article", "source"} <= row.keys():
                    raise BadInput(f"{path}:{n}: corpus row lacks a field", detail={"row": n})
                rows.append(row)
    return rows


# ---------------------------------------------------------------- training


def _fit_linear(x: sp.csr_matrix, y: np.ndarray, c: float, sample_weight: np.ndarray | None = None,
                balanced: bool = True) -> tuple[np.ndarray, float]:
    """Binary liblinear LR on the hash buckets that occur in `x` only, weights scattered back to N_HASH.

    liblinear's cost grows with the number of columns; a training set touches a few percent of the
    2^18 buckets, so compacting first makes the fit an order of magnitude faster with the same result.
    """
    from sklearn.linear_model import LogisticRegression

    cols = np.unique(x.indices)
    lr = LogisticRegression(C=c, solver="liblinear", max_iter=500, class_weight="balanced" if balanced else None)
    lr.fit(x[:, cols], y, sample_weight=sample_weight)
    coef = np.zeros(x.shape[1], dtype=np.float32)
    coef[cols] = lr.coef_[0]
    return coef, float(lr.intercept_[0])


def _platt(scores: np.ndarray, y: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e4, solver="lbfgs", max_iter=1000).fit(scores.reshape(-1, 1), y)
    return np.array([float(lr.coef_[0, 0]), float(lr.intercept_[0])])


def out_of_fold_scores(texts: Sequence[str], y: np.ndarray, *, c: float, folds: int, seed: int,
                       groups: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
    """Decision scores each row got from a model trained without its fold (grouped rows stay together)."""
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    counts = char_counts(texts)
    oof = np.zeros(len(y))
    if groups is not None:
        splits = GroupKFold(n_splits=folds).split(counts, y, groups)
    else:
        splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(counts, y)
    for tr, te in splits:
        idf = fit_idf(counts[tr])
        coef, bias = _fit_linear(tfidf(counts[tr], idf), y[tr], c, None if weights is None else weights[tr])
        oof[te] = np.asarray(tfidf(counts[te], idf) @ coef).ravel() + bias
    return oof


def choose_thresholds(p: np.ndarray, y: np.ndarray, *, precision: float = 0.96,
                      borderline_precision: float = 0.85) -> dict:
    """Lowest probability cut whose precision (on held-out probabilities) reaches the target, per severity."""
    def cut(target: float) -> float:
        best = 0.99
        for t in np.arange(0.99, 0.3, -0.01):
            flagged = p >= t
            if flagged.sum() == 0:
                continue
            if y[flagged].mean() >= target:
                best = float(t)
            else:
                break
        return round(best, 2)

    hi = cut(precision)
    lo = min(cut(borderline_precision), hi)
    return {"violation": hi, "borderline": lo}


def fit_category_head(x: sp.csr_matrix, y: np.ndarray, categories: Sequence[str], *, c: float,
                      prune: float = 1e-3) -> tuple[sp.csr_matrix, np.ndarray]:
    """One-vs-rest LR over the violation rows' categories, weights pruned to a sparse matrix."""
    rows = np.flatnonzero(y == 1)
    labels = np.array([CATEGORIES.index(categories[i]) for i in rows])
    xv = x[rows]
    coef = np.zeros((len(CATEGORIES), x.shape[1]), dtype=np.float32)
    bias = np.full(len(CATEGORIES), -1e3, dtype=np.float32)  # a category never seen is never chosen
    present = sorted(set(labels.tolist()))
    for k in present:  # one binary liblinear fit per category (fast on sparse rows)
        if len(present) == 1:
            bias[k] = 0.0
            break
        coef[k], bias[k] = _fit_linear(xv, (labels == k).astype(int), c, balanced=False)
    coef[np.abs(coef) < prune] = 0.0
    return sp.csr_matrix(coef), bias


def fit_clause_model(texts: Sequence[str], labels: Sequence[int], *, c: float = 8.0, folds: int = 5,
                     seed: int = 0, precision: float = 0.96, borderline_precision: float = 0.85,
                     groups: Sequence[int] | None = None,
                     sample_weight: Sequence[float] | None = None,
                     categories: Sequence[str] | None = None) -> tuple[ClauseModel, dict]:
    """Fit the head on all rows; calibrate and pick thresholds on out-of-fold scores.

    `sample_weight` lets hand-written hard negatives (compliant copy on the same topics as the violations)
    count more than the bulk of distant clean text. Returns the model and a report of the out-of-fold behaviour (what the thresholds were chosen on).
    """
    y = np.asarray(labels, dtype=np.int64)
    if len(texts) != len(y):
        raise BadInput("texts and labels differ in length")
    if len(set(y.tolist())) < 2:
        raise BadInput("clause training needs both labels (violation=1 and clean=0)")
    g = None if groups is None else np.asarray(groups)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    oof = out_of_fold_scores(texts, y, c=c, folds=folds, seed=seed, groups=g, weights=w)
    platt = _platt(oof, y)
    p = 1.0 / (1.0 + np.exp(-(platt[0] * oof + platt[1])))
    thresholds = choose_thresholds(p, y, precision=precision, borderline_precision=borderline_precision)
    counts = char_counts(texts)
    idf = fit_idf(counts)
    coef, bias = _fit_linear(tfidf(counts, idf), y, c, w)
    model = ClauseModel(idf, coef, bias, platt, thresholds)
    if categories is not None:
        model.cat_w, model.cat_b = fit_category_head(tfidf(counts, idf), y, categories, c=c)
    flagged = p >= thresholds["violation"]
    report = {
        "oof_precision_at_violation": round(float(y[flagged].mean()), 4) if flagged.any() else None,
        "oof_recall_at_violation": round(float(flagged[y == 1].mean()), 4),
        "oof_recall_at_borderline": round(float((p >= thresholds["borderline"])[y == 1].mean()), 4),
        "oof_clean_flag_rate": round(float(flagged[y == 0].mean()), 4),
    }
    return model, report


# ---------------------------------------------------------------- segmentation and inference


def _spans_between(text: str, breaks: re.Pattern) -> list[tuple[int, int]]:
    """Stretches between the matches of `breaks` (start, end), surrounding space trimmed, those with no
    word skipped, in one pass over the text."""
    spans, left = [], 0
    for m in list(breaks.finditer(text)) + [None]:
        s, e = left, (m.start() if m else len(text))
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s and _HAS_WORD.search(text, s, e):
            spans.append((s, e))
        left = m.end() if m else len(text)
    return spans


def clause_spans(text: str) -> list[tuple[int, int]]:
    """Comma-level clauses (start, end) with surrounding spaces trimmed; clauses with no word are skipped."""
    return _spans_between(text, _CLAUSE_BREAK)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentences (start, end), end marks and surrounding space trimmed.

    The marks are those of `context.sentence_bounds` (。！？!? newline, a full stop before space or the
    end); calling that function per sentence would rescan the text from its start each time.
    """
    return _spans_between(text, _SENTENCE_BREAK)


def _multi_clause_sentences(text: str, clauses: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sentences that hold more than one clause (two pointers: both lists are in text order)."""
    out, i = [], 0
    for s, e in sentence_spans(text):
        while i < len(clauses) and clauses[i][0] < s:
            i += 1
        j = i
        while j < len(clauses) and clauses[j][1] <= e:
            j += 1
        if j - i > 1:
            out.append((s, e))
        i = j
    return out


_LOADED: dict[str, ClauseModel] = {}
_LOAD_LOCK = threading.Lock()


def load_model(path: Path | None = None) -> ClauseModel:
    """The bundled (or given) model with its nearest-example index, loaded once per process."""
    path = Path(path) if path else BUNDLED_MODEL
    key = str(path.resolve())
    if key not in _LOADED:
        with _LOAD_LOCK:
            if key not in _LOADED:
                _LOADED[key] = ClauseModel.load(path)
    return _LOADED[key]


def available() -> bool:
    """True when the shipped model file is present and loads."""
    try:
        load_model()
    except Exception:  # noqa: BLE001 - any load failure means "not available", never an exception here
        return False
    return True


def _hit(text: str, s: int, e: int, prob: float, model: ClauseModel, nearest: tuple[str, Example | None, float]) -> Hit | None:
    th = model.thresholds
    severity = "violation" if prob >= th["violation"] else "borderline" if prob >= th["borderline"] else None
    if severity is None:
        return None
    category, ex, sim = nearest
    article = ex.article if ex is not None and sim >= 0.2 and ex.article else DEFAULT_ARTICLE[category]
    if ex is not None:
        why_zh = (f"分类模型判断此句可能违反{article}（校准概率 {prob:.2f}），"
                  f"与已知违法表述相近：“{ex.text}”（来源 {ex.source}，相似度 {sim:.2f}）")
        why_en = (f"The clause classifier rates this a likely {CATEGORY_EN[category]} (calibrated probability {prob:.2f}); "
                  f"nearest known illegal wording: \"{ex.text}\" ({ex.source}, similarity {sim:.2f}); basis: {article}")
    else:
        why_zh = f"分类模型判断此句可能违反{article}（校准概率 {prob:.2f}）"
        why_en = f"The clause classifier rates this a likely {CATEGORY_EN[category]} (calibrated probability {prob:.2f})"
    return Hit(s, e, f"zh.model.{category}", category, severity, article, why_zh, why_en, None, (s, e))


# A multi-clause sentence is judged as a whole too (claims spread over commas), but only when one of its
# clauses already scores at least this: joined clauses that are each plainly neutral ("根据商品资料，品牌为Nike")
# otherwise scored as claims from punctuation and length alone.
SENTENCE_SUPPORT = 0.4


def classify_many(texts: Sequence[str], language: str | Sequence[str] = "zh",
                  model: ClauseModel | None = None) -> list[list[Hit]]:
    """`classify_clauses` for a batch: one vectoriser call for every clause of every text (the fast path)."""
    model = model or load_model()
    langs = [language] * len(texts) if isinstance(language, str) else list(language or [])
    if len(langs) != len(texts):
        raise BadInput("give one language for all texts or one per text", detail={"texts": len(texts), "languages": len(langs)})
    units: list[tuple[int, int, int, str]] = []  # (text index, start, end, kind)
    for i, (text, lang) in enumerate(zip(texts, langs)):
        if not isinstance(text, str):
            raise BadInput("text must be a string", detail={"index": i})
        if lang not in SUPPORTED_LANGUAGES or not text.strip():
            continue
        clauses = clause_spans(text)
        units.extend((i, s, e, "clause") for s, e in clauses if e - s >= MIN_CLAUSE_CHARS)
        units.extend((i, s, e, "sentence") for s, e in _multi_clause_sentences(text, clauses))
    out: list[list[Hit]] = [[] for _ in texts]
    if not units:
        return out
    probs = model.predict_proba([texts[i][s:e] for i, s, e, _ in units])
    floor = model.thresholds["borderline"]
    keep = [k for k, p in enumerate(probs) if p >= floor]
    near = dict(zip(keep, model.nearest([texts[units[k][0]][units[k][1]:units[k][2]] for k in keep])))
    for k in keep:
        i, s, e, kind = units[k]
        if kind == "sentence" and not any(
                probs[j] >= SENTENCE_SUPPORT for j, (ti, cs, ce, ck) in enumerate(units)
                if ti == i and ck == "clause" and cs >= s and ce <= e):
            continue  # a sentence is flagged only when one of its own clauses carries real evidence
        hit = _hit(texts[i], s, e, float(probs[k]), model, near[k])
        if hit is None:
            continue
        if kind == "sentence":
            inside = [h for h in out[i] if h.start >= s and h.end <= e]
            if any(_RANK[h.severity] <= _RANK[hit.severity] for h in inside):
                continue  # a clause inside already carries the finding, with a tighter span
            out[i] = [h for h in out[i] if h not in inside]  # the whole sentence is the stronger claim
        out[i].append(hit)
    for i, hits in enumerate(out):
        if hits and _APPROVED_AD_MARKERS.search(texts[i]):
            for h in hits:
                if h.category == "medical_claim" and h.severity == "violation":
                    h.severity = "borderline"
                    h.why_zh += "；文中带有药品/医疗器械/保健食品广告的法定提示，疾病用语可能属批准的适应症，请核对批准文件"
                    h.why_en += "; the text carries a statutory drug/device/health-food notice, so the disease wording may be the approved indication: check the approval"
        hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
    return out


def classify_clauses(text: str, language: str = "zh") -> list[Hit]:
    """Findings for the clauses of `text` the model rates likely illegal (text already normalised).

    Languages other than zh/mixed return no findings: the corpus is Chinese, and a model that has not
    seen a language must not pretend to check it (the engine reports such text as unchecked).
    """
    if not isinstance(text, str):
        raise BadInput("text must be a string", detail={"type": type(text).__name__})
    return classify_many([text], language)[0]


def iter_training_rows(rows: Iterable[dict]) -> tuple[list[str], list[int]]:
    """(texts, labels) of corpus-format rows: violation → 1, anything else → 0."""
    texts, labels = [], []
    for r in rows:
        texts.append(r["text"])
        labels.append(1 if r["label"] == "violation" else 0)
    return texts, labels
