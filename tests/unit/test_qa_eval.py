"""Question generation and scoring of `eval qa`."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopmind.eval.qa import generate_questions, hallucinated_values, to_catalog_row

RECORD = {"id": 7, "title": "Nike Men Blue Tee", "brand": "Nike", "price_inr": 999, "base_colour": "Blue",
          "gender": "Men", "season": "Fall", "usage": "Sports", "article_type": "Tshirts", "colour1": "NA",
          "article_attributes": {"Fabric": "Cotton", "Fit": "Regular Fit"},
          "descriptors": {"description": "Cotton tee. One year warranty on print."}}


def test_generated_questions_cover_both_languages_and_skip_known_topics():
    qs = generate_questions([RECORD] * 40, per_product=3, seed=1)
    assert len(qs) == 120
    assert {q["lang"] for q in qs} == {"zh", "en"}
    assert sum(q["answerable"] for q in qs) == 80
    assert all(q["kind"] != "warranty" for q in qs if not q["answerable"])  # the record mentions a warranty
    assert all(q["expected"] for q in qs if q["answerable"])
    assert qs == generate_questions([RECORD] * 40, per_product=3, seed=1)


def test_catalog_row_flattens_nested_fields():
    row = to_catalog_row(RECORD)
    assert row["id"] == "7" and row["price"] == 999 and row["currency"] == "INR"
    assert row["Fabric"] == "Cotton" and "colour1" not in row and row["description"].startswith("Cotton")


def test_hallucination_check_flags_values_missing_from_the_record():
    vocab = {"blue": "colour", "red": "colour", "cotton": "material", "nike": "brand"}
    record = "Blue Cotton Nike 999 INR"
    assert hallucinated_values("It is blue cotton, 999 INR.", record, "colour?", vocab) == []
    assert hallucinated_values("这款是红色的，售价 599。", record, "颜色？", vocab) == ["red", "599"]


def test_eval_on_fashion100_dev_sample():
    data = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fashion100" / "products.jsonl"
    if not data.is_file():
        pytest.skip(f"shared evaluation data not available: {data}")
    from shopmind.eval.qa import evaluate_qa

    report = evaluate_qa(data, limit=20, use_llm=False)
    assert report["n"] == 60 and report["errors"] == 0
    assert report["refusal_accuracy"] >= 0.9 and report["exact_fact_accuracy"] >= 0.7
    assert report["hallucination_rate"] == 0.0
