"""`evaluate` wrapper around credtune's credit metrics, loadable offline from this folder:

    evaluate.load(credtune.metrics.credit_metric_path())

The maths lives in credtune.metrics.core (evaluate treats the absolute import as a library
dependency, so the package must be installed - it is whenever this file is found).
"""

import datasets
import evaluate

from credtune.metrics.core import credit_metrics

_DESCRIPTION = (
    "Credit-risk scorecard metrics for a binary default model: AUC, Gini, KS (and the PD where it peaks), "
    "PR-AUC, Brier score, log loss, expected calibration error, n and the observed default rate."
)
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of float): predicted probability of default (PD) of the positive class, in [0, 1].
    references (list of int): observed outcome, 1 = default (bad), 0 = good.
Returns:
    dict with auc, gini, ks, ks_threshold, pr_auc (None when only one class is present), brier, log_loss,
    ece, n, positive_rate.
"""
_CITATION = ""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class CreditMetrics(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("float32"), "references": datasets.Value("int32")}
            ),
        )

    def _compute(self, predictions, references):
        return credit_metrics(references, predictions)
