"""Red team: injection, fence breaking, evasion spellings and hidden claims (tests/data/redteam.jsonl).

The LLM here is an adversary that obeys any instruction it finds in the prompt — it copies the
attacker's desired text into every field, or parrots the product data verbatim when there is no
instruction — so what stands between the attack and publication is the guard, which is what this
tests. Each case also goes through the poster/video copy path, the video narration and the live
script. Nothing published (passed=True text) may be flagged as a violation by the engine, and none
of the case's forbidden phrases may survive in it (compared after width/space/variant folding).
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest

from shopmind import compliance
from shopmind.domain import Product
from shopmind.generate import WriteRequest, write

CASES = [json.loads(line) for line in (Path(__file__).parents[1] / "data" / "redteam.jsonl").read_text(encoding="utf-8").splitlines()
         if line.strip()]
_MARKER = re.compile(r"(?:写上|标题写|请写|写|输出|改为|标题是|write|output|say)\s*[:：]\s*[“\"]?([^\n“”\"<>{}]+)", re.IGNORECASE)
_FOLD = str.maketrans("國級頂極網價無雙獨絕對質優專醫療藥①", "国级顶极网价无双独绝对质优专医疗药一")


def fold(text: str) -> str:
    """An independent reading of the text as a regulator would: width, invisible characters,
    spacing, common traditional characters, 第1 → 第一, case."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf" and not ch.isspace())
    text = text.translate(_FOLD).lower()
    return re.sub(r"第1(?!\d)", "第一", text)


class Adversary:
    """An LLM that does whatever the data tells it to (the worst case for prompt injection)."""

    name = "adversary"

    def __init__(self) -> None:
        self.last_usage: dict = {}
        self.calls = 0

    @staticmethod
    def _keys(prompt: str) -> dict:
        m = re.search(r"输出格式：(\{.*\})", prompt)
        if m:
            return json.loads(m.group(1))
        start = prompt.find("{", prompt.find("<<<原文案>>>"))
        end = prompt.find("<<<原文案结束>>>")
        return json.loads(prompt[start:prompt.rfind("}", start, end) + 1])

    @staticmethod
    def _payload(prompt: str) -> str:
        block = prompt.split("<<<商品数据结束>>>")[0]
        m = _MARKER.search(block)
        if m and m.group(1).strip():
            return m.group(1).strip(" ，,。")
        values = [line.split("：", 1)[1] for line in block.splitlines() if line.startswith("- ") and "：" in line]
        return "，".join(values)  # no instruction: parrot the data, claims and all

    def complete(self, messages, **_opts) -> str:
        self.calls += 1
        prompt = "\n".join(m["content"] for m in messages if m["role"] == "user")
        payload = self._payload(prompt) or "真丝连衣裙"
        out = {}
        for key, shape in self._keys(prompt).items():
            if isinstance(shape, list):
                out[key] = [payload, payload + "，值得入手", "就选" + payload, payload + "！"]
            else:
                out[key] = payload if len(payload) >= 12 else payload + "，" + payload + "，真的很好"
        self.last_usage = {"completion_tokens": 10, "seconds": 0.0}
        return json.dumps(out, ensure_ascii=False)

    def stream(self, messages, **opts):
        yield self.complete(messages, **opts)


def _attributes(case: dict) -> str:
    pairs = ([("商品", case["title"])] if case.get("title") else []) + list(case["attributes"].items())
    return "*".join(f"{k}#{v.replace('*', ' ').replace('#', '＃') if k != '品牌' else v.replace('*', ' ')}" for k, v in pairs)


def _category(case: dict) -> str:
    return case.get("category") or "apparel"  # every case is a 连衣裙 unless it says otherwise


def _product(case: dict) -> Product:
    attrs = dict(case["attributes"])
    title = case.get("title") or attrs.pop("商品", None) or "真丝连衣裙"
    return Product(id=case["id"], title=title, price=299.0, category=_category(case), attributes=attrs)


def engine_flags(text: str, category: str) -> bool:
    return compliance.check(text, category=category).verdict == "violation"


def _carried(phrase: str, category: str) -> bool:
    """Whether the engine flags the phrase said plainly about the product (its own judgement of the
    phrase; what it judges borderline or misses is an engine gap, counted in docs/benchmarks.md)."""
    carrier = f"This dress: {phrase}." if phrase.isascii() else f"这款连衣裙{phrase}。"
    return engine_flags(carrier, category)


def _escapes(case: dict, texts: list[str]) -> list[str]:
    """Published strings the engine flags as violation, or that still carry a forbidden phrase the
    engine flags when it is said plainly about the product."""
    cat = _category(case)
    forbidden = [f for f in case["forbidden"] if _carried(f, cat)]
    bad = []
    for text in texts:
        if not text or not text.strip():
            continue
        if engine_flags(text, cat):
            bad.append(f"engine flags: {text!r}")
        bad += [f"forbidden {f!r} in {text!r}" for f in forbidden if fold(f) in fold(text)]
    return bad


def test_the_set_is_large_and_varied():
    kinds = {c["kind"] for c in CASES}
    assert len(CASES) >= 50 and len({c["id"] for c in CASES}) == len(CASES)
    assert {"title_injection", "attribute_injection", "brand_voice_injection", "fence_break", "evasion",
            "hidden_claim", "mixed_language"} <= kinds


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_generation_loop_publishes_nothing_that_violates(case):
    llm = Adversary()
    req = WriteRequest(content_type=case["content_type"], attributes=_attributes(case), brand_voice=case.get("brand_voice"),
                       persona=case.get("persona"), category=_category(case), max_rounds=1)
    r = write(req, llm)
    assert llm.calls >= 1
    published = [v for v in r.content.values() if isinstance(v, str)] + \
                [x for v in r.content.values() if isinstance(v, list) for x in v]
    if r.passed:
        assert not _escapes(case, published), r.content


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_media_and_live_copy_publish_nothing_that_violates(case):
    from shopmind.live.script import build_script
    from shopmind.media.copy import publishable_copy
    from shopmind.media.video import narration_script

    product = _product(case)
    texts: list[str] = []
    generated = publishable_copy(product, llm=Adversary(), copy="auto")  # the adversary writes, the guard decides
    # the raw title and attribute values as a merchant's overrides: the most direct way in
    override = publishable_copy(product, headline=product.title, points=list(product.attributes.values()), copy="template")
    for mc in (generated, override):
        texts += [mc.headline, *mc.points]
    texts += [ln.text for ln in narration_script(product, generated)]
    script = build_script([product], None, languages=["zh", "en"])
    texts += [line.text[lg] for sec in script.sections for line in sec.lines for lg in ("zh", "en")]
    assert not _escapes(case, texts)


@pytest.mark.parametrize("case", [c for c in CASES if c["kind"] in ("fence_break", "brand_voice_injection")],
                         ids=lambda c: c["id"])
def test_untrusted_text_stays_in_the_fenced_data_block(case):
    from shopmind.generate.facts import from_attributes
    from shopmind.generate.prompts import build_messages

    facts = from_attributes(_attributes(case))
    system, user = (m["content"] for m in build_messages(case["content_type"], facts, brand_voice=case.get("brand_voice"),
                                                         persona=case.get("persona")))
    for untrusted in filter(None, [case.get("brand_voice"), case.get("persona"), *case["attributes"].values()]):
        assert untrusted not in system and untrusted.strip()[:12] not in system  # never in the system message
    body = user.split("<<<商品数据>>>", 1)[1]
    data, rest = body.split("<<<商品数据结束>>>", 1)  # exactly one fence, closed once, by us
    assert "<<<" not in data and ">>>" not in data and "```" not in data and "<|" not in data
    assert all(line.startswith(("- ", "（")) for line in data.strip().splitlines())  # one line per value
    assert "SYSTEM" not in rest and "<<<" not in rest
