"""Turn PDs into scorecard points and approve/decline decisions the business can act on.

Decision rule everywhere: approve when PD < threshold. Labels: 1 = bad, 0 = good.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from credtune.metrics.core import check_inputs

_PD_EPS = 1e-9


def pd_to_points(p: Any, base: float = 600, odds: float = 50, pdo: float = 20) -> np.ndarray | float:
    """Classic log-odds scaling: ``base`` points at good:bad odds of ``odds``, +``pdo`` per doubling.

    PDs are clipped away from 0 and 1 so certain predictions give large but finite scores.
    """
    if odds <= 0 or pdo <= 0:
        raise ValueError(f"odds and pdo must be > 0, got odds={odds}, pdo={pdo}")
    factor = pdo / math.log(2.0)
    offset = base - factor * math.log(odds)
    prob = np.clip(np.asarray(p, dtype=float), _PD_EPS, 1.0 - _PD_EPS)
    points = offset + factor * np.log((1.0 - prob) / prob)
    return float(points) if points.ndim == 0 else points


def _summary(
    y: np.ndarray, p: np.ndarray, threshold: float, cost_bad: float, cost_good: float, rule: str
) -> dict[str, Any]:
    approved = p < threshold
    n = y.shape[0]
    approved_bad = int(np.sum(approved & (y == 1)))
    approved_good = int(np.sum(approved & (y == 0)))
    rejected_bad = int(np.sum(~approved & (y == 1)))
    rejected_good = int(np.sum(~approved & (y == 0)))
    n_approved = approved_bad + approved_good
    return {
        "threshold": float(threshold),
        "rule": rule,
        "approval_rate": n_approved / n,
        "bad_rate_approved": approved_bad / n_approved if n_approved else None,
        "confusion": {
            "approved_good": approved_good,
            "approved_bad": approved_bad,
            "rejected_good": rejected_good,
            "rejected_bad": rejected_bad,
        },
        "expected_cost": (cost_bad * approved_bad + cost_good * rejected_good) / n,
    }


def _check_costs(cost_bad_approved: float, cost_good_rejected: float) -> None:
    if cost_bad_approved < 0 or cost_good_rejected < 0:
        raise ValueError("misclassification costs must be >= 0")


def choose_threshold(
    y: Any,
    p: Any,
    cost_bad_approved: float = 5.0,
    cost_good_rejected: float = 1.0,
    approval_rate: float | None = None,
) -> dict[str, Any]:
    """Pick the PD cut-off on validation data, either to hit a target approval rate or to minimise cost.

    ``expected_cost`` is the average cost per applicant (cost_bad_approved * approved bads +
    cost_good_rejected * rejected goods, divided by n). Cost ties go to the higher approval rate.
    """
    _check_costs(cost_bad_approved, cost_good_rejected)
    lab, prob = check_inputs(y, p)
    sorted_p = np.sort(prob)
    n = sorted_p.shape[0]
    if approval_rate is not None:
        if not 0.0 <= approval_rate <= 1.0:
            raise ValueError(f"approval_rate must be in [0, 1], got {approval_rate}")
        k = int(round(approval_rate * n))
        if k == 0:
            threshold = float(sorted_p[0])
        elif k == n:
            threshold = max(1.0, float(np.nextafter(sorted_p[-1], np.inf)))
        elif sorted_p[k - 1] < sorted_p[k]:
            threshold = float((sorted_p[k - 1] + sorted_p[k]) / 2.0)  # midpoint generalises to new data
        else:
            threshold = float(sorted_p[k])  # ties at the cut are all declined
        return _summary(lab, prob, threshold, cost_bad_approved, cost_good_rejected, "approval_rate")

    candidates = np.unique(np.append(prob, 1.0))
    order = np.argsort(prob, kind="stable")
    bads_sorted = np.concatenate([[0], np.cumsum(lab[order])])  # bads among the i lowest PDs
    n_approved = np.searchsorted(sorted_p, candidates, side="left")
    approved_bad = bads_sorted[n_approved]
    rejected_good = (n - int(lab.sum())) - (n_approved - approved_bad)
    cost = cost_bad_approved * approved_bad + cost_good_rejected * rejected_good
    best = np.flatnonzero(cost == cost.min())[-1]  # highest threshold among ties = most approvals
    return _summary(lab, prob, float(candidates[best]), cost_bad_approved, cost_good_rejected, "cost")


def decision_summary(
    y: Any,
    p: Any,
    threshold: float,
    cost_bad_approved: float = 5.0,
    cost_good_rejected: float = 1.0,
) -> dict[str, Any]:
    """The same report as ``choose_threshold`` for a fixed cut-off, e.g. one chosen on validation
    and applied to the test split, so the two are directly comparable."""
    _check_costs(cost_bad_approved, cost_good_rejected)
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold}")
    lab, prob = check_inputs(y, p)
    return _summary(lab, prob, threshold, cost_bad_approved, cost_good_rejected, "fixed")
