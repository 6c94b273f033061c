"""The training loop for LoRA (supervised) and DPO runs, resumable to the exact step.

Why a small loop of our own rather than `transformers.Trainer`: exact resume and a wall-clock
budget are the two promises here, and both are simplest when every piece of state is ours.
- Data order is a pure function of (seed, step): the example stream is the concatenation of one
  seeded permutation per epoch, and optimizer step `s` takes items `s*E … (s+1)*E` of it. A
  resumed run needs only the step number to continue the same order.
- A checkpoint holds the adapter weights, optimizer, scheduler, torch/python/numpy RNG states,
  the step, eval/early-stopping state and the log; resuming restores all of it, so a killed run
  continued with `--resume` ends with the same weights as one that never stopped.
- `max_minutes` is checked after every optimizer step; when spent, the run checkpoints, registers
  what it has and reports `status: time_budget`.
DPO uses the standard sigmoid loss with the frozen base (adapter disabled) as the reference model,
so it needs no second copy of the weights.
"""

from __future__ import annotations

import json
import math
import os
import random
import resource
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from shopmind.errors import BadInput, NotFound
from shopmind.tune.config import TuneConfig
from shopmind.tune.datasets import (DataReport, Encoded, EncodedPair, data_hash, encode_pairs, encode_sft,
                                    load_examples, round_chars)
from shopmind.tune.registry import AdapterRegistry, runs_dir, write_json_atomic

KEEP_CHECKPOINTS = 2


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _config_key(cfg: TuneConfig) -> dict[str, Any]:
    """The settings that must not change between a run and its resume (the budget may)."""
    return cfg.model_dump(exclude={"max_minutes", "early_stopping_patience", "save_steps", "threads", "device",
                                   "serve_repeat_penalty"})


class _Stream:
    """Example indices for optimizer step `s`: items s*E … (s+1)*E of the per-epoch permutations."""

    def __init__(self, n: int, per_step: int, seed: int) -> None:
        self.n, self.per_step, self.seed = n, per_step, seed
        self._perms: dict[int, list[int]] = {}

    def _perm(self, epoch: int) -> list[int]:
        if epoch not in self._perms:
            order = list(range(self.n))
            random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
            self._perms[epoch] = order
        return self._perms[epoch]

    def step(self, s: int) -> list[int]:
        start = s * self.per_step
        return [self._perm(i // self.n)[i % self.n] for i in range(start, start + self.per_step)]


def _pad(items: list[Encoded], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(e.input_ids) for e in items)
    ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), -100, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for i, e in enumerate(items):
        ids[i, : len(e.input_ids)] = torch.tensor(e.input_ids)
        labels[i, : len(e.labels)] = torch.tensor(e.labels)
        mask[i, : len(e.input_ids)] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def answer_logits(model: Any, batch: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(logits, targets, row) for the labelled (answer) positions only.

    Why: the vocabulary head is 151k wide, and a prompt is most of an example; running the
    decoder, then the head only on the hidden states that predict a label, skips most of the
    head's work (forward and backward) without changing the loss. Falls back to the full forward
    for models without a decoder/head split."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    labels = batch["labels"][:, 1:]
    mask = labels != -100
    decoder = getattr(inner, "get_decoder", lambda: None)()
    head = getattr(inner, "get_output_embeddings", lambda: None)()
    if decoder is not None and head is not None:
        hidden = decoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        logits = head(hidden[:, :-1][mask])
    else:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1][mask]
    rows = mask.nonzero()[:, 0]
    return logits.float(), labels[mask], rows


def sft_loss(model: Any, batch: dict[str, Any]) -> Any:
    """Mean cross-entropy over the answer tokens of the batch (what HF's causal-LM loss computes)."""
    import torch

    logits, targets, _ = answer_logits(model, batch)
    return torch.nn.functional.cross_entropy(logits, targets)


def _sequence_logps(model: Any, batch: dict[str, Any]) -> Any:
    """Sum of the log-probabilities of the labelled (answer) tokens, per row."""
    import torch

    logits, targets, rows = answer_logits(model, batch)
    logps = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return torch.zeros(batch["labels"].shape[0], dtype=logps.dtype, device=logps.device).index_add(0, rows, logps)


def dpo_loss(model: Any, pairs: list[EncodedPair], pad_id: int, beta: float, device: str) -> tuple[Any, dict]:
    """Sigmoid DPO loss; the reference is the same network with the adapter switched off."""
    import torch

    chosen = {k: v.to(device) for k, v in _pad([p.chosen for p in pairs], pad_id).items()}
    rejected = {k: v.to(device) for k, v in _pad([p.rejected for p in pairs], pad_id).items()}
    pc, pr = _sequence_logps(model, chosen), _sequence_logps(model, rejected)
    with torch.no_grad(), model.disable_adapter():
        rc, rr = _sequence_logps(model, chosen), _sequence_logps(model, rejected)
    margin = beta * ((pc - rc) - (pr - rr))
    loss = -torch.nn.functional.logsigmoid(margin).mean()
    return loss, {"reward_accuracy": float((margin > 0).float().mean()), "reward_margin": float(margin.mean())}


def _lr_lambda(kind: str, warmup: int, total: Callable[[], int]) -> Callable[[int], float]:
    """LR factor per step; `total` is read on every call because a budget horizon is fixed mid-run."""
    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if kind == "constant":
            return 1.0
        progress = (step - warmup) / max(1, total() - warmup)
        progress = min(max(progress, 0.0), 1.0)
        return 0.5 * (1 + math.cos(math.pi * progress)) if kind == "cosine" else 1.0 - progress
    return f


class Trainer:
    """One run: data, model, optimizer; `fit()` trains, checkpoints and registers the adapter."""

    def __init__(self, cfg: TuneConfig, *, home: Path, settings: Any = None, resume: bool = False,
                 progress: bool = True, log: Callable[[str], None] | None = None, store: Any = None) -> None:
        if cfg.task != "text":
            raise BadInput("task: image runs go through shopmind.tune.image (see `tune run` with task: image)")
        self.cfg, self.home, self.settings, self.resume, self.progress = cfg, Path(home), settings, resume, progress
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.registry = AdapterRegistry(self.home)
        self.run_dir = runs_dir(self.home) / cfg.name
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.store = store

    # ── setup ────────────────────────────────────────────────────────────────────
    def _seed(self) -> None:
        import numpy as np
        import torch

        random.seed(self.cfg.seed)
        np.random.seed(self.cfg.seed % (2**32))
        torch.manual_seed(self.cfg.seed)

    def _prepare(self) -> None:
        import torch

        from shopmind.tune.base import load_model, load_tokenizer, pick_device, pick_dtype, resolve_base

        cfg = self.cfg
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = pick_device(cfg.device)
        self.dtype = pick_dtype(cfg.precision, self.device)
        self.spec = resolve_base(cfg.base_model, self.settings)
        self.tokenizer = load_tokenizer(self.spec)
        examples, self.report = load_examples(cfg.datasets, fmt=cfg.dataset_format, style=cfg.prompt_style,
                                              system=cfg.system_prompt, store=self.store, length_hint=cfg.length_hint)
        examples = examples[cfg.skip_examples:]
        if cfg.max_examples:
            examples = examples[: cfg.max_examples]
        if not examples:
            raise BadInput(f"no examples left after skip_examples={cfg.skip_examples}")
        chars = sorted(e.answer_chars for e in examples if e.answer_chars)
        # the length a length-hinted voice asks for when a request gives none: its data's median
        self.typical_chars = round_chars(chars[len(chars) // 2]) if cfg.length_hint and chars else None
        self.data_hash = data_hash(examples)
        encode = encode_pairs if cfg.method == "dpo" else encode_sft
        encoded = encode(self.tokenizer, examples, cfg.max_length, self.report)
        r = self.report
        self.log(f"data: {r.rows} rows, {r.ok} used; {r.duplicated} duplicated, {r.empty} empty, {r.malformed} "
                 f"malformed, {r.too_long} too long, {r.truncated} truncated at max_length {cfg.max_length}")
        if r.truncated > 0.1 * max(1, r.ok):
            self.log(f"warning: {r.truncated} of {r.ok} answers are cut at max_length {cfg.max_length}: the model "
                     "will not learn to finish them; raise max_length (see `tune check`)")
        order = list(range(len(encoded)))
        random.Random(cfg.seed).shuffle(order)
        k = cfg.eval_count(len(encoded))
        self.eval_set = [encoded[i] for i in order[:k]]
        self.train_set = [encoded[i] for i in order[k:]]
        self.per_step = cfg.batch_size * cfg.grad_accum
        steps_per_epoch = max(1, math.ceil(len(self.train_set) / self.per_step))
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = cfg.max_steps or max(1, math.ceil(cfg.epochs * steps_per_epoch))
        self.stream = _Stream(len(self.train_set), self.per_step, cfg.seed)
        self._seed()  # LoRA initialisation draws from torch's RNG: same seed, same start
        base = load_model(self.spec, device=self.device, dtype=self.dtype, load_in_4bit=cfg.load_in_4bit)
        self.parent = cfg.from_adapter
        self.model = self._wrap(base)
        params = [p for p in self.model.parameters() if p.requires_grad]
        if not params:
            raise BadInput(f"no trainable parameters: none of target_modules {cfg.target_modules} is in the model")
        self.optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        warmup = int(cfg.warmup_ratio * self.total_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer,
                                                           _lr_lambda(cfg.lr_scheduler, warmup, lambda: self.total_steps))
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def _wrap(self, base: Any) -> Any:
        from peft import LoraConfig, PeftModel, get_peft_model

        cfg = self.cfg
        if cfg.from_adapter:
            if not self.registry.exists(cfg.from_adapter):
                raise NotFound(f"parent adapter {cfg.from_adapter!r} is not registered")
            parent = self.registry.meta(cfg.from_adapter)
            if parent.get("base_model") != self.spec.model_id:
                raise BadInput(f"parent adapter {cfg.from_adapter} was trained on {parent.get('base_model')}, "
                               f"not {self.spec.model_id}")
            return PeftModel.from_pretrained(base, parent["path"], is_trainable=True)
        missing = [m for m in cfg.target_modules if not any(n.endswith(m) for n, _ in base.named_modules())]
        if missing:
            raise BadInput(f"target_modules not in {self.spec.model_id}: {missing}")
        extra: dict[str, Any] = {}
        if cfg.lora_layers:
            n_layers = int(getattr(base.config, "num_hidden_layers", 0) or 0)
            if not n_layers:
                raise BadInput(f"lora_layers needs a model with numbered decoder layers; {self.spec.model_id} has none")
            extra["layers_to_transform"] = list(range(max(0, n_layers - cfg.lora_layers), n_layers))
        lora = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                          target_modules=list(cfg.target_modules), bias="none", task_type="CAUSAL_LM", **extra)
        return get_peft_model(base, lora)

    # ── one step ─────────────────────────────────────────────────────────────────
    def _micro_batches(self, idx: list[int]) -> list[list[Any]]:
        """The step's examples in micro-batches; with batch_size > 1 they are sorted by length
        first (a pure function of the step's indices, so resume stays exact), which keeps padding small."""
        items = [self.train_set[i] for i in idx]
        if self.cfg.batch_size > 1:
            items.sort(key=lambda e: len(e.chosen.input_ids) + len(e.rejected.input_ids)
                       if isinstance(e, EncodedPair) else len(e.input_ids))
        return [items[i: i + self.cfg.batch_size] for i in range(0, len(items), self.cfg.batch_size)]

    def _autocast(self) -> Any:
        """bf16 autocast for `precision: bf16-autocast` (fp32 master weights, bf16 matmuls)."""
        import contextlib

        import torch

        if self.cfg.precision != "bf16-autocast":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device, dtype=torch.bfloat16)

    def _loss(self, items: list[Any]) -> tuple[Any, dict]:
        with self._autocast():
            if self.cfg.method == "dpo":
                return dpo_loss(self.model, items, self.pad_id, self.cfg.dpo_beta, self.device)
            batch = {k: v.to(self.device) for k, v in _pad(items, self.pad_id).items()}
            return sft_loss(self.model, batch), {}

    def train_step(self, step: int) -> dict[str, Any]:
        import torch

        self.model.train()
        total, extra, tokens = 0.0, {}, 0
        chunks = self._micro_batches(self.stream.step(step))
        for items in chunks:
            loss, extra = self._loss(items)
            (loss / len(chunks)).backward()
            total += float(loss.detach()) / len(chunks)
            tokens += sum(len(e.input_ids) for e in items) if self.cfg.method != "dpo" else \
                sum(len(p.chosen.input_ids) + len(p.rejected.input_ids) for p in items)
        if self.cfg.max_grad_norm:
            torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad],
                                           self.cfg.max_grad_norm)
        lr = self.scheduler.get_last_lr()[0]
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return {"step": step + 1, "loss": round(total, 6), "lr": lr, "tokens": tokens, **extra}

    def eval_loss(self) -> float | None:
        import torch

        if not self.eval_set:
            return None
        self.model.eval()
        losses = []
        with torch.no_grad():
            for i in range(0, len(self.eval_set), self.cfg.batch_size):
                loss, _ = self._loss(self.eval_set[i: i + self.cfg.batch_size])
                losses.append(float(loss))
        return round(sum(losses) / len(losses), 6)

    # ── checkpoints ──────────────────────────────────────────────────────────────
    def _adapter_state(self) -> dict[str, Any]:
        from peft import get_peft_model_state_dict

        return {k: v.detach().cpu().clone() for k, v in get_peft_model_state_dict(self.model).items()}

    def save_checkpoint(self, state: dict[str, Any]) -> Path:
        import numpy as np
        import torch
        from safetensors.torch import save_file

        step = state["step"]
        final = self.ckpt_dir / f"step-{step:07d}"
        tmp = self.ckpt_dir / f".step-{step:07d}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_file(self._adapter_state(), str(tmp / "adapter_model.safetensors"))
        torch.save({"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                    "torch_rng": torch.get_rng_state(), "python_rng": random.getstate(),
                    "numpy_rng": np.random.get_state(),
                    "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
                   tmp / "trainer.pt")
        write_json_atomic(tmp / "state.json", state)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for old in sorted(self.ckpt_dir.glob("step-*"))[:-KEEP_CHECKPOINTS]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def latest_checkpoint(self) -> Path | None:
        found = sorted(self.ckpt_dir.glob("step-*")) if self.ckpt_dir.is_dir() else []
        return found[-1] if found else None

    def load_checkpoint(self, path: Path) -> dict[str, Any]:
        import numpy as np
        import torch
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
        if state.get("config_key") != json.loads(json.dumps(_config_key(self.cfg), default=str)):
            raise BadInput(f"the config changed since run {self.cfg.name} was checkpointed; resume needs the same "
                           "config (only max_minutes, save_steps, early_stopping_patience, threads, device may change)")
        if state.get("data_hash") != self.data_hash:
            raise BadInput(f"the training data changed since run {self.cfg.name} was checkpointed")
        set_peft_model_state_dict(self.model, load_file(str(path / "adapter_model.safetensors")))
        blob = torch.load(path / "trainer.pt", weights_only=False)  # our own file, written by save_checkpoint
        self.optimizer.load_state_dict(blob["optimizer"])
        self.scheduler.load_state_dict(blob["scheduler"])
        torch.set_rng_state(blob["torch_rng"])
        random.setstate(blob["python_rng"])
        np.random.set_state(blob["numpy_rng"])
        if blob.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(blob["cuda_rng"])
        return state

    # ── the run ──────────────────────────────────────────────────────────────────
    def fit(self, *, halt_after_step: int | None = None) -> dict[str, Any]:
        """Train to the end, the budget or early stopping; register and return the adapter's meta.

        `halt_after_step` stops dead after that step without saving anything more: the tests use
        it to stand in for a killed process.
        """
        from tqdm import tqdm

        t_setup = time.perf_counter()
        self._prepare()
        setup_s = time.perf_counter() - t_setup
        cfg = self.cfg
        state: dict[str, Any] = {"step": 0, "history": [], "best_eval": None, "best_step": None, "bad_evals": 0,
                                 "train_seconds": 0.0, "tokens": 0}
        if self.resume:
            ckpt = self.latest_checkpoint()
            if ckpt is None:
                raise NotFound(f"no checkpoint to resume for run {cfg.name} under {self.ckpt_dir}")
            state = self.load_checkpoint(ckpt)
            self.log(f"resuming {cfg.name} from step {state['step']} ({ckpt.name})")
            if state.get("horizon"):
                self.total_steps = int(state["horizon"])
        else:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        state["config_key"] = json.loads(json.dumps(_config_key(cfg), default=str))
        state["data_hash"] = self.data_hash
        log_path = self.run_dir / "log.jsonl"
        with open(log_path, "w", encoding="utf-8") as f:  # the log as of the checkpoint (a killed run's tail is redone)
            for entry in state["history"]:
                f.write(json.dumps(entry) + "\n")
        budget_s = cfg.max_minutes * 60 if cfg.max_minutes else None
        t0 = t_setup  # the budget covers loading too: it is what the merchant waits for
        status = "completed"
        bar = tqdm(total=self.total_steps, initial=state["step"], desc=f"tune {cfg.name}", unit="step",
                   file=sys.stderr, disable=not self.progress)
        best_weights = None
        t_loop, step_loop = time.perf_counter(), state["step"]
        try:
            while state["step"] < self.total_steps:
                t_step = time.perf_counter()
                entry = self.train_step(state["step"])
                state["step"] = entry["step"]
                state["tokens"] += entry["tokens"]
                state["train_seconds"] += time.perf_counter() - t_step
                entry["epoch"] = round(state["step"] * self.per_step / len(self.train_set), 4)
                entry["elapsed_s"] = round(state["train_seconds"], 2)
                stop_early = False
                over_budget = budget_s is not None and time.perf_counter() - t0 >= budget_s
                # also evaluate where a budget stops the run, so the best-weights choice sees its last steps
                if self.eval_set and (state["step"] % cfg.eval_steps == 0 or state["step"] == self.total_steps
                                      or over_budget):
                    ev = self.eval_loss()
                    entry["eval_loss"] = ev
                    if state["best_eval"] is None or ev < state["best_eval"] - 1e-6:
                        state["best_eval"], state["best_step"], state["bad_evals"] = ev, state["step"], 0
                        best_weights = self._adapter_state()
                        self._save_best(best_weights)
                    else:
                        state["bad_evals"] += 1
                        stop_early = bool(cfg.early_stopping_patience and
                                          state["bad_evals"] >= cfg.early_stopping_patience)
                if (cfg.lr_horizon == "budget" and budget_s is not None and not state.get("horizon")
                        and state["step"] >= cfg.eval_steps and not over_budget and not stop_early):
                    self._fix_horizon(state, budget_s - (time.perf_counter() - t0),
                                      (time.perf_counter() - t_loop) / max(1, state["step"] - step_loop))
                    bar.total = self.total_steps
                state["history"].append(entry)
                with open(log_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(entry) + "\n")
                bar.update(1)
                bar.set_postfix(loss=f"{entry['loss']:.3f}", **({"eval": f"{entry['eval_loss']:.3f}"}
                                                                 if "eval_loss" in entry else {}))
                if halt_after_step is not None and state["step"] >= halt_after_step:
                    return {"status": "halted", "step": state["step"]}
                if state["step"] % cfg.save_steps == 0 or over_budget or stop_early:
                    self.save_checkpoint(state)
                if stop_early:
                    status = "early_stopped"
                    break
                if over_budget and state["step"] < self.total_steps:
                    status = "time_budget"
                    break
        finally:
            bar.close()
        if status == "completed":
            self.save_checkpoint(state)
        return self._register(state, status, setup_s)

    def _fix_horizon(self, state: dict[str, Any], remaining_s: float, wall_per_step: float) -> None:
        """Decay the LR over the steps the rest of the budget allows at the speed measured so far
        (evals included), so a budget-limited run ends at a low LR instead of mid-plateau. Fixed once
        and checkpointed: a resumed run keeps the same schedule."""
        fits = state["step"] + max(1, int(remaining_s / max(wall_per_step, 1e-6)))
        self.total_steps = min(self.total_steps, fits)
        state["horizon"] = self.total_steps
        self.log(f"lr horizon: {self.total_steps} steps fit the budget at {wall_per_step:.1f} s/step")

    def _save_best(self, weights: dict[str, Any]) -> None:
        from safetensors.torch import save_file

        best = self.run_dir / "best"
        best.mkdir(parents=True, exist_ok=True)
        save_file(weights, str(best / "adapter_model.safetensors"))

    def _register(self, state: dict[str, Any], status: str, setup_s: float) -> dict[str, Any]:
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        cfg = self.cfg
        best_file = self.run_dir / "best" / "adapter_model.safetensors"
        used = "last"
        if state.get("best_step") and best_file.is_file() and state["best_step"] != state["step"]:
            set_peft_model_state_dict(self.model, load_file(str(best_file)))
            used = f"best (step {state['best_step']})"
        tmp = self.registry.staging(cfg.name)
        self.model.save_pretrained(str(tmp))
        history = state["history"]
        shutil.copy(self.run_dir / "log.jsonl", tmp / "log.jsonl")
        plot_curve(history, tmp / "loss.png", title=f"{cfg.name} ({cfg.method}, {self.spec.model_id})")
        losses = [h["loss"] for h in history]
        evals = [h["eval_loss"] for h in history if "eval_loss" in h]
        epochs_done = state["step"] * self.per_step / max(1, len(self.train_set))
        metrics = {
            "steps": state["step"], "total_steps": self.total_steps, "epochs": round(epochs_done, 4),
            "train_examples": len(self.train_set), "eval_examples": len(self.eval_set),
            "train_loss_first": losses[0] if losses else None,
            "train_loss_last": round(sum(losses[-5:]) / len(losses[-5:]), 6) if losses else None,
            "eval_loss_first": evals[0] if evals else None, "eval_loss_best": state.get("best_eval"),
            "eval_loss_last": evals[-1] if evals else None, "best_step": state.get("best_step"),
            "weights": used, "train_seconds": round(state["train_seconds"], 2), "setup_seconds": round(setup_s, 2),
            "seconds_per_epoch": round(state["train_seconds"] / epochs_done, 1) if epochs_done else None,
            "examples_seen": state["step"] * self.per_step,
            "seconds_per_example": round(state["train_seconds"] / (state["step"] * self.per_step), 3)
            if state["step"] else None,
            "train_tokens_per_s": round(state["tokens"] / state["train_seconds"], 2) if state["train_seconds"] else None,
            "peak_rss_mb": peak_rss_mb(), "device": self.device, "dtype": "bf16-autocast" if cfg.precision == "bf16-autocast" else str(self.dtype).replace("torch.", ""),
        }
        if cfg.method == "dpo" and history:
            metrics["reward_accuracy_last"] = history[-1].get("reward_accuracy")
        meta = {
            "name": cfg.name, "method": cfg.method, "task": cfg.task, "base_model": self.spec.model_id,
            "base_gguf": str(self.spec.gguf_path) if self.spec.gguf_path else None,
            "parent": self.parent, "created": _now(), "status": status, "config": cfg.model_dump(mode="json"),
            "data_hash": self.data_hash, "data_report": {k: v for k, v in self.report.as_dict().items()
                                                         if k != "problems"} | {"problems": self.report.problems[:10]},
            "metrics": metrics, "run_dir": str(self.run_dir),
            "typical_chars": self.typical_chars,
        }
        return self.registry.publish(cfg.name, tmp, meta)


def plot_curve(history: list[dict[str, Any]], out: Path, title: str = "") -> Path | None:
    """Train (and eval) loss per step as a PNG; skipped quietly without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(steps, [h["loss"] for h in history], label="train loss", linewidth=1)
    ev = [(h["step"], h["eval_loss"]) for h in history if h.get("eval_loss") is not None]
    if ev:
        ax.plot([s for s, _ in ev], [v for _, v in ev], "o-", label="eval loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def train(cfg: TuneConfig, *, home: Path, settings: Any = None, resume: bool = False, progress: bool = True,
          store: Any = None) -> dict[str, Any]:
    """Run one config end to end and return the registered adapter's meta."""
    if cfg.task == "image":
        if resume or cfg.from_adapter:
            raise BadInput("image runs support neither --resume nor --from yet")
        from shopmind.tune.image import train_image

        return train_image(cfg, home=Path(home), progress=progress)
    return Trainer(cfg, home=home, settings=settings, resume=resume, progress=progress, store=store).fit()


def data_report(cfg: TuneConfig, *, settings: Any = None, store: Any = None) -> DataReport:
    """Validate a config's data with the base tokenizer (lengths) without training."""
    from shopmind.tune.base import load_tokenizer, resolve_base

    examples, report = load_examples(cfg.datasets, fmt=cfg.dataset_format, style=cfg.prompt_style,
                                     system=cfg.system_prompt, store=store, length_hint=cfg.length_hint)
    tok = load_tokenizer(resolve_base(cfg.base_model, settings))
    (encode_pairs if cfg.method == "dpo" else encode_sft)(tok, examples, cfg.max_length, report)
    return report
