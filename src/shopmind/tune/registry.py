"""The adapter registry: one folder per adapter under SHOPMIND_HOME/adapters.

    adapters/NAME/adapter_model.safetensors   PEFT LoRA weights
    adapters/NAME/adapter_config.json         PEFT config (rank, alpha, target modules)
    adapters/NAME/shopmind.json               run config, data hash, metrics, parent, base model, created
    adapters/NAME/adapter.gguf                after `tune export NAME --format gguf` (llama.cpp LoRA)
    adapters/NAME/loss.png, log.jsonl         the training curve and log

Run state (checkpoints for --resume) lives apart, under SHOPMIND_HOME/tune_runs/NAME, so deleting
an adapter never deletes the evidence of a run in progress and vice versa.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from shopmind.errors import BadInput, NotFound
from shopmind.tune.config import check_name

META = "shopmind.json"
WEIGHTS = "adapter_model.safetensors"
GGUF = "adapter.gguf"


def adapters_dir(home: Path) -> Path:
    return Path(home) / "adapters"


def runs_dir(home: Path) -> Path:
    return Path(home) / "tune_runs"


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2, default=str)
    os.replace(tmp, path)


class AdapterRegistry:
    """List, read, resolve and delete the adapters of one SHOPMIND_HOME."""

    def __init__(self, home: Path) -> None:
        self.root = adapters_dir(home)

    def path(self, name: str) -> Path:
        return self.root / check_name(name)

    def exists(self, name: str) -> bool:
        return (self.path(name) / META).is_file()

    def meta(self, name: str) -> dict[str, Any]:
        folder = self.path(name)
        meta_file = folder / META
        if not meta_file.is_file():
            known = ", ".join(self.names()) or "none yet"
            raise NotFound(f"no adapter named {name!r} (registered: {known})", detail={"name": name})
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise BadInput(f"adapter {name}: unreadable {META}: {exc}") from exc
        meta["path"] = str(folder)
        meta["files"] = sorted(p.name for p in folder.iterdir() if p.is_file())
        meta["gguf"] = str(folder / GGUF) if (folder / GGUF).is_file() else None
        return meta

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / META).is_file())

    def list(self) -> list[dict[str, Any]]:
        out = []
        for name in self.names():
            m = self.meta(name)
            out.append({k: m.get(k) for k in ("name", "method", "base_model", "parent", "created", "data_hash",
                                              "metrics", "status", "path", "gguf")})
        return out

    def delete(self, name: str) -> dict[str, Any]:
        meta = self.meta(name)  # NotFound when absent
        children = [n for n in self.names() if n != name and self.meta(n).get("parent") == name]
        shutil.rmtree(self.path(name))
        return {"deleted": name, "children_left_with_missing_parent": children, "path": meta["path"]}

    def save_meta(self, name: str, meta: dict[str, Any]) -> None:
        write_json_atomic(self.path(name) / META, meta)

    def staging(self, name: str) -> Path:
        """An empty hidden folder beside the adapter's, where a run writes it before `publish` swaps it in."""
        tmp = self.path(name).parent / f".{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        return tmp

    def publish(self, name: str, staged: Path, meta: dict[str, Any]) -> dict[str, Any]:
        """Write the record into the staged folder, replace any older adapter of this name with it, and read it back."""
        write_json_atomic(staged / META, meta)
        folder = self.path(name)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staged, folder)
        return self.meta(name)
