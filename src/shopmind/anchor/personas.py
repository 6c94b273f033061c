"""Anchor personas: YAML presets for voice, speed, expression intensity and layout.

Why YAML files in the package: merchants copy and edit one flat file per host, like a training
config; the loader validates it so a typo fails with a clear message instead of a silent default.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from shopmind.errors import BadInput, NotFound


class Voice(BaseModel):
    backend: str = "espeak-ng"
    lang: Literal["zh", "en"] = "zh"
    speed: int = Field(default=175, ge=80, le=400)


class Persona(BaseModel):
    name: str = Field(min_length=1, max_length=60)
    description_zh: str = ""
    description_en: str = ""
    voice: Voice = Voice()
    expression_intensity: float = Field(default=0.8, ge=0.0, le=2.0)
    head_motion: float = Field(default=0.8, ge=0.0, le=2.0)
    blink_per_minute: float = Field(default=15, ge=0, le=60)
    layout: Literal["presenter", "live"] = "presenter"  # on stream: small product card, or a larger one
    portrait: str | None = None  # a default presenter photo (needs its consent sidecar)
    consent: str | None = None
    lora_adapter: str | None = None


def _builtin_dir():
    return resources.files("shopmind.anchor") / "data" / "personas"


def list_personas() -> list[str]:
    return sorted(p.name[:-5] for p in _builtin_dir().iterdir() if p.name.endswith(".yaml"))


def load_persona(name_or_path: str | None) -> Persona:
    """A built-in persona by name, or a YAML file path; the default is `xiaomei`."""
    name_or_path = name_or_path or "xiaomei"
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"} and path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        res = _builtin_dir() / f"{name_or_path}.yaml"
        if not res.is_file():
            raise NotFound(f"unknown persona {name_or_path!r}; built-in: {', '.join(list_personas())}")
        text = res.read_text(encoding="utf-8")
    try:
        return Persona.model_validate(yaml.safe_load(text) or {})
    except (ValidationError, yaml.YAMLError) as exc:
        raise BadInput(f"persona {name_or_path!r} is invalid: {exc}") from None
