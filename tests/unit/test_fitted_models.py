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
