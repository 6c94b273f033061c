"""CLIP-family backend (OpenAI CLIP, Chinese-CLIP via transformers; any open_clip model).

Why one class for both sides: a CLIP checkpoint holds an image tower and a text tower trained into
one shared space. Registering it as both `image_encoder` and `text_encoder` lets search compare a
text query straight against stored image embeddings, and the weights load once per process.

Configuration (`shopmind.config.Settings`):
- `clip_model`: a local folder saved with `save_pretrained` (config.json `model_type` "clip" or
  "chinese_clip"), a hub id (`openai/clip-vit-base-patch32`, `OFA-Sys/chinese-clip-vit-base-patch16`),
  an open_clip architecture name (`ViT-B-32`), an open_clip `hf-hub:org/name`, or a local folder
  holding `open_clip_config.json`.
- `clip_pretrained`: for open_clip names, a pretrained tag (`laion2b_s34b_b79k`) or a local
  .pt/.bin/.safetensors checkpoint.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from shopmind.errors import BackendUnavailable, BadInput
from shopmind.models.registry import register

_CONFIGURE_HINT = (
    "set SHOPMIND_CLIP_MODEL (or clip_model in config.yaml) to a local CLIP folder, a hub id such as "
    "'openai/clip-vit-base-patch32' or 'OFA-Sys/chinese-clip-vit-base-patch16', or an open_clip name such as "
    "'ViT-B-32' with SHOPMIND_CLIP_PRETRAINED=laion2b_s34b_b79k"
)
_HF_KINDS = ("clip", "chinese_clip")
_WHITE = (255, 255, 255)


@dataclass(frozen=True)
class _Loaded:
    """What a loader hands back: the towers as plain callables over a prepared batch."""

    kind: str  # "clip" | "chinese_clip" | "open_clip"
    dim: int
    encode_pixels: Callable[[list[Image.Image]], Any]  # -> torch tensor (n, dim), not normalised
    encode_tokens: Callable[[list[str]], Any]  # -> torch tensor (n, dim), not normalised


def _set_threads() -> None:
    """Respect OMP_NUM_THREADS: the CPU is shared, torch would otherwise take every core."""
    import torch

    raw = os.environ.get("OMP_NUM_THREADS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        torch.set_num_threads(int(raw))


def _square(img: Image.Image) -> Image.Image:
    """Letterbox onto white: product shots keep the whole item instead of losing edges to a centre crop."""
    rgb = img.convert("RGB")
    side = max(rgb.width, rgb.height)
    if rgb.width == rgb.height:
        return rgb
    canvas = Image.new("RGB", (side, side), _WHITE)
    canvas.paste(rgb, ((side - rgb.width) // 2, (side - rgb.height) // 2))
    return canvas


def _pooled(out: Any) -> Any:
    """transformers 5 returns a model output from get_*_features; 4.x returned the tensor itself."""
    import torch

    if isinstance(out, torch.Tensor):
        return out
    return out.pooler_output


def detect_kind(model: str) -> str:
    """Which loader a `clip_model` value needs: "clip", "chinese_clip" or "open_clip"."""
    path = Path(model).expanduser()
    if path.is_dir():
        config = path / "config.json"
        if config.is_file():
            try:
                model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
            except (OSError, ValueError) as exc:
                raise BackendUnavailable(f"CLIP checkpoint {path}: unreadable config.json: {exc}") from exc
            if model_type in _HF_KINDS:
                return str(model_type)
            raise BackendUnavailable(
                f"CLIP checkpoint {path}: config.json model_type {model_type!r} is not one of {', '.join(_HF_KINDS)}"
            )
        if (path / "open_clip_config.json").is_file():
            return "open_clip"
        raise BackendUnavailable(f"CLIP checkpoint {path}: no config.json or open_clip_config.json in the folder")
    if model.startswith(("/", "./", "../", "~")) or path.suffix in {".pt", ".bin", ".safetensors"}:
        raise BackendUnavailable(f"CLIP checkpoint not found: {model}; {_CONFIGURE_HINT}")
    if model.startswith("hf-hub:") or "/" not in model:
        return "open_clip"
    try:  # a hub id: its config (from the local cache or the hub) names the architecture
        from transformers import AutoConfig

        model_type = AutoConfig.from_pretrained(model).model_type
    except Exception as exc:  # noqa: BLE001 - offline, unknown id, bad config all mean "cannot load"
        raise BackendUnavailable(f"CLIP model {model!r} could not be resolved: {exc}") from exc
    if model_type not in _HF_KINDS:
        raise BackendUnavailable(f"hub model {model!r} has model_type {model_type!r}, not a CLIP model")
    return str(model_type)


def _load_transformers(model: str, kind: str, device: str) -> _Loaded:
    try:
        # Auto* picks the torchvision image backend when present and the PIL one otherwise.
        from transformers import AutoImageProcessor as ImageProcessor
        from transformers import AutoTokenizer

        if kind == "clip":
            from transformers import CLIPModel as Model
        else:
            from transformers import ChineseCLIPModel as Model
    except ImportError as exc:
        raise BackendUnavailable(f"the CLIP backend needs torch and transformers: {exc}") from exc
    try:
        net = Model.from_pretrained(model).to(device).eval()
        image_processor = ImageProcessor.from_pretrained(model)
        tokenizer = AutoTokenizer.from_pretrained(model)
    except Exception as exc:  # noqa: BLE001 - corrupt/missing files, offline hub: one clear error
        raise BackendUnavailable(f"CLIP checkpoint {model!r} could not be loaded: {exc}") from exc

    max_len = int(net.config.text_config.max_position_embeddings)
    if isinstance(tokenizer.model_max_length, int) and 0 < tokenizer.model_max_length < max_len:
        max_len = int(tokenizer.model_max_length)

    def encode_pixels(images: list[Image.Image]) -> Any:
        batch = image_processor(images=[_square(im) for im in images], return_tensors="pt")
        return _pooled(net.get_image_features(pixel_values=batch["pixel_values"].to(device)))

    def encode_tokens(texts: list[str]) -> Any:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=max_len, return_tensors="pt")
        batch = {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        return _pooled(net.get_text_features(**batch))

    dim = int(net.config.projection_dim)
    return _Loaded(kind=kind, dim=dim, encode_pixels=encode_pixels, encode_tokens=encode_tokens)


def _load_open_clip(model: str, pretrained: str | None, device: str) -> _Loaded:
    try:
        import open_clip
        import torch
    except ImportError as exc:
        raise BackendUnavailable(
            f"CLIP model {model!r} is an open_clip name but open_clip is missing: pip install open_clip_torch ({exc})"
        ) from exc
    name = model
    path = Path(model).expanduser()
    if path.is_dir():
        name = f"local-dir:{path}"  # open_clip reads open_clip_config.json + weights from the folder
    try:
        net, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=pretrained, device=device)
        tokenizer = open_clip.get_tokenizer(name)
    except Exception as exc:  # noqa: BLE001 - unknown name/tag, offline, bad checkpoint
        raise BackendUnavailable(f"open_clip model {model!r} (pretrained={pretrained!r}) could not be loaded: {exc}") from exc
    net.eval()
    with torch.inference_mode():
        probe = net.encode_text(tokenizer(["probe"]).to(device))
    dim = int(probe.shape[-1])

    def encode_pixels(images: list[Image.Image]) -> Any:
        pixels = torch.stack([preprocess(_square(im)) for im in images]).to(device)
        return net.encode_image(pixels)

    def encode_tokens(texts: list[str]) -> Any:
        return net.encode_text(tokenizer(texts).to(device))  # the tokenizer truncates to the context length

    return _Loaded(kind="open_clip", dim=dim, encode_pixels=encode_pixels, encode_tokens=encode_tokens)


class ClipEncoder:
    """Image and text towers of one CLIP checkpoint; L2-normalised float32 rows in a shared space."""

    shares_text_space = True

    def __init__(self, model: str, pretrained: str | None = None, device: str | None = None) -> None:
        if not model or not str(model).strip():
            raise BackendUnavailable(f"no CLIP model configured: {_CONFIGURE_HINT}")
        try:
            import torch
        except ImportError as exc:
            raise BackendUnavailable(f"the CLIP backend needs torch: {exc}") from exc
        _set_threads()
        self.model_id = str(model).strip()
        self.pretrained = pretrained
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        kind = detect_kind(self.model_id)
        if kind == "open_clip":
            self._towers = _load_open_clip(self.model_id, pretrained, self.device)
        else:
            self._towers = _load_transformers(self.model_id, kind, self.device)
        self.kind = kind
        self.dim = self._towers.dim
        self.name = f"clip:{self.model_id}" + (f"@{pretrained}" if pretrained else "")
        self._lock = threading.Lock()  # one forward at a time: torch CPU threads are already shared

    # -- image side (ImageEncoder) ------------------------------------------------------------
    def encode(self, images: Sequence[Image.Image], batch_size: int = 32) -> np.ndarray:
        """Normalised image embeddings, one row per image."""
        if not images:
            return np.zeros((0, self.dim), np.float32)
        for i, im in enumerate(images):
            if not isinstance(im, Image.Image):
                raise BadInput(f"image {i} is a {type(im).__name__}, not a PIL image")
        return self._run(list(images), self._towers.encode_pixels, batch_size)

    def features_and_logits(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, None]:
        """Same surface as the EfficientNet backend; CLIP has no class logits, so the second item is None."""
        return self.encode(images), None

    # -- text side (TextEncoder) --------------------------------------------------------------
    def encode_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """CLIP has no query/passage prefixes: both sides of search use the one text tower."""
        return self._encode_texts(texts, batch_size)

    def encode_queries(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        return self._encode_texts(texts, batch_size)

    def encode_query(self, text: str) -> np.ndarray:
        return self._encode_texts([text], 1)[0]

    def _encode_texts(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        if isinstance(texts, str):
            raise BadInput("expected a list of texts, got one string")
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        clean = [t if isinstance(t, str) and t.strip() else "-" for t in texts]
        return self._run(clean, self._towers.encode_tokens, batch_size)

    def _run(self, items: list[Any], tower: Callable[[list[Any]], Any], batch_size: int) -> np.ndarray:
        import torch

        step = max(1, int(batch_size))
        out: list[np.ndarray] = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(items), step):
                emb = tower(items[start : start + step])
                out.append(emb.float().cpu().numpy())
        return _normalise(np.vstack(out).astype(np.float32, copy=False))


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32, copy=False)


_SHARED: dict[tuple[str, str | None, str | None], ClipEncoder] = {}
_SHARED_LOCK = threading.Lock()


def load_clip(model: str | None, pretrained: str | None = None, device: str | None = None) -> ClipEncoder:
    """The one ClipEncoder per (model, pretrained, device) in this process."""
    if not model or not str(model).strip():
        raise BackendUnavailable(f"no CLIP model configured: {_CONFIGURE_HINT}")
    key = (str(model).strip(), pretrained or None, device)
    with _SHARED_LOCK:
        encoder = _SHARED.get(key)
        if encoder is None:
            encoder = ClipEncoder(key[0], key[1], device)
            _SHARED[key] = encoder
        return encoder


def clear_shared() -> None:
    """Drop loaded checkpoints (tests point clip_model at fresh folders)."""
    with _SHARED_LOCK:
        _SHARED.clear()


def _from_settings(settings: Any = None, device: str | None = None, **_: object) -> ClipEncoder:
    if settings is None:
        from shopmind.config import get_settings

        settings = get_settings()
    return load_clip(settings.clip_model, settings.clip_pretrained, device)


@register("image_encoder", "clip")
def clip_image_encoder(models_dir: Path | None = None, settings: Any = None, **kwargs: Any) -> ClipEncoder:
    """Registry factory: the image side of the configured CLIP checkpoint."""
    return _from_settings(settings, **kwargs)


@register("text_encoder", "clip")
def clip_text_encoder(models_dir: Path | None = None, settings: Any = None, **kwargs: Any) -> ClipEncoder:
    """Registry factory: the text side of the configured CLIP checkpoint (same instance as the image side)."""
    return _from_settings(settings, **kwargs)
