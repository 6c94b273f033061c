"""Review / message sentiment: a stacked model over two views of the text.

* view A — character 1–3-gram TF-IDF (hashed, so the model needs no vocabulary file) with a
  logistic regression. Chinese has no spaces and reviews are full of slang; character n-grams
  catch 不错/差评/太慢 without a tokenizer. Alone, it is also the baseline we report.
* view B — multilingual-e5-small sentence embeddings with a logistic regression: it generalises
  to paraphrases and to English, where view A has seen little data.
* a 3-parameter logistic combiner over the two log-odds, fitted on a held-out slice so it learns
  how far to trust each view rather than memorising the training rows.

Everything the model needs fits in one small `.npz` (idf, two weight vectors, the combiner).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from shopmind.errors import BadInput, NotReady

MAX_CHARS = 128  # e5 cost grows with length; the opening of a review carries its verdict
N_HASH = 2**18
NGRAMS = (1, 3)
BUNDLED_MODEL = Path(__file__).with_name("data") / "sentiment_model.npz"


def clip_text(text: str) -> str:
    """The part of a text both views read (whitespace-normalised, first MAX_CHARS characters)."""
    return " ".join(str(text).split())[:MAX_CHARS]


def _vectorizer():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer="char", ngram_range=NGRAMS, n_features=N_HASH, alternate_sign=False, norm=None, lowercase=True
    )


def char_counts(texts: Sequence[str]) -> sp.csr_matrix:
    """Raw hashed character n-gram counts of the clipped texts."""
    return _vectorizer().transform([clip_text(t) for t in texts]).tocsr()


def fit_idf(counts: sp.csr_matrix) -> np.ndarray:
    """Smoothed inverse document frequency per hash bucket."""
    df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
    n = counts.shape[0]
    return (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)


def tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear tf × idf, L2-normalised rows."""
    from sklearn.preprocessing import normalize

    x = counts.astype(np.float32).copy()
    x.data = 1.0 + np.log(x.data)
    x = x @ sp.diags(idf)
    return normalize(x, norm="l2", copy=False).tocsr()


def _logreg(c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, solver="liblinear", max_iter=200)


@dataclass
class SentimentModel:
    """Linear heads + combiner; `predict_proba` returns P(positive)."""

    idf: np.ndarray
    w_char: np.ndarray
    b_char: float
    w_e5: np.ndarray
    b_e5: float
    combiner: np.ndarray  # [w_char_logit, w_e5_logit, bias]
    meta: dict = field(default_factory=dict)

    def char_logit(self, counts: sp.csr_matrix) -> np.ndarray:
        return np.asarray(tfidf(counts, self.idf) @ self.w_char).ravel() + self.b_char

    def e5_logit(self, embeddings: np.ndarray) -> np.ndarray:
        return embeddings @ self.w_e5 + self.b_e5

    def combine(self, char_logit: np.ndarray, e5_logit: np.ndarray) -> np.ndarray:
        z = self.combiner[0] * char_logit + self.combiner[1] * e5_logit + self.combiner[2]
        return 1.0 / (1.0 + np.exp(-z))

    def predict_proba(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """P(positive) per text; embeddings are computed (through the cache) when not given."""
        if embeddings is None:
            from shopmind.service.embedcache import EmbeddingCache

            embeddings = EmbeddingCache(persist=len(texts) >= 16).embed([clip_text(t) for t in texts])
        return self.combine(self.char_logit(char_counts(texts)), self.e5_logit(embeddings))

    def baseline_proba(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) from the TF-IDF char n-gram view alone (the reported baseline)."""
        return 1.0 / (1.0 + np.exp(-self.char_logit(char_counts(texts))))

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            np.savez_compressed(
                fh, idf=self.idf.astype(np.float16), w_char=self.w_char.astype(np.float32), b_char=self.b_char,
                w_e5=self.w_e5.astype(np.float32), b_e5=self.b_e5, combiner=self.combiner,
                meta=np.array(json.dumps(self.meta, ensure_ascii=False)),
            )
        return path

    @classmethod
    def load(cls, path: Path) -> "SentimentModel":
        path = Path(path)
        if not path.is_file():
            raise NotReady(f"no sentiment model at {path}: run scripts/train_sentiment.py")
        with np.load(path) as z:
            return cls(
                idf=z["idf"].astype(np.float32), w_char=z["w_char"], b_char=float(z["b_char"]),
                w_e5=z["w_e5"], b_e5=float(z["b_e5"]), combiner=z["combiner"], meta=json.loads(str(z["meta"])),
            )


def _fit_views(counts: sp.csr_matrix, y: np.ndarray, emb_rows: np.ndarray, emb: np.ndarray, c_char: float, c_e5: float):
    idf = fit_idf(counts)
    char = _logreg(c_char).fit(tfidf(counts, idf), y)
    e5 = _logreg(c_e5).fit(emb, y[emb_rows])
    return idf, char.coef_.ravel().astype(np.float32), float(char.intercept_[0]), e5.coef_.ravel().astype(np.float32), float(e5.intercept_[0])


def fit_sentiment(
    counts: sp.csr_matrix,
    labels: Sequence[int],
    emb_rows: Sequence[int],
    embeddings: np.ndarray,
    *,
    c_char: float = 4.0,
    c_e5: float = 8.0,
    combiner_share: float = 0.2,
    seed: int = 0,
) -> SentimentModel:
    """Fit both views on all rows (view B on the rows that have embeddings) and the combiner.

    `counts` covers every training row; `emb_rows[i]` is the row of `embeddings[i]`. The combiner is
    fitted on the log-odds that views trained without a random `combiner_share` of the embedded
    rows give to those rows, so its weights reflect held-out behaviour.
    """
    y = np.asarray(labels, dtype=np.int64)
    emb_rows = np.asarray(emb_rows, dtype=np.int64)
    if counts.shape[0] != len(y) or len(emb_rows) != len(embeddings):
        raise BadInput("counts/labels/embeddings sizes disagree")
    if len(set(y.tolist())) < 2 or len(set(y[emb_rows].tolist())) < 2:
        raise BadInput("sentiment training needs both labels (0 and 1) among the rows")
    rng = np.random.default_rng(seed)
    held = rng.random(len(emb_rows)) < combiner_share
    held_rows = emb_rows[held]
    keep = np.ones(len(y), dtype=bool)
    keep[held_rows] = False
    remap = -np.ones(len(y), dtype=np.int64)
    remap[np.flatnonzero(keep)] = np.arange(int(keep.sum()))
    idf0, wc0, bc0, we0, be0 = _fit_views(counts[keep], y[keep], remap[emb_rows[~held]], embeddings[~held], c_char, c_e5)
    probe = SentimentModel(idf0, wc0, bc0, we0, be0, np.array([1.0, 1.0, 0.0]))
    z = np.column_stack([probe.char_logit(counts[held_rows]), probe.e5_logit(embeddings[held])])
    comb = _logreg(100.0).fit(z, y[held_rows])
    combiner = np.array([comb.coef_[0, 0], comb.coef_[0, 1], comb.intercept_[0]], dtype=np.float64)
    idf, wc, bc, we, be = _fit_views(counts, y, emb_rows, embeddings, c_char, c_e5)
    return SentimentModel(idf, wc, bc, we, be, combiner)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# Stays process-wide: loaded model weights keyed by file, shared and never changed (not per-home state).
_LOADED: dict[str, SentimentModel] = {}


def load_model(path: Path | None = None) -> SentimentModel:
    """The bundled (or given) model, loaded once per process."""
    path = Path(path) if path else BUNDLED_MODEL
    key = str(path.resolve())
    if key not in _LOADED:
        _LOADED[key] = SentimentModel.load(path)
    return _LOADED[key]


@dataclass
class SentimentResult:
    label: str | None  # "positive" | "negative"; None when the item could not be scored
    score: float | None  # P(positive)
    error: str | None = None


def analyse(texts: Sequence[str], model: SentimentModel | None = None) -> list[SentimentResult]:
    """Sentiment of each text; an empty text gets an error entry instead of sinking the batch."""
    texts = [str(t) for t in texts]
    model = model or load_model()
    ok = [i for i, t in enumerate(texts) if t.strip()]
    out = [SentimentResult(None, None, "empty text has no sentiment") for _ in texts]
    if ok:
        probs = model.predict_proba([texts[i] for i in ok])
        for i, p in zip(ok, probs):
            out[i] = SentimentResult("positive" if p >= 0.5 else "negative", round(float(p), 4))
    return out
