"""Metrics and temperature calibration for a target with K classes (risk grades, product lines).

Labels are class indices 0..K-1 and ``proba`` is an (n, K) matrix whose rows sum to 1. Grades such
as A-G are *ordered*: a B predicted as C is a smaller miss than an A predicted as G, which accuracy
cannot see, so ordered targets also get quadratic weighted kappa and the mean grade distance.
Everything returns plain Python numbers and lists so results go straight into JSON reports.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp, softmax
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from credtune.metrics.calibration import check_method, number_field
from credtune.metrics.core import LOG_LOSS_EPS, expected_calibration_error
from credtune.metrics.fairness import outcome_fairness

CLASS_METHODS = ("none", "temperature")
_LOG_T_BOUNDS = (-7.0, 7.0)  # same search range as the binary temperature calibrator
_ROW_SUM_TOL = 1e-3  # float32 softmax rows miss 1 by ~1e-7; anything far off is not a distribution


def _as_matrix(values: Any, name: str, min_rows: int = 2) -> np.ndarray:
    """An (n, K) float matrix with n >= min_rows and K >= 2, all finite."""
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold numbers") from None
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (rows, classes), got shape {a.shape}")
    if a.shape[0] < min_rows:
        raise ValueError(f"{name} has {a.shape[0]} row(s); at least {min_rows} are needed")
    if a.shape[1] < 2:
        raise ValueError(f"{name} has {a.shape[1]} column(s); a multiclass target needs at least 2 classes")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _as_classes(y: Any, n: int, k: int, name: str = "y") -> np.ndarray:
    """Integer class indices in 0..k-1, one per row."""
    lab = np.asarray(y).reshape(-1)
    if lab.shape[0] != n:
        raise ValueError(f"{name} has {lab.shape[0]} values but the scores have {n} rows")
    try:
        num = lab.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold integer class indices 0..{k - 1}") from None
    bad = ~np.isfinite(num) | (num != np.round(num)) | (num < 0) | (num > k - 1)
    if bad.any():
        raise ValueError(f"{name} must hold integer class indices 0..{k - 1}, found {lab[bad][:5].tolist()}")
    return num.astype(int)


def check_class_inputs(y: Any, proba: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate once so every metric can assume valid indices and probability rows that sum to 1."""
    prob = _as_matrix(proba, "proba")
    if prob.min() < 0.0 or prob.max() > 1.0:
        raise ValueError(f"proba must lie in [0, 1], got range [{prob.min():.4g}, {prob.max():.4g}]")
    sums = prob.sum(axis=1)
    worst = int(np.argmax(np.abs(sums - 1.0)))
    if abs(sums[worst] - 1.0) > _ROW_SUM_TOL:
        raise ValueError(f"proba rows must sum to 1, row {worst} sums to {sums[worst]:.4g}")
    return _as_classes(y, prob.shape[0], prob.shape[1]), prob


def _ovr_auc(y: np.ndarray, prob: np.ndarray) -> float | None:
    """Macro one-vs-rest AUC over the classes that have both members and non-members in ``y``."""
    aucs = [
        float(roc_auc_score(y == c, prob[:, c]))
        for c in range(prob.shape[1])
        if 0 < int((y == c).sum()) < y.shape[0]
    ]
    return float(np.mean(aucs)) if len(aucs) >= 2 else None


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def multiclass_metrics(y: Any, proba: Any, ordered: bool = False) -> dict[str, float | int | None]:
    """Headline metrics of one model; ``auc`` is None when fewer than 2 classes can be ranked, and
    ``qwk`` (ordered only) is None when kappa is undefined (one class in truth and predictions)."""
    lab, prob = check_class_inputs(y, proba)
    k = prob.shape[1]
    pred = prob.argmax(axis=1)
    picked = np.clip(prob[np.arange(lab.shape[0]), lab], LOG_LOSS_EPS, 1.0)
    out: dict[str, float | int | None] = {
        "accuracy": float(np.mean(pred == lab)),
        "macro_f1": float(f1_score(lab, pred, labels=range(k), average="macro", zero_division=0)),
        "auc": _ovr_auc(lab, prob),
        "log_loss": float(-np.mean(np.log(picked))),
        "ece": expected_calibration_error((pred == lab).astype(float), prob.max(axis=1)),
        "n": int(lab.shape[0]),
    }
    if ordered:
        with warnings.catch_warnings():  # 0/0 kappa warns before it returns NaN; NaN becomes None
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            kappa = cohen_kappa_score(lab, pred, weights="quadratic", labels=list(range(k)))
        out["qwk"] = _finite(float(kappa))
        out["mae_grade"] = float(np.mean(np.abs(pred - lab)))
    return out


def confusion(y: Any, pred: Any, k: int) -> list[list[int]]:
    """Counts with rows = actual class and columns = predicted class, for all ``k`` classes."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise ValueError(f"the number of classes must be an integer >= 2, got {k!r}")
    guess = _as_classes(pred, np.asarray(pred).reshape(-1).shape[0], int(k), "pred")
    lab = _as_classes(y, guess.shape[0], int(k))
    return [[int(c) for c in row] for row in confusion_matrix(lab, guess, labels=list(range(int(k))))]


def fit_class_calibrator(method: str, logits: Any, y: Any) -> dict[str, Any]:
    """Fit one temperature T on held-out logits by minimizing the NLL of softmax(logits / T).

    A single temperature keeps the argmax (so accuracy and the confusion matrix are unchanged) and
    only fixes over- or under-confidence. With one class in ``y`` the fit is degenerate, so T = 1 is
    returned with a warning rather than failing a finished training run.
    """
    method = check_method(method, CLASS_METHODS, "multiclass ")
    z = _as_matrix(logits, "logits")
    lab = _as_classes(y, z.shape[0], z.shape[1])
    if method == "none":
        return {"method": "none"}
    if np.unique(lab).size < 2:
        warnings.warn(
            "temperature calibration needs at least 2 classes in y; using temperature 1",
            UserWarning,
            stacklevel=2,
        )
        return {"method": "temperature", "temperature": 1.0}
    rows = np.arange(lab.shape[0])

    def nll(log_t: float) -> float:
        s = z / math.exp(log_t)
        return float(np.mean(logsumexp(s, axis=1) - s[rows, lab]))

    res = minimize_scalar(nll, bounds=_LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-6})
    return {"method": "temperature", "temperature": float(math.exp(res.x))}


def validate_class_calibrator(d: Any) -> dict[str, Any]:
    """Check a calibrator dict read from a (possibly untrusted) model folder; return a clean copy."""
    if not isinstance(d, dict):
        raise ValueError(f"multiclass calibrator must be a JSON object, got {type(d).__name__}")
    if "method" not in d:
        raise ValueError(f"multiclass calibrator has no 'method' (allowed: {', '.join(CLASS_METHODS)})")
    if check_method(d["method"], CLASS_METHODS, "multiclass ") == "none":
        return {"method": "none"}
    t = number_field(d, "temperature")
    if t <= 0:
        raise ValueError(f"temperature must be > 0, got {t}")
    return {"method": "temperature", "temperature": t}


def apply_class_calibrator(calibrator: dict[str, Any], logits: Any) -> np.ndarray:
    """Calibrated (n, K) probabilities; validates the dict first, so it is safe on loaded files.

    A single row is fine here: scoring one applicant is a normal use.
    """
    cal = validate_class_calibrator(calibrator)
    z = _as_matrix(logits, "logits", min_rows=1)
    if cal["method"] == "temperature":
        z = z / cal["temperature"]
    return softmax(z, axis=1)  # scipy subtracts the row max, so huge logits do not overflow


def _method_name(calibration: Any) -> str | None:
    if isinstance(calibration, dict):
        return calibration.get("method")
    return None if calibration is None else str(calibration)


def per_class_table(y: np.ndarray, pred: np.ndarray, classes: list[str]) -> list[dict[str, Any]]:
    """Support, precision, recall and F1 of every class, so a rare class the model ignores shows up."""
    labels = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    return [
        {
            "class": str(name),
            "n": int(support[i]),
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
        }
        for i, name in enumerate(classes)
    ]


def multiclass_block(
    y: Any,
    probas: dict[str, Any],
    *,
    main: str,
    classes: list[str],
    ordered: bool,
    raw: Any | None = None,
    calibration: dict[str, Any] | str | None = None,
    groups: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The metrics block a multiclass run writes: every model's metrics, the shipped (``main``)
    model's headline, confusion matrix and per-class table, its errors per protected column in
    ``groups``, and, when ``raw`` (main's uncalibrated probabilities) is given, log loss and ECE
    before and after calibration on the same rows."""
    if main not in probas:
        raise ValueError(f"main model {main!r} has no probabilities; models: {', '.join(probas)}")
    lab, prob = check_class_inputs(y, probas[main])
    if len(classes) != prob.shape[1]:
        raise ValueError(f"{len(classes)} class names given but proba has {prob.shape[1]} columns")
    models = {name: multiclass_metrics(lab, p, ordered) for name, p in probas.items()}
    pred = prob.argmax(axis=1)
    out: dict[str, Any] = {
        "task": "multiclass",
        "classes": [str(c) for c in classes],
        "ordered": bool(ordered),
        **models[main],
        "models": models,
    }
    if raw is not None:
        before = multiclass_metrics(lab, raw)
        out["calibration"] = {
            "method": _method_name(calibration),
            "model": main,
            "before": {key: before[key] for key in ("log_loss", "ece")},
            "after": {key: models[main][key] for key in ("log_loss", "ece")},
        }
    out["confusion"] = confusion(lab, pred, prob.shape[1])
    out["per_class"] = per_class_table(lab, pred, out["classes"])
    out["fairness"] = [
        outcome_fairness(column, lab, prob, name, "multiclass", ordered)
        for name, column in (groups or {}).items()
    ]
    out["shipped"] = main
    return out
