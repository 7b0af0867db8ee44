"""The fold-paired comparison of `credtune cv --repeats`: best baseline, corrected interval."""

from __future__ import annotations

import numpy as np
import pytest

from credtune.metrics import compare_repeats, credit_metrics


def test_repeats_compare_the_shipped_model_with_the_best_baseline_fold_by_fold():
    rng = np.random.default_rng(2)
    y = rng.binomial(1, 0.3, 300)
    good = lambda noise: np.clip(0.3 * y + rng.random(300) * noise, 0, 1)  # noqa: E731
    oof = {
        "transformer": [good(0.6), good(0.6)],
        "logistic": [good(0.9), good(0.9)],
        "lightgbm": [rng.random(300)] * 2,
    }
    per_fold = [
        {"transformer_auc": 0.80 + d, "logistic_auc": 0.75, "lightgbm_auc": 0.70}
        for d in (0.01, -0.01, 0.02, 0.0)
    ]
    out = compare_repeats(y, oof, per_fold, "transformer", ["logistic", "lightgbm"], folds=2)
    assert out["best_baseline"] == "logistic"
    assert out["models"]["transformer"]["pooled_auc"] == [
        credit_metrics(y, p)["auc"] for p in oof["transformer"]
    ]
    paired = out["fold_paired_difference"]
    diffs = np.array([0.06, 0.04, 0.07, 0.05])
    assert paired["mean"] == pytest.approx(diffs.mean()) and paired["n"] == 4
    naive_se = diffs.std(ddof=1) / np.sqrt(4)
    assert paired["se"] == pytest.approx(np.sqrt((1 / 4 + 1 / 1) * diffs.var(ddof=1)))
    assert paired["se"] > naive_se  # folds share training rows: the corrected interval is wider
    assert paired["ci95"][0] < paired["mean"] < paired["ci95"][1]
