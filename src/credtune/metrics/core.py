"""Discrimination and calibration numbers a credit risk team reads, computed from labels and PDs.

Labels follow the credit convention: 1 = bad (default), 0 = good; ``p`` is the predicted PD.
Everything returns plain Python numbers and lists so results go straight into JSON reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

LOG_LOSS_EPS = 1e-15
ECE_BINS = 10


def check_inputs(y_true: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate once so every metric can assume 0/1 labels and finite PDs in [0, 1] of equal length."""
    y = np.asarray(y_true).reshape(-1)
    prob = np.asarray(p, dtype=float).reshape(-1)
    if y.shape[0] != prob.shape[0]:
        raise ValueError(f"y_true has {y.shape[0]} values but p has {prob.shape[0]}")
    if y.shape[0] == 0:
        raise ValueError("cannot compute credit metrics on an empty set")
    if not np.all(np.isfinite(prob)):
        raise ValueError("p contains NaN or infinite values")
    if prob.min() < 0.0 or prob.max() > 1.0:
        raise ValueError(f"p must be probabilities in [0, 1], got range [{prob.min():.4g}, {prob.max():.4g}]")
    try:
        y_num = y.astype(float)
    except (TypeError, ValueError):
        raise ValueError("y_true must contain only 0 (good) and 1 (bad)") from None
    if not np.all(np.isin(y_num, (0.0, 1.0))):
        raise ValueError(f"y_true must contain only 0 (good) and 1 (bad), got {sorted(set(y.tolist()))[:5]}")
    return y_num.astype(int), prob


def sigmoid(z: Any) -> np.ndarray:
    """PD from a logit margin (clipped, so huge margins give 0 or 1 without overflow warnings)."""
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(z, dtype=float), -40, 40)))


def logit(p: Any) -> np.ndarray:
    """Log-odds of a PD, clipped to [1e-6, 1 - 1e-6] so certain predictions stay finite."""
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def both_classes(y: Any) -> bool:
    """True when labels hold goods and bads alike (AUC, KS and ROC need both)."""
    if y is None:
        return False
    y = np.asarray(y)
    return 0 < int(y.sum()) < y.shape[0]


def _ks(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Two-sample KS between the PD distributions of bads and goods, and the PD cut where it peaks.

    The cut reads "flag as bad when PD >= threshold"; it is the point of widest separation.
    """
    fpr, tpr, thresholds = roc_curve(y, p, drop_intermediate=False)
    gap = np.abs(tpr[1:] - fpr[1:])  # drop the (0, 0) point whose threshold is +inf
    i = int(np.argmax(gap))
    return float(gap[i]), float(thresholds[1:][i])


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Count-weighted mean |observed bad rate - mean PD| over equal-width PD bins."""
    idx = np.minimum((p * bins).astype(int), bins - 1)
    counts = np.bincount(idx, minlength=bins)
    sum_y = np.bincount(idx, weights=y, minlength=bins)
    sum_p = np.bincount(idx, weights=p, minlength=bins)
    filled = counts > 0
    gaps = np.abs(sum_y[filled] - sum_p[filled])  # = count * |mean_y - mean_p|
    return float(gaps.sum() / y.shape[0])


def credit_metrics(y_true: Any, p: Any) -> dict[str, float | int | None]:
    """All headline metrics in one dict; the ones that need both classes are None when a class is absent,
    so a tiny or one-sided split still yields calibration numbers instead of an exception."""
    y, prob = check_inputs(y_true, p)
    out: dict[str, float | int | None] = {}
    if both_classes(y):
        auc = float(roc_auc_score(y, prob))
        ks, ks_threshold = _ks(y, prob)
        out.update(
            auc=auc,
            gini=2.0 * auc - 1.0,
            ks=ks,
            ks_threshold=ks_threshold,
            pr_auc=float(average_precision_score(y, prob)),
        )
    else:
        out.update(auc=None, gini=None, ks=None, ks_threshold=None, pr_auc=None)
    clipped = np.clip(prob, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
    out["brier"] = float(np.mean((prob - y) ** 2))
    out["log_loss"] = float(-np.mean(y * np.log(clipped) + (1 - y) * np.log1p(-clipped)))
    out["ece"] = expected_calibration_error(y, prob)
    out["n"] = int(y.shape[0])
    out["positive_rate"] = float(y.mean())
    return out


def decile_table(y_true: Any, p: Any, bins: int = 10) -> list[dict[str, Any]]:
    """Gains table: applicants ranked by PD (riskiest first) in ``bins`` near-equal groups.

    Shows how many bads a cut-off at each band would catch (cum_capture) and how concentrated the
    risk is (lift), which is how credit committees judge a ranking. Applicants with the same PD
    always share a band (a band is cut only between different PDs), so the table does not depend
    on the order of the rows; heavy ties give fewer, larger bands.
    """
    if int(bins) < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    y, prob = check_inputs(y_true, p)
    order = np.argsort(-prob, kind="stable")
    ranked = prob[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])  # first position of each PD value
    band_of_group = (starts * int(bins)) // y.shape[0]
    band = np.repeat(band_of_group, np.diff(np.r_[starts, y.shape[0]]))
    total_bad = int(y.sum())
    overall = total_bad / y.shape[0]
    rows: list[dict[str, Any]] = []
    captured = 0
    for b in np.unique(band):
        chunk = order[band == b]
        bad = int(y[chunk].sum())
        captured += bad
        rate = bad / chunk.size
        rows.append(
            {
                "decile": len(rows) + 1,
                "count": int(chunk.size),
                "min_pd": float(prob[chunk].min()),
                "max_pd": float(prob[chunk].max()),
                "bad_count": bad,
                "bad_rate": float(rate),
                "cum_capture": float(captured / total_bad) if total_bad else None,
                "lift": float(rate / overall) if overall > 0 else None,
            }
        )
    return rows


def _finite_or_none(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values]


def roc_points(y_true: Any, p: Any) -> dict[str, list[float | None]]:
    """ROC curve as plain lists for plotting/JSON; the first threshold (+inf in sklearn) is None."""
    y, prob = check_inputs(y_true, p)
    if not both_classes(y):
        return {"fpr": [], "tpr": [], "threshold": []}
    fpr, tpr, thr = roc_curve(y, prob)
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "threshold": _finite_or_none(thr)}


def ks_curve(y_true: Any, p: Any) -> dict[str, list[float]]:
    """Cumulative share of bads and goods flagged (PD >= threshold) at each distinct PD, highest first."""
    y, prob = check_inputs(y_true, p)
    if not both_classes(y):
        return {"threshold": [], "cum_bad": [], "cum_good": [], "gap": []}
    fpr, tpr, thr = (a[1:] for a in roc_curve(y, prob, drop_intermediate=False))
    return {
        "threshold": thr.tolist(),
        "cum_bad": tpr.tolist(),
        "cum_good": fpr.tolist(),
        "gap": np.abs(tpr - fpr).tolist(),
    }
