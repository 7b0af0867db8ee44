"""run_baselines: every baseline finds the signal, handles odd rows, and matches the pre-component code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from baseline_data import CATEGORICAL, NUMERIC, TEXT, installed, make_data, names, odd_rows
from sklearn.metrics import roc_auc_score

from credtune.baselines import BASELINES, COMPONENTS, run_baselines
from credtune.baselines.common import categorical_frame, numeric_frame

TABLE = [n for n in BASELINES if n != "notes"]  # these frames have no notes; see test_baselines_kinds


@pytest.fixture(scope="module")
def results() -> tuple[dict, np.ndarray]:
    train, y_train = make_data(1500, 0)
    test, y_test = make_data(600, 1)
    # n_jobs=1: test machines are small and shared, and oversubscribed OpenMP is very slow
    out = run_baselines(
        [n for n in TABLE if installed(n)],
        train,
        y_train,
        {"test": test, "odd": odd_rows(test)},
        NUMERIC,
        CATEGORICAL,
        n_jobs=1,
    )
    return out, y_test


def test_names_match_config() -> None:
    assert tuple(COMPONENTS) == BASELINES


@pytest.mark.parametrize("name", names(TABLE))
def test_baseline_has_signal(results: tuple[dict, np.ndarray], name: str) -> None:
    out, y_test = results
    p = out[name]["test"]
    assert p.shape == (600,) and p.dtype == np.float64 and np.all((p >= 0) & (p <= 1))
    assert roc_auc_score(y_test, p) > 0.7


@pytest.mark.parametrize("name", names(TABLE))
def test_unseen_category_and_missing_column(results: tuple[dict, np.ndarray], name: str) -> None:
    p = results[0][name]["odd"]
    assert p.shape == (5,) and np.all(np.isfinite(p))


@pytest.mark.parametrize("name", names(["lightgbm", "catboost"]))
def test_seed_makes_trees_reproducible(name: str) -> None:
    train, y = make_data(300, 2)
    a = run_baselines([name], train, y, {"t": train}, NUMERIC, CATEGORICAL, seed=7, n_jobs=1)
    b = run_baselines([name], train, y, {"t": train}, NUMERIC, CATEGORICAL, seed=7, n_jobs=1)
    np.testing.assert_array_equal(a[name]["t"], b[name]["t"])


def test_text_keyword_uses_the_notes() -> None:
    train, y = make_data(1200, 4, notes=True)
    test, y_test = make_data(600, 5, notes=True)
    names = ["logistic", "lightgbm"]
    plain = run_baselines(names, train, y, {"t": test}, NUMERIC, CATEGORICAL, n_jobs=1)
    notes = run_baselines(names, train, y, {"t": test}, NUMERIC, CATEGORICAL, n_jobs=1, text=TEXT)
    for name in names:
        assert roc_auc_score(y_test, notes[name]["t"]) > roc_auc_score(y_test, plain[name]["t"]) + 0.03


def _legacy_logistic(
    train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, num: list, cat: list
) -> np.ndarray:
    """The scikit-learn pipeline run_baselines used before components (2024 code, kept as the reference)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
            ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                                  OneHotEncoder(handle_unknown="ignore")), cat),
        ]
    )  # fmt: skip
    model = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=2000, C=1.0, random_state=0))])

    def frame(df: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([numeric_frame(df, num), categorical_frame(df, cat)], axis=1)

    return model.fit(frame(train), y).predict_proba(frame(test))[:, 1]


def _legacy_lightgbm(
    train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, num: list, cat: list
) -> np.ndarray:
    """LightGBM on pandas categoricals, as before components."""
    from lightgbm import LGBMClassifier

    from credtune.baselines.trees import LIGHTGBM_PARAMS

    levels = {c: sorted(categorical_frame(train, [c])[c].dropna().unique()) for c in cat}

    def frame(df: pd.DataFrame) -> pd.DataFrame:
        out, cats = numeric_frame(df, num), categorical_frame(df, cat)
        for c, values in levels.items():
            out[c] = pd.Categorical(cats[c], categories=values)
        return out

    model = LGBMClassifier(**LIGHTGBM_PARAMS, random_state=0, n_jobs=1)
    return model.fit(frame(train), y).predict_proba(frame(test))[:, 1]


@pytest.mark.parametrize(("name", "legacy"), [("logistic", _legacy_logistic), ("lightgbm", _legacy_lightgbm)])
def test_same_predictions_as_before_components(name: str, legacy) -> None:
    train, y = make_data(800, 6)
    test, _ = make_data(300, 7)
    num, cat = ["income", "debt_ratio"], CATEGORICAL
    new = run_baselines([name], train, y, {"t": test}, num, cat, n_jobs=1)[name]["t"]
    np.testing.assert_allclose(new, legacy(train, y, test, num, cat), rtol=0, atol=1e-8)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"names": ["xgboost"]}, "allowed: logistic, scorecard, lightgbm, catboost"),
        ({"y_train": np.zeros(50)}, "both classes"),
        ({"y_train": np.ones(49)}, "has 49"),
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
