"""`shopmind eval qa`: product Q&A on questions generated from a product file's own fields.

Answerable questions ask about fields the record has (colour, material, brand, price, fit,
usage, season, gender, pattern, sleeve, neck, type, other colours) with the record's value as
the expected answer; unanswerable ones ask about things the record never mentions (warranty,
battery, shipping, returns, origin, waterproofing, features no catalog column names). Both in
zh and en, several phrasings each, chosen with a seeded RNG. The products are ingested into a
temporary store; nothing is copied into the project.
"""

from __future__ import annotations

import json
import os
import random
import re
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shopmind.errors import BadInput
from shopmind.service.qa_lexicon import load_lexicon

# kind -> (record key path, zh templates, en templates)
ANSWERABLE: dict[str, tuple[tuple[str, ...], list[str], list[str]]] = {
    "colour": (("base_colour",), ["这款是什么颜色的？", "这件商品的颜色是？", "请问这个是啥色？"],
               ["What colour is this?", "What color is this item?", "Which colour does this one have?"]),
    "material": (("article_attributes", "Fabric"), ["这款是什么材质的？", "面料是什么？", "用的什么布料？"],
                 ["What material is it?", "What fabric is this made of?", "What is the fabric?"]),
    "brand": (("brand",), ["这是什么品牌的？", "这款是哪个牌子？"], ["What brand is this?", "Which brand makes this?"]),
    "price": (("price_inr",), ["这款多少钱？", "价格是多少？"], ["How much does it cost?", "What is the price?"]),
    "fit": (("article_attributes", "Fit"), ["这款是什么版型？", "版型是修身还是宽松？"], ["What is the fit?", "Is it slim or regular fit?"]),
    "usage": (("usage",), ["适合什么场合穿？", "这款适合什么用途？"], ["What occasion is it suitable for?", "What is it for, sports or casual wear?"]),
    "season": (("season",), ["适合什么季节？", "这是哪个季节的款？"], ["Which season is it for?", "What season is this made for?"]),
    "gender": (("gender",), ["这款是男款还是女款？", "适合男生还是女生？"], ["Is this for men or women?", "What gender is it for?"]),
    "pattern": (("article_attributes", "Pattern"), ["这款是什么图案？", "是纯色还是印花？"], ["What pattern does it have?", "Is it printed or solid?"]),
    "sleeve": (("article_attributes", "Sleeve Length"), ["是长袖还是短袖？", "袖子多长？"], ["What sleeve length is it?", "Does it have short or long sleeves?"]),
    "neck": (("article_attributes", "Neck"), ["这款是什么领型？", "是圆领吗？"], ["What kind of neck does it have?", "What is the neckline?"]),
    "article_type": (("article_type",), ["这是什么类型的商品？", "这个属于哪一类？"], ["What kind of product is this?", "What type of product is this?"]),
    "variants": (("base_colour",), ["这款有几种颜色？", "还有别的颜色吗？"], ["How many colours does it come in?", "What other colours are available?"]),
}

# kind -> (words whose presence in the record would make it answerable, zh templates, en templates)
UNANSWERABLE: dict[str, tuple[tuple[str, ...], list[str], list[str]]] = {
    "warranty": (("warranty", "guarantee"), ["这款有保修吗？", "质保多久？"], ["Does it come with a warranty?", "How long is the warranty?"]),
    "battery": (("battery",), ["电池续航多久？", "需要充电吗？"], ["How long does the battery last?", "What is the battery life?"]),
    "shipping": (("shipping", "ships from", "delivery"), ["是从海外发货吗？", "多久能发货到？"], ["Does it ship from abroad?", "How long does shipping take?"]),
    "returns": (("return policy", "refund"), ["可以七天无理由退货吗？", "支持退换吗？"], ["Can I return it within 30 days?", "What is the return policy?"]),
    "origin": (("made in", "country of origin"), ["产地是哪里？", "是哪国制造的？"], ["Where is it made?", "What is the country of origin?"]),
    "waterproof": (("waterproof", "water resistant", "water-resistant", "water resistance"), ["防水吗？"], ["Is it waterproof?"]),
    "no_cue": (("bluetooth", "gps", "calorie"), ["支持蓝牙连接手机吗？", "有GPS定位功能吗？"], ["Can it connect to my phone over Bluetooth?", "Does it track calories with GPS?"]),
}

# Phrasings written without looking at the intent lexicon (reported separately as style "paraphrase").
PARAPHRASES: dict[str, tuple[list[str], list[str]]] = {
    "colour": (["我想知道这件的色调", "实物是黑的吗？"], ["Is this one black?", "What shade is it?"]),
    "material": (["摸起来是什么料子？", "是纯棉的吗？"], ["Is it cotton?", "What's it made of?"]),
    "brand": (["这是谁家出的？"], ["Who is the maker?"]),
    "price": (["买这个要花多少？"], ["What would I pay for this?"]),
    "fit": (["穿起来会不会很紧？"], ["Will it be tight on me?"]),
    "usage": (["能穿去健身房吗？"], ["Can I wear this to the gym?"]),
    "season": (["天冷的时候能穿吗？"], ["Is it good for cold weather?"]),
    "gender": (["我老公能穿吗？"], ["Can my husband wear this?"]),
    "warranty": (["坏了能免费修吗？"], ["Will you fix it for free if it breaks?"]),
    "shipping": (["下单后几天能收到？"], ["When will it arrive if I order today?"]),
    "no_cue": (["可以开发票吗？"], ["Can I get an invoice for my company?"]),
}

_NA = {"", "na", "n/a", "none", "null", "nan"}


def _get(record: dict, path: tuple[str, ...]) -> Any:
    value: Any = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def to_catalog_row(record: dict) -> dict:
    """A fashion100-style record → a row `ingest_catalog` reads (nested dicts flattened)."""
    row: dict[str, Any] = {"id": str(record.get("id", "")).strip(), "title": record.get("title", "")}
    descriptors = record.get("descriptors") if isinstance(record.get("descriptors"), dict) else {}
    row["description"] = str(record.get("description") or descriptors.get("description") or "")
    for key, value in descriptors.items():
        if key != "description" and value:
            row[key] = str(value)
    price = record.get("price", record.get("price_inr"))
    if price not in (None, ""):
        row["price"] = price
    if "price_inr" in record:
        row["currency"] = "INR"
    if record.get("article_type"):
        row["category"] = record["article_type"]
    for key, value in record.items():
        if key in {"id", "title", "description", "descriptors", "price", "image", "category"} or value is None:
            continue
        if key == "price_inr":
            continue
        if isinstance(value, dict):
            for sub_key, sub_value in value.items():
                if sub_value not in (None, "") and str(sub_value).strip().lower() not in _NA:
                    row.setdefault(sub_key, str(sub_value))
        elif str(value).strip().lower() not in _NA:
            row[key] = value
    return row


def _accepted_forms(value: str) -> list[str]:
    lex = load_lexicon()
    forms = [value.lower()]
    zh = lex.zh(value)
    if zh:
        forms.append(zh)
    try:
        forms.append(f"{float(value):g}")
    except ValueError:
        pass
    return forms


def generate_questions(records: list[dict], *, per_product: int = 3, seed: int = 0) -> list[dict]:
    """Seeded questions: per product ≈ 2/3 answerable, 1/3 unanswerable, languages alternating."""
    rng = random.Random(seed)
    out: list[dict] = []
    for index, record in enumerate(records):
        pid = str(record.get("id", "")).strip()
        if not pid:
            continue
        blob = json.dumps(record, ensure_ascii=False).lower()
        answerable = [k for k, (path, _, _) in ANSWERABLE.items()
                      if _get(record, path) not in (None, "") and str(_get(record, path)).strip().lower() not in _NA]
        unanswerable = [k for k, (words, _, _) in UNANSWERABLE.items() if not any(w in blob for w in words)]
        n_ans = max(1, round(per_product * 2 / 3))
        picks = [(k, True) for k in rng.sample(answerable, min(n_ans, len(answerable)))]
        picks += [(k, False) for k in rng.sample(unanswerable, min(per_product - len(picks), len(unanswerable)))]
        for j, (kind, is_answerable) in enumerate(picks):
            lang = "zh" if (index + j) % 2 == 0 else "en"
            table = ANSWERABLE if is_answerable else UNANSWERABLE
            path_or_words, zh_t, en_t = table[kind]
            style = "lexicon"
            if kind in PARAPHRASES and rng.random() < 0.3:
                zh_t, en_t = PARAPHRASES[kind]
                style = "paraphrase"
            question = rng.choice(zh_t if lang == "zh" else en_t)
            expected = str(_get(record, path_or_words)).strip() if is_answerable else None
            out.append({"product_id": pid, "question": question, "lang": lang, "kind": kind,
                        "answerable": is_answerable, "expected": expected, "style": style})
    return out


_NUM = re.compile(r"\d+(?:\.\d+)?")


def _record_vocab(records: list[dict]) -> dict[str, str]:
    """Catalog-wide value words (colours, materials, brands) a wrong answer could borrow."""
    lex = load_lexicon()
    vocab = {v: k for v, k in lex.value_kind.items() if k in {"colour", "material"}}
    for record in records:
        brand = str(record.get("brand") or "").strip().lower()
        if brand:
            vocab[brand] = "brand"
    return vocab


def hallucinated_values(answer: str, record_text: str, question: str, vocab: dict[str, str]) -> list[str]:
    """Value words/numbers in `answer` absent from the product's record (incl. its variants) and the question."""
    lex = load_lexicon()
    support = (record_text + " " + question).lower()
    support_zh = record_text + " " + question
    low = answer.lower()
    bad: list[str] = []
    mentioned: set[str] = set()
    for word in sorted(vocab, key=len, reverse=True):
        zh = lex.zh(word)
        if re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", low) or (zh and zh in answer):
            if any(word in m for m in mentioned):
                continue
            mentioned.add(word)
            if word not in support and not (zh and zh in support_zh):
                bad.append(word)
    numbers = set(_NUM.findall(support))
    bad.extend(n for n in _NUM.findall(answer) if n not in numbers and len(n) > 1)
    return bad


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))], 1)


def evaluate_qa(data: Path, *, questions_file: Path | None = None, per_product: int = 3, limit: int | None = None,
                seed: int = 0, use_llm: bool | None = None,
                progress: Callable[[str], None] | None = None) -> dict:
    """Ingest `data` into a temporary home, ask every question, score (see module doc)."""
    from shopmind.catalog.ingest import ingest_catalog
    from shopmind.catalog.store import CatalogStore
    from shopmind.config import load_settings
    from shopmind.service.qa import ask
    from shopmind.service.qa_facts import build_facts

    data = Path(data)
    if not data.is_file():
        raise BadInput(f"product file not found: {data}")
    records: list[dict] = []
    with data.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(obj, dict):
                    records.append(obj)
    if limit:
        records = records[:limit]
    if not records:
        raise BadInput(f"{data}: no JSON records")
    if questions_file is not None:
        questions = [json.loads(ln) for ln in Path(questions_file).read_text(encoding="utf-8").splitlines() if ln.strip()]
        source = str(questions_file)
    else:
        questions = generate_questions(records, per_product=per_product, seed=seed)
        source = f"generated from {data.name} (seed {seed}, {per_product}/product)"
    vocab = _record_vocab(records)
    with tempfile.TemporaryDirectory(prefix="shopmind-qa-") as tmp:
        catalog = Path(tmp) / "catalog.jsonl"
        with catalog.open("w", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(to_catalog_row(record), ensure_ascii=False) + "\n")
        settings = load_settings(home=str(Path(tmp) / "home"))
        store = CatalogStore(settings)
        report = ingest_catalog(store, catalog)
        if progress:
            progress(f"ingested {report.ingested} products, asking {len(questions)} questions")
        per_kind: dict[str, list[bool]] = defaultdict(list)
        per_lang: dict[str, list[bool]] = defaultdict(list)
        per_style: dict[str, list[bool]] = defaultdict(list)
        answerable_ok: list[bool] = []
        refusal_ok: list[bool] = []
        false_refusals = 0
        hallucinated: list[bool] = []
        latencies: list[float] = []
        methods: dict[str, int] = defaultdict(int)
        llm_used = llm_rejected = errors = 0
        examples: list[dict] = []
        record_text_cache: dict[str, str] = {}
        started = time.perf_counter()
        for i, q in enumerate(questions):
            try:
                t0 = time.perf_counter()
                result = ask(q["product_id"], q["question"], use_llm=use_llm, settings=settings, store=store)
                latencies.append((time.perf_counter() - t0) * 1000)
            except Exception as exc:  # one bad item never stops the run
                errors += 1
                if len(examples) < 8:
                        examples.append({"question": q, "error": f"{type(exc).__name__}: {exc}"})
                continue
            methods[result.method] += 1
            llm_used += int(result.llm_used)
            llm_rejected += int(result.llm_rejected)
            pid = q["product_id"]
            if pid not in record_text_cache:
                product = store.get_product(pid)
                record_text_cache[pid] = " ".join(f"{f.value} {f.value_zh or ''}" for f in build_facts(store, product, store.get_tags(pid)))
            bad = hallucinated_values(result.answer, record_text_cache[pid], q["question"], vocab)
            hallucinated.append(bool(bad))
            if q["answerable"]:
                forms = _accepted_forms(str(q["expected"]))
                ok = result.answerable and any(f in result.answer.lower() or f in result.answer for f in forms)
                false_refusals += int(not result.answerable)
                answerable_ok.append(ok)
            else:
                ok = not result.answerable
                refusal_ok.append(ok)
            per_kind[q["kind"]].append(ok)
            per_lang[q.get("lang", "?")].append(ok)
            per_style[q.get("style", "given")].append(ok)
            if (not ok or bad) and len(examples) < 12:
                examples.append({"question": q, "answer": result.answer, "answerable": result.answerable,
                                 "hallucinated": bad})
            if progress and (i + 1) % 50 == 0:
                progress(f"{i + 1}/{len(questions)} questions")
        seconds = time.perf_counter() - started

    def rate(xs: list[bool]) -> float | None:
        return round(sum(xs) / len(xs), 4) if xs else None

    return {
        "dataset": str(data),
        "questions": source,
        "n": len(questions),
        "n_products": len(records),
        "n_answerable": len(answerable_ok),
        "n_unanswerable": len(refusal_ok),
        "exact_fact_accuracy": rate(answerable_ok),
        "refusal_accuracy": rate(refusal_ok),
        "false_refusal_rate": round(false_refusals / len(answerable_ok), 4) if answerable_ok else None,
        "hallucination_rate": rate(hallucinated),
        "per_kind_accuracy": {k: {"n": len(v), "accuracy": rate(v)} for k, v in sorted(per_kind.items())},
        "per_language_accuracy": {k: {"n": len(v), "accuracy": rate(v)} for k, v in sorted(per_lang.items())},
        "per_style_accuracy": {k: {"n": len(v), "accuracy": rate(v)} for k, v in sorted(per_style.items())},
        "latency_ms": {"mean": round(statistics.fmean(latencies), 1) if latencies else 0.0,
                       "p50": _pct(latencies, 0.5), "p95": _pct(latencies, 0.95)},
        "methods": dict(methods),
        "llm_used": llm_used > 0,
        "llm_answers": llm_used,
        "llm_rejected": llm_rejected,
        "errors": errors,
        "seconds": round(seconds, 1),
        "examples_wrong": examples,
        "threads": os.environ.get("OMP_NUM_THREADS"),
    }
