"""Ingestion: bad rows and images are reported with id and reason, good ones land, re-runs resume."""

import csv
import io
import json
import tarfile

from PIL import Image

from shopmind.catalog.ingest import ingest_catalog
from shopmind.catalog.store import CatalogStore
from shopmind.config import load_settings


def _img(path, color=(0, 0, 255)):
    Image.new("RGB", (24, 32), color).save(path, "JPEG")


def _catalog(tmp_path):
    img_dir = tmp_path / "images"
    img_dir.mkdir()
    _img(img_dir / "1.jpg")
    _img(img_dir / "2.jpg", (255, 0, 0))
    (img_dir / "3.jpg").write_bytes(b"")  # zero bytes
    (img_dir / "4.jpg").write_bytes(b"not a jpeg at all")
    good = io.BytesIO()
    Image.new("RGB", (24, 32)).save(good, "JPEG")
    (img_dir / "5.jpg").write_bytes(good.getvalue()[:100])  # truncated
    rows = [
        {"id": "1", "title": "蓝色T恤", "price": "99", "category": "tops", "image": "images/1.jpg", "colour": "blue"},
        {"id": "2", "title": "红色连衣裙", "price": "199.5", "category": "dresses", "image": "images/2.jpg", "colour": "red"},
        {"id": "3", "title": "empty image", "price": "1", "category": "x", "image": "images/3.jpg", "colour": ""},
        {"id": "4", "title": "not an image", "price": "1", "category": "x", "image": "images/4.jpg", "colour": ""},
        {"id": "5", "title": "truncated", "price": "1", "category": "x", "image": "images/5.jpg", "colour": ""},
        {"id": "6", "title": "missing image", "price": "1", "category": "x", "image": "images/nope.jpg", "colour": ""},
        {"id": "7", "title": "bad price", "price": "abc", "category": "x", "image": "images/1.jpg", "colour": ""},
        {"id": "", "title": "no id", "price": "1", "category": "x", "image": "", "colour": ""},
        {"id": "9", "title": "", "price": "1", "category": "x", "image": "", "colour": ""},
    ]
    path = tmp_path / "catalog.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_bad_rows_reported_good_rows_kept_and_rerun_skips(tmp_path):
    store = CatalogStore(load_settings(home=tmp_path / "home"))
    path = _catalog(tmp_path)
    report = ingest_catalog(store, path, errors_file=tmp_path / "errors.jsonl")
    reasons = {(e.item, e.stage): e.reason for e in report.errors}
    assert report.rows_seen == 9
    assert ("3", "image") in reasons and "zero bytes" in reasons[("3", "image")]
    assert ("4", "image") in reasons and "not an image" in reasons[("4", "image")]
    assert ("5", "image") in reasons and ("truncated" in reasons[("5", "image")] or "corrupt" in reasons[("5", "image")])
    assert ("6", "image") in reasons and "missing" in reasons[("6", "image")]
    assert ("7", "validate") in reasons and "price" in reasons[("7", "validate")]
    assert any(e.stage == "validate" and "missing id" in e.reason for e in report.errors)
    assert ("9", "validate") in reasons and "title" in reasons[("9", "validate")]
    # Text rows with bad images are still searchable; rejected rows are not stored.
    assert report.ingested == 6 and report.failed == 3
    p2 = store.get_product("2")
    assert p2.price == 199.5 and p2.attributes["colour"] == "red" and p2.image_path
    assert store.get_product("3").image_path is None
    lines = [json.loads(x) for x in (tmp_path / "errors.jsonl").read_text().splitlines()]
    assert len(lines) == len(report.errors)
    again = ingest_catalog(store, path)
    # Rows whose image failed are tried again (their image may have been fixed); the rest are skipped.
    assert again.skipped_existing == 2 and again.ingested == 4


def test_tar_keyed_by_id_and_jsonl(tmp_path):
    tar_path = tmp_path / "imgs.tar"
    with tarfile.open(tar_path, "w") as tar:
        for pid in ("a1", "a2"):
            buf = io.BytesIO()
            Image.new("RGB", (10, 10), (0, 200, 0)).save(buf, "PNG")
            info = tarfile.TarInfo(f"images/{pid}.png")
            info.size = len(buf.getvalue())
            buf.seek(0)
            tar.addfile(info, buf)
    jl = tmp_path / "cat.jsonl"
    jl.write_text(
        json.dumps({"id": "a1", "title": "green mug", "tags": ["x"]}) + "\n" + "{broken json\n" + json.dumps({"id": "a2", "title": "green cup"}) + "\n",
        encoding="utf-8",
    )
    store = CatalogStore(load_settings(home=tmp_path / "home"))
    report = ingest_catalog(store, jl, images=tar_path)
    assert report.ingested == 2 and report.failed == 1
    assert store.get_product("a1").image_path and store.get_product("a2").image_path
    assert store.get_product("a1").attributes["tags"] == '["x"]'
