"""Query beliefs about labelled attributes, image agreement, and the weight fit chooses."""

import numpy as np

from shopmind.understand.attribute_beliefs import (
    WEIGHT_GRID, agreement, beliefs_for, choose_weight, named_values, query_beliefs,
)
from shopmind.understand.taggers import AttributeTagger


def _tagger(with_titles: bool) -> AttributeTagger:
    rng = np.random.default_rng(0)
    kinds = ["Dresses", "Sports Shoes", "Watches"]
    y = rng.integers(0, 3, size=300)
    x = (np.eye(3)[y] * 3 + rng.normal(size=(300, 3))).astype(np.float32)
    words = {"Dresses": "Dress", "Sports Shoes": "Running Shoes", "Watches": "Analog Watch"}
    titles = [f"Brand{rng.integers(9)} Women {words[kinds[k]]}" for k in y] if with_titles else None
    labels = [kinds[k] for k in y]
    return AttributeTagger(field_name="articleType", hidden=16, epochs=8).fit(
        x[:250], labels[:250], x_val=x[250:], y_val=labels[250:],
        titles=titles[:250] if titles else None, titles_val=titles[250:] if titles else None,
    )


def test_title_model_reads_queries_that_do_not_spell_the_class_name():
    taggers = {"articleType": _tagger(True)}
    beliefs = beliefs_for("Brand3 Women Running Shoes", taggers)
    assert [(b.field, b.value) for b in beliefs] == [("articleType", "Sports Shoes")]
    assert beliefs[0].confidence >= 0.5
    assert beliefs_for("qwerty", taggers) == []  # not confident: the field stays out of the re-rank


def test_taggers_without_title_models_fall_back_to_class_names():
    taggers = {"articleType": _tagger(False)}
    assert named_values("red sports shoes for women", taggers) == {"articleType": "Sports Shoes"}
    rows = query_beliefs(["red sports shoes", "a hat"], taggers)["articleType"]
    assert rows[0].tolist() == [0.0, 1.0, 0.0] and not rows[1].any()


def test_agreement_is_mean_log_expected_probability_over_confident_fields():
    image_probs = {"a": np.array([[0.9, 0.1], [0.2, 0.8]]), "b": np.array([[0.5, 0.5], [1.0, 0.0]])}
    beliefs = {"a": np.array([[1.0, 0.0], [0.0, 0.0]]), "b": np.array([[0.0, 1.0], [0.0, 0.0]])}
    got = agreement(image_probs, beliefs)
    expect_q0 = (np.log(np.array([0.9, 0.2]) + 1e-3) + np.log(np.array([0.5, 0.0]) + 1e-3)) / 2
    assert np.allclose(got[0], expect_q0, atol=1e-6)
    assert np.allclose(got[1], 0.0)  # a query with no confident field leaves cosine alone


def test_choose_weight_prefers_a_helpful_bonus_and_zero_for_a_harmful_one():
    rng = np.random.default_rng(1)
    n = 200
    sim = rng.normal(size=(n, n)).astype(np.float32) * 0.1
    sim[np.arange(n), np.arange(n)] += 0.05  # the match is only slightly ahead on cosine
    helpful = np.where(np.eye(n, dtype=bool), 0.0, -1.0).astype(np.float32)
    weight, mrr = choose_weight(sim, helpful)
    assert weight > 0 and mrr[str(weight)] > mrr["0.0"]
    weight, mrr = choose_weight(sim, -helpful)
    assert weight == 0.0 and set(mrr) == {str(w) for w in WEIGHT_GRID}


def test_a_spelled_out_value_overrides_the_title_model():
    taggers = {"articleType": _tagger(True)}
    rows = query_beliefs(["Brand1 Women Running Shoes watches"], taggers)["articleType"]
    assert rows[0].tolist() == [0.0, 0.0, 1.0]  # "watches" names the class; certain, whatever the model says


def test_a_query_made_only_of_values_gets_no_guessed_fields():
    """'red dresses' names its type; the title model must not add guesses for fields it never mentions."""
    from shopmind.understand.taggers import AttributeTagger as Tagger

    tagger = _tagger(True)
    colours = Tagger(field_name="baseColour", classes=["Red", "Blue"], params=tagger.params)
    colours.title_model = None
    beliefs = query_beliefs(["dresses", "Brand3 Women Dress"], {"articleType": tagger})["articleType"]
    assert beliefs[0].tolist() == [1.0, 0.0, 0.0]  # spelled out
    assert beliefs[1].argmax() == 0 and 0.5 <= beliefs[1].max() < 1.0  # read by the title model
    only_values = query_beliefs(["red"], {"articleType": tagger, "baseColour": colours})
    assert not only_values["articleType"].any() and only_values["baseColour"][0].tolist() == [1.0, 0.0]
