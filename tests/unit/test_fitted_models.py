"""The alignment head and attribute tagger learn a synthetic task, are deterministic, and round-trip."""

import numpy as np

from shopmind.understand.align import AlignConfig, AlignmentHead, retrieval_metrics
from shopmind.understand.taggers import AttributeTagger


def _pairs(n=600, d_in=32, d_out=16, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(d_in, d_out))
    x = rng.normal(size=(n, d_in)).astype(np.float32)
    t = np.tanh(x @ w).astype(np.float32)
    return x, t / np.linalg.norm(t, axis=1, keepdims=True)


def test_head_learns_and_is_deterministic(tmp_path):
    x, t = _pairs()
    cfg = AlignConfig(hidden=64, epochs=15, batch_size=64, seed=3)
    a = AlignmentHead(config=cfg).fit(x[:500], t[:500])
    b = AlignmentHead(config=AlignConfig(hidden=64, epochs=15, batch_size=64, seed=3)).fit(x[:500], t[:500])
    m = retrieval_metrics(a.transform_texts(t[500:]), a.transform_images(x[500:]))
    assert m["recall@10"] > 0.5  # random would be 0.1 for 100 items
    assert np.allclose(a.params["w1"], b.params["w1"])
    a.save(tmp_path / "head.npz")
    c = AlignmentHead.load(tmp_path / "head.npz")
    assert np.allclose(c.transform_images(x[:5]), a.transform_images(x[:5]), atol=1e-6)


def test_tagger_learns_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 8)) * 3
    y = rng.integers(0, 3, size=400)
    x = (centres[y] + rng.normal(size=(400, 8))).astype(np.float32)
    labels = [["red", "green", "blue"][i] for i in y]
    tagger = AttributeTagger(field_name="colour", hidden=32, epochs=20).fit(x[:300], labels[:300], x_val=x[300:], y_val=labels[300:])
    assert tagger.metrics["validation_accuracy"] > 0.9
    tagger.save(tmp_path / "t.npz")
    again = AttributeTagger.load(tmp_path / "t.npz")
    assert again.predict(x[300:310]) == tagger.predict(x[300:310])


def _titled(n=600, seed=1):
    """Labels carried only by the title's words (plus filler), image features pure noise."""
    rng = np.random.default_rng(seed)
    kinds = ["Dress", "Shoes", "Watch", "连衣裙"]
    brands = ["Puma", "Roadster", "Fossil", "Nike", "韩都衣舍", "Vero Moda"]
    y = rng.integers(0, len(kinds), size=n)
    titles = [f"{brands[rng.integers(len(brands))]} Women {kinds[k]} {rng.integers(1000)}" for k in y]
    x = rng.normal(size=(n, 8)).astype(np.float32)
    return x, titles, [kinds[k] for k in y]


def test_title_view_carries_what_the_image_cannot_and_round_trips(tmp_path):
    x, titles, labels = _titled()
    tagger = AttributeTagger(field_name="articleType", hidden=16, epochs=5).fit(
        x[:500], labels[:500], x_val=x[500:], y_val=labels[500:], titles=titles[:500], titles_val=titles[500:]
    )
    assert tagger.metrics["inputs"] == "image+title"
    assert tagger.metrics["validation_accuracy"] == 1.0
    assert tagger.metrics["validation_accuracy_image"] < 0.5  # four classes, noise features
    assert tagger.title_weight > 0
    with_titles = tagger.predict(x[500:], titles[500:])
    assert with_titles == labels[500:]
    tagger.save(tmp_path / "t.npz")
    again = AttributeTagger.load(tmp_path / "t.npz")
    assert again.predict(x[500:], titles[500:]) == with_titles
    assert np.allclose(again.predict_proba(x[500:520], titles[500:520]), tagger.predict_proba(x[500:520], titles[500:520]), atol=1e-6)
    # An empty title leaves the image view alone; image-only callers never see the title model.
    blank = ["" for _ in range(10)]
    assert np.allclose(tagger.predict_proba(x[:10], blank), tagger.predict_proba(x[:10]), atol=1e-6)


def test_title_features_match_sklearn_tfidf():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from shopmind.understand.taggers import TitleModel, title_terms

    _, titles, labels = _titled(200)
    model = TitleModel.fit(titles, labels, sorted(set(labels)))
    ref = TfidfVectorizer(analyzer=title_terms, min_df=2, sublinear_tf=True).fit(titles)
    probe = titles[:20] + ["Puma Women Dress Dress 5", "完全没见过的词", ""]
    ours = model.features(probe).toarray()
    theirs = ref.transform(probe).toarray()
    assert ours.shape == theirs.shape
    assert np.allclose(ours, theirs, atol=1e-5)
    assert "连衣裙" in title_terms("韩都衣舍 Women 连衣裙 12") and "women dress" in title_terms("Women Dresses")


def test_two_class_title_model_keeps_both_classes():
    rng = np.random.default_rng(2)
    labels = ["Men" if rng.random() < 0.5 else "Women" for _ in range(300)]
    titles = [f"Roadster {g} Casual Shirt {i}" for i, g in enumerate(labels)]
    x = rng.normal(size=(300, 4)).astype(np.float32)
    tagger = AttributeTagger(field_name="gender", hidden=8, epochs=3).fit(
        x[:250], labels[:250], x_val=x[250:], y_val=labels[250:], titles=titles[:250], titles_val=titles[250:]
    )
    assert tagger.predict(x[250:], titles[250:]) == labels[250:]
    assert tagger.predict_proba(x[250:], titles[250:]).shape == (50, 2)


def test_very_short_runs_train_without_a_schedule_crash():
    """torch's OneCycleLR divides by zero below ~20 steps; a tiny catalog or --epochs 1 must still fit."""
    x, t = _pairs(n=40)
    AlignmentHead(config=AlignConfig(hidden=16, epochs=1, batch_size=16, seed=0)).fit(x, t)
    labels = ["a" if v > 0 else "b" for v in x[:, 0]]
    tagger = AttributeTagger(field_name="f", hidden=8, epochs=1).fit(x, labels)
    assert set(tagger.predict(x)) <= {"a", "b"}


def test_titles_with_no_shared_words_leave_an_image_only_tagger():
    x, _ = _pairs(n=60)
    labels = ["a" if v > 0 else "b" for v in x[:, 0]]
    titles = [f"sku{i:04d}" for i in range(60)]  # every word unique: TF-IDF has no vocabulary (min_df=2)
    tagger = AttributeTagger(field_name="f", hidden=8, epochs=3).fit(x, labels, titles=titles)
    assert tagger.title_model is None and tagger.metrics["inputs"] == "image"
    assert len(tagger.predict(x[:5], titles[:5])) == 5
