"""BM25 over each product's bilingual text (title, attributes, tags, OCR) with bm25s + jieba tokens."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from shopmind.domain import Product, ProductTags
from shopmind.search.text import expand_query, tokenize


def product_text(p: Product, tags: ProductTags | None = None, ocr: str | None = None) -> str:
    """Everything a shopper might type about a product, zh and en."""
    parts = [p.title, p.description, p.category or ""]
    parts += [v for k, v in p.attributes.items() if len(v) <= 200]
    if tags is not None:
        parts += [f"{c.name_en} {c.name_zh}" for c in tags.colours[:2]]
        for labels in tags.labels.values():
            if labels:
                parts.append(f"{labels[0].label} {labels[0].label_zh or ''}")
    if ocr:
        parts.append(ocr)
    return " ".join(x for x in parts if x)


class LexicalIndex:
    """A BM25 index with its id list; saved atomically as a folder."""

    def __init__(self, retriever, ids: list[str]) -> None:
        self.retriever = retriever
        self.ids = ids
        self._pos = {pid: i for i, pid in enumerate(ids)}
        self._vocab = set(getattr(retriever, "vocab_dict", {}) or {})

    @classmethod
    def build(cls, ids: list[str], texts: list[str]) -> "LexicalIndex":
        import bm25s

        retriever = bm25s.BM25()
        corpus = [tokenize(t) or ["∅"] for t in texts]
        retriever.index(corpus, show_progress=False)
        return cls(retriever, ids)

    def save(self, folder: Path) -> None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".bm25-"))
        self.retriever.save(str(tmp), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps(self.ids), "utf-8")
        old = folder.with_name(folder.name + ".old")
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        import bm25s

        retriever = bm25s.BM25.load(str(folder), show_progress=False)
        ids = json.loads((folder / "ids.json").read_text("utf-8"))
        return cls(retriever, ids)

    def search(self, query: str, k: int = 100, allowed: set[str] | None = None) -> list[tuple[str, float, list[str]]]:
        """(id, score, matched query tokens) best first; `allowed` restricts to a filtered id set."""
        tokens = [t for t in expand_query(tokenize(query)) if t in self._vocab]
        if not tokens or not self.ids:
            return []
        mask = None
        if allowed is not None:
            mask = np.zeros(len(self.ids), dtype=np.float32)
            for pid in allowed:
                pos = self._pos.get(pid)
                if pos is not None:
                    mask[pos] = 1.0
            if not mask.any():
                return []
        k = min(k, len(self.ids))
        docs, scores = self.retriever.retrieve([tokens], k=k, show_progress=False, weight_mask=mask)
        out = []
        for doc, score in zip(docs[0], scores[0]):
            if score <= 0:
                continue
            out.append((self.ids[int(doc)], float(score), tokens))
        return out
