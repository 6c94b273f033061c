"""Fitted taggers abstain on fields that do not apply (sleeve length for skirts and shoes).

Applicability is learned from the training data: a field missing or "NA" for most products of an
article type is not tagged for products of that type.
"""

from __future__ import annotations

import numpy as np

from shopmind.domain import Product, ScoredLabel
from shopmind.understand.fitting import applicability, is_missing
from shopmind.understand.taggers import AttributeTagger
from shopmind.understand.tagging import _gate_value


def _values():
    values = {}
    for i in range(30):
        kind = ("Tshirts", "Skirts", "Casual Shoes")[i % 3]
        row = {"articleType": kind, "baseColour": ("Red", "Blue")[i % 2]}
        if kind == "Tshirts":
            row["Sleeve Length"] = ("Short Sleeves", "Long Sleeves")[i % 2]
        elif kind == "Skirts":
            row["Sleeve Length"] = "NA"
        values[str(i)] = row
    return values


def test_applicability_learns_where_a_field_is_missing_or_na():
    values = _values()
    gate, off = applicability(values, list(values), ["Sleeve Length", "baseColour", "articleType"])
    assert gate == "articleType"
    assert off == {"Sleeve Length": ["Casual Shoes", "Skirts"]}  # colour applies everywhere
    assert is_missing("NA") and is_missing(" n/a ") and is_missing("") and not is_missing("Red")


def test_no_gate_field_means_no_abstention():
    values = {str(i): {"Sleeve Length": "NA"} for i in range(10)}
    assert applicability(values, list(values), ["Sleeve Length"]) == (None, {})


def test_gate_round_trips_and_uses_own_attribute_then_prediction(tmp_path):
    tagger = AttributeTagger(field_name="Sleeve Length", classes=["Long Sleeves", "Short Sleeves"],
                             params={"mu": np.zeros(2, np.float32)}, gate_field="articleType", not_applicable=["Skirts"])
    tagger.save(tmp_path / "t.npz")
    loaded = AttributeTagger.load(tmp_path / "t.npz")
    assert loaded.gate_field == "articleType" and loaded.not_applicable == ["Skirts"]
    assert not loaded.applies_to("Skirts") and loaded.applies_to("Tshirts") and loaded.applies_to(None)
    predicted = {"articleType": [[ScoredLabel(label="Skirts", score=0.9)], [ScoredLabel(label="Tshirts", score=0.8)]]}
    own = Product(id="1", title="t", attributes={"articleType": "Tshirts"})
    assert _gate_value(own, "articleType", predicted, 0) == "Tshirts"  # the catalog's own value wins
    assert _gate_value(Product(id="2", title="t"), "articleType", predicted, 0) == "Skirts"
    assert _gate_value(None, "articleType", {}, 0) is None


def test_fit_and_tag_abstain_end_to_end(home):
    """Real fit on synthetic image features: the sleeve tagger is gated; tagging leaves skirts and shoes untagged."""
    from shopmind.catalog.store import ImageFeatures, open_store
    from shopmind.config import get_settings
    from shopmind.understand.fitting import fit_catalog, load_fitted
    from shopmind.understand.tagging import tag_products

    store = open_store(get_settings())
    rng = np.random.default_rng(0)
    kinds = ("Tshirts", "Tshirts", "Tshirts", "Skirts", "Casual Shoes")  # sleeve length labelled on 60 %
    products, feats = [], []
    for i in range(60):
        kind = kinds[i % 5]
        attrs = {"articleType": kind, "baseColour": ("Red", "Blue")[i % 2]}
        attrs["Sleeve Length"] = ("Short Sleeves", "Long Sleeves")[(i // 3) % 2] if kind == "Tshirts" else "NA"
        products.append((Product(id=f"p{i:02d}", title=f"{attrs['baseColour']} {kind} {i}", attributes=attrs,
                                 image_path="x.jpg", image_sha256="0" * 64), f"h{i}", "test"))
        centre = np.eye(5, 64)[i % 5] * 3
        feats.append(ImageFeatures(f"p{i:02d}", "0" * 64, get_settings().image_encoder,
                                   (centre + rng.normal(0, 0.3, 64)).astype(np.float32),
                                   rng.random(8).astype(np.float32), rng.normal(0, 1, 384).astype(np.float32), []))
    store.upsert_products(products)
    store.put_features(feats)
    report = fit_catalog(store, epochs=2, tagger_epochs=3)
    assert report["gate_field"] == "articleType"
    assert report["not_applicable"]["Sleeve Length"] == ["Casual Shoes", "Skirts"]
    fitted = load_fitted(store.settings)
    assert fitted.taggers["Sleeve Length"].not_applicable == ["Casual Shoes", "Skirts"]
    assert "NA" not in fitted.taggers["Sleeve Length"].classes
    assert tag_products(store) == 60
    tags = store.all_tags()
    for i in range(60):
        labels = tags[f"p{i:02d}"].labels
        assert ("Sleeve Length" in labels) == (kinds[i % 5] == "Tshirts")
        assert "baseColour" in labels
