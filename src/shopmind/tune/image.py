"""Image LoRA (`task: image`): a diffusers LoRA on a text-to-image pipeline's UNet, trained from a
`metadata.csv` of images and captions (the lora-scripts / kohya layout: `file_name,text`, images
beside the CSV), registered like text adapters, and switched per request on one loaded pipeline.

The base pipeline is a local folder (diffusers layout) or a hub id already in the local cache; no
weights are downloaded at run time. The training objective is the standard noise-prediction MSE.
Checkpoints here hold the LoRA weights and step only (no exact optimizer resume, unlike text runs).
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from shopmind.errors import BackendUnavailable, BadInput
from shopmind.tune.config import TuneConfig
from shopmind.tune.datasets import DataReport
from shopmind.tune.registry import AdapterRegistry, runs_dir

LORA_FILE = "pytorch_lora_weights.safetensors"
UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def _diffusers() -> Any:
    try:
        import diffusers
    except ImportError as exc:
        raise BackendUnavailable("image LoRA needs diffusers: pip install 'diffusers>=0.30,<1'") from exc
    return diffusers


def load_image_rows(paths: list[str], resolution: int) -> tuple[list[tuple[Any, str]], DataReport, str]:
    """(pixel tensor in [-1, 1], caption) pairs from metadata.csv files, with a validation report."""
    import hashlib

    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    report = DataReport()
    rows: list[tuple[Any, str]] = []
    seen: set[str] = set()
    digest = hashlib.sha256()
    if not paths:
        raise BadInput("no dataset given: a metadata.csv with file_name,text columns")
    for entry in paths:
        path = Path(entry)
        report.files.append(entry)
        if not path.is_file() or path.suffix.lower() != ".csv":
            raise BadInput(f"image datasets are metadata.csv files (file_name,text): {path}")
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            cols = set(reader.fieldnames or [])
            if not {"file_name", "text"} <= cols:
                raise BadInput(f"wrong columns {sorted(cols)} in {path.name}; expected file_name,text")
            report.formats[entry] = "image-metadata"
            root = path.parent.resolve()
            for i, row in enumerate(reader, 2):
                where = f"{path.name}:{i}"
                report.rows += 1
                name, caption = (row.get("file_name") or "").strip(), (row.get("text") or "").strip()
                if not name or not caption:
                    report.note("empty", where, "empty file_name or caption")
                    continue
                image_path = (root / name).resolve()
                if not image_path.is_relative_to(root) or not image_path.is_file():
                    report.note("malformed", where, f"image {name} not found beside the CSV")
                    continue
                data = image_path.read_bytes()
                key = hashlib.sha256(data + caption.encode()).hexdigest()
                if key in seen:
                    report.note("duplicated", where, "same image and caption as an earlier row")
                    continue
                try:
                    with Image.open(image_path) as im:
                        im = im.convert("RGB").resize((resolution, resolution), Image.BICUBIC)
                        arr = np.asarray(im, dtype=np.float32) / 127.5 - 1.0
                except (UnidentifiedImageError, OSError) as exc:
                    report.note("malformed", where, f"unreadable image: {exc}")
                    continue
                seen.add(key)
                digest.update(key.encode())
                rows.append((torch.from_numpy(arr).permute(2, 0, 1), caption))
    report.ok = len(rows)
    if not rows:
        raise BadInput("no usable image rows", detail=report.as_dict())
    return rows, report, digest.hexdigest()


def load_pipeline(base: str) -> Any:
    diffusers = _diffusers()
    try:
        return diffusers.DiffusionPipeline.from_pretrained(base, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(f"cannot load diffusion pipeline {base}: {exc} (hub ids must be in the local cache)") from exc


def train_image(cfg: TuneConfig, *, home: Path, progress: bool = True) -> dict[str, Any]:
    """Train a UNet LoRA on the captions/images and register it; returns the adapter's meta."""
    import torch
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    from tqdm import tqdm

    t_start = time.perf_counter()
    if cfg.method != "lora":
        raise BadInput("image runs support method: lora")
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    rows, report, data_hash = load_image_rows(cfg.datasets, cfg.resolution)
    pipe = load_pipeline(cfg.base_model)
    diffusers = _diffusers()
    unet, vae, text_encoder, tokenizer = pipe.unet, pipe.vae, pipe.text_encoder, pipe.tokenizer
    for module in (unet, vae, text_encoder):
        module.requires_grad_(False)
    targets = [t for t in cfg.target_modules if t in UNET_TARGETS] or UNET_TARGETS
    unet.add_adapter(LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                                init_lora_weights="gaussian", target_modules=targets))
    params = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    noise_sched = diffusers.DDPMScheduler.from_config(pipe.scheduler.config)
    per_step = cfg.batch_size
    total = cfg.max_steps or max(1, int(cfg.epochs * len(rows) / per_step + 0.999))
    order = list(range(len(rows)))
    history: list[dict[str, Any]] = []
    run_dir = runs_dir(home) / cfg.name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    status = "completed"
    bar = tqdm(total=total, desc=f"tune {cfg.name} (image)", file=sys.stderr, disable=not progress)
    t0 = time.perf_counter()
    for step in range(total):
        if step * per_step % len(rows) == 0:
            random.Random(cfg.seed + step).shuffle(order)
        idx = [order[(step * per_step + i) % len(rows)] for i in range(per_step)]
        pixels = torch.stack([rows[i][0] for i in idx])
        captions = [rows[i][1] for i in idx]
        with torch.no_grad():
            latents = vae.encode(pixels).latent_dist.sample() * vae.config.scaling_factor
            ids = tokenizer(captions, padding="max_length", truncation=True, max_length=tokenizer.model_max_length,
                            return_tensors="pt").input_ids
            states = text_encoder(ids)[0]
        noise = torch.randn_like(latents)
        t = torch.randint(0, noise_sched.config.num_train_timesteps, (latents.shape[0],))
        pred = unet(noise_sched.add_noise(latents, noise, t), t, states).sample
        loss = torch.nn.functional.mse_loss(pred.float(), noise.float())
        loss.backward()
        if cfg.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        history.append({"step": step + 1, "loss": round(float(loss.detach()), 6), "elapsed_s": round(time.perf_counter() - t0, 2)})
        bar.update(1)
        if cfg.max_minutes and time.perf_counter() - t_start >= cfg.max_minutes * 60 and step + 1 < total:
            status = "time_budget"
            break
    bar.close()
    from diffusers.utils import convert_state_dict_to_diffusers

    reg = AdapterRegistry(home)
    tmp = reg.staging(cfg.name)
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    type(pipe).save_lora_weights(str(tmp), unet_lora_layers=layers, safe_serialization=True)
    with open(tmp / "log.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(h) + "\n" for h in history)
    from shopmind.tune.train import _now, peak_rss_mb, plot_curve

    plot_curve(history, tmp / "loss.png", title=f"{cfg.name} (image LoRA)")
    meta = {"name": cfg.name, "method": "lora", "task": "image", "base_model": cfg.base_model, "base_gguf": None,
            "parent": None, "created": _now(), "status": status, "config": cfg.model_dump(mode="json"),
            "data_hash": data_hash, "data_report": report.as_dict(), "run_dir": str(run_dir),
            "metrics": {"steps": len(history), "total_steps": total, "train_loss_first": history[0]["loss"],
                        "train_loss_last": history[-1]["loss"], "train_seconds": round(time.perf_counter() - t0, 2),
                        "peak_rss_mb": peak_rss_mb(), "train_examples": len(rows)}}
    return reg.publish(cfg.name, tmp, meta)


class ImageVoices:
    """One loaded pipeline; registered image adapters load once and are switched per call."""

    def __init__(self, home: Path, base: str) -> None:
        self.registry = AdapterRegistry(home)
        self.base = base
        self.pipe = load_pipeline(base)
        self.loaded: set[str] = set()

    def use(self, name: str | None) -> float:
        """Activate adapter `name` (None = the bare base); returns the seconds the switch took."""
        t0 = time.perf_counter()
        if name is None:
            if self.loaded:
                self.pipe.disable_lora()
            return time.perf_counter() - t0
        meta = self.registry.meta(name)
        if meta.get("task") != "image":
            raise BadInput(f"adapter {name} is not an image adapter")
        if name not in self.loaded:
            self.pipe.load_lora_weights(meta["path"], weight_name=LORA_FILE, adapter_name=name)
            self.loaded.add(name)
        self.pipe.enable_lora()
        self.pipe.set_adapters([name])
        return time.perf_counter() - t0

    def generate(self, prompt: str, *, voice: str | None = None, steps: int = 20, size: int | None = None,
                 seed: int = 0) -> Any:
        """An image array (H, W, 3) in [0, 1] for `prompt` in the given voice."""
        import torch

        self.use(voice)
        kw: dict[str, Any] = {"num_inference_steps": steps, "output_type": "np",
                              "generator": torch.Generator().manual_seed(seed)}
        if size:
            kw.update(height=size, width=size)
        return self.pipe(prompt, **kw).images[0]
