"""Feedback loop: ratings and edits are stored, edits become preference pairs, and the export is
valid JSONL written atomically; API and CLI reach the same core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from typer.testing import CliRunner

from shopmind.api.errors import install_error_handlers
from shopmind.api.feedback import router
from shopmind.cli.feedback import register
from shopmind.errors import BadInput
from shopmind.feedback import EditIn, RatingIn, build_rows, export_dataset, open_feedback, write_jsonl_atomic
from tests.unit.cli_app import area_app

INSTR = "为这件商品写一个电商标题"


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_edits_become_pairs_and_ratings_become_rows(home: Path, tmp_path: Path) -> None:
    store = open_feedback()
    store.add_edit(EditIn(product_id="p1", content_type="title", instruction=INSTR, input="红色 连衣裙",
                          before="红色连衣裙 最好的裙子", after="红色收腰连衣裙 夏季通勤"))
    store.add_edit(EditIn(product_id="p1", content_type="title", instruction=INSTR, input="红色 连衣裙",
                          before="红色连衣裙 最好的裙子", after="红色收腰连衣裙 夏季通勤"))  # same pair twice
    store.add_rating(RatingIn(target="answer", instruction="退货政策是什么？", input="", output="7天无理由退货", rating=5))
    store.add_rating(RatingIn(target="answer", instruction="退货政策是什么？", input="", output="不知道", rating=1))
    store.add_rating(RatingIn(instruction=INSTR, input="蓝色 衬衫", output="蓝色衬衫", rating=3))  # neither good nor bad
    rows, counts = build_rows(store)
    assert counts == {"from_edits": 1, "from_ratings": 1, "skipped_duplicates": 1}
    assert rows[0] == {"instruction": INSTR, "input": "红色 连衣裙", "output": "红色收腰连衣裙 夏季通勤",
                       "rejected": "红色连衣裙 最好的裙子"}
    assert rows[1] == {"instruction": "退货政策是什么？", "input": "", "output": "7天无理由退货", "rejected": "不知道"}
    report = export_dataset(store, tmp_path / "out" / "ft.jsonl")
    assert (report.rows, report.pairs) == (2, 2)
    assert _read(tmp_path / "out" / "ft.jsonl") == rows
    assert store.summary() == {"ratings": 3, "mean_rating": 3.0, "edits": 2}
    assert [r.rating for r in store.ratings()] == [5, 1, 3]
    with pytest.raises(BadInput):
        build_rows(store, min_rating=2, max_rejected_rating=3)


def test_validation(home: Path) -> None:
    with pytest.raises(ValidationError):
        EditIn(instruction=INSTR, before="same", after="same")
    with pytest.raises(ValidationError):
        RatingIn(instruction=INSTR, output="x", rating=6)
    with pytest.raises(ValidationError):
        RatingIn(instruction="  ", output="x", rating=3)


def test_input_defaults_to_catalog_facts(home: Path, tmp_path: Path) -> None:
    from shopmind.catalog.ingest import ingest_catalog
    from shopmind.catalog.store import open_store
    from shopmind.config import get_settings

    catalog = tmp_path / "cat.csv"
    catalog.write_text("id,title,price,category,colour\nsku1,碎花连衣裙,199,Dresses,红色\n", encoding="utf-8")
    ingest_catalog(open_store(get_settings()), catalog)
    saved = open_feedback().add_rating(RatingIn(product_id="sku1", instruction=INSTR, output="碎花连衣裙 夏季", rating=4))
    assert "碎花连衣裙" in saved.input and "199" in saved.input and "红色" in saved.input
    unknown = open_feedback().add_rating(RatingIn(product_id="nope", instruction=INSTR, output="x", rating=4))
    assert unknown.input == ""


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "ds.jsonl"
    write_jsonl_atomic(target, [{"a": 1}])

    def rows():
        yield {"a": 2}
        raise RuntimeError("disk full mid-export")

    with pytest.raises(RuntimeError):
        write_jsonl_atomic(target, rows())
    assert _read(target) == [{"a": 1}]
    assert list(tmp_path.iterdir()) == [target]  # no temp file left behind


def test_api(home: Path) -> None:
    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    client = TestClient(app)
    r = client.post("/feedback/edits", json={"instruction": INSTR, "input": "i", "before": "旧", "after": "新",
                                             "product_id": "p1", "content_type": "title"})
    assert r.status_code == 201 and r.json()["id"] == 1
    assert client.post("/feedback/ratings", json={"instruction": INSTR, "output": "o", "rating": 0}).status_code == 422
    assert client.post("/feedback/ratings", json={"instruction": INSTR, "output": "o", "rating": 5}).status_code == 201
    assert len(client.get("/feedback/edits", params={"product_id": "p1"}).json()) == 1
    rep = client.post("/feedback/export", json={"name": "ft.jsonl"}).json()
    assert rep["rows"] == 2 and rep["pairs"] == 1
    assert len(_read(home / "datasets" / "ft.jsonl")) == 2
    assert client.post("/feedback/export", json={"name": "../evil.jsonl"}).status_code == 422
    assert client.post("/feedback/export", json={"min_rating": 3, "max_rejected_rating": 3}).status_code == 422


def test_cli(home: Path, tmp_path: Path) -> None:
    app = area_app(register)
    runner = CliRunner()
    after = tmp_path / "after.txt"
    after.write_text("夏季新款 碎花雪纺连衣裙", encoding="utf-8")
    r = runner.invoke(app, ["feedback", "edit", "--instruction", INSTR, "--input", "facts", "--before", "连衣裙",
                            "--after-file", str(after), "--product", "p1", "--content-type", "title"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["feedback", "rate", "4", "--instruction", INSTR, "--input", "facts2", "--output", "好标题"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["feedback", "rate", "9", "--instruction", INSTR, "--output", "x"])
    assert isinstance(r.exception, BadInput)
    out = tmp_path / "ft.jsonl"
    r = runner.invoke(app, ["feedback", "export", str(out)])
    assert r.exit_code == 0 and json.loads(r.stdout.strip().splitlines()[-1])["rows"] == 2
    rows = _read(out)
    assert rows[0]["output"] == "夏季新款 碎花雪纺连衣裙" and rows[0]["rejected"] == "连衣裙" and "rejected" not in rows[1]
