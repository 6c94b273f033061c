"""Compositional claim rules (compliance/claims.py + data/claims_*.yaml): data integrity, the hand-written hard
cases, negation and qualifiers, facts that allow a claim or name the missing fact, English, speed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from shopmind.compliance import claims as claimsmod
from shopmind.compliance import context as ctxmod
from shopmind.compliance.claims import CATEGORIES, _Matcher, _Text, build_claimset, load_claimset, scan_claims
from shopmind.errors import BackendUnavailable, BadInput

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "data" / "compliance_claim_cases.jsonl"
SHARED = ROOT.parent / ".." / "shared" / "data"
KNOWN_CATEGORIES = {"food", "cosmetics", "apparel", "health_products", "medical_device", "drug", "electronics",
                    "general", "education", "real_estate", "finance", "medical_service", "alcohol", "tobacco",
                    "infant_food", "pet"}


def _verdict(hits) -> str:
    sev = {h.severity for h in hits}
    return "violation" if "violation" in sev else "borderline" if sev else "clean"


def _rules(text: str, category: str | None, facts=None, language: str = "zh") -> dict[str, str]:
    return {h.rule_id: h.severity for h in scan_claims(text, category, facts, language=language)}


# ---------- the rule data ----------

@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_rule_cites_law_and_drops_rather_than_invents(language):
    cs = load_claimset(language)
    assert len(cs.rules) >= 15
    for rule in cs.rules:
        assert rule.category in CATEGORIES
        assert rule.legal_basis.strip() and rule.source.strip() and rule.why_zh.strip() and rule.why_en.strip()
        assert rule.replacement is None, f"{rule.id}: rewrites drop the clause, they never add wording"
        assert rule.categories is None or rule.categories <= KNOWN_CATEGORIES | {None}
        assert set(rule.by_category) <= KNOWN_CATEGORIES | {"none"}


def test_bad_rule_data_fails_loudly():
    base = {"lexicons": {"a": ["甲"]}}
    rule = {"id": "r", "category": "medical_claim", "legal_basis": "x", "source": "y", "why_zh": "z", "why_en": "z",
            "trigger": "a"}
    assert build_claimset({**base, "rules": [rule]}).rules[0].id == "r"
    for broken in ({**rule, "trigger": "nope"}, {**rule, "category": "made_up"}, {**rule, "severity": "fatal"},
                   {**rule, "with": ["missing"]}, {k: v for k, v in rule.items() if k != "legal_basis"},
                   {**rule, "trigger": None, "handler": "unknown_handler"}):
        with pytest.raises(BackendUnavailable):
            build_claimset({**base, "rules": [broken]})


def test_bad_input_is_typed():
    with pytest.raises(BadInput):
        scan_claims(123, None)  # type: ignore[arg-type]
    with pytest.raises(BadInput):
        scan_claims("治疗失眠", "food", facts=["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(BadInput):
        scan_claims("治疗失眠", "food", language="xx")
    assert scan_claims("   ", "food") == []


def test_own_clause_bounds_match_context_module():
    texts = ["治疗失眠，三天见效。再买一件！", "a. b, c; d", "全网最低。。价格，真的", "Cures cancer. Risk-free, really",
             "无标点的一句话", "，开头就是逗号", "末尾。"]
    for text in texts:
        t = _Text(text)
        for i in range(len(text)):
            assert t.clause(i, i + 1) == ctxmod.clause_bounds(text, i, i + 1), (text, i)
            assert t.sentence(i, i + 1) == ctxmod.sentence_bounds(text, i, i + 1), (text, i)


def test_pyahocorasick_fallback_finds_the_same_occurrences(monkeypatch):
    terms = {t: frozenset({"x"}) for t in ("血压", "高血压", "降血压", "失眠", "a", "ab")}
    text = "他的高血压，降血压药，失眠ab"
    fast = _Matcher(terms).find(text)
    monkeypatch.setattr(claimsmod, "ahocorasick_rs", None)
    slow = _Matcher(terms).find(text)
    assert fast == slow and len(fast) == 7
    assert _Matcher({}).find(text) == []


# ---------- hand-written hard cases ----------

def _cases() -> list[dict]:
    return [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_hard_case_file_is_well_formed():
    rows = _cases()
    assert len(rows) >= 100
    assert {r.get("language", "zh") for r in rows} == {"zh", "en"}
    assert {r["label"] for r in rows} == {"violation", "borderline", "clean"}
    for r in rows:
        assert r["product_category"] in KNOWN_CATEGORIES
        for v in r["violations"]:
            assert r["text"][v["start"]:v["start"] + len(v["span"])] == v["span"]
            assert v["category"] in CATEGORIES


@pytest.mark.parametrize("row", _cases(), ids=lambda r: r["id"])
def test_hard_cases(row):
    hits = scan_claims(row["text"], row["product_category"], row.get("facts"), language=row.get("language", "zh"))
    assert _verdict(hits) == row["label"], [(row["text"][h.start:h.end], h.rule_id, h.severity) for h in hits]
    for v in row["violations"]:
        v_end = v["start"] + len(v["span"])
        assert any(h.start < v_end and v["start"] < h.end and h.category == v["category"]
                   and h.severity == v["severity"] for h in hits), (v, hits)


# ---------- composition, negation, qualifiers, industries ----------

def test_claim_needs_both_halves_in_one_clause():
    assert "zh.claim.disease_treat" in _rules("有效缓解失眠", "food")
    assert _rules("失眠的夜晚，一杯热牛奶陪你", "food") == {}  # disease word alone is no claim
    assert _rules("失眠时别着急，缓缓入睡", "food") == {}  # 缓缓 is not 缓解
    assert "zh.claim.disease_treat" in _rules("抗癌蔬菜汁", "food")  # one-character verb prefix
    assert "zh.claim.disease_treat" not in _rules("懒癌福音，一键收纳", "general")


def test_negation_clears_the_claim():
    assert _rules("本品不能治疗失眠", "food") == {}
    assert _rules("本品不具有减肥功能", "food") == {}
    assert "zh.claim.food_health" in _rules("本品具有减肥功能", "food")


def test_warnings_and_lookalikes_are_not_claims():
    assert _rules("高血压患者不适合饮用", "food") == {}  # a warning, negated right before the verb
    assert _rules("喝完没改善失眠就别买了", "food") == {}
    assert _rules("酒店开车十分钟，喝个痛快的夜宵摊", "general") == {}  # 酒店 is not liquor
    assert _rules("这家店做事没有效率", "general") == {}  # 没有效率 is not a stated efficacy rate
    assert _rules("防脱发洗发水", "cosmetics") == {"zh.claim.cosmetic_special": "borderline"}  # cosmetic claim, not disease


def test_industry_severity():
    text = "医生推荐，放心使用"
    assert _rules(text, "food")["zh.claim.authority_endorse"] == "violation"
    assert _rules(text, "apparel")["zh.claim.authority_endorse"] == "borderline"
    assert "zh.claim.food_health" not in _rules("增强免疫力", "apparel")  # food rule only for food-like goods
    assert _rules("适合高血压患者食用，降血压", "food")["zh.claim.disease_treat"] == "violation"
    device = _rules("用于缓解颈椎病疼痛", "medical_device")
    assert device["zh.claim.disease_treat_medical"] == "borderline"
    assert _rules("用于缓解颈椎病疼痛，请仔细阅读产品说明书或者在医务人员的指导下购买和使用", "medical_device") == {}


def test_efficacy_numbers_and_time():
    assert _rules("越晒越白", "cosmetics")["zh.claim.yue_efficacy"] == "violation"
    assert _rules("坚持两周见效", "food")["zh.claim.time_efficacy"] == "violation"
    assert _rules("临床有效率92%", "drug")["zh.claim.efficacy_rate"] == "violation"
    assert "zh.claim.time_efficacy" not in _rules("充电10分钟，恢复出厂设置", "electronics")
    assert _rules("一个月甩掉20斤", "food")["zh.claim.weight_loss"] == "violation"
    assert "zh.claim.weight_loss" not in _rules("净重5斤装", "food")


def test_multi_disease_cure_all_is_a_violation_even_for_devices():
    text = "可调理高血压、糖尿病、失眠、关节炎等多种疾病"
    assert _rules(text, "medical_device")["zh.claim.cure_all"] == "violation"


def test_finance_and_property():
    assert _rules("年化收益15%，稳赚不赔", "finance")["zh.claim.return_guarantee"] == "violation"
    assert "zh.claim.return_number" not in _rules("业绩比较基准3%，投资有风险", "finance")
    assert _rules("无风险退货，放心购买", "apparel") == {}
    assert _rules("距地铁站步行约10分钟", "real_estate")["zh.claim.travel_time"] == "violation"
    assert _rules("距地铁站步行约10分钟", None)["zh.claim.travel_time"] == "borderline"
    measured = {"实测通勤时间": "2026-05 实测步行 9 分 40 秒"}
    assert "zh.claim.travel_time" not in _rules("距地铁站步行约10分钟", "real_estate", measured)
    assert _rules("未来五年房价必将翻倍", "real_estate")["zh.claim.future_value"] == "violation"


# ---------- facts ----------

def _why(text, category, facts, rule_id):
    hit = next(h for h in scan_claims(text, category, facts) if h.rule_id == rule_id)
    return hit.severity, hit.why_zh, hit.why_en


def test_special_cosmetic_registration_decides_whitening():
    rid = "zh.claim.cosmetic_special"
    sev, zh, en = _why("美白精华", "cosmetics", None, rid)
    assert sev == "borderline" and "未提供" in zh and "special-cosmetics registration" in en
    sev, zh, _ = _why("美白精华", "cosmetics", {"品牌": "某某"}, rid)
    assert sev == "violation" and "缺少商品事实：特殊化妆品注册证" in zh
    sev, zh, _ = _why("美白精华", "cosmetics", {"特殊化妆品注册证": "国妆特字G2024", "功效": "防晒"}, rid)
    assert sev == "violation" and "未包含" in zh
    assert rid not in _rules("美白精华", "cosmetics", {"registration": "国妆特字G2024", "efficacy": "美白"})


def test_timed_cosmetic_claim_needs_an_efficacy_evaluation():
    rid = "zh.claim.time_efficacy_cosmetic"
    sev, zh, _ = _why("28天肌肤水润度提升", "cosmetics", None, rid)
    assert sev == "violation" and "功效宣称评价报告" in zh
    assert rid not in _rules("28天肌肤水润度提升", "cosmetics", {"功效评价": "人体功效试验摘要已公布"})
    # ordinary food cannot be licensed by a report
    assert _rules("28天见效", "food", {"功效评价": "有"})["zh.claim.time_efficacy"] == "violation"


def test_health_food_functions_and_statement():
    facts = {"functions": ["增强免疫力", "抗氧化"]}
    text = "有助于增强免疫力、抗氧化。本品不能代替药物"
    assert _rules(text, "health_products", facts) == {}
    sev, zh, _ = _why("改善睡眠。本品不能代替药物", "health_products", facts, "zh.claim.health_food_function")
    assert sev == "violation" and "有助于改善睡眠" in zh
    assert _rules("增强免疫力", "health_products", facts)["zh.claim.health_food_statement"] == "borderline"
    assert _rules("排毒养颜。本品不能代替药物", "health_products", facts)["zh.claim.health_food_off_catalogue"] == "violation"


def test_drug_facts():
    text = "用于缓解头痛。请按药品说明书或者在药师指导下购买和使用"
    assert _rules(text, "drug", {"处方药": "是"})["zh.claim.prescription_drug"] == "violation"
    assert _rules(text, "drug", {"otc": "否"})["zh.claim.not_otc"] == "violation"
    sev, zh, en = _why(text, "drug", {"审查批准文号": "无"}, "zh.claim.approval_missing")
    assert sev == "violation" and "审查批准文号" in zh and "审查批准文号" in en
    assert _rules(text, "drug", {"otc": "是", "审查批准文号": "药广审（文）第1号"}) == {}


def test_scarcity_against_stock():
    assert _rules("仅剩3件", "general")["zh.claim.scarcity"] == "borderline"
    assert _rules("仅剩3件", "general", {"库存": "500"})["zh.claim.scarcity"] == "violation"
    assert _rules("仅剩三件", "general", {"stock": "2"}) == {}


# ---------- English ----------

def test_english_claims():
    assert _rules("Cures cancer naturally", "health_products", language="en")["en.claim.disease_treat"] == "violation"
    assert _rules("It does not cure cancer.", "food", language="en") == {}
    assert _rules("Secure checkout", "general", language="en") == {}  # word boundary: cure ≠ secure
    assert _rules("Clinically proven: 93% saw fewer wrinkles", "cosmetics",
                  language="en")["en.claim.clinical_number"] == "violation"
    assert _rules("Doctor recommended formula", "health_products", language="en")["en.claim.authority_endorse"] == "violation"
    assert _rules("Guaranteed returns, risk-free investment", "finance", language="en")["en.claim.return_guarantee"] == "violation"


# ---------- real apparel copy stays clean; speed ----------

def test_no_violations_on_real_apparel_copy():
    path = SHARED / "advertisegen" / "dev.jsonl"
    if not path.exists():
        pytest.skip("../shared/data/advertisegen/dev.jsonl not present")
    texts = [json.loads(line)["summary"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    flagged = [t for t in texts if any(h.severity == "violation" for h in scan_claims(t, "apparel"))]
    assert len(flagged) <= 0.01 * len(texts), flagged[:5]


def test_fast_on_ordinary_copy():
    text = ("这款外套采用优质面料，版型宽松舒适，袖口做了收紧设计，保暖又时尚。搭配牛仔裤或半身裙都很好看，"
            "适合通勤与周末出游，上身显瘦显高。") * 20
    scan_claims(text, "apparel")  # compile once
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 0.5:
        scan_claims(text, "apparel")
        n += 1
    mb_per_s = n * len(text.encode("utf-8")) / (time.perf_counter() - t0) / 1e6
    assert mb_per_s > 1.0, f"{mb_per_s:.2f} MB/s"  # measured ≈5 MB/s on the shared 2-core box; slack for load


# ---------- through the engine (no stand-ins) ----------

def test_engine_check_runs_the_claim_rules_with_facts():
    from shopmind.compliance import check

    report = check("这款山楂茶口感清香，三天瘦十斤。", "food", classifier=False)
    assert report.verdict == "violation"
    finding = next(f for f in report.findings if f.rule_id == "zh.claim.weight_loss")
    assert "瘦十斤" not in finding.rewrite and "口感清香" in finding.rewrite  # the claim's clause is dropped
    ruled = check("美白精华，淡化色斑", "cosmetics", facts={"特殊化妆品注册证": "无"}, classifier=False)
    assert any(f.rule_id == "zh.claim.cosmetic_special" and f.severity == "violation" for f in ruled.findings)


def test_a_banned_ad_is_dropped_whole_not_clause_by_clause():
    from shopmind.compliance.engine import apply_fix

    text = "降压新药，每日一片，稳定血压。"
    hit = next(h for h in scan_claims(text, "drug", {"处方药": "是"}) if h.rule_id == "zh.claim.prescription_drug")
    assert apply_fix(text, hit) == ""  # the engine's clause-dropping fix removes the whole ad at once
    hit = next(h for h in scan_claims("  这是一款烟丝，口感醇和。", "tobacco") if h.rule_id == "zh.claim.tobacco_ad")
    assert (hit.start, hit.clause) == (2, (2, 14))  # from the first clause to the end of the text


def test_hostile_dense_input_stays_bounded():
    text = "治疗失眠" * 25_000  # 100,000 characters, one endless clause, 25,000 triggers
    t0 = time.perf_counter()
    hits = scan_claims(text, "food")
    assert time.perf_counter() - t0 < 20  # ≈2 s on the shared 2-core box; quadratic code took minutes
    assert hits and max(sum(h.rule_id == r for h in hits) for r in {h.rule_id for h in hits}) <= 64
