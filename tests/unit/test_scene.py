"""Scene-based recommendation: scoring with reasons, avoid-lists, diversity, the CLI, and photo scenes."""

from __future__ import annotations

import json

import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from shopmind.domain import Product
from shopmind.errors import BadInput
from shopmind.search.scene import recommend_for_scene, scenes, score_product

ITEMS = [
    ("p1", "Speedo Men Black Swimming Trunks", {"articleType": "Swimwear", "usage": "Sports", "season": "Summer"}),
    ("p2", "ADIDAS Men Blue Flip Flops", {"articleType": "Flip Flops", "usage": "Casual", "season": "Summer"}),
    ("p3", "Peter England Men White Formal Shirt", {"articleType": "Shirts", "usage": "Formal", "season": "Fall"}),
    ("p4", "Franco Leone Men Black Formal Shoes", {"articleType": "Formal Shoes", "usage": "Formal", "season": "Winter"}),
    ("p5", "Nike Men Running Sports Shoes", {"articleType": "Sports Shoes", "usage": "Sports", "season": "Summer"}),
    ("p6", "Puma Men Black Track Pants", {"articleType": "Track Pants", "usage": "Sports", "season": "Fall"}),
    ("p7", "Fabindia Women Silk Saree", {"articleType": "Sarees", "usage": "Ethnic", "season": "Fall"}),
    ("p8", "ADIDAS Men Waterproof Rain Jacket", {"articleType": "Jackets", "usage": "Casual", "season": "Fall"}),
    ("p9", "Roadster Men Grey Woollen Sweater", {"articleType": "Sweaters", "usage": "Casual", "season": "Winter"}),
    ("p10", "纯棉防晒沙滩短裤 夏季", {"品类": "短裤", "用途": "度假", "季节": "夏季"}),
]


def _product(pid, title, attrs):
    return Product(id=pid, title=title, attributes=attrs)


def test_scenes_cover_the_issue():
    assert {"beach", "office", "wedding", "gym", "rainy"} <= set(scenes())


def test_scores_and_reasons():
    trunks = _product(*ITEMS[0])
    s, zh, en = score_product(trunks, "beach")
    assert s > 0.5 and any("swimwear" in r.lower() or "swimming trunks" in r.lower() for r in en) and zh
    assert score_product(trunks, "office")[0] <= 0.0 + 1e-9 or score_product(trunks, "office")[0] < s / 3
    sweater = _product(*ITEMS[8])
    sb, _, en_b = score_product(sweater, "beach")
    assert sb < 0.2 and not any("right for beach" in r for r in en_b)
    zh_item = _product(*ITEMS[9])
    sz, zh_r, _ = score_product(zh_item, "beach")
    assert sz > 0.5 and any("短裤" in r for r in zh_r)


class _Store:
    def __init__(self, products):
        self.products = products

    def iter_products(self):
        return iter(self.products)

    def top_classes(self, pid):
        return [["swimming trunks", 0.6]] if pid == "p1" else []


@pytest.mark.parametrize("scene,expected", [("beach", {"p1", "p2", "p10"}), ("office", {"p3", "p4"}), ("gym", {"p5", "p6"}),
                                            ("wedding", {"p7"}), ("rainy", {"p8"})])
def test_recommend_for_each_scene(scene, expected):
    res = recommend_for_scene(scene, _Store([_product(*i) for i in ITEMS]), k=3)
    got = {h.id for h in res.items}
    assert len(expected & got) >= min(len(expected), 2)
    assert res.items[0].id in expected
    assert all(h.reasons_en and h.reasons_zh for h in res.items)


def test_unknown_scene_is_a_typed_error():
    with pytest.raises(BadInput):
        recommend_for_scene("moon", _Store([]))


def test_recommend_cli_scene(home):
    from shopmind.catalog.store import open_store
    from shopmind.cli.catalog import register
    from shopmind.config import get_settings
    from tests.unit.cli_app import area_app

    open_store(get_settings()).upsert_products([(_product(*i), "h", "t") for i in ITEMS])
    app = area_app(register, typed_errors=True)
    res = CliRunner().invoke(app, ["recommend", "--scene", "gym", "--k", "2", "--json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert obj["scene"] == "gym" and [h["id"] for h in obj["items"]][:2] in (["p5", "p6"], ["p6", "p5"])
    res = CliRunner().invoke(app, ["recommend", "--json"])
    assert res.exit_code == 2


@pytest.mark.slow
def test_scene_from_a_photo(home, tmp_path):
    """A drawn beach (sky, sea, sand) must not be mistaken for an office; the classifier decides."""
    from shopmind.search.scene import guess_scene

    img = Image.new("RGB", (320, 240), (120, 180, 235))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 110, 320, 160), fill=(30, 110, 170))
    d.rectangle((0, 160, 320, 240), fill=(225, 205, 160))
    try:
        guess = guess_scene(img)
    except BadInput as exc:  # an honest "cannot tell" is acceptable for a drawing; a wrong scene is not
        assert "could not tell" in exc.message
        return
    assert guess.scene == "beach", guess


def test_api_scene_route_never_reads_a_path(home, tmp_path):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from shopmind.api.anchor import router
    from shopmind.api.errors import install_error_handlers
    from shopmind.catalog.store import open_store
    from shopmind.config import get_settings

    open_store(get_settings()).upsert_products([(_product(*i), "h", "t") for i in ITEMS])
    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    client = TestClient(app)
    r = client.get("/recommend/scene", params={"scene": "office", "k": 2})
    assert r.status_code == 200 and {h["id"] for h in r.json()["items"]} == {"p3", "p4"}
    photo = tmp_path / "beach.png"
    Image.new("RGB", (64, 64), (200, 180, 120)).save(photo)
    assert client.get("/recommend/scene", params={"scene": str(photo)}).status_code == 422
