"""Fitted attribute taggers: one softmax classifier per labelled catalog column (e.g. articleType).

Each tagger has two views of a product. The image view is an MLP (trained with torch) on the same
frozen image features + colour descriptor the alignment head uses. The title view is a TF-IDF
linear model over the product title's words, because a listing's title usually names its type
and colour ("Puma Men Black Sports Shoes", "红色连衣裙") far more reliably than a 224-px photo.
Their log-probabilities are added with a title weight chosen on the validation split; a product
without a title, and image-only callers such as photo search, get the image view alone.
Everything is stored as numpy arrays, so tagging at serve time needs neither torch nor sklearn.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse

from shopmind.models.tokenizer import tokenize
from shopmind.understand.schedule import one_cycle

TITLE_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0)
_TINY = 1e-9


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def title_terms(title: str) -> list[str]:
    """Word unigrams and bigrams of a title: the title model's vocabulary units."""
    words = tokenize(title or "")
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


@dataclass
class TitleModel:
    """Sublinear TF-IDF of title terms -> multinomial logistic regression, over the tagger's classes."""

    vocab: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray

    @classmethod
    def fit(cls, titles: list[str], labels: list[str], classes: list[str], *, seed: int = 0) -> "TitleModel":
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        vectorizer = TfidfVectorizer(analyzer=title_terms, min_df=2, sublinear_tf=True, dtype=np.float32)
        x = vectorizer.fit_transform(titles)
        clf = LogisticRegression(C=10.0, max_iter=300, random_state=seed).fit(x, labels)
        coef = np.zeros((len(classes), x.shape[1]), np.float32)
        intercept = np.full(len(classes), -30.0, np.float32)  # a class absent from the titles' labels
        rows = {c: i for i, c in enumerate(classes)}
        if len(clf.classes_) == 2:  # sklearn keeps one row for two classes: logits (-z/2, z/2)
            for sign, name in ((-0.5, clf.classes_[0]), (0.5, clf.classes_[1])):
                coef[rows[name]] = sign * clf.coef_[0]
                intercept[rows[name]] = sign * clf.intercept_[0]
        else:
            for k, name in enumerate(clf.classes_):
                coef[rows[name]] = clf.coef_[k]
                intercept[rows[name]] = clf.intercept_[k]
        vocab = {term: int(col) for term, col in vectorizer.vocabulary_.items()}
        return cls(vocab=vocab, idf=vectorizer.idf_.astype(np.float32), coef=coef, intercept=intercept)

    def features(self, titles: list[str]) -> sparse.csr_matrix:
        """The same matrix sklearn's vectorizer gives: (1 + log tf) * idf, rows L2-normalised."""
        indptr, indices, values = [0], [], []
        for title in titles:
            counts: dict[int, int] = {}
            for term in title_terms(title):
                col = self.vocab.get(term)
                if col is not None:
                    counts[col] = counts.get(col, 0) + 1
            cols = sorted(counts)
            row = np.array([(1.0 + np.log(counts[c])) * self.idf[c] for c in cols], np.float32)
            norm = float(np.linalg.norm(row)) if len(row) else 0.0
            indices.extend(cols)
            values.extend((row / norm).tolist() if norm else [])
            indptr.append(len(indices))
        return sparse.csr_matrix((np.array(values, np.float32), np.array(indices, np.int64), np.array(indptr)),
                                 shape=(len(titles), len(self.idf)))

    def log_proba(self, titles: list[str]) -> np.ndarray:
        return _log_softmax(np.asarray(self.features(titles) @ self.coef.T) + self.intercept)


@dataclass
class AttributeTagger:
    """A 1-hidden-layer softmax classifier for one field; `classes` are the label strings."""

    field_name: str
    classes: list[str] = field(default_factory=list)
    params: dict[str, np.ndarray] = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    title_model: TitleModel | None = None
    title_weight: float = 0.0
    hidden: int = 512
    epochs: int = 30
    lr: float = 2e-3
    seed: int = 0
    # Where the field does not apply (sleeve length for shoes): the gate field, e.g. articleType, and
    # its values for which the training data had this field missing/"NA". Tagging abstains there.
    gate_field: str | None = None
    not_applicable: list[str] = field(default_factory=list)

    def applies_to(self, gate_value: str | None) -> bool:
        """False when the product's gate value (e.g. its article type) is one this field does not apply to."""
        return not (self.gate_field and gate_value is not None and gate_value in self.not_applicable)

    def fit(
        self, x: np.ndarray, labels: list[str], *, x_val=None, y_val=None,
        titles: list[str] | None = None, titles_val: list[str] | None = None,
    ) -> "AttributeTagger":
        """Train the image view, then (given titles) the title view and the weight that joins them."""
        import torch
        import torch.nn.functional as F

        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.classes = sorted(set(labels))
        index = {c: i for i, c in enumerate(self.classes)}
        y = torch.tensor([index[v] for v in labels])
        mu, sigma = x.mean(axis=0), x.std(axis=0) + 1e-4
        xs = torch.from_numpy(((x - mu) / sigma).astype(np.float32))
        net = torch.nn.Sequential(
            torch.nn.Dropout(0.1), torch.nn.Linear(xs.shape[1], self.hidden), torch.nn.GELU(approximate="tanh"),
            torch.nn.Dropout(0.3), torch.nn.Linear(self.hidden, len(self.classes)),
        )
        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=1e-3)
        batch = 256
        steps = self.epochs * max(1, -(-len(xs) // batch))
        sched = one_cycle(opt, self.lr, steps)
        started = time.perf_counter()
        for _ in range(self.epochs):
            net.train()
            order = torch.from_numpy(rng.permutation(len(xs)))
            for start in range(0, len(xs), batch):
                idx = order[start : start + batch]
                loss = F.cross_entropy(net(xs[idx]), y[idx], label_smoothing=0.05)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        sd = {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}
        self.params = {"mu": mu.astype(np.float32), "sigma": sigma.astype(np.float32),
                       "w1": sd["1.weight"], "b1": sd["1.bias"], "w2": sd["4.weight"], "b2": sd["4.bias"]}
        self.title_model, self.title_weight = None, 0.0
        if titles is not None and sum(1 for t in titles if t and t.strip()) >= 20 and len(self.classes) >= 2:
            try:
                self.title_model = TitleModel.fit(titles, labels, self.classes, seed=self.seed)
                self.title_weight = 2.0
            except ValueError:  # no title word occurs twice: nothing to learn, the image view stands alone
                self.title_model = None
        self.metrics = {"train_n": len(labels), "classes": len(self.classes), "train_seconds": round(time.perf_counter() - started, 1)}
        if x_val is not None and y_val is not None and len(y_val):
            gold = np.array(list(y_val))
            accuracy = lambda logp: round(float(np.mean(np.array(self.classes)[logp.argmax(axis=1)] == gold)), 4)  # noqa: E731
            image_logp = np.log(self.predict_proba(x_val) + _TINY)
            self.metrics["validation_accuracy_image"] = accuracy(image_logp)
            if self.title_model is not None and titles_val is not None:
                title_logp = self._title_log_proba(list(titles_val))
                scores = {w: accuracy(image_logp + w * title_logp) for w in TITLE_WEIGHTS}
                self.title_weight = max(TITLE_WEIGHTS, key=lambda w: (scores[w], -abs(w - 2.0)))
                self.metrics["validation_accuracy_by_title_weight"] = {str(w): a for w, a in scores.items()}
                self.metrics["validation_accuracy"] = scores[self.title_weight]
            else:
                self.metrics["validation_accuracy"] = self.metrics["validation_accuracy_image"]
        self.metrics["title_weight"] = self.title_weight
        self.metrics["inputs"] = "image+title" if self.title_model is not None else "image"
        return self

    def _title_log_proba(self, titles: list[str]) -> np.ndarray:
        """Title-view log-probabilities; rows of empty titles are 0 (they leave the image view alone)."""
        assert self.title_model is not None
        out = np.zeros((len(titles), len(self.classes)), np.float32)
        rows = [i for i, t in enumerate(titles) if t and t.strip()]
        if rows:
            out[rows] = self.title_model.log_proba([titles[i] for i in rows])
        return out

    def predict_proba(self, x: np.ndarray, titles: list[str] | None = None) -> np.ndarray:
        """Class probabilities from the image inputs, joined with the titles' view when given."""
        p = self.params
        h = _gelu(((x - p["mu"]) / p["sigma"]) @ p["w1"].T + p["b1"])
        z = _log_softmax(h @ p["w2"].T + p["b2"])
        if titles is not None and self.title_model is not None and self.title_weight > 0:
            if len(titles) != len(x):
                raise ValueError(f"{len(titles)} titles for {len(x)} image rows")
            z = _log_softmax(z + self.title_weight * self._title_log_proba(list(titles)))
        return np.exp(z)

    def predict(self, x: np.ndarray, titles: list[str] | None = None) -> list[str]:
        return [self.classes[i] for i in self.predict_proba(x, titles).argmax(axis=1)]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        meta = {"field": self.field_name, "classes": self.classes, "metrics": self.metrics, "hidden": self.hidden,
                "title_weight": self.title_weight, "gate_field": self.gate_field, "not_applicable": self.not_applicable}
        arrays = dict(self.params)
        if self.title_model is not None:
            tm = self.title_model
            meta["title_vocab"] = sorted(tm.vocab, key=tm.vocab.__getitem__)
            arrays.update(title_idf=tm.idf, title_coef=tm.coef, title_intercept=tm.intercept)
        np.savez(tmp, **arrays, _meta=np.array(json.dumps(meta, ensure_ascii=False)))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "AttributeTagger":
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["_meta"]))
            params = {k: data[k] for k in data.files if k != "_meta" and not k.startswith("title_")}
            title_model = None
            if "title_vocab" in meta:
                title_model = TitleModel(
                    vocab={term: i for i, term in enumerate(meta["title_vocab"])}, idf=data["title_idf"],
                    coef=data["title_coef"], intercept=data["title_intercept"],
                )
        return cls(field_name=meta["field"], classes=meta["classes"], params=params, metrics=meta["metrics"], hidden=meta["hidden"],
                   title_model=title_model, title_weight=float(meta.get("title_weight", 0.0)),
                   gate_field=meta.get("gate_field"), not_applicable=list(meta.get("not_applicable") or []))
