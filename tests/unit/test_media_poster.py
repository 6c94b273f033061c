"""Posters: every template keeps copy off the product, honours the ratio, and the CLI resolves ids."""

import csv
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from shopmind.domain import Product
from shopmind.errors import BadInput
from shopmind.media.layout import RATIOS, foreground_mask, mask_box, wrap_text
from shopmind.media.fonts import font
from shopmind.compliance import check
from shopmind.media.copy import MediaCopy, publishable_copy, template_copy
from shopmind.media.poster import render_poster
from tests.unit.cli_app import area_app


def product_photo(w=600, h=800, bg=(245, 245, 245)):
    """A red 'product' on a studio background, off-centre so layout has to notice where it is."""
    img = Image.new("RGB", (w, h), bg)
    ImageDraw.Draw(img).ellipse((int(w * 0.2), int(h * 0.25), int(w * 0.75), int(h * 0.9)), fill=(190, 30, 40))
    return img


PRODUCT = Product(id="p1", title="真丝印花连衣裙 夏季新款 修身显瘦", price=299.0,
                  attributes={"材质": "真丝", "颜色": "红色", "季节": "夏季"})


def test_foreground_mask_finds_the_product():
    img = product_photo()
    mask = foreground_mask(img)
    x1, y1, x2, y2 = mask_box(mask, margin=0)
    assert abs(x1 - 120) < 15 and abs(y1 - 200) < 15 and abs(x2 - 450) < 15 and abs(y2 - 720) < 15
    assert 0.25 < mask.mean() < 0.4


def test_wrap_text_respects_width():
    f = font(40)
    lines = wrap_text("真丝印花连衣裙 夏季新款 修身显瘦 Summer silk dress", f, 300)
    assert len(lines) >= 2
    assert "".join(lines).replace(" ", "") == "真丝印花连衣裙夏季新款修身显瘦Summersilkdress"


@pytest.mark.parametrize("style", ["minimal", "bold", "split"])
@pytest.mark.parametrize("ratio", ["1:1", "9:16"])
def test_templates_keep_text_off_product(style, ratio):
    canvas, result = render_poster(PRODUCT, product_photo(), style=style, ratio=ratio)
    assert canvas.size == RATIOS[ratio] == (result.width, result.height)
    assert result.text_on_product < 0.05, result
    assert result.price == "¥299" and len(result.text_boxes) >= 3
    # the product's red is actually on the canvas
    arr = np.asarray(canvas).astype(int)
    assert ((arr[..., 0] > 150) & (arr[..., 1] < 80)).mean() > 0.03


def test_overrides_and_bad_options():
    _, result = render_poster(PRODUCT, product_photo(), headline="限时上新", points=["桑蚕丝", "透气"])
    assert result.headline == "限时上新" and result.points == ["桑蚕丝", "透气"]
    with pytest.raises(BadInput):
        render_poster(PRODUCT, product_photo(), style="fancy")
    with pytest.raises(BadInput):
        render_poster(PRODUCT, product_photo(), ratio="2:1")


def test_overrides_are_guarded_and_nothing_violating_renders():
    _, result = render_poster(PRODUCT, product_photo(), headline="全网第一 最低价 治疗失眠", points=["国家级品质", "真丝"])
    drawn = " ".join([result.headline, *result.points])
    for word in ("全网第一", "最低价", "治疗", "失眠", "国家级"):
        assert word not in drawn
    assert check(result.headline).verdict != "violation" and result.rewritten and result.findings
    # a MediaCopy built by hand cannot smuggle a violation past the last gate
    forged = MediaCopy(headline="全网第一的连衣裙", points=[], language="zh", source="template")
    with pytest.raises(BadInput):
        render_poster(PRODUCT, product_photo(), copy=forged)


def test_template_copy_uses_facts_not_description_headings():
    p = Product(id="x", title="Nike Men Black Running Shoes", description="Wash Care\nUse mild detergent\nComposition",
                attributes={"gender": "Men", "usage": "Sports", "baseColour": "Black", "sku": "A1", "a": "NA"})
    head, points = template_copy(p, "en")
    assert head == p.title and not any(w in " ".join(points) for w in ("Wash", "detergent", "Composition", "A1", "NA"))
    head, points = template_copy(p, "zh")
    assert points == ["颜色：黑色", "适用场景：运动", "适用人群：男士"]  # glossary values, not raw English


def test_publishable_copy_falls_back_to_the_template_without_an_llm():
    class Down:
        name = "down"

        def complete(self, *a, **k):
            from shopmind.errors import BackendUnavailable
            raise BackendUnavailable("no model here")

    mc = publishable_copy(PRODUCT, llm=Down())
    assert mc.source == "template" and mc.headline == PRODUCT.title and "材质：真丝" in mc.points
    assert any("template" in n for n in mc.notes)
    with pytest.raises(Exception):
        publishable_copy(PRODUCT, llm=Down(), copy="write")


def make_catalog(home, tmp_path):
    """A one-product catalog ingested into the test's SHOPMIND_HOME (the real ingestion path)."""
    from shopmind.catalog.ingest import ingest_catalog
    from shopmind.catalog.store import open_store
    from shopmind.config import get_settings

    product_photo().save(tmp_path / "p1.jpg", "JPEG")
    path = tmp_path / "catalog.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "title", "price", "image", "材质"])
        w.writeheader()
        w.writerow({"id": "p1", "title": PRODUCT.title, "price": "299", "image": "p1.jpg", "材质": "真丝"})
        w.writerow({"id": "p2", "title": "no image", "price": "1", "image": "", "材质": ""})
    report = ingest_catalog(open_store(get_settings()), path)
    assert report.ingested == 2


def _cli(typed_errors=False):
    from shopmind.cli.media import register

    return area_app(register, typed_errors=typed_errors)


def test_cli_poster(home, tmp_path):
    make_catalog(home, tmp_path)
    out = tmp_path / "poster.jpg"
    res = CliRunner().invoke(_cli(), ["poster", "p1", "--out", str(out), "--style", "split", "--ratio", "3:4", "--copy", "template", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["style"] == "split" and Image.open(out).size == (1080, 1440) and Image.open(out).format == "JPEG"
    res = CliRunner().invoke(_cli(), ["poster", "nope", "--out", str(out)])
    assert res.exit_code != 0 and type(res.exception).__name__ == "NotFound"
    res = CliRunner().invoke(_cli(), ["poster", "p2", "--out", str(out)])
    assert res.exit_code != 0 and type(res.exception).__name__ == "NotReady"


def test_cli_poster_banned_headline_is_rewritten_or_refused(home, tmp_path, monkeypatch):
    """The acceptance command: the violating words are never rendered; --strict refuses with exit 2."""
    monkeypatch.setenv("SHOPMIND_LLM_MODEL", str(tmp_path / "no-such-model.gguf"))  # auto copy: LLM unavailable
    make_catalog(home, tmp_path)
    out = tmp_path / "banned.png"
    res = CliRunner().invoke(_cli(), ["poster", "p1", "--headline", "全网第一 最低价 治疗失眠", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert not any(w in obj["headline"] for w in ("全网第一", "最低价", "治疗", "失眠"))
    assert {"全网第一", "最低价"} <= {f["span"] for f in obj["findings"]} and obj["rewritten"] and out.exists()
    out2 = tmp_path / "refused.png"
    res = CliRunner().invoke(_cli(typed_errors=True), ["poster", "p1", "--headline", "全网第一 最低价 治疗失眠", "--strict",
                                                      "--out", str(out2), "--json"])
    assert res.exit_code == 2 and not out2.exists()
    obj = json.loads(res.stdout)
    assert obj["refused"] and {"全网第一", "最低价"} <= {f["span"] for f in obj["findings"]}
    # default copy (no override, no LLM): the grounded template, never description text
    res = CliRunner().invoke(_cli(), ["poster", "p1", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["copy_source"] == "template" and obj["points"] == ["材质：真丝"]


def test_api_poster_and_copy_are_guarded(home, tmp_path, monkeypatch):
    import base64
    import io

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from shopmind.api.errors import install_error_handlers
    from shopmind.api.media import router

    monkeypatch.setenv("SHOPMIND_LLM_MODEL", str(tmp_path / "no-such-model.gguf"))
    make_catalog(home, tmp_path)
    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    client = TestClient(app)
    r = client.post("/media/poster", json={"product_id": "p1", "headline": "全网第一 最低价 治疗失眠", "ratio": "1:1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert not any(w in body["result"]["headline"] for w in ("全网第一", "最低价", "治疗", "失眠"))
    assert body["result"]["findings"] and Image.open(io.BytesIO(base64.b64decode(body["image_png_base64"]))).size == (1080, 1080)
    r = client.post("/media/poster", json={"product_id": "p1", "headline": "全网第一 最低价 治疗失眠", "strict": True})
    assert 400 <= r.status_code < 500 and r.json()["error"]["detail"]["refused"]
    r = client.post("/media/copy", json={"product_id": "p1", "copy": "template"})
    assert r.status_code == 200 and r.json()["source"] == "template" and r.json()["points"] == ["材质：真丝"]


def test_one_price_formatter_and_shots_that_follow_the_narration():
    from shopmind.live.currency import numbers_in
    from shopmind.media.poster import price_label, spoken_amount
    from shopmind.media.tts import LineTiming
    from shopmind.media.video import plan_shots

    assert price_label(1409.15) == "¥1,409.15" and numbers_in(price_label(1409.15)) == [__import__("decimal").Decimal("1409.15")]
    assert price_label(299.0) == "¥299" and spoken_amount(1409.15) == "1409.15" and spoken_amount(299.0) == "299"
    timings = [LineTiming(index=i, text=t, lang="zh", start=i * 2.0, end=i * 2.0 + 1.5)
               for i, t in enumerate(["标题", "材质，真丝", "颜色，红色", "季节，夏季", "到手价 299 元"])]
    shots = plan_shots(timings, 10.5, has_price=True, n_variants=1)
    assert [s.kind for s in shots] == ["hero", "detail", "variant", "detail", "price"]
    assert [s.start for s in shots] == [0.0, 2.0, 4.0, 6.0, 8.0] and shots[-1].end == 10.5
    assert [s.kind for s in plan_shots(timings[:3], 6.0, has_price=False)] == ["hero", "detail", "detail"]
