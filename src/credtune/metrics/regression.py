"""Metrics and value calibration for a numeric target (interest rate, loss given default, amount).

RMSE and MAE are in the target's own units; R² compares against always predicting the mean;
Spearman says whether the model ranks loans right even when its scale is off, which is what a
linear or isotonic value calibrator then fixes. Calibrators are small JSON dicts, never pickles.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.isotonic import IsotonicRegression

from credtune.metrics.calibration import check_method, isotonic_points, number_field
from credtune.metrics.fairness import outcome_fairness

VALUE_METHODS = ("none", "linear", "isotonic")


def _as_values(values: Any, name: str) -> np.ndarray:
    """A 1-D finite float array with at least 2 values."""
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold numbers") from None
    if a.ndim == 2 and a.shape[1] == 1:  # a model head's (n, 1) output
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per row), got shape {a.shape}")
    if a.shape[0] < 2:
        raise ValueError(f"{name} has {a.shape[0]} value(s); regression metrics need at least 2")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def check_value_inputs(y: Any, pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate once so every metric can assume two finite, equally long 1-D arrays."""
    target, guess = _as_values(y, "y"), _as_values(pred, "pred")
    if target.shape[0] != guess.shape[0]:
        raise ValueError(f"y has {target.shape[0]} values but pred has {guess.shape[0]}")
    return target, guess


def regression_metrics(y: Any, pred: Any) -> dict[str, float | int | None]:
    """Headline metrics of one model; ``r2`` is None for a constant target and ``spearman`` is None
    when either side is constant (both are undefined there, and 0 or 1 would mislead)."""
    target, guess = check_value_inputs(y, pred)
    err = guess - target
    sst = float(np.sum((target - target.mean()) ** 2))
    constant = np.ptp(target) == 0 or np.ptp(guess) == 0
    return {
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mae": float(np.mean(np.abs(err))),
        "r2": float(1.0 - np.sum(err**2) / sst) if sst > 0 else None,
        "spearman": None if constant else float(spearmanr(target, guess).statistic),
        "n": int(target.shape[0]),
    }


def fit_value_calibrator(method: str, pred: Any, y: Any) -> dict[str, Any]:
    """Fit ``method`` on held-out predictions and targets and return its JSON-ready parameters.

    ``linear`` fixes a shifted or shrunk scale (y ≈ slope * pred + intercept); ``isotonic`` any
    monotone distortion. A constant ``pred`` carries no slope, so linear then returns the identity
    with a warning rather than failing a finished training run.
    """
    method = check_method(method, VALUE_METHODS, "value ")
    target, guess = check_value_inputs(y, pred)
    if method == "none":
        return {"method": "none"}
    if method == "linear":
        if np.ptp(guess) == 0:
            warnings.warn(
                "linear calibration needs varying predictions; using the identity",
                UserWarning,
                stacklevel=2,
            )
            return {"method": "linear", "slope": 1.0, "intercept": 0.0}
        slope, intercept = np.polyfit(guess, target, 1)
        return {"method": "linear", "slope": float(slope), "intercept": float(intercept)}
    iso = IsotonicRegression(out_of_bounds="clip", increasing=True)
    iso.fit(guess, target)
    return {
        "method": "isotonic",
        "x": [float(v) for v in iso.X_thresholds_],
        "y": [float(v) for v in iso.y_thresholds_],
    }


def validate_value_calibrator(d: Any) -> dict[str, Any]:
    """Check a calibrator dict read from a (possibly untrusted) model folder; return a clean copy.

    Raises ValueError naming the wrong field, so a damaged file fails at load time instead of
    shifting every prediction silently.
    """
    if not isinstance(d, dict):
        raise ValueError(f"value calibrator must be a JSON object, got {type(d).__name__}")
    if "method" not in d:
        raise ValueError(f"value calibrator has no 'method' (allowed: {', '.join(VALUE_METHODS)})")
    method = check_method(d["method"], VALUE_METHODS, "value ")
    if method == "none":
        return {"method": "none"}
    if method == "linear":
        return {
            "method": "linear",
            "slope": number_field(d, "slope"),
            "intercept": number_field(d, "intercept"),
        }
    x, y = isotonic_points(d)
    return {"method": "isotonic", "x": x, "y": y}


def apply_value_calibrator(calibrator: dict[str, Any], pred: Any) -> np.ndarray:
    """Calibrated prediction for each value (validates the dict first, so it is safe on loaded files).

    Accepts a single prediction too: scoring one applicant is a normal use.
    """
    cal = validate_value_calibrator(calibrator)
    guess = np.asarray(pred, dtype=float).reshape(-1)
    if not np.all(np.isfinite(guess)):
        raise ValueError("pred contains NaN or infinite values")
    if cal["method"] == "linear":
        return cal["slope"] * guess + cal["intercept"]
    if cal["method"] == "isotonic":
        return np.interp(guess, cal["x"], cal["y"])
    return guess.copy()


def _method_name(calibration: Any) -> str | None:
    if isinstance(calibration, dict):
        return calibration.get("method")
    return None if calibration is None else str(calibration)


def regression_block(
    y: Any,
    preds: dict[str, Any],
    *,
    main: str,
    target: str,
    raw: Any | None = None,
    calibration: dict[str, Any] | str | None = None,
    groups: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The metrics block a regression run writes: every model's metrics, the shipped (``main``)
    model's headline, residual quantiles (actual - predicted, so positive = under-predicted), its
    errors per protected column in ``groups``, and, when ``raw`` (main's uncalibrated predictions) is given, RMSE and MAE before and after."""
    if main not in preds:
        raise ValueError(f"main model {main!r} has no predictions; models: {', '.join(preds)}")
    actual, guess = check_value_inputs(y, preds[main])
    models = {name: regression_metrics(actual, p) for name, p in preds.items()}
    out: dict[str, Any] = {"task": "regression", "target": str(target), **models[main], "models": models}
    if raw is not None:
        before = regression_metrics(actual, raw)
        out["calibration"] = {
            "method": _method_name(calibration),
            "model": main,
            "before": {key: before[key] for key in ("rmse", "mae")},
            "after": {key: models[main][key] for key in ("rmse", "mae")},
        }
    residual = actual - guess
    p05, p50, p95 = np.percentile(residual, [5, 50, 95])
    out["residuals"] = {
        "mean": float(residual.mean()),
        "p05": float(p05),
        "p50": float(p50),
        "p95": float(p95),
    }
    out["fairness"] = [
        outcome_fairness(column, actual, guess, name, "regression") for name, column in (groups or {}).items()
    ]
    out["shipped"] = main
    return out
