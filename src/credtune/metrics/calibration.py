"""Post-hoc PD calibrators stored as small JSON dicts (model files are shared, so never pickled).

Each calibrator maps the binary logit margin z = logit_bad - logit_good to a PD. Raw PD = sigmoid(z).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from credtune.errors import did_you_mean

METHODS = ("none", "temperature", "platt", "isotonic")
_LOG_T_BOUNDS = (-7.0, 7.0)  # T in [~0.001, ~1100]: wide enough for any sane model
_MAX_POINTS = 1_000_000  # isotonic tables read from untrusted files must stay small


def _as_margin(margin: Any) -> np.ndarray:
    z = np.asarray(margin, dtype=float).reshape(-1)
    if not np.all(np.isfinite(z)):
        raise ValueError("margin contains NaN or infinite values")
    return z


def _as_labels(y: Any, n: int) -> np.ndarray:
    lab = np.asarray(y, dtype=float).reshape(-1)
    if lab.shape[0] != n:
        raise ValueError(f"margin has {n} values but y has {lab.shape[0]}")
    if not np.all(np.isin(lab, (0.0, 1.0))):
        raise ValueError("y must contain only 0 (good) and 1 (bad)")
    return lab


def _identity(method: str) -> dict[str, Any]:
    if method == "temperature":
        return {"method": "temperature", "temperature": 1.0}
    if method == "platt":
        return {"method": "platt", "a": 1.0, "b": 0.0}
    if method == "isotonic":
        return {"method": "isotonic", "x": [0.0, 1.0], "y": [0.0, 1.0]}
    return {"method": "none"}


def check_method(method: Any, allowed: tuple[str, ...] = METHODS, kind: str = "") -> str:
    """`method` if it is one of `allowed` (the binary, multiclass or value methods), else one line."""
    if method not in allowed:
        raise ValueError(
            f"unknown {kind}calibration method {method!r}{did_you_mean(str(method), allowed)}; "
            f"allowed: {', '.join(allowed)}"
        )
    return str(method)


def fit_calibrator(method: str, margin: Any, y: Any) -> dict[str, Any]:
    """Fit ``method`` on held-out margins and labels and return its JSON-ready parameters.

    With a single class in ``y`` nothing can be learned, so the identity calibrator of that method is
    returned with a warning rather than failing a finished training run.
    """
    method = check_method(method)
    z = _as_margin(margin)
    lab = _as_labels(y, z.shape[0])
    if method == "none":
        return {"method": "none"}
    if z.shape[0] == 0 or not 0 < lab.sum() < lab.shape[0]:
        warnings.warn(
            f"{method} calibration needs both classes in y; using the identity calibrator",
            UserWarning,
            stacklevel=2,
        )
        return _identity(method)
    if method == "temperature":

        def nll(log_t: float) -> float:
            s = z / math.exp(log_t)
            return float(np.mean(np.logaddexp(0.0, s) - lab * s))

        res = minimize_scalar(nll, bounds=_LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-6})
        return {"method": "temperature", "temperature": float(math.exp(res.x))}
    if method == "platt":
        # Tiny L2 keeps (a, b) finite when the margin separates the classes perfectly.
        lr = LogisticRegression(C=1e4, max_iter=1000)
        lr.fit(z.reshape(-1, 1), lab.astype(int))
        return {"method": "platt", "a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0, increasing=True)
    iso.fit(expit(z), lab)
    return {
        "method": "isotonic",
        "x": [float(v) for v in iso.X_thresholds_],
        "y": [float(v) for v in iso.y_thresholds_],
    }


def number_field(d: dict[str, Any], key: str) -> float:
    if key not in d:
        raise ValueError(f"{d['method']} calibrator is missing '{key}'")
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{d['method']} calibrator '{key}' must be a finite number, got {v!r}")
    return float(v)


def number_list_field(d: dict[str, Any], key: str) -> list[float]:
    v = d.get(key)
    if not isinstance(v, list) or not v:
        raise ValueError(f"isotonic calibrator '{key}' must be a non-empty list of numbers")
    if len(v) > _MAX_POINTS:
        raise ValueError(f"isotonic calibrator '{key}' has {len(v)} points (max {_MAX_POINTS})")
    for item in v:
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
            raise ValueError(f"isotonic calibrator '{key}' must hold finite numbers, found {item!r}")
    return [float(item) for item in v]


def validate_calibrator(d: Any) -> dict[str, Any]:
    """Check a calibrator dict read from a (possibly untrusted) model file; return a clean copy.

    Raises ValueError with a message that says which field is wrong, so a bad file fails at load
    time instead of producing silent garbage PDs.
    """
    if not isinstance(d, dict):
        raise ValueError(f"calibrator must be a JSON object, got {type(d).__name__}")
    if "method" not in d:
        raise ValueError(f"calibrator has no 'method' (allowed: {', '.join(METHODS)})")
    method = check_method(d["method"])
    if method == "none":
        return {"method": "none"}
    if method == "temperature":
        t = number_field(d, "temperature")
        if t <= 0:
            raise ValueError(f"temperature must be > 0, got {t}")
        return {"method": "temperature", "temperature": t}
    if method == "platt":
        return {"method": "platt", "a": number_field(d, "a"), "b": number_field(d, "b")}
    x, y = isotonic_points(d)
    if min(y) < 0.0 or max(y) > 1.0:
        raise ValueError("isotonic calibrator 'y' values must lie in [0, 1]")
    return {"method": "isotonic", "x": x, "y": y}


def isotonic_points(d: dict[str, Any]) -> tuple[list[float], list[float]]:
    """An isotonic map's thresholds: as many x as y, x ascending, y non-decreasing."""
    x, y = number_list_field(d, "x"), number_list_field(d, "y")
    if len(x) != len(y):
        raise ValueError(f"isotonic calibrator 'x' has {len(x)} points but 'y' has {len(y)}")
    if any(b < a for a, b in zip(x, x[1:])):
        raise ValueError("isotonic calibrator 'x' must be sorted ascending")
    if any(b < a for a, b in zip(y, y[1:])):
        raise ValueError("isotonic calibrator 'y' must be non-decreasing")
    return x, y


def apply_calibrator(calibrator: dict[str, Any], margin: Any) -> np.ndarray:
    """Calibrated PD for each margin (validates the dict first, so it is safe on loaded files)."""
    cal = validate_calibrator(calibrator)
    z = _as_margin(margin)
    method = cal["method"]
    if method == "temperature":
        return expit(z / cal["temperature"])
    if method == "platt":
        return expit(cal["a"] * z + cal["b"])
    if method == "isotonic":
        return np.interp(expit(z), cal["x"], cal["y"])
    return expit(z)
