"""`search --filter colour=Red` on a field no product has is a clear BadInput listing the known fields."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from shopmind.domain import Product
from shopmind.errors import BadInput, NotReady
from tests.unit.cli_app import area_app


def _store():
    from shopmind.catalog.store import open_store
    from shopmind.config import get_settings

    store = open_store(get_settings())
    store.upsert_products([
        (Product(id="1", title="red dress", price=10, attributes={"baseColour": "Red", "articleType": "Dresses"}), "h1", "t"),
        (Product(id="2", title="blue shirt", attributes={"baseColour": "Blue"}), "h2", "t"),
    ])
    return store


def test_unknown_filter_field_is_bad_input_with_known_fields(home):
    from shopmind.search.hybrid import SearchEngine, parse_filter

    engine = SearchEngine(_store())
    with pytest.raises(BadInput) as exc:
        engine.search("dress", filters=[parse_filter("colour=Red")], mode="text")
    assert "'colour'" in exc.value.message and "baseColour" in exc.value.message
    assert exc.value.detail["known_fields"][:5] == ["id", "title", "description", "price", "category"]
    assert {"articleType", "baseColour"} <= set(exc.value.detail["known_fields"])
    # Known fields (attribute or core) pass the check and reach the next step (the index is not built here).
    with pytest.raises(NotReady):
        engine.search("dress", filters=[parse_filter("baseColour=Red"), parse_filter("price<100")], mode="text")


def test_cli_search_unknown_field_exits_2_with_message(home):
    from shopmind.cli.catalog import register

    _store()
    result = CliRunner().invoke(area_app(register, typed_errors=True), ["search", "dress", "--filter", "colour=Red"])
    assert result.exit_code == 2
    assert "unknown filter field" in result.output and "baseColour" in result.output
