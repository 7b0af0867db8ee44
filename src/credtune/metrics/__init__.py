"""Pure numeric credit evaluation: discrimination, calibration, scorecards, stability and fairness."""

from __future__ import annotations

from pathlib import Path

from credtune.metrics.calibration import METHODS, apply_calibrator, fit_calibrator, validate_calibrator
from credtune.metrics.comparison import compare_repeats
from credtune.metrics.core import (
    both_classes,
    credit_metrics,
    decile_table,
    expected_calibration_error,
    ks_curve,
    logit,
    roc_points,
    sigmoid,
)
from credtune.metrics.fairness import fairness_table
from credtune.metrics.scorecard import choose_threshold, decision_summary, pd_to_points
from credtune.metrics.stability import characteristic_stability, psi, psi_reading


def credit_metric_path() -> str:
    """Folder of the offline `evaluate` metric module, for ``evaluate.load(credit_metric_path())``."""
    return str(Path(__file__).resolve().parent / "credit_metrics")


__all__ = [
    "both_classes",
    "METHODS",
    "apply_calibrator",
    "characteristic_stability",
    "choose_threshold",
    "compare_repeats",
    "credit_metric_path",
    "credit_metrics",
    "decile_table",
    "decision_summary",
    "expected_calibration_error",
    "fairness_table",
    "fit_calibrator",
    "ks_curve",
    "logit",
    "pd_to_points",
    "psi",
    "psi_reading",
    "roc_points",
    "sigmoid",
    "validate_calibrator",
]
