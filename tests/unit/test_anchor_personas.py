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
