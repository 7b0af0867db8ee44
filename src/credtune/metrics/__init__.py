"""Pure numeric credit evaluation: discrimination, calibration, scorecards, stability and fairness,
for binary (PD), multiclass (grades, products) and regression (rates) targets."""

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
from credtune.metrics.fairness import fairness_table, outcome_fairness
from credtune.metrics.multiclass import (
    CLASS_METHODS,
    apply_class_calibrator,
    confusion,
    fit_class_calibrator,
    multiclass_block,
    multiclass_metrics,
    validate_class_calibrator,
)
from credtune.metrics.regression import (
    VALUE_METHODS,
    apply_value_calibrator,
    fit_value_calibrator,
    regression_block,
    regression_metrics,
    validate_value_calibrator,
)
from credtune.metrics.scorecard import choose_threshold, decision_summary, pd_to_points
from credtune.metrics.stability import characteristic_stability, psi, psi_reading


def credit_metric_path() -> str:
    """Folder of the offline `evaluate` metric module, for ``evaluate.load(credit_metric_path())``."""
    return str(Path(__file__).resolve().parent / "credit_metrics")


__all__ = [
    "both_classes",
    "CLASS_METHODS",
    "METHODS",
    "VALUE_METHODS",
    "apply_calibrator",
    "apply_class_calibrator",
    "apply_value_calibrator",
    "characteristic_stability",
    "choose_threshold",
    "compare_repeats",
    "confusion",
    "credit_metric_path",
    "credit_metrics",
    "decile_table",
    "decision_summary",
    "expected_calibration_error",
    "fairness_table",
    "outcome_fairness",
    "fit_calibrator",
    "fit_class_calibrator",
    "fit_value_calibrator",
    "ks_curve",
    "logit",
    "multiclass_block",
    "multiclass_metrics",
    "pd_to_points",
    "psi",
    "psi_reading",
    "regression_block",
    "regression_metrics",
    "roc_points",
    "sigmoid",
    "validate_calibrator",
    "validate_class_calibrator",
    "validate_value_calibrator",
]
