"""One flat YAML file per tuning run, parsed into `TuneConfig` with clear errors.

The commented template lives in `templates/config.yaml` (`shopmind tune init` copies it), so the
documentation a user reads and the defaults the code applies are checked against each other in tests.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shopmind.errors import BadInput

TEMPLATE = Path(__file__).parent / "templates" / "config.yaml"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_name(name: str) -> str:
    """Adapter names become folder names and model ids: keep them to a safe alphabet."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise BadInput(f"adapter name {name!r} must be 1-64 characters of letters, digits, '.', '_' or '-'")
    return name


class TuneConfig(BaseModel):
    """Everything one run needs; unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "brand-voice"
    task: Literal["text", "image"] = "text"
    method: Literal["lora", "dpo"] = "lora"
    base_model: str = "qwen2.5-coder-0.5b-instruct"
    from_adapter: str | None = None

    datasets: list[str] = Field(default_factory=list)
    dataset_format: Literal["auto", "csv", "alpaca", "sharegpt", "advertisegen", "feedback"] = "auto"
    prompt_style: Literal["shopmind", "compact", "plain"] = "shopmind"
    # compact style: the prompt asks for the answer's length (约N字); served with the request's
    # `length` or the voice's typical length (median of its training answers)
    length_hint: bool = False
    system_prompt: str | None = None
    skip_examples: int = Field(0, ge=0)
    max_examples: int | None = Field(None, ge=1)
    eval_split: float = Field(0.1, ge=0)
    max_length: int = Field(512, ge=8, le=32768)

    lora_rank: int = Field(8, ge=1, le=1024)
    lora_alpha: float = Field(16, gt=0)
    lora_dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    # adapt only the top N decoder layers (PEFT layers_to_transform): backward stops below them
    lora_layers: int | None = Field(None, ge=1)

    epochs: float = Field(1, gt=0)
    max_steps: int | None = Field(None, ge=1)
    learning_rate: float = Field(2e-4, gt=0, lt=1)
    lr_scheduler: Literal["cosine", "linear", "constant"] = "cosine"
    # steps: decay over epochs/max_steps. budget: with max_minutes, decay over the steps the budget
    # allows, estimated at the first eval from the measured step time and then fixed (checkpointed)
    lr_horizon: Literal["steps", "budget"] = "steps"
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    batch_size: int = Field(1, ge=1, le=1024)
    grad_accum: int = Field(4, ge=1, le=1024)
    max_grad_norm: float | None = Field(1.0, gt=0)
    dpo_beta: float = Field(0.1, gt=0)
    seed: int = 42

    eval_steps: int = Field(20, ge=1)
    early_stopping_patience: int | None = Field(None, ge=1)
    save_steps: int = Field(10, ge=1)
    logging_steps: int = Field(1, ge=1)
    max_minutes: float | None = Field(None, gt=0)

    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16", "bf16-autocast"] = "auto"
    load_in_4bit: bool = False
    threads: int | None = Field(None, ge=1)

    # serving: llama.cpp repeat penalty `write --voice NAME` decodes this adapter with (1.0 = none)
    serve_repeat_penalty: float = Field(1.0, ge=1.0, le=2.0)

    # image task only (diffusers LoRA)
    resolution: int = Field(64, ge=8, le=2048)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v)

    @field_validator("target_modules")
    @classmethod
    def _targets(cls, v: list[str]) -> list[str]:
        if not v or not all(isinstance(x, str) and x.strip() for x in v):
            raise ValueError("target_modules needs at least one module name, e.g. [q_proj, v_proj]")
        return v

    @model_validator(mode="after")
    def _split(self) -> "TuneConfig":
        if self.eval_split >= 1 and self.eval_split != int(self.eval_split):
            raise ValueError("eval_split is a fraction below 1 or a whole row count")
        if self.length_hint and self.prompt_style != "compact":
            raise ValueError("length_hint needs prompt_style: compact")
        return self

    def eval_count(self, n: int) -> int:
        """Rows held out for eval loss out of `n` (at least one train row is always kept)."""
        if n < 2 or self.eval_split == 0:
            return 0
        k = int(self.eval_split) if self.eval_split >= 1 else max(1, round(n * self.eval_split))
        return min(k, n - 1)


def parse_config(data: Any, *, source: str = "config") -> TuneConfig:
    """A TuneConfig from a mapping; BadInput lists every problem with its key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadInput(f"{source}: expected a mapping of keys to values, got {type(data).__name__}")
    try:
        return TuneConfig.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()]
        raise BadInput(f"{source}: " + "; ".join(problems),
                       detail={"errors": exc.errors(include_url=False, include_context=False)}) from exc


def load_config(path: str | Path, **overrides: Any) -> TuneConfig:
    """Read a YAML config; relative dataset paths resolve against the config's folder; `overrides`
    (CLI flags) win over the file when not None."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML: {exc}") from exc
    if data is not None and not isinstance(data, dict):
        raise BadInput(f"{path}: expected a mapping of keys to values")
    data = dict(data or {})
    data["datasets"] = [d if _special(d) or Path(d).is_absolute() else str((path.parent / d).resolve())
                        for d in _as_list(data.get("datasets"))]
    for key, value in overrides.items():
        if value is not None:
            data[key] = value
    return parse_config(data, source=str(path))


def _special(entry: Any) -> bool:
    return isinstance(entry, str) and entry.startswith("catalog:")


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def template_text() -> str:
    return TEMPLATE.read_text(encoding="utf-8")
