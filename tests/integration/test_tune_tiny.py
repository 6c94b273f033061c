"""Tuning studio end to end on a tiny randomly initialised Qwen2 model built here: train, kill and
resume exactly, train incrementally, DPO, export a GGUF LoRA, load it with llama.cpp and switch
adapters. No real training: every run is a handful of steps on a 2-layer, 32-wide model."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="tune tests need torch (pip install 'shopmind[tune]')")
pytest.importorskip("peft", reason="tune tests need peft (pip install 'shopmind[tune]')")
pytest.importorskip("transformers", reason="tune tests need transformers")

from shopmind.errors import BadInput, NotFound  # noqa: E402
from shopmind.tune.config import parse_config  # noqa: E402
from shopmind.tune.registry import AdapterRegistry  # noqa: E402
from shopmind.tune.train import Trainer  # noqa: E402

ROWS = [
    ("类型#上衣*材质#牛仔布*颜色#白色", "简约而不简单的牛仔外套，白色的衣身十分百搭。"),
    ("类型#上衣*风格#嘻哈*衣样式#卫衣", "嘻哈玩转童年，出街还是要靠卫衣来装酷哦！"),
    ("类型#裙*风格#简约*裙型#连衣裙", "连衣裙显瘦百搭，舒适透气。"),
    ("类型#裙*材质#棉*裙长#半身裙", "半身裙柔软舒适，百搭显瘦。"),
    ("类型#上衣*颜色#黑色*衣样式#衬衫", "黑色衬衫简约百搭，舒适透气。"),
    ("类型#裤*材质#牛仔布*裤长#九分裤", "牛仔九分裤显瘦百搭。"),
    ("类型#上衣*颜色#白色*衣样式#T恤", "白色T恤清爽百搭。"),
    ("类型#裙*颜色#黑色*裙型#半身裙", "黑色半身裙简约显瘦。"),
]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    from shopmind.tune.tiny import build_tiny_qwen2

    root = tmp_path_factory.mktemp("tune")
    base = build_tiny_qwen2(root / "base")
    sft = root / "adv.jsonl"
    sft.write_text("\n".join(json.dumps({"content": c, "summary": s}, ensure_ascii=False) for c, s in ROWS),
                   encoding="utf-8")
    pairs = root / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"instruction": "写一句文案", "input": c, "output": s,
                                           "rejected": "最好的产品，全网第一！"}, ensure_ascii=False)
                               for c, s in ROWS[:4]), encoding="utf-8")
    return {"root": root, "base": base, "sft": sft, "pairs": pairs, "home": root / "home"}


def _cfg(work, **kw):
    data = {"name": "voice-a", "base_model": str(work["base"]), "datasets": [str(work["sft"])],
            "prompt_style": "plain", "max_steps": 5, "batch_size": 2, "grad_accum": 1, "eval_split": 2,
            "eval_steps": 2, "save_steps": 2, "max_length": 256, "lora_rank": 4, "lora_alpha": 8,
            "lora_dropout": 0.1, "learning_rate": 0.01, "target_modules": ["q_proj", "v_proj", "o_proj"]}
    return parse_config(data | kw)


def _weights(meta):
    from safetensors.torch import load_file

    return load_file(str(Path(meta["path"]) / "adapter_model.safetensors"))


def test_train_kill_and_resume_matches_an_uninterrupted_run(work):
    full = Trainer(_cfg(work, name="voice-a"), home=work["home"], progress=False).fit()
    assert full["status"] == "completed" and full["metrics"]["steps"] == 5
    assert full["parent"] is None and full["base_model"] == str(work["base"]) and len(full["data_hash"]) == 64
    assert {"adapter_model.safetensors", "adapter_config.json", "loss.png", "log.jsonl", "shopmind.json"} <= \
        set(full["files"])
    log_a = [json.loads(x) for x in (Path(full["path"]) / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log_a] == [1, 2, 3, 4, 5] and all(math.isfinite(e["loss"]) for e in log_a)
    assert any("eval_loss" in e for e in log_a)

    halted = Trainer(_cfg(work, name="voice-b"), home=work["home"], progress=False).fit(halt_after_step=3)
    assert halted == {"status": "halted", "step": 3}  # killed after step 3; last checkpoint is step 2
    assert not AdapterRegistry(work["home"]).exists("voice-b")
    resumed = Trainer(_cfg(work, name="voice-b"), home=work["home"], resume=True, progress=False).fit()
    log_b = [json.loads(x) for x in (Path(resumed["path"]) / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log_b] == [1, 2, 3, 4, 5]
    assert [e["loss"] for e in log_b] == [e["loss"] for e in log_a]
    wa, wb = _weights(full), _weights(resumed)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    # the weights really moved away from PEFT's zero-initialised B
    assert any(float(v.abs().sum()) > 0 for k, v in wa.items() if "lora_B" in k)


def test_answer_only_logits_give_the_same_loss_as_the_full_forward(work):
    """The vocabulary head runs only where a label is; the loss must not change."""
    from shopmind.tune.train import _pad, sft_loss

    tr = Trainer(_cfg(work, name="loss-check"), home=work["home"], progress=False)
    tr._prepare()
    with torch.no_grad():
        for items in (tr.train_set[:1], tr.train_set[:3]):  # one row, and a padded batch
            batch = _pad(items, tr.pad_id)
            assert float(sft_loss(tr.model, batch)) == pytest.approx(float(tr.model(**batch).loss), rel=1e-5)


def test_top_layers_bf16_autocast_compact_run_is_deterministic_and_resumes(work):
    """The CPU speed settings (LoRA on the top layer only, bf16 autocast, compact prompt) keep the
    seed and --resume promises, and the adapter touches only the layer it was asked to."""
    kw = {"lora_layers": 1, "precision": "bf16-autocast", "prompt_style": "compact", "max_steps": 4,
          "lora_dropout": 0.0}
    a = Trainer(_cfg(work, name="fast-a", **kw), home=work["home"], progress=False).fit()
    assert a["metrics"]["dtype"] == "bf16-autocast" and a["config"]["prompt_style"] == "compact"
    assert a["metrics"]["examples_seen"] == 8 and a["metrics"]["seconds_per_example"] > 0
    wa = _weights(a)
    assert wa and all(".layers.1." in k for k in wa)  # 2-layer model: only the top one adapted
    halted = Trainer(_cfg(work, name="fast-b", **kw), home=work["home"], progress=False).fit(halt_after_step=3)
    assert halted["step"] == 3
    b = Trainer(_cfg(work, name="fast-b", **kw), home=work["home"], resume=True, progress=False).fit()
    wb = _weights(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    from shopmind.tune.export_gguf import write_lora_gguf

    info = write_lora_gguf(Path(a["path"]), work["root"] / "fast-a.gguf")
    assert info["modules"] == 3  # q, v, o of layer 1 only


def test_length_hinted_budget_run_records_its_typical_length_and_resumes_its_horizon(work):
    """length_hint stores the median answer length (rounded) that `write --voice` will ask for, and a
    budget horizon fixed before a kill is the one the resumed run keeps."""
    from shopmind.tune.voice import voice_length

    kw = {"prompt_style": "compact", "length_hint": True, "lr_scheduler": "linear", "lr_horizon": "budget",
          "max_minutes": 60, "max_steps": 6}
    halted = Trainer(_cfg(work, name="hinted", **kw), home=work["home"], progress=False).fit(halt_after_step=4)
    assert halted["step"] == 4
    last = sorted((work["home"] / "tune_runs" / "hinted" / "checkpoints").glob("step-*"))[-1]  # a kill loses step 3-4
    assert json.loads((last / "state.json").read_text())["horizon"] == 6  # fixed at the first eval (step 2)
    meta = Trainer(_cfg(work, name="hinted", **kw), home=work["home"], resume=True, progress=False).fit()
    assert meta["metrics"]["total_steps"] == 6 and meta["metrics"]["steps"] == 6
    lengths = sorted(len(s) for _, s in ROWS)
    assert meta["typical_chars"] == voice_length(meta) == max(10, round(lengths[len(lengths) // 2] / 10) * 10)


def test_resume_refuses_a_changed_config_or_missing_checkpoint(work):
    with pytest.raises(NotFound, match="no checkpoint"):
        Trainer(_cfg(work, name="never-ran"), home=work["home"], resume=True, progress=False).fit()
    with pytest.raises(BadInput, match="config changed"):
        Trainer(_cfg(work, name="voice-b", learning_rate=0.02), home=work["home"], resume=True, progress=False).fit()


def test_same_seed_same_adapter_and_incremental_training(work):
    again = Trainer(_cfg(work, name="voice-a2"), home=work["home"], progress=False).fit()
    first = AdapterRegistry(work["home"]).meta("voice-a")
    wa, w2 = _weights(first), _weights(again)
    assert all(torch.equal(wa[k], w2[k]) for k in wa)  # deterministic for a seed
    child = Trainer(_cfg(work, name="voice-a-more", from_adapter="voice-a", max_steps=2), home=work["home"],
                    progress=False).fit()
    assert child["parent"] == "voice-a"
    wc = _weights(child)
    assert wc.keys() == wa.keys() and not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_time_budget_stops_cleanly_and_registers(work):
    meta = Trainer(_cfg(work, name="budget", max_steps=10_000, max_minutes=0.001), home=work["home"],
                   progress=False).fit()
    assert meta["status"] == "time_budget" and 1 <= meta["metrics"]["steps"] < 10_000
    assert meta["metrics"]["eval_loss_last"] is not None  # evaluated where the budget stopped it
    assert (work["home"] / "tune_runs" / "budget" / "checkpoints").is_dir()


def test_dpo_three_steps_starts_at_log2(work):
    meta = Trainer(_cfg(work, name="dpo", method="dpo", datasets=[str(work["pairs"])], max_steps=3,
                        eval_split=0, lora_dropout=0.0), home=work["home"], progress=False).fit()
    log = [json.loads(x) for x in (Path(meta["path"]) / "log.jsonl").read_text().splitlines()]
    assert len(log) == 3
    # adapter starts as the identity (B = 0), so policy == reference and the DPO loss is log 2
    assert log[0]["loss"] == pytest.approx(math.log(2), abs=1e-4)
    assert log[-1]["loss"] < log[0]["loss"] and meta["metrics"]["reward_accuracy_last"] is not None


def test_dpo_needs_pairs(work):
    with pytest.raises(BadInput, match="preference pairs"):
        Trainer(_cfg(work, name="dpo-bad", method="dpo"), home=work["home"], progress=False).fit()


def test_export_gguf_lora_layout(work):
    gguf = pytest.importorskip("gguf", reason="GGUF export needs the gguf package")
    from shopmind.tune.export_gguf import export_adapter

    info = export_adapter(work["home"], "voice-a")
    reader = gguf.GGUFReader(info["path"])
    fields = {k: reader.fields[k] for k in ("general.type", "adapter.type", "adapter.lora.alpha",
                                              "general.architecture")}
    text = lambda f: bytes(f.parts[f.data[0]]).decode()  # noqa: E731
    assert text(fields["general.type"]) == "adapter" and text(fields["adapter.type"]) == "lora"
    assert text(fields["general.architecture"]) == "qwen2"
    assert float(fields["adapter.lora.alpha"].parts[-1][0]) == 8.0
    names = {t.name: tuple(int(x) for x in t.shape) for t in reader.tensors}
    assert names["blk.0.attn_q.weight.lora_a"] == (32, 4)  # ne = [in, rank]
    assert names["blk.1.attn_output.weight.lora_b"] == (4, 32)  # ne = [rank, out]
    assert info["modules"] == 2 * 3
    assert AdapterRegistry(work["home"]).meta("voice-a")["gguf"] == info["path"]


def _hf_greedy(model, ids, n):
    out = list(ids)
    with torch.no_grad():
        for _ in range(n):
            logits = model(input_ids=torch.tensor([out])).logits[0, -1]
            out.append(int(logits.argmax()))
    return out[len(ids):], logits


def _cpp_greedy(llama, ids, n):
    import numpy as np

    llama.reset()
    llama.eval(ids)
    out = []
    for _ in range(n):  # logits of the last evaluated token (llama-cpp-python keeps no scores without logits_all)
        tok = int(np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(llama.n_vocab(),)).argmax())
        out.append(tok)
        llama.eval([tok])
    return out


def test_llama_cpp_serves_the_adapter_like_transformers_and_switches(work):
    pytest.importorskip("gguf", reason="GGUF export needs the gguf package")
    pytest.importorskip("llama_cpp", reason="llama-cpp-python not installed (make install builds it)")
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from shopmind.models.llm import LlamaCppLLM
    from shopmind.tune.export_gguf import write_lora_gguf, write_qwen2_gguf

    reg = AdapterRegistry(work["home"])
    tok = AutoTokenizer.from_pretrained(str(work["base"]))
    base = AutoModelForCausalLM.from_pretrained(str(work["base"]), dtype=torch.float32).eval()
    base_gguf = write_qwen2_gguf(base, tok, work["root"] / "tiny.gguf")["path"]
    files = {n: write_lora_gguf(Path(reg.meta(n)["path"]), Path(reg.meta(n)["path"]) / "adapter.gguf")["path"]
             for n in ("voice-a", "voice-a-more")}

    llm = LlamaCppLLM(model_path=base_gguf, n_ctx=256, n_threads=1)
    llama = llm._model()
    prompts = [tok(p, add_special_tokens=False)["input_ids"] for p in ("白色上衣", "牛仔外套", "连衣裙", "卫衣", "半身裙")]
    expect_base = [_hf_greedy(base, ids, 6)[0] for ids in prompts]
    expected = {}
    for name in files:
        peft_model = PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(str(work["base"]), dtype=torch.float32), reg.meta(name)["path"]).eval()
        expected[name] = [_hf_greedy(peft_model, ids, 6)[0] for ids in prompts]
    assert expected["voice-a"] != expect_base  # the adapter changes what the model says

    switch_s = []
    for _ in range(2):  # switch back and forth: every switch must give that adapter's output, no reload
        for name in ("voice-a", "voice-a-more", None):
            t0 = time.perf_counter()
            llm._use_lora(llama, (files[name], 1.0) if name else None)
            switch_s.append(time.perf_counter() - t0)
            got = [_cpp_greedy(llama, ids, 6) for ids in prompts]
            assert got == (expected[name] if name else expect_base), name
    assert max(switch_s) < 3.0


def test_cli_init_list_show_export_delete(work, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from shopmind.cli.tune import register
    from shopmind.config import get_settings
    from tests.unit.cli_app import area_app

    monkeypatch.setenv("SHOPMIND_HOME", str(work["home"]))
    get_settings.cache_clear()
    try:
        app, runner = area_app(register, typed_errors=True), CliRunner()
        out = tmp_path / "t.yaml"
        assert runner.invoke(app, ["tune", "init", "--out", str(out)]).exit_code == 0 and out.is_file()
        assert runner.invoke(app, ["tune", "init", "--out", str(out)]).exit_code == 2  # no silent overwrite
        listed = json.loads(runner.invoke(app, ["tune", "list", "--json"]).stdout)
        names = {a["name"] for a in listed["adapters"]}
        assert {"voice-a", "voice-b", "dpo"} <= names and listed["count"] == len(names)
        assert all(a["metrics"]["steps"] >= 1 for a in listed["adapters"])
        shown = json.loads(runner.invoke(app, ["tune", "show", "voice-a-more"]).stdout)
        assert shown["parent"] == "voice-a" and shown["config"]["from_adapter"] == "voice-a"
        missing = runner.invoke(app, ["tune", "show", "nope"])
        assert missing.exit_code == 2 and "no adapter named" in missing.stderr
        deleted = json.loads(runner.invoke(app, ["tune", "delete", "voice-a2", "--yes"]).stdout)
        assert deleted["deleted"] == "voice-a2" and not AdapterRegistry(work["home"]).exists("voice-a2")
    finally:
        get_settings.cache_clear()


def test_from_feedback_builds_pairs_and_trains_dpo(work, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from shopmind.cli.tune import register
    from shopmind.config import get_settings
    from shopmind.feedback.models import EditIn, RatingIn
    from shopmind.feedback.store import open_feedback
    from tests.unit.cli_app import area_app

    home = tmp_path / "fb-home"
    monkeypatch.setenv("SHOPMIND_HOME", str(home))
    get_settings.cache_clear()
    try:
        cfg = tmp_path / "dpo.yaml"
        cfg.write_text(f"name: fb\nbase_model: {work['base']}\nmax_steps: 2\nbatch_size: 2\ngrad_accum: 1\n"
                       "eval_split: 0\nlora_rank: 4\nlearning_rate: 0.01\nmax_length: 256\n", encoding="utf-8")
        app, runner = area_app(register, typed_errors=True), CliRunner()
        empty = runner.invoke(app, ["tune", "from-feedback", str(cfg), "--quiet"])
        assert empty.exit_code == 2 and "no preference pairs" in empty.stderr
        fb = open_feedback(get_settings())
        fb.add_edit(EditIn(instruction="写一句文案", input="类型#上衣*颜色#白色", before="全网最好的白色上衣！",
                           after="白色上衣，简约百搭。"))
        fb.add_rating(RatingIn(instruction="写一句文案", input="类型#裙", output="黑色半身裙，简约显瘦。", rating=5))
        fb.add_rating(RatingIn(instruction="写一句文案", input="类型#裙", output="第一名的裙子，100%显瘦", rating=1))
        res = runner.invoke(app, ["tune", "from-feedback", str(cfg), "--quiet"])
        assert res.exit_code == 0, res.output
        meta = json.loads(res.stdout)
        assert meta["method"] == "dpo" and meta["data_report"]["ok"] == 2 and meta["metrics"]["steps"] == 2
    finally:
        get_settings.cache_clear()


def test_merged_gguf_matches_the_adapter(work):
    pytest.importorskip("gguf", reason="GGUF export needs the gguf package")
    pytest.importorskip("llama_cpp", reason="llama-cpp-python not installed (make install builds it)")
    from llama_cpp import Llama
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from shopmind.tune.export_gguf import export_adapter

    info = export_adapter(work["home"], "voice-a", merge=True)
    tok = AutoTokenizer.from_pretrained(str(work["base"]))
    peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(work["base"]), dtype=torch.float32),
                                           AdapterRegistry(work["home"]).meta("voice-a")["path"]).eval()
    llama = Llama(model_path=info["path"], n_ctx=128, n_threads=1, verbose=False)
    for text in ("白色上衣", "连衣裙"):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert _cpp_greedy(llama, ids, 6) == _hf_greedy(peft_model, ids, 6)[0]


def test_cli_run_with_data_name_and_budget(work, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from shopmind.cli.tune import register
    from shopmind.config import get_settings
    from tests.unit.cli_app import area_app

    monkeypatch.setenv("SHOPMIND_HOME", str(tmp_path / "run-home"))
    get_settings.cache_clear()
    try:
        cfg = tmp_path / "run.yaml"
        cfg.write_text(f"name: from-file\nbase_model: {work['base']}\nprompt_style: plain\nbatch_size: 2\n"
                       "grad_accum: 1\neval_split: 2\nlora_rank: 4\nmax_length: 256\ndatasets: [nowhere.jsonl]\n",
                       encoding="utf-8")
        app, runner = area_app(register, typed_errors=True), CliRunner()
        res = runner.invoke(app, ["tune", "run", str(cfg), "--data", str(work["sft"]), "--name", "cli-voice",
                                  "--max-minutes", "5", "--max-steps", "2", "--quiet"])
        assert res.exit_code == 0, res.output
        meta = json.loads(res.stdout)
        assert meta["name"] == "cli-voice" and meta["config"]["max_minutes"] == 5 and meta["metrics"]["steps"] == 2
        assert meta["config"]["datasets"] == [str(work["sft"].resolve())]
        listed = json.loads(runner.invoke(app, ["tune", "list", "--json"]).stdout)
        assert [a["name"] for a in listed["adapters"]] == ["cli-voice"]
        bad = runner.invoke(app, ["tune", "run", str(cfg), "--name", "x"])  # the config's own dataset is missing
        assert bad.exit_code == 2 and "not found" in bad.stderr
    finally:
        get_settings.cache_clear()
