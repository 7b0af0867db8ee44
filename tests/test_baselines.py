"""Logistic regression and LightGBM baselines on synthetic credit data with a real signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from credtune.baselines import BASELINES, run_baselines

NUMERIC = ["income", "debt_ratio", "all_missing"]
CATEGORICAL = ["housing", "region_code"]


def make_data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10, 0.4, n)
    debt = rng.uniform(0, 1, n)
    housing = rng.choice(["own", "rent", "free"], n, p=[0.5, 0.35, 0.15])
    region = rng.integers(1, 5, n)  # numeric codes used as a category
    logit = (
        -1.0 - 1.5 * (np.log(income) - 10) / 0.4 + 3.0 * (debt - 0.5) + np.where(housing == "rent", 1.0, 0.0)
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    df = pd.DataFrame(
        {
            "income": income,
            "debt_ratio": debt,
            "all_missing": np.nan,
            "housing": housing,
            "region_code": region,
        }
    )
    df.loc[rng.random(n) < 0.05, "income"] = np.nan
    df.loc[rng.random(n) < 0.02, "debt_ratio"] = np.inf
    df.loc[rng.random(n) < 0.05, "housing"] = None
    return df, y


@pytest.fixture(scope="module")
def results() -> tuple[dict, np.ndarray, np.ndarray]:
    train, y_train = make_data(1500, 0)
    test, y_test = make_data(600, 1)
    odd = test.head(5).copy()
    odd["housing"] = "boat"  # never seen in training
    odd["region_code"] = 99
    odd = odd.drop(columns=["debt_ratio"])  # absent column is treated as missing
    # n_jobs=1: test machines are small and shared, and oversubscribed OpenMP is very slow
    out = run_baselines(
        list(BASELINES), train, y_train, {"test": test, "odd": odd}, NUMERIC, CATEGORICAL, seed=0, n_jobs=1
    )
    return out, y_test, y_train


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_has_signal(results: tuple[dict, np.ndarray, np.ndarray], name: str) -> None:
    out, y_test, _ = results
    p = out[name]["test"]
    assert p.shape == (600,) and np.all((p >= 0) & (p <= 1))
    assert roc_auc_score(y_test, p) > 0.7


@pytest.mark.parametrize("name", BASELINES)
def test_unseen_category_and_missing_column(results: tuple[dict, np.ndarray, np.ndarray], name: str) -> None:
    p = results[0][name]["odd"]
    assert p.shape == (5,) and np.all(np.isfinite(p))


def test_seed_makes_lightgbm_reproducible() -> None:
    train, y = make_data(300, 2)
    a = run_baselines(["lightgbm"], train, y, {"t": train}, NUMERIC, CATEGORICAL, seed=7, n_jobs=1)
    b = run_baselines(["lightgbm"], train, y, {"t": train}, NUMERIC, CATEGORICAL, seed=7, n_jobs=1)
    np.testing.assert_array_equal(a["lightgbm"]["t"], b["lightgbm"]["t"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"names": ["xgboost"]}, "allowed: logistic, lightgbm"),
        ({"y_train": np.zeros(50)}, "both classes"),
        ({"numeric": ["nope"]}, "not in the training data"),
        ({"numeric": ["all_missing"], "categorical": []}, "no usable feature"),
    ],
)
def test_invalid_arguments(kwargs: dict, match: str) -> None:
    train, y = make_data(50, 3)
    args = {"names": ["logistic"], "y_train": y, "numeric": NUMERIC, "categorical": CATEGORICAL, **kwargs}
    with pytest.raises(ValueError, match=match):
        run_baselines(
            args["names"], train, args["y_train"], {"t": train}, args["numeric"], args["categorical"]
        )
