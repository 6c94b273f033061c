"""`live tts` reads what `live script` writes (its JSON and its Markdown run sheet) and speaks ja too."""

from __future__ import annotations

import json
import shutil
import wave

import pytest
from typer.testing import CliRunner

from shopmind.errors import BadInput
from shopmind.live.narration import script_file_lines
from tests.unit.cli_app import area_app

PRODUCTS = [{"id": "p1", "title": "纯棉白色T恤", "price": 99, "attributes": {"material": "cotton"}}]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The files `shopmind live script --out … --markdown …` writes, for zh, en and ja."""
    from shopmind.cli.live import register

    tmp = tmp_path_factory.mktemp("live")
    (tmp / "p.json").write_text(json.dumps(PRODUCTS, ensure_ascii=False), encoding="utf-8")
    res = CliRunner().invoke(area_app(register), ["live", "script", "--products", str(tmp / "p.json"), "--lang", "zh,en,ja",
                                                  "--duration", "3", "--out", str(tmp / "s.json"), "--markdown", str(tmp / "s.md")])
    assert res.exit_code == 0, res.output
    return tmp


def test_live_script_json_becomes_spoken_lines_per_language(written):
    data = json.loads((written / "s.json").read_text(encoding="utf-8"))
    spoken = [ln for s in data["sections"] for ln in s["lines"] if ln["kind"] != "demo"]
    ja = script_file_lines(written / "s.json", "ja")
    assert ja and all(ln["lang"] == "ja" for ln in ja) and len(ja) >= len(spoken)
    assert ja[0]["text"] == " ".join(spoken[0]["text"]["ja"].split())[:500]
    default = script_file_lines(written / "s.json")
    assert {ln["lang"] for ln in default} == {data["languages"][0]}
    demo_texts = {ln["text"]["zh"] for s in data["sections"] for ln in s["lines"] if ln["kind"] == "demo"}
    assert not demo_texts & {ln["text"] for ln in script_file_lines(written / "s.json", "zh")}, "demo cues are not spoken"


def test_markdown_run_sheet_is_read_too(written):
    zh = script_file_lines(written / "s.md")
    en = script_file_lines(written / "s.md", "en")
    assert zh and all(ln["lang"] == "zh" for ln in zh) and en and all(ln["lang"] == "en" for ln in en)
    assert len(zh) == len(script_file_lines(written / "s.json", "zh"))


def test_language_not_in_the_script_is_a_clear_error(written, tmp_path):
    only_zh = json.loads((written / "s.json").read_text(encoding="utf-8"))
    only_zh["languages"] = ["zh"]
    (tmp_path / "zh.json").write_text(json.dumps(only_zh, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(BadInput, match="no 'ja' text"):
        script_file_lines(tmp_path / "zh.json", "ja")
    with pytest.raises(BadInput, match="unsupported narration language"):
        script_file_lines(_plain(tmp_path), "fr")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(BadInput, match="not valid JSON"):
        script_file_lines(tmp_path / "bad.json")


def _plain(tmp_path):
    path = tmp_path / "plain.txt"
    path.write_text("第一句。\n第二句。\n", encoding="utf-8")
    return path


def test_long_lines_are_split_under_the_synthesiser_limit(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("这是一句很长的介绍。" * 120 + "\n", encoding="utf-8")
    lines = script_file_lines(path, "zh")
    assert len(lines) > 1 and all(len(ln["text"]) <= 500 for ln in lines)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_live_tts_speaks_the_written_script_in_japanese(written, tmp_path, home):
    from shopmind.cli.live import register as live
    from shopmind.cli.media import register as media

    out = tmp_path / "ja.wav"
    res = CliRunner().invoke(area_app(live, media), ["live", "tts", str(written / "s.json"), "--lang", "ja", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout)
    assert body["lines"] and {ln["lang"] for ln in body["lines"]} == {"ja"}
    with wave.open(str(out)) as wav:
        assert wav.getnframes() / wav.getframerate() > 1.0
