"""Ingestion under hostile input: encodings, parser limits, path safety, retries, mapping, URLs.

Each test is a regression test for a defect of issue 12 (§2, §4, §5, §8): the bad row is
reported with a reason, the good rows of the same file are stored, and nothing is read from
outside the allowed roots.
"""

from __future__ import annotations

import csv
import http.server
import io
import json
import os
import sqlite3
import tarfile
import threading

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from shopmind.catalog.ingest import IngestLimits, ingest_catalog, read_rows
from shopmind.catalog.mapping import parse_map_options
from shopmind.catalog.store import CatalogStore
from shopmind.config import load_settings
from shopmind.errors import BadInput, ShopmindError
from tests.conftest import shared_data
from tests.unit.cli_app import area_app
from tests.unit.open_audit import opened_any, recorded_opens


def _jpeg(color=(0, 0, 255)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buf, "JPEG")
    return buf.getvalue()


def _store(tmp_path) -> CatalogStore:
    return CatalogStore(load_settings(home=tmp_path / "home"))


def _write_csv(path, rows, fieldnames=None, encoding="utf-8"):
    with path.open("w", newline="", encoding=encoding) as fh:
        w = csv.DictWriter(fh, fieldnames=fieldnames or list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _reasons(report) -> dict[str, str]:
    return {e.item: e.reason for e in report.errors}


# -- encodings --------------------------------------------------------------------------------------
@pytest.mark.parametrize("codec, expected", [("gb18030", "gb18030"), ("gbk", "gb18030"), ("utf-8-sig", "utf-8 (BOM)"),
                                             ("utf-16", "utf-16-le (BOM)")])
def test_chinese_catalog_encodings_are_detected_and_stored_right(tmp_path, codec, expected):
    rows = [{"id": "g1", "title": "纯棉白色连衣裙", "price": "199", "description": "夏季新款，透气舒适"},
            {"id": "g2", "title": "男士牛仔外套", "price": "299", "description": "水洗工艺"}]
    path = _write_csv(tmp_path / "cat.csv", rows, encoding=codec)
    store = _store(tmp_path)
    report = ingest_catalog(store, path)
    assert report.encoding == expected
    assert report.ingested == 2 and report.failed == 0
    assert store.get_product("g1").title == "纯棉白色连衣裙"
    assert store.get_product("g2").description == "水洗工艺"


def test_undecodable_lines_are_reported_not_stored_as_mojibake(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes("id,title\nu1,白色T恤\nu2,caf".encode() + b"\xe9 latte\n" + "u3,红色裙子\n".encode())
    store = _store(tmp_path)
    report = ingest_catalog(store, path)
    assert report.encoding.startswith("utf-8") and "1 line" in report.encoding
    assert "u2" in _reasons(report) and "not valid utf-8" in _reasons(report)["u2"]
    assert {p.id for p in store.iter_products()} == {"u1", "u3"}
    assert store.get_product("u1").title == "白色T恤"


def test_empty_and_bom_only_files_are_clear_bad_input(tmp_path):
    store = _store(tmp_path)
    for name, data in (("empty.csv", b""), ("bom.csv", b"\xef\xbb\xbf"), ("blank.jsonl", b"\n\n  \n")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(BadInput):
            ingest_catalog(store, tmp_path / name)


# -- parser limits ----------------------------------------------------------------------------------
def test_megabyte_csv_field_is_reported_per_row(tmp_path):
    rows = [{"id": "a", "title": "ok one", "description": "fine"},
            {"id": "big", "title": "huge", "description": "x" * 1_100_000},
            {"id": "b", "title": "ok two", "description": "fine"}]
    path = _write_csv(tmp_path / "big.csv", rows)
    store = _store(tmp_path)
    report = ingest_catalog(store, path)
    assert "big" in _reasons(report) and "characters" in _reasons(report)["big"]
    assert {p.id for p in store.iter_products()} == {"a", "b"}
    # Past the CSV reader's own (bounded) field limit: still one reported row, not a crash.
    small = IngestLimits(max_line_chars=200_000)
    path.write_text('id,title,description\na,ok one,fine\nbig,huge,"' + "x" * 300_000 + ',y\nmore"\nb,ok two,fine\n', encoding="utf-8")
    store = CatalogStore(load_settings(home=tmp_path / "home2"))
    report = ingest_catalog(store, path, limits=small)
    assert report.failed == 1 and "record is longer than 200000" in _reasons(report)["line 3"]
    # The parser resumes after the oversized record, not inside it: no junk rows from its tail.
    assert {p.id for p in store.iter_products()} == {"a", "b"}


def test_jsonl_depth_digits_constants_and_ids(tmp_path):
    lines = [
        json.dumps({"id": "ok1", "title": "good", "price": 10}),
        '{"id": "deep", "title": "x", "n": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"id": "digits", "title": "x", "price": ' + "9" * 5000 + "}",
        '{"id": "nan", "title": "x", "price": NaN}',
        '{"id": "inf", "title": "x", "price": 1e309}',
        json.dumps({"id": 42, "title": "int id is fine"}),
        json.dumps({"id": 4.5, "title": "float id"}),
        json.dumps({"id": {"a": 1}, "title": "object id"}),
        json.dumps({"id": True, "title": "bool id"}),
        "[1, 2, 3]",
        json.dumps({"id": "ok2", "title": "good too", "price": "¥1,299"}),
    ]
    path = tmp_path / "cat.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    store = _store(tmp_path)
    report = ingest_catalog(store, path)
    reasons = {e.item: e.reason for e in report.errors}
    assert "nested deeper" in reasons["line 2"]
    assert "digits" in reasons["line 3"]
    assert "NaN" in reasons["line 4"]
    assert "finite" in reasons["inf"]
    assert "line 10" in reasons and "not an object" in reasons["line 10"]
    assert sum("id must be a string or an integer" in r for r in reasons.values()) == 3
    assert {p.id for p in store.iter_products()} == {"ok1", "42", "ok2"}
    assert store.get_product("ok2").price == 1299.0
    assert report.failed == 8 and report.ingested == 3


@pytest.mark.parametrize("price", ["inf", "-inf", "nan", "1e309", "Infinity", "9" * 5000])
def test_non_finite_csv_prices_rejected_with_reason(tmp_path, price):
    path = _write_csv(tmp_path / "p.csv", [{"id": "x", "title": "t", "price": price}, {"id": "y", "title": "t", "price": "5"}])
    store = _store(tmp_path)
    report = ingest_catalog(store, path)
    assert report.failed == 1 and "x" in _reasons(report) and "price" in _reasons(report)["x"]
    assert store.get_product("y").price == 5.0


def test_unclosed_quote_does_not_swallow_rows_silently(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text('id,title,price\nq1,"Red dress,99\nq2,Blue shirt,88\nq3,Green hat,77\nq4,Black belt,66\n', encoding="utf-8")
    store = _store(tmp_path)
    report = ingest_catalog(store, path)
    assert "unclosed quote" in _reasons(report)["q1"]
    stored = {p.id for p in store.iter_products()}
    reported = set(_reasons(report))
    # Every row is either stored or reported: none vanished into the runaway field.
    assert {"q1", "q2", "q3", "q4"} <= stored | reported
    assert {"q2", "q3"} <= stored and "q1" not in stored


def test_multiline_descriptions_are_not_mistaken_for_runaway_quotes(tmp_path):
    path = tmp_path / "ml.csv"
    path.write_text('id,title,description,price\nm1,Shirt,"Wash care:\nmachine wash cold\nline dry",10\n', encoding="utf-8")
    report = ingest_catalog(_store(tmp_path), path)
    assert report.ingested == 1 and report.failed == 0


def test_too_many_columns_and_duplicate_header_are_bad_files(tmp_path):
    store = _store(tmp_path)
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(["id", "title"] + [f"c{i}" for i in range(10_000)]) + "\n1,t\n", encoding="utf-8")
    with pytest.raises(BadInput, match="columns"):
        ingest_catalog(store, wide)
    dup = tmp_path / "dup.csv"
    dup.write_text("id,title,title\n1,a,b\n", encoding="utf-8")
    with pytest.raises(BadInput, match="duplicate column"):
        ingest_catalog(store, dup)


# -- images: paths, loops, tars, retries ------------------------------------------------------------
def test_cli_paths_are_confined_to_the_catalog_folder(tmp_path):
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(_jpeg())
    cat_dir = tmp_path / "cat"
    (cat_dir / "images").mkdir(parents=True)
    (cat_dir / "images" / "good.jpg").write_bytes(_jpeg((255, 0, 0)))
    os.symlink(outside, cat_dir / "images" / "escape.jpg")
    os.symlink(cat_dir / "loop_a.jpg", cat_dir / "loop_b.jpg")
    os.symlink(cat_dir / "loop_b.jpg", cat_dir / "loop_a.jpg")
    rows = [
        {"id": "good", "title": "t", "image": "images/good.jpg"},
        {"id": "dotdot", "title": "t", "image": "../outside.jpg"},
        {"id": "abs", "title": "t", "image": str(outside)},
        {"id": "link", "title": "t", "image": "images/escape.jpg"},
        {"id": "loop", "title": "t", "image": "loop_a.jpg"},
        {"id": "passwd", "title": "t", "image": "/etc/passwd"},
        {"id": "dir", "title": "t", "image": "images"},
    ]
    path = _write_csv(cat_dir / "catalog.csv", rows)
    store = _store(tmp_path)
    with recorded_opens() as opened:
        report = ingest_catalog(store, path)
    assert opened_any(opened, [cat_dir / "images" / "good.jpg"]), "the open() audit saw nothing"
    assert not opened_any(opened, [outside, "/etc/passwd"]), "a file outside the catalog folder was opened"
    reasons = _reasons(report)
    for pid in ("dotdot", "abs", "link", "passwd"):
        assert "outside the allowed folders" in reasons[pid]
    assert "symlink loop" in reasons["loop"]
    assert "not a regular file" in reasons["dir"]
    assert store.get_product("good").image_path and store.get_product("abs").image_path is None
    # --allow-outside lifts the confinement (the row is retried because its image had failed).
    again = ingest_catalog(store, path, allow_outside=True)
    assert store.get_product("abs").image_path and store.get_product("dotdot").image_path
    assert "symlink loop" in _reasons(again)["loop"]


def test_failed_image_is_retried_once_fixed(tmp_path):
    (tmp_path / "images").mkdir()
    path = _write_csv(tmp_path / "c.csv", [{"id": "r1", "title": "t", "image": "images/r1.jpg"},
                                           {"id": "r2", "title": "t", "image": "images/r2.jpg"}])
    (tmp_path / "images" / "r2.jpg").write_bytes(_jpeg())
    store = _store(tmp_path)
    first = ingest_catalog(store, path)
    assert "missing" in _reasons(first)["r1"] and store.get_product("r1").image_path is None
    (tmp_path / "images" / "r1.jpg").write_bytes(_jpeg((0, 255, 0)))
    second = ingest_catalog(store, path)
    assert second.ingested == 1 and second.skipped_existing == 1 and not second.errors
    assert store.get_product("r1").image_path
    third = ingest_catalog(store, path)
    assert third.skipped_existing == 2 and third.ingested == 0


def _tar_bytes(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


def test_truncated_and_tricky_tars(tmp_path):
    members = {f"images/t{i}.jpg": _jpeg((i * 20, 0, 0)) for i in range(6)}
    members["../../etc/evil.jpg"] = _jpeg()
    members["/abs/evil.jpg"] = _jpeg()
    data = _tar_bytes(members, links={"images/t9.jpg": "/etc/passwd"})
    rows = [{"id": f"t{i}", "title": f"item {i}", "image": f"images/t{i}.jpg"} for i in (0, 1, 2, 3, 4, 5, 9)]
    path = _write_csv(tmp_path / "c.csv", rows)
    whole = tmp_path / "whole.tar"
    whole.write_bytes(data)
    store = _store(tmp_path)
    report = ingest_catalog(store, path, images=whole)
    notes = [e for e in report.errors if e.stage == "images"]
    assert len(notes) == 3  # traversal, absolute, symlink members
    assert "t9" in _reasons(report) and report.ingested == 7
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: 512 * 8 + 300])  # ends inside the fourth member
    store2 = CatalogStore(load_settings(home=tmp_path / "home2"))
    report2 = ingest_catalog(store2, path, images=cut)
    assert report2.ingested == 7  # every text row kept
    with_image = {p.id for p in store2.iter_products() if p.image_path}
    assert {"t0", "t1", "t2"} <= with_image and "t5" not in with_image
    assert any("damaged" in e.reason or "truncated" in e.reason for e in report2.errors)


def test_unreadable_images_tar_keeps_the_text_rows(tmp_path):
    path = _write_csv(tmp_path / "c.csv", [{"id": "1", "title": "t"}, {"id": "2", "title": "u"}])
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is not a tar archive at all" * 3)
    store = _store(tmp_path)
    report = ingest_catalog(store, path, images=junk)
    assert report.ingested == 2
    assert any(e.stage == "images" and "not a readable tar" in e.reason for e in report.errors)
    assert "not a readable tar" in _reasons(report)["1"] and store.get_product("2").image_path is None


def test_control_characters_stripped_and_lone_surrogates_rejected(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"id": "c1", "title": "bell\x07 and nul\x00 gone"}) + "\n"
                    + '{"id": "s1", "title": "lone \\ud800 surrogate"}\n'
                    + json.dumps({"id": "c\x01", "title": "control in id"}) + "\n", encoding="utf-8")
    store = _store(tmp_path)
    report = ingest_catalog(store, path)
    assert store.get_product("c1").title == "bell and nul gone"
    assert "invalid Unicode" in _reasons(report)["s1"]
    assert report.failed == 2 and report.ingested == 1


# -- API: clients never name server paths -------------------------------------------------------------
def _api(home, monkeypatch) -> TestClient:
    from shopmind.api.catalog import router
    from shopmind.config import get_settings

    monkeypatch.setenv("SHOPMIND_HOME", str(home))
    get_settings.cache_clear()
    app = FastAPI()
    app.include_router(router)

    @app.exception_handler(ShopmindError)
    async def _typed(_: Request, exc: ShopmindError):
        return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status_code=exc.http_status)

    return TestClient(app)


def test_upload_ingest_never_opens_server_paths(tmp_path, monkeypatch):
    secret_dir = tmp_path / "server"
    secret_dir.mkdir()
    secret = secret_dir / "secret.jpg"  # a readable JPEG on the server, outside any upload
    secret.write_bytes(_jpeg((9, 9, 9)))
    rows = [
        {"id": "u1", "title": "uploaded", "image": "u1.jpg"},
        {"id": "etc", "title": "t", "image": "/etc/shadow"},
        {"id": "ssh", "title": "t", "image": "/root/.ssh/id_rsa"},
        {"id": "up", "title": "t", "image": "../x.jpg"},
        {"id": "abs", "title": "t", "image": str(secret)},
        {"id": "home", "title": "t", "image": "~/.bashrc"},
        {"id": "url", "title": "t", "image": "http://169.254.169.254/latest/meta-data"},
        {"id": "file", "title": "t", "image": f"file://{secret}"},
    ]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["id", "title", "image"])
    w.writeheader()
    w.writerows(rows)
    client = _api(tmp_path / "home", monkeypatch)
    try:
        with recorded_opens() as opened:
            resp = client.post("/catalog/ingest", files=[
                ("catalog", ("cat.csv", buf.getvalue().encode(), "text/csv")),
                ("files", ("../../u1.jpg", _jpeg(), "image/jpeg")),
            ])
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert not opened_any(opened, [secret, "/etc/shadow", "/root/.ssh/id_rsa", os.path.expanduser("~/.bashrc")])
        reasons = {e["item"]: e["reason"] for e in body["errors"]}
        for pid in ("etc", "ssh", "up", "abs", "home"):
            assert "server path" in reasons[pid] and "nothing was read" in reasons[pid]
        assert "disabled" in reasons["url"] and "scheme" in reasons["file"]
        assert body["ingested"] == 8 and body["encoding"] == "utf-8"
        assert body["source"] == "cat.csv" and "/" not in (body["errors_file"] or "")  # no server paths echoed
        from shopmind.catalog.store import open_store
        from shopmind.config import get_settings

        store = open_store(get_settings())
        assert store.get_product("u1").image_path
        assert all(store.get_product(pid).image_path is None for pid in ("etc", "ssh", "up", "abs", "home"))
        assert secret.read_bytes() not in {(store.settings.images_dir / p.image_path).read_bytes()
                                           for p in store.iter_products() if p.image_path}
    finally:
        from shopmind.config import get_settings

        get_settings.cache_clear()


# -- URLs: off by default, SSRF-guarded when on ---------------------------------------------------
@pytest.fixture
def local_image_server():
    payload = _jpeg((1, 2, 3))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/img.jpg"
    server.shutdown()
    server.server_close()


def test_image_urls_are_ssrf_guarded(tmp_path, local_image_server):
    path = _write_csv(tmp_path / "c.csv", [{"id": "w1", "title": "t", "image": local_image_server}])
    store = _store(tmp_path)
    off = ingest_catalog(store, path)
    assert "disabled" in _reasons(off)["w1"]
    on = ingest_catalog(store, path, limits=IngestLimits(allow_urls=True))
    assert "loopback" in _reasons(on)["w1"] and "nothing was fetched" in _reasons(on)["w1"]
    assert store.get_product("w1").image_path is None
    trusted = ingest_catalog(store, path, limits=IngestLimits(allow_urls=True, allow_private_urls=True))
    assert not trusted.errors and store.get_product("w1").image_path


# -- column mapping ---------------------------------------------------------------------------------
def test_nested_records_are_mapped_automatically_and_by_option(tmp_path):
    lines = [
        {"sku": "n1", "name": "Linen shirt", "price": {"current": 129.0, "mrp": 199.0}, "details": {"text": "Breathable linen"}},
        {"sku": "n2", "name": "Wool coat", "price": {"current": "899", "mrp": 1299}, "details": {"text": "Warm"}},
    ]
    path = tmp_path / "nested.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    store = _store(tmp_path)
    report = ingest_catalog(store, path, mapping=parse_map_options(["description=details.text"]))
    assert report.mapping["id"] == "sku" and report.mapping["price"] == "price.current"
    assert report.mapping["description"] == "details.text (--map)"
    p = store.get_product("n1")
    assert p.price == 129.0 and p.description == "Breathable linen" and p.title == "Linen shirt"
    assert p.attributes["price.mrp"] == "199.0" and "details.text" not in p.attributes
    with pytest.raises(BadInput):
        parse_map_options(["colour=x"])
    with pytest.raises(BadInput):
        parse_map_options(["price"])


def test_fashion100_products_get_price_and_description(tmp_path):
    data = shared_data("fashion100", "products.jsonl")
    store = _store(tmp_path)
    report = ingest_catalog(store, data, limit=10)
    assert report.ingested == 10 and report.failed == 0
    assert report.mapping.get("price") and report.mapping.get("description")
    first = json.loads(data.read_text(encoding="utf-8").splitlines()[0])
    p = store.get_product(str(first["id"]))
    assert p.price == float(first["discounted_price_inr"])
    assert p.description == first["descriptors"]["description"]


# -- CLI contract ---------------------------------------------------------------------------------------
def test_cli_ingest_json_reports_encoding_and_mapping(tmp_path, home):
    from shopmind.cli.catalog import register

    path = _write_csv(tmp_path / "gb.csv", [{"id": "c1", "title": "羊毛围巾", "price": "88"}, {"id": "c2", "title": "坏价格", "price": "inf"}],
                      encoding="gb18030")
    result = CliRunner().invoke(area_app(register), ["ingest", str(path), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["encoding"] == "gb18030" and body["ingested"] == 1 and body["failed"] == 1
    assert "mapping" in body
    bad = CliRunner().invoke(area_app(register, typed_errors=True), ["ingest", str(path), "--map", "nonsense"])
    assert bad.exit_code == 2


def test_read_rows_is_lazy_and_typed(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("id\n1\n", encoding="utf-8")
    with pytest.raises(BadInput, match="unsupported"):
        list(read_rows(path))


def test_limits_come_from_settings(tmp_path):
    settings = load_settings(home=tmp_path / "home", ingest_max_field_chars=10, ingest_allow_urls=True, max_image_pixels=1234)
    limits = IngestLimits.from_settings(settings)
    assert limits.max_field_chars == 10 and limits.allow_urls is True and limits.max_pixels == 1234
    path = _write_csv(tmp_path / "c.csv", [{"id": "a", "title": "short"}, {"id": "b", "title": "much too long a title"}])
    report = ingest_catalog(CatalogStore(settings), path)
    assert report.ingested == 1 and "characters (limit 10)" in _reasons(report)["b"]


def test_a_row_the_database_refuses_does_not_take_its_batch(tmp_path, monkeypatch):
    store = _store(tmp_path)
    real = store.upsert_products

    def picky(rows):  # the database layer refusing one specific row (e.g. a constraint added later)
        if any(p.id == "refused" for p, _, _ in rows):
            raise sqlite3.IntegrityError("CHECK constraint failed")
        return real(rows)

    monkeypatch.setattr(store, "upsert_products", picky)
    path = _write_csv(tmp_path / "c.csv", [{"id": "a", "title": "t"}, {"id": "refused", "title": "t"}, {"id": "b", "title": "t"}])
    report = ingest_catalog(store, path)
    assert report.ingested == 2 and report.failed == 1 and "database refused" in _reasons(report)["refused"]
    assert {p.id for p in store.iter_products()} == {"a", "b"}
