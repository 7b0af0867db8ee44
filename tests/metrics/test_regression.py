"""Regression metrics agree with sklearn/scipy, value calibrators recover known distortions, and bad
inputs or damaged calibrator files fail with one clear ValueError."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from credtune.metrics import (
    VALUE_METHODS,
    apply_value_calibrator,
    fit_value_calibrator,
    regression_block,
    regression_metrics,
    validate_value_calibrator,
)

SLOPE, INTERCEPT = 2.0, 3.0


@pytest.fixture(scope="module")
def shrunk() -> tuple[np.ndarray, np.ndarray]:
    """Predictions on a shrunk, shifted scale: the true rate is SLOPE * pred + INTERCEPT + noise."""
    rng = np.random.default_rng(5)
    pred = rng.normal(5.0, 1.0, 5000)
    y = SLOPE * pred + INTERCEPT + rng.normal(0.0, 0.5, pred.size)
    return pred, y


REFERENCES = {
    "rmse": lambda y, p: np.sqrt(mean_squared_error(y, p)),
    "mae": mean_absolute_error,
    "r2": r2_score,
    "spearman": lambda y, p: spearmanr(y, p).statistic,
}


@pytest.mark.parametrize("key", list(REFERENCES))
def test_metrics_match_reference(shrunk: tuple[np.ndarray, np.ndarray], key: str) -> None:
    pred, y = shrunk
    got = regression_metrics(y, pred)
    assert isinstance(got[key], float)
    assert got[key] == pytest.approx(float(REFERENCES[key](y, pred)), rel=1e-9)
    assert got["n"] == y.size


@pytest.mark.parametrize(
    ("y", "pred", "none"),
    [
        ([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], {"r2", "spearman"}),
        ([1.0, 2.0, 3.0], [2.0, 2.0, 2.0], {"spearman"}),
    ],
    ids=["constant-target", "constant-pred"],
)
def test_undefined_metrics_are_none(y: list[float], pred: list[float], none: set[str]) -> None:
    got = regression_metrics(y, pred)
    assert {k for k, v in got.items() if v is None} == none
    assert got["rmse"] == pytest.approx(np.sqrt(np.mean((np.array(y) - pred) ** 2)))


def test_linear_recovers_scale(shrunk: tuple[np.ndarray, np.ndarray]) -> None:
    pred, y = shrunk
    cal = fit_value_calibrator("linear", pred, y)
    assert cal["slope"] == pytest.approx(SLOPE, rel=0.02)
    assert cal["intercept"] == pytest.approx(INTERCEPT, abs=0.15)
    fixed = apply_value_calibrator(cal, pred)
    assert regression_metrics(y, fixed)["rmse"] < regression_metrics(y, pred)["rmse"]


def test_isotonic_is_monotone_and_helps_a_curved_distortion() -> None:
    rng = np.random.default_rng(2)
    pred = rng.uniform(0, 3, 4000)
    y = np.exp(pred) + rng.normal(0, 0.3, pred.size)
    cal = fit_value_calibrator("isotonic", pred, y)
    grid = np.linspace(-10, 10, 2001)
    out = apply_value_calibrator(cal, grid)
    assert np.all(np.diff(out) >= 0)
    assert out.min() == min(cal["y"]) and out.max() == max(cal["y"])  # clipped outside the fit range
    assert (
        regression_metrics(y, apply_value_calibrator(cal, pred))["rmse"] < regression_metrics(y, pred)["rmse"]
    )


@pytest.mark.parametrize("method", VALUE_METHODS)
def test_json_round_trip_is_exact(shrunk: tuple[np.ndarray, np.ndarray], method: str) -> None:
    pred, y = shrunk
    cal = fit_value_calibrator(method, pred[:2000], y[:2000])
    loaded = json.loads(json.dumps(cal))
    assert validate_value_calibrator(loaded) == cal
    np.testing.assert_array_equal(apply_value_calibrator(loaded, pred), apply_value_calibrator(cal, pred))


def test_none_is_identity_and_one_value_is_fine() -> None:
    pred = np.array([0.1, -2.0, 7.5])
    np.testing.assert_array_equal(apply_value_calibrator({"method": "none"}, pred), pred)
    one = apply_value_calibrator({"method": "linear", "slope": 2.0, "intercept": 1.0}, [4.0])
    assert one.tolist() == [2.0 * 4.0 + 1.0]


def test_constant_pred_gives_linear_identity() -> None:
    with pytest.warns(UserWarning, match="varying predictions"):
        cal = fit_value_calibrator("linear", [1.0, 1.0, 1.0], [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(apply_value_calibrator(cal, [3.0, 4.0]), [3.0, 4.0])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("linear", "must be a JSON object"),
        ({"slope": 1.0}, "no 'method'"),
        ({"method": "lineer"}, "did you mean 'linear'"),
        ({"method": "linear", "slope": 1.0}, "missing 'intercept'"),
        ({"method": "linear", "slope": None, "intercept": 0.0}, "'slope' must be a finite number"),
        ({"method": "linear", "slope": float("inf"), "intercept": 0.0}, "finite number"),
        ({"method": "isotonic", "x": [0.0, 1.0]}, "'y' must be a non-empty list"),
        ({"method": "isotonic", "x": [0.0, 1.0], "y": [1.0]}, "has 2 points but 'y' has 1"),
        ({"method": "isotonic", "x": [1.0, 0.0], "y": [0.0, 1.0]}, "sorted ascending"),
        ({"method": "isotonic", "x": [0.0, 1.0], "y": [1.0, 0.0]}, "non-decreasing"),
        ({"method": "isotonic", "x": [0.0, "1"], "y": [0.0, 1.0]}, "finite numbers"),
    ],
)
def test_damaged_calibrator_is_rejected(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_value_calibrator(bad)
    with pytest.raises(ValueError, match=message):
        apply_value_calibrator(bad, [1.0, 2.0])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: regression_metrics([1.0, 2.0], [[1.0, 2.0], [3.0, 4.0]]), "1-D"),
        (lambda: regression_metrics([1.0], [1.0]), "at least 2"),
        (lambda: regression_metrics([1.0, np.nan], [1.0, 2.0]), "y contains NaN"),
        (lambda: regression_metrics([1.0, 2.0], [1.0, np.inf]), "pred contains NaN"),
        (lambda: regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0]), "y has 3 values but pred has 2"),
        (lambda: regression_metrics(["a", "b"], [1.0, 2.0]), "y must hold numbers"),
        (lambda: fit_value_calibrator("spline", [1.0, 2.0], [1.0, 2.0]), "allowed: none, linear, isotonic"),
        (lambda: fit_value_calibrator("linear", [1.0], [1.0]), "at least 2"),
        (lambda: apply_value_calibrator({"method": "none"}, [np.nan]), "NaN"),
    ],
    ids=["2-d", "one-row", "nan-y", "inf-pred", "length", "text", "method", "fit-one-row", "apply-nan"],
)
def test_bad_inputs_fail_clearly(call, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_block_shape(shrunk: tuple[np.ndarray, np.ndarray]) -> None:
    raw, y = shrunk
    cal = fit_value_calibrator("linear", raw, y)
    main = apply_value_calibrator(cal, raw)
    preds = {"transformer": main, "lightgbm": main + 0.3}
    block = regression_block(y, preds, main="transformer", target="int_rate", raw=raw, calibration=cal)
    assert json.loads(json.dumps(block, allow_nan=False)) == block
    assert (
        block["task"] == "regression" and block["target"] == "int_rate" and block["shipped"] == "transformer"
    )
    assert {k: block[k] for k in block["models"]["transformer"]} == block["models"]["transformer"]
    assert block["models"]["lightgbm"] == regression_metrics(y, preds["lightgbm"])
    before, after = regression_metrics(y, raw), block["models"]["transformer"]
    assert block["calibration"] == {
        "method": "linear",
        "model": "transformer",
        "before": {"rmse": before["rmse"], "mae": before["mae"]},
        "after": {"rmse": after["rmse"], "mae": after["mae"]},
    }
    residual = y - main
    assert block["residuals"]["mean"] == pytest.approx(residual.mean())
    assert [block["residuals"][k] for k in ("p05", "p50", "p95")] == pytest.approx(
        np.percentile(residual, [5, 50, 95]).tolist()
    )


def test_block_without_raw_and_bad_main(shrunk: tuple[np.ndarray, np.ndarray]) -> None:
    pred, y = shrunk
    block = regression_block(y, {"t": pred}, main="t", target="rate")
    assert "calibration" not in block and block["rmse"] == regression_metrics(y, pred)["rmse"]
    with pytest.raises(ValueError, match="main model 'x' has no predictions"):
        regression_block(y, {"t": pred}, main="x", target="rate")
