"""The live studio's CLI (`live script`, `live price`, `eval live-price`) and API (`/live/price`, `/live/script`)."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shopmind.api.errors import install_error_handlers
from shopmind.api.live import router
from shopmind.cli.live import register
from shopmind.domain import Product
from tests.unit.cli_app import area_app

PROMOS_YAML = """
rules: {max_store_coupons: 1}
promotions:
  - {kind: platform_tiers, id: plat, tiers: "满300减40,满500减80"}
  - {kind: coupon, id: c20, threshold: 199, amount: 20}
  - {kind: discount, id: live, rate: "8.5折", product_ids: ["1"], stock: 20}
"""
PRODUCTS = [
    {"id": "1", "title": "Running Shoes", "price": 499, "attributes": {"material": "mesh"}},
    {"id": "2", "title": "纯棉T恤", "price": 129.9, "attributes": {"面料": "棉"}},
]


@pytest.fixture
def cli():
    return area_app(register)


def test_cli_script_from_file_writes_json_and_markdown(cli, tmp_path, home):
    (tmp_path / "p.json").write_text(json.dumps(PRODUCTS + [{"title": "no id"}]), encoding="utf-8")
    (tmp_path / "promos.yaml").write_text(PROMOS_YAML, encoding="utf-8")
    (tmp_path / "rates.yaml").write_text("base: CNY\nrates: {USD: 0.14, JPY: 21}\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["live", "script", "--products", str(tmp_path / "p.json"), "--promotions", str(tmp_path / "promos.yaml"),
                                   "--lang", "zh,en", "--duration", "30", "--variants", "3", "--rates", str(tmp_path / "rates.yaml"),
                                   "--out", str(tmp_path / "s.json"), "--markdown", str(tmp_path / "s.md")])
    assert res.exit_code == 0, res.output
    script = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert script["languages"] == ["zh", "en"] and len(script["opening_variants"]) == 3
    assert script["quotes"]["1"]["final_total"] == "364.15"
    assert "# Live script (en, 30 min, USD)" in (tmp_path / "s.md").read_text(encoding="utf-8")


def test_cli_script_from_catalog_ids_and_unknown_id(cli, home):
    from shopmind.catalog.store import open_store
    from shopmind.config import get_settings

    open_store(get_settings()).upsert_products([(Product.model_validate(p), "h", "test") for p in PRODUCTS])
    res = CliRunner().invoke(cli, ["live", "script", "--ids", "1,2,404", "--lang", "zh"])
    assert res.exit_code == 0, res.output
    script = json.loads(res.stdout)
    assert [s["product_id"] for s in script["sections"] if s["kind"] == "product"] == ["1", "2"]
    res = CliRunner().invoke(cli, ["live", "price", "--items", "1:2", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["final_total"] == "998.00"


def test_cli_price_and_eval(cli, tmp_path):
    (tmp_path / "promos.yaml").write_text(PROMOS_YAML, encoding="utf-8")
    res = CliRunner().invoke(cli, ["live", "price", "--items", "1:499:1,2:129.9:2", "--promotions", str(tmp_path / "promos.yaml"), "--json"])
    assert res.exit_code == 0, res.output
    q = json.loads(res.stdout)
    assert q["final_total"] == "583.95"  # 424.15 (8.5折) + 259.80 = 683.95, minus 满500减80 and the 20 coupon
    res = CliRunner().invoke(cli, ["eval", "live-price", "--cases", "50", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["cases"] == 50 and out["agreement"] == 1.0 and "dataset" in out


def test_api_price_and_script():
    app = FastAPI()
    app.include_router(router)
    install_error_handlers(app)
    client = TestClient(app)
    promos = {"promotions": [{"kind": "platform_tiers", "id": "plat", "tiers": [["300", "40"]]}]}
    r = client.post("/live/price", json={"items": [{"product_id": "1", "unit_price": "320", "qty": 1}], "promotions": promos})
    assert r.status_code == 200 and r.json()["final_total"] == "280.00"
    assert r.json()["steps"][-1]["zh"] == "到手价 ¥280.00"
    r = client.post("/live/script", json={"products": PRODUCTS, "promotions": promos, "languages": ["zh", "ja"],
                                          "rates": {"rates": {"JPY": 21}}, "markdown": True, "variants": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["script"]["currencies"] == {"zh": "CNY", "ja": "JPY"} and "# Live script (ja" in body["markdown"]
    r = client.post("/live/script", json={"promotions": promos})
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_input"
    r = client.post("/live/script", json={"products": PRODUCTS, "languages": ["fr"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "bad_input"
