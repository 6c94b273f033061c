"""Compliance engine v2: normalisation with offsets, evasions, languages, categories, facts, neutral rewrites,
GUIDE §2 apparel precision and the eval contract."""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import pytest

from shopmind.compliance import check, rewrite
from shopmind.compliance.categories import KNOWN, normalise_category
from shopmind.compliance.language import sentences
from shopmind.compliance.lexicon import LANGUAGES, load_ruleset
from shopmind.compliance.normalise import normalise
from shopmind.errors import BadInput
from shopmind.eval.compliance import evaluate, split_of

DATA = Path(__file__).resolve().parents[1] / "data"
EVASION = DATA / "compliance_evasion_cases.jsonl"
ADLAW = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "adlaw"


@pytest.mark.parametrize("raw,canonical", [
    ("全网第1", "全网第一"), ("全 网 第 一", "全网第一"), ("全网第\u200b一", "全网第一"), ("ＮＯ．１", "NO1"),
    ("國家級", "国家级"), ("頂級", "顶级"), ("No．１", "No1"), ("TOP 1", "TOP1"), ("N0.1", "NO1"),
    ("全·网·第·一", "全网第一"), ("销量第 1 名", "销量第一名"), ("𝐍𝐎.𝟏", "NO1"),
])
def test_normalise_evasions(raw, canonical):
    assert normalise(raw).text == canonical


@pytest.mark.parametrize("text", ["列夫·托尔斯泰", "No 1 size fits all", "piano 1", "这件衣服，真好！", "100%纯棉"])
def test_normalise_leaves_ordinary_text(text):
    assert normalise(text).text == text


def test_normalise_offsets_map_back():
    """Every normalised character maps to an original character that normalises to it."""
    rng = random.Random(7)
    pieces = ["全", "网", "第", "一", " ", "\u200b", "１", "國", "級", "NO", ".", "1", "，", "·", "最", "好", "a"]
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        norm = normalise(text)
        for i, ch in enumerate(norm.text):
            s, e = norm.span(i, i + 1)
            assert e - s == 1  # every transform is 1:1 apart from deletions
            assert normalise(text[s:e]).text == ch or ch in "零一二三四五六七八九O", (text, i, ch, text[s:e])


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_evasion_cases():
    rows = _rows(EVASION)
    assert len(rows) >= 40
    for row in rows:
        report = check(row["text"], category=row.get("product_category"))
        for f in report.findings:
            assert row["text"][f.start:f.end] == f.span  # offsets are into the ORIGINAL text
        if row["label"] == "violation":
            assert report.verdict == "violation", row
            got = [(f.start, f.end) for f in report.findings if f.severity == "violation"]
            for gold in row["violations"]:
                g0, g1 = gold["start"], gold["start"] + len(gold["span"])
                assert any(s < g1 and g0 < e for s, e in got), (row["text"], gold["span"], got)
        else:
            assert report.verdict != "violation", (row["text"], report.findings)


def test_languages_per_sentence_and_unchecked():
    ja = check("ふんわりとした肌触りのニットです。")
    assert ja.language == "ja" and ja.verdict == "clean"
    assert check("世界一のクリームで、アトピーが治ります。").verdict == "violation"
    ru = check("Лучший крем в мире")
    assert ru.verdict == "unchecked" and ru.unchecked_languages == ["ru"]
    mixed = check("这款T恤很舒适。Questo è il migliore prodotto per la pelle.")
    assert mixed.verdict == "unchecked" and "it" in mixed.unchecked_languages and "zh" in mixed.languages
    # a violation anywhere still wins over unchecked text elsewhere
    assert check("全网第一的T恤。Questo è il migliore prodotto.").verdict == "violation"
    both = check("纯棉T恤，全网第一。Guaranteed results, cures acne.")
    assert set(both.languages) == {"zh", "en"} and both.language == "mixed"
    spans = [f.span for f in both.findings if f.severity == "violation"]
    assert "全网第一" in spans and any("cures" in s for s in spans)
    assert [s.language for s in sentences("小清新の连衣裙，很好看")] == ["zh"]  # one の is not Japanese
    for other in ("Produk terbaik di dunia untuk kulit anda", "Bu ürün en iyi krem"):  # id, tr: no rules
        assert check(other).verdict == "unchecked", other
    assert check("Ein weicher Pullover für den Winter.").languages == ["de"]
    embedded = check("Лучший крем, 纯棉T恤")  # Russian inside a Chinese sentence is still unchecked
    assert embedded.verdict == "unchecked" and embedded.unchecked_languages == ["ru"]
    assert check("αβγ δεζ NO.1").verdict == "violation"  # zh/en rules still read unchecked-language text
    inline = check("这款面霜 cures acne，好用", category="cosmetics")  # English claim inside a Chinese sentence
    assert inline.verdict == "violation" and any("cures" in f.span for f in inline.findings)


def test_new_categories_and_aliases():
    for cat in ("education", "real_estate", "finance", "medical_service", "alcohol", "tobacco", "infant_food", "pet"):
        assert cat in KNOWN and normalise_category(cat) == cat
    assert normalise_category("房地产") == "real_estate" and normalise_category("理财") == "finance"
    assert normalise_category("other") == "general" and normalise_category("奶粉") == "infant_food"
    assert check("好看", category="education").verdict == "clean"
    with pytest.raises(BadInput):
        check("好看", category="spaceships")


def test_facts_are_accepted_and_validated():
    plain = check("美白精华", category="cosmetics")
    with_facts = check("美白精华", category="cosmetics", facts={"特殊化妆品注册证": "国妆特字G20260001", "功效": "美白"})
    order = {"clean": 0, "borderline": 1, "unchecked": 1, "violation": 2}
    assert order[with_facts.verdict] <= order[plain.verdict]
    assert rewrite("美白精华", category="cosmetics", facts={"功效": "美白"}).text is not None
    with pytest.raises(BadInput):
        check("美白精华", facts=["not", "a", "mapping"])  # type: ignore[arg-type]


# A rewrite may remove words or put a plain intensifier in their place; anything else is a new claim.
_NEUTRAL = {"", "很", "十分", "非常", "好", "great", "a great"}


def test_rule_rewrites_never_add_a_claim():
    for lang in LANGUAGES:
        rs = load_ruleset(lang)
        for rule in rs.rules.values():
            for value in [rule.rewrite, *rule.rewrites.values()]:
                if value is not None:
                    assert value.strip() in _NEUTRAL, (rule.id, value)
        if rs.superlative is not None:
            assert rs.superlative.rewrite in _NEUTRAL
    if importlib.util.find_spec("shopmind.compliance.claims") is not None:  # the claims pass's data too
        from shopmind.compliance.claims import load_claimset

        for lang in ("zh", "en"):
            for claim_rule in load_claimset(lang).rules:
                assert claim_rule.replacement is None or claim_rule.replacement.strip() in _NEUTRAL, claim_rule
    out = rewrite("全网第一的防晒衣，顶级面料，专家推荐，质量免检。", category="apparel")
    for invented in ("好评", "优质", "领先", "优选", "合格", "受欢迎"):
        assert invented not in out.text
    assert "面料" in out.text and check(out.text, category="apparel").verdict != "violation"
    assert rewrite("這款T恤是全網第1").remaining == []


@pytest.mark.parametrize("text,verdict", [
    # GUIDE §2 rules (written from the guide, not from the dev texts)
    ("这件衬衣最具个性时尚的风格魅力", "violation"), ("衬衣可以说是最为实穿的单品", "violation"),
    ("卫衣是宝贝们最喜爱的时尚单品", "violation"), ("优雅长裙是女神们的最爱", "violation"),
    ("独一无二的美感", "violation"), ("绝对是秋季首选", "violation"),
    ("最大的设计亮点在于领口", "borderline"), ("最吸睛的就是领口", "borderline"), ("让你成为街头最出彩的", "borderline"),
    ("最为基础百搭", "borderline"), ("最大限度地保留", "borderline"), ("每件染色不同，独一无二", "borderline"),
    ("是衣橱里最经典的单品之一", "borderline"), ("绝对舒适", "borderline"),
    ("让肌肉得到放松", "borderline"), ("不会褪色和变形", "borderline"),
    ("最为百搭的一款", "violation"), ("最显瘦的一款连衣裙", "violation"), ("这个长度最显气质", "borderline"),
    ("穿上它你就是人群中最靓的仔", "borderline"),
    ("最近很流行", "clean"), ("第一眼就爱上", "clean"), ("100%纯棉", "clean"), ("高矮胖瘦身型都适合", "clean"),
    ("今天种草", "clean"), ("80％羊毛", "clean"), ("不易起球", "clean"), ("懒癌患者必备", "clean"),
])
def test_taobao_apparel_guide_rules(text, verdict):
    assert check(text, category="apparel").verdict == verdict


def test_holdout_split_rule():
    assert split_of("2") == "holdout" and split_of("6") == "holdout" and split_of("4") == "dev"
    assert split_of("enf-002") == "holdout" and split_of("enf-003") == "dev" and split_of("x") == "dev"


def test_eval_contract_keys_errors_and_unchecked(tmp_path):
    rows = [
        {"id": "1", "text": "全网第一的T恤", "label": "violation",
         "violations": [{"span": "全网第一", "start": 0, "category": "absolute_term", "severity": "violation"}]},
        {"id": "2", "text": "保证通过考试", "label": "violation", "product_category": "spaceships",
         "violations": [{"span": "保证通过", "start": 0, "category": "guarantee_or_efficacy", "severity": "violation"}]},
        {"id": "3", "text": "Лучший крем в мире", "label": "violation",
         "violations": [{"span": "Лучший", "start": 0, "category": "absolute_term", "severity": "violation"}]},
        {"id": "4", "text": "纯棉T恤，透气舒适", "label": "clean", "violations": []},
    ]
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    terms = tmp_path / "terms.txt"
    terms.write_text("全网第一\n舒适\n", encoding="utf-8")
    report = evaluate(labels, terms)
    for key in ("precision", "recall", "f1", "n", "span", "per_category", "per_product_category", "baseline",
                "errors", "flag_rate_clean"):
        assert key in report
    for key in ("precision", "recall", "f1", "n", "span", "per_category", "per_product_category"):
        assert key in report["baseline"]
    assert report["n"] == 4 and report["tp"] == 1 and report["fn"] == 2  # unknown category and unchecked miss
    assert [e["id"] for e in report["errors"]] == ["2"]
    assert report["precision"] == 1.0 and report["recall"] == pytest.approx(1 / 3, abs=1e-3)
    assert report["flag_rate_clean"] == 0.0 and report["baseline"]["flag_rate_clean"] == 1.0
    assert report["per_product_category"]["spaceships"]["fn"] == 1
    assert report["engine"]["text_level"]["violation"]["tp"] == 1  # the nested layout stays
    holdout = evaluate(labels, None, split="holdout")
    assert holdout["n"] == 1
    with pytest.raises(BadInput):
        evaluate(labels, None, split="nope")


def test_taobao_dev_and_holdout():
    labels = ADLAW / "labelled_dev.jsonl"
    if not labels.exists():
        pytest.skip(f"shared evaluation data not available: {labels}")
    for split in ("dev", "holdout"):
        report = evaluate(labels, None, split=split)
        assert not report["errors"]
        assert report["precision"] >= 0.95 and report["recall"] >= 0.95, (split, report["tp"], report["fp"], report["fn"])


def test_invisible_only_text():
    with pytest.raises(BadInput):
        check("\u200b\u200d\ufeff")
    assert rewrite("全网第一\u200b").remaining == []  # what is left is invisible: nothing to re-check


def test_long_text_bounds_match_the_short_text_search(monkeypatch):
    """Long texts find clause/sentence ends by bisecting a break list (linear in the text, where a forward
    search per hit was quadratic on break-less claim-dense input); the ends must equal the plain search's."""
    import random

    import shopmind.compliance.context as ctx

    rng = random.Random(7)
    long_limit = ctx._LONG
    for _ in range(200):
        text = "".join(rng.choice("治疗失眠最好，。！ab.\n 的") for _ in range(long_limit + 500))
        i = rng.randrange(0, len(text) - 5)
        j = i + rng.randrange(1, 5)
        fast = (ctx.clause_bounds(text, i, j)[1], ctx.sentence_bounds(text, i, j)[1])
        monkeypatch.setattr(ctx, "_LONG", 10**9)
        plain = (ctx.clause_bounds(text, i, j)[1], ctx.sentence_bounds(text, i, j)[1])
        monkeypatch.setattr(ctx, "_LONG", long_limit)
        assert fast == plain
