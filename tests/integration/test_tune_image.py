"""Image LoRA (`task: image`) on a tiny randomly initialised Stable-Diffusion-style pipeline built
here: validate a metadata.csv, train, register, load on one pipeline, switch, generate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch", reason="image LoRA needs torch")
pytest.importorskip("peft", reason="image LoRA needs peft")
pytest.importorskip("diffusers", reason="image LoRA needs diffusers (pip install 'shopmind[tune]')")

from shopmind.errors import BadInput  # noqa: E402
from shopmind.tune.config import parse_config  # noqa: E402


def _dataset(root: Path) -> Path:
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    lines = ["file_name,text"]
    for i in range(4):
        pixels = (np.random.RandomState(i).rand(40, 40, 3) * 255).astype("uint8")
        Image.fromarray(pixels).save(root / f"{i}.png")
        lines.append(f"{i}.png,red dress model {i}")
    lines += ["missing.png,gone", "0.png,red dress model 0", "1.png,"]
    (root / "metadata.csv").write_text("\n".join(lines), encoding="utf-8")
    return root / "metadata.csv"


def test_image_lora_train_switch_generate(tmp_path):
    from shopmind.tune.image import ImageVoices, train_image
    from shopmind.tune.tiny import build_tiny_sd
    from shopmind.tune.train import train

    base = build_tiny_sd(tmp_path / "sd")
    data = _dataset(tmp_path / "data")
    home = tmp_path / "home"
    cfg = parse_config({"name": "look", "task": "image", "base_model": str(base), "datasets": [str(data)],
                        "max_steps": 2, "batch_size": 2, "resolution": 32, "learning_rate": 0.01})
    meta = train(cfg, home=home, progress=False)  # `tune run` dispatches task: image here
    report = meta["data_report"]
    assert (report["ok"], report["malformed"], report["duplicated"], report["empty"]) == (4, 1, 1, 1)
    assert meta["task"] == "image" and meta["metrics"]["steps"] == 2
    assert "pytorch_lora_weights.safetensors" in meta["files"]

    voices = ImageVoices(home, str(base))
    plain = voices.generate("red dress", steps=1, size=32)
    styled = voices.generate("red dress", voice="look", steps=1, size=32)
    again = voices.generate("red dress", voice=None, steps=1, size=32)
    assert plain.shape == (32, 32, 3)
    assert np.abs(plain - again).max() == 0  # switching back gives the bare base exactly
    assert np.abs(plain - styled).max() > 1e-4  # the adapter changes the picture
    assert voices.use("look") < 3.0  # already loaded: switching is cheap
    with pytest.raises(BadInput, match="wrong columns"):
        bad = tmp_path / "bad.csv"
        bad.write_text("image,caption\na.png,x\n", encoding="utf-8")
        train_image(cfg.model_copy(update={"datasets": [str(bad)]}), home=home, progress=False)
