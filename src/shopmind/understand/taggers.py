"""Fitted attribute taggers: one softmax classifier per labelled catalog column (e.g. articleType).

Trained with torch on the same frozen image features + colour descriptor the alignment head uses;
stored as numpy arrays so tagging at serve time needs no torch.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))


@dataclass
class AttributeTagger:
    """A 1-hidden-layer softmax classifier for one field; `classes` are the label strings."""

    field_name: str
    classes: list[str] = field(default_factory=list)
    params: dict[str, np.ndarray] = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    hidden: int = 512
    epochs: int = 30
    lr: float = 2e-3
    seed: int = 0

    def fit(self, x: np.ndarray, labels: list[str], *, x_val=None, y_val=None) -> "AttributeTagger":
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
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=steps, pct_start=0.1)
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
        self.metrics = {"train_n": len(labels), "classes": len(self.classes), "train_seconds": round(time.perf_counter() - started, 1)}
        if x_val is not None and y_val is not None and len(y_val):
            pred = self.predict(x_val)
            self.metrics["validation_accuracy"] = round(float(np.mean([p == t for p, t in zip(pred, y_val)])), 4)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = self.params
        h = _gelu(((x - p["mu"]) / p["sigma"]) @ p["w1"].T + p["b1"])
        z = h @ p["w2"].T + p["b2"]
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, x: np.ndarray) -> list[str]:
        return [self.classes[i] for i in self.predict_proba(x).argmax(axis=1)]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        meta = {"field": self.field_name, "classes": self.classes, "metrics": self.metrics, "hidden": self.hidden}
        np.savez(tmp, **self.params, _meta=np.array(json.dumps(meta, ensure_ascii=False)))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "AttributeTagger":
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["_meta"]))
            params = {k: data[k] for k in data.files if k != "_meta"}
        return cls(field_name=meta["field"], classes=meta["classes"], params=params, metrics=meta["metrics"], hidden=meta["hidden"])
