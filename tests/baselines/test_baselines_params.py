"""`baseline_params`: a recipe sets each baseline's library arguments; typos and arguments credtune
owns are one clear line before anything trains."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from baseline_data import CATEGORICAL, NUMERIC, installed, make_data

from credtune.baselines import fit_component
from credtune.baselines.common import BaselineError
from credtune.baselines.registry import check_params, check_recipe_baselines
from credtune.config import recipe_from_dict

TRAIN, Y = make_data(400, 0)


def _fit(name: str, params: dict | None, task: str = "binary", y: np.ndarray = Y):
    return fit_component(name, TRAIN, y, NUMERIC, CATEGORICAL, n_jobs=1, task=task, params=params)


def test_lightgbm_arguments_reach_the_trees() -> None:
    booster = _fit("lightgbm", {"num_leaves": 2, "n_estimators": 7}).model
    trees = booster.dump_model()["tree_info"]
    assert len(trees) == 7 and all(t["num_leaves"] <= 2 for t in trees)


def test_logistic_penalty_reaches_the_coefficients() -> None:
    default, strong = _fit("logistic", None), _fit("logistic", {"C": 1e-4})
    assert np.abs(strong.coef).sum() < 0.1 * np.abs(default.coef).sum()


def test_kernel_settings_reach_the_features() -> None:
    narrow, wide = (
        _fit("kernel", {"n_components": 64, "gamma": 4.0}),
        _fit("kernel", {"n_components": 64, "linear": True}),
    )
    assert narrow.weights.shape[1] == 64 and narrow.weights.std() > wide.weights.std()
    assert len(wide.coef) == 64 + wide.weights.shape[0]  # the design beside the random features
    for bad, message in [
        ({"gamma": -1}, "gamma must be 'scale' or a positive"),
        ({"n_components": 0}, "positive whole"),
    ]:
        with pytest.raises(BaselineError, match=message):
            _fit("kernel", bad)


@pytest.mark.skipif(not installed("scorecard"), reason="optbinning not installed")
def test_scorecard_binning_arguments_reach_the_bins() -> None:
    card = _fit("scorecard", {"max_n_bins": 2})
    rows = card.points_table()
    numeric = [v for v in NUMERIC if any(r["variable"] == v for r in rows)]
    assert numeric, "the scorecard kept no numeric variable"
    for name in numeric:  # at most 2 bins, besides optbinning's Special and Missing rows
        bins = [r for r in rows if r["variable"] == name and r["bin"] not in ("Special", "Missing")]
        assert len(bins) <= 2, (name, bins)


@pytest.mark.skipif(not installed("scorecard"), reason="optbinning not installed")
def test_scorecard_keeps_what_selection_criteria_selects() -> None:
    """The lean binning process skips the statistics only when no criteria ask for them."""
    from optbinning import BinningProcess

    from credtune.baselines.common import categorical_frame, numeric_frame

    criteria = {"iv": {"strategy": "highest", "top": 2}}
    card = _fit("scorecard", {"selection_criteria": criteria})
    numeric = [c for c in NUMERIC if c != "all_missing"]
    frame = pd.concat([numeric_frame(TRAIN, numeric), categorical_frame(TRAIN, CATEGORICAL)], axis=1)
    process = BinningProcess(
        [*numeric, *CATEGORICAL], categorical_variables=CATEGORICAL, selection_criteria=criteria
    )
    chosen = set(process.fit(frame, Y).get_support(names=True))
    assert len(chosen) == 2 and {v.name for v in card.variables} == chosen
    assert len(_fit("scorecard", None).variables) > 2


def test_regression_takes_the_regressor_arguments() -> None:
    values = Y + np.random.default_rng(0).normal(size=len(Y))
    ridge = _fit("logistic", {"alpha": 50.0}, task="regression", y=values)
    assert ridge.estimator.alpha == 50.0
    with pytest.raises(BaselineError, match="Ridge has no argument 'C'"):
        _fit("logistic", {"C": 0.5}, task="regression", y=values)


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("lightgbm", {"num_leave": 7}, "LGBMRegressor has no argument 'num_leave'.*num_leaves"),
        ("lightgbm", {"n_jobs": 4}, r"baseline_params.lightgbm.n_jobs: credtune sets it"),
        ("logistic", {"random_state": 1}, "credtune sets it"),
        ("logistic", {"c": 1.0}, "has no argument 'c'"),  # regression's Ridge has none either
        ("kernel", {"n_component": 10}, "kernel_settings has no argument 'n_component'.*n_components"),
        ("scorecard", {"variable_names": ["x"]}, "credtune sets it"),
        ("lightgbm", [1, 2], "expected a mapping"),
        ("xgboost", {}, "unknown baseline"),
    ],
)
def test_bad_params_are_one_line(name: str, params, message: str) -> None:
    with pytest.raises(BaselineError, match=message):
        check_params(name, params)


def test_a_value_the_library_refuses_names_the_params() -> None:
    with pytest.raises(
        BaselineError, match=r"lightgbm baseline with baseline_params.lightgbm .*failed to fit"
    ):
        _fit("lightgbm", {"num_leaves": 1})


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"baseline_params": {"catboost": {"depth": 4}}}, "the run fits no catboost"),
        ({"baseline_params": {"lightgbm": {"max_depht": 3}}}, "did you mean 'max_depth'"),
    ],
)
def test_recipe_params_are_checked(extra: dict, message: str) -> None:
    recipe = recipe_from_dict(
        {"data": {"path": "x.csv", "target": "y"}, "baselines": ["logistic", "lightgbm"], **extra}
    )
    with pytest.raises(BaselineError, match=message):
        check_recipe_baselines(recipe)


def test_teacher_params_are_allowed_without_the_baseline() -> None:
    recipe = recipe_from_dict(
        {
            "data": {"path": "x.csv", "target": "y"},
            "baselines": ["logistic"],
            "distill": {"teachers": ["lightgbm"]},
            "baseline_params": {"lightgbm": {"num_leaves": 7}},
        }
    )
    check_recipe_baselines(recipe)


@pytest.mark.parametrize(
    "extra",
    [{"baselines": ["logistic", "catboost"]}, {"distill": {"teachers": ["logistic", "catboost"]}}],
)
def test_a_recipe_that_fits_catboost_needs_the_package_before_it_starts(extra: dict, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "catboost", None)  # `import catboost` then fails as uninstalled
    recipe = recipe_from_dict({"data": {"path": "x.csv", "target": "y"}, "baselines": ["logistic"]} | extra)
    with pytest.raises(BaselineError, match="needs the catboost package"):
        check_recipe_baselines(recipe)
