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
from shopmind.media.poster import default_copy, render_poster
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


def test_default_copy_skips_empty_attributes():
    head, points = default_copy(Product(id="x", title="T", attributes={"a": "NA", "b": "cotton"}, description="Soft. Warm"))
    assert head == "T" and points == ["Soft", "Warm", "b: cotton"]


def test_default_copy_keeps_the_headline_language_and_skips_identifiers():
    p = Product(id="x", title="红色亚麻连衣裙", description="优雅连衣裙，亚麻面料。A red linen dress.",
                attributes={"title_en": "Red linen dress", "material": "亚麻", "sku": "A1"})
    head, points = default_copy(p)
    assert points[0] == "优雅连衣裙，亚麻面料"  # the headline's language first
    assert not any("Red linen dress" in x or "A1" in x for x in points)  # identifier columns are not features
    assert not any(x.startswith("material") for x in points)  # already said by the headline


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


def _cli():
    from shopmind.cli.media import register

    return area_app(register)


def test_cli_poster(home, tmp_path):
    make_catalog(home, tmp_path)
    out = tmp_path / "poster.jpg"
    res = CliRunner().invoke(_cli(), ["poster", "p1", "--out", str(out), "--style", "split", "--ratio", "3:4", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["style"] == "split" and Image.open(out).size == (1080, 1440) and Image.open(out).format == "JPEG"
    res = CliRunner().invoke(_cli(), ["poster", "nope", "--out", str(out)])
    assert res.exit_code != 0 and type(res.exception).__name__ == "NotFound"
    res = CliRunner().invoke(_cli(), ["poster", "p2", "--out", str(out)])
    assert res.exit_code != 0 and type(res.exception).__name__ == "NotReady"
