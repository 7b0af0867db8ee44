"""The kernel baseline: its random features are the RBF kernel, and it sees what one field at a time cannot."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.metrics.pairwise import rbf_kernel

from credtune.baselines import fit_component


def _xor(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Default when exactly one of two fields is high: no field says anything by itself."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    noise = rng.uniform(-1, 1, n)
    y = ((a > 0) != (b > 0)).astype(int)
    flip = rng.random(n) < 0.1
    return pd.DataFrame({"a": a, "b": b, "noise": noise}), np.where(flip, 1 - y, y)


def test_random_features_approximate_the_rbf_kernel() -> None:
    train, y = _xor(300, 0)
    model = fit_component("kernel", train, y, ["a", "b", "noise"], [], params={"n_components": 20000})
    x = model.design(*model.columns.frames(train.iloc[:40]))
    z = np.cos(x @ model.weights + model.offsets) * np.sqrt(2.0 / model.weights.shape[1])
    gamma = 1.0 / (2 * 3 * model.design(*model.columns.frames(train)).var())  # `scale`
    assert np.abs(z @ z.T - rbf_kernel(x, gamma=gamma)).max() < 0.05


def test_kernel_reads_an_interaction_that_logistic_regression_cannot() -> None:
    train, y = _xor(1000, 1)
    test, y_test = _xor(1000, 2)
    auc = {
        name: roc_auc_score(
            y_test, fit_component(name, train, y, ["a", "b", "noise"], []).predict_proba(test)
        )
        for name in ("logistic", "kernel")
    }
    assert auc["logistic"] < 0.6 < 0.8 < auc["kernel"], auc


def test_rows_scored_in_slices_equal_rows_scored_at_once(monkeypatch) -> None:
    import credtune.baselines.kernel as kernel

    train, y = _xor(300, 3)
    model = fit_component("kernel", train, y, ["a", "b", "noise"], [], params={"n_components": 256})
    whole = model.predict_proba(train)
    monkeypatch.setattr(kernel, "CHUNK", 7)
    np.testing.assert_allclose(model.predict_proba(train), whole, rtol=0, atol=1e-12)
