"""Persona presets: built-ins load and validate; bad files fail with typed errors."""

from __future__ import annotations

import pytest

from shopmind.anchor.personas import list_personas, load_persona
from shopmind.errors import BadInput, NotFound


def test_builtin_personas_load():
    names = list_personas()
    assert {"xiaomei", "calm_expert", "english_host"} <= set(names)
    for n in names:
        p = load_persona(n)
        assert p.name == n
        assert p.voice.lang in {"zh", "en"}
    assert load_persona(None).name == "xiaomei"
    assert load_persona("english_host").voice.lang == "en"


def test_persona_file_and_errors(tmp_path):
    good = tmp_path / "host.yaml"
    good.write_text("name: host\nvoice: {lang: en, speed: 150}\nexpression_intensity: 0.3\n", encoding="utf-8")
    p = load_persona(str(good))
    assert (p.name, p.voice.speed, p.expression_intensity) == ("host", 150, 0.3)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nvoice: {speed: 5000}\n", encoding="utf-8")
    with pytest.raises(BadInput):
        load_persona(str(bad))
    with pytest.raises(NotFound):
        load_persona("no-such-persona")


def test_overlays_are_honest_and_always_marked():
    import numpy as np

    from shopmind.anchor import layout

    assert layout.countdown_text(75, "zh", deal=True) == "优惠券倒计时 01:15"
    assert "券" not in layout.countdown_text(75, "zh", deal=False)  # no coupon claimed without a promotion
    assert layout.countdown_text(5, "en", deal=False) == "Next item in 00:05"
    frame = np.full((1280, 720, 3), 255, np.uint8)
    mark = layout.watermark(720)
    layout.stamp_watermark(frame, mark)
    h, w = mark.rgba.shape[:2]
    region = frame[mark.y : mark.y + h, mark.x : mark.x + w]
    assert mark.x + w <= 720 and mark.y >= 0 and region.min() < 200  # drawn, inside the frame, top right
    assert (frame[mark.y + h + 5 :] == 255).all()  # nothing else touched
