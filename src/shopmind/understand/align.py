"""Catalog-adapted alignment (`shopmind fit`): map image features into the text encoder's space.

A small MLP takes frozen image features + the colour descriptor and is trained with a symmetric
InfoNCE loss against the text embeddings of the catalog's own titles; a light linear adapter on
the text side (initialised to identity) lets queries meet the images half-way.
Training uses torch; the saved head is plain numpy (.npz) so serving needs no torch.
Estimator API in the scikit-learn spirit: `AlignmentHead(...).fit(X, T)`, `.transform_images(X)`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from shopmind.understand.schedule import one_cycle


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))


def _l2(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@dataclass
class AlignConfig:
    hidden: int = 1024
    epochs: int = 40
    batch_size: int = 512
    lr: float = 2e-3
    weight_decay: float = 1e-4
    dropout: float = 0.2
    temperature: float = 0.05
    seed: int = 0
    text_adapter: bool = True


@dataclass
class AlignmentHead:
    """Image features -> text space. Fitted parameters live in `params` (numpy arrays)."""

    config: AlignConfig = field(default_factory=AlignConfig)
    params: dict[str, np.ndarray] = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    # -- inference (numpy) -------------------------------------------------------------------
    def _standardise(self, x: np.ndarray) -> np.ndarray:
        return (x - self.params["mu"]) / self.params["sigma"]

    def transform_images(self, x: np.ndarray) -> np.ndarray:
        p = self.params
        h = _gelu(self._standardise(x) @ p["w1"].T + p["b1"])
        return _l2(h @ p["w2"].T + p["b2"])

    def transform_texts(self, t: np.ndarray) -> np.ndarray:
        if "wt" not in self.params:
            return _l2(t)
        return _l2(t @ self.params["wt"].T + self.params["bt"])

    # -- training (torch) --------------------------------------------------------------------
    def fit(self, x: np.ndarray, t: np.ndarray, *, x_val=None, t_val=None, progress=None) -> "AlignmentHead":
        import torch
        import torch.nn.functional as F

        cfg = self.config
        torch.manual_seed(cfg.seed)
        np_rng = np.random.default_rng(cfg.seed)
        mu = x.mean(axis=0)
        sigma = x.std(axis=0) + 1e-4
        xs = torch.from_numpy(((x - mu) / sigma).astype(np.float32))
        ts = torch.from_numpy(_l2(t).astype(np.float32))
        d_in, d_out = xs.shape[1], ts.shape[1]
        img = torch.nn.Sequential(
            torch.nn.Linear(d_in, cfg.hidden), torch.nn.GELU(approximate="tanh"), torch.nn.Dropout(cfg.dropout),
            torch.nn.Linear(cfg.hidden, d_out),
        )
        txt = torch.nn.Linear(d_out, d_out)
        with torch.no_grad():
            txt.weight.copy_(torch.eye(d_out))
            txt.bias.zero_()
        log_scale = torch.nn.Parameter(torch.tensor(float(np.log(1.0 / cfg.temperature))))
        params = list(img.parameters()) + [log_scale] + (list(txt.parameters()) if cfg.text_adapter else [])
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        n = len(xs)
        steps = cfg.epochs * max(1, n // cfg.batch_size)
        sched = one_cycle(opt, cfg.lr, steps)
        started = time.perf_counter()
        losses = []
        for epoch in range(cfg.epochs):
            img.train()
            order = np_rng.permutation(n)
            epoch_loss = 0.0
            batches = 0
            for start in range(0, n - cfg.batch_size + 1 if n >= cfg.batch_size else 1, cfg.batch_size):
                idx = torch.from_numpy(order[start : start + cfg.batch_size])
                zi = F.normalize(img(xs[idx]), dim=1)
                zt = F.normalize(txt(ts[idx]) if cfg.text_adapter else ts[idx], dim=1)
                logits = zi @ zt.T * log_scale.exp().clamp(max=100)
                target = torch.arange(len(idx))
                loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
                opt.zero_grad()
                loss.backward()
                opt.step()
                if batches < steps:
                    sched.step()
                epoch_loss += loss.item()
                batches += 1
            losses.append(epoch_loss / max(batches, 1))
            if progress:
                progress(epoch + 1, losses[-1])
        img.eval()
        sd = {k: v.detach().numpy().astype(np.float32) for k, v in img.state_dict().items()}
        self.params = {
            "mu": mu.astype(np.float32), "sigma": sigma.astype(np.float32),
            "w1": sd["0.weight"], "b1": sd["0.bias"], "w2": sd["3.weight"], "b2": sd["3.bias"],
        }
        if cfg.text_adapter:
            self.params["wt"] = txt.weight.detach().numpy().astype(np.float32)
            self.params["bt"] = txt.bias.detach().numpy().astype(np.float32)
        self.metrics = {
            "train_pairs": int(n), "epochs": cfg.epochs, "final_loss": round(losses[-1], 4) if losses else None,
            "train_seconds": round(time.perf_counter() - started, 1), "temperature": round(float(1 / log_scale.detach().exp()), 4),
        }
        if x_val is not None and t_val is not None and len(x_val):
            self.metrics["validation"] = retrieval_metrics(self.transform_texts(t_val), self.transform_images(x_val))
        return self

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **self.params, _meta=np.array(json.dumps({"config": asdict(self.config), "metrics": self.metrics})))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "AlignmentHead":
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["_meta"]))
            params = {k: data[k] for k in data.files if k != "_meta"}
        return cls(config=AlignConfig(**meta["config"]), params=params, metrics=meta["metrics"])


def retrieval_metrics(queries: np.ndarray, items: np.ndarray) -> dict[str, float]:
    """Recall@1/5/10 and MRR when query i's only relevant item is item i."""
    sims = queries @ items.T
    own = np.diag(sims)
    ranks = (sims > own[:, None]).sum(axis=1) + 1
    return {
        "recall@1": round(float((ranks <= 1).mean()), 4),
        "recall@5": round(float((ranks <= 5).mean()), 4),
        "recall@10": round(float((ranks <= 10).mean()), 4),
        "mrr": round(float((1.0 / ranks).mean()), 4),
        "n": int(len(ranks)),
    }
