"""How long the ffn student's fit on 0/1 labels takes: `head.ridge_labels` against the
`LogisticRegressionCV` it replaced (round 15), on Taiwan-sized folds (3,840 rows, 1,536 features,
22% positive, a few informative directions), three runs each, and the AUC each reaches on 2,000
held-out rows of the same kind.

    .venv/bin/python scripts/experiments/label_student_timing.py
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.metrics import roc_auc_score

from credtune.head import CS, ridge_labels


def logistic_cv(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegressionCV

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        fit = LogisticRegressionCV(Cs=CS, cv=3, scoring="roc_auc", max_iter=3000).fit(x, y.astype(int))
    return np.ravel(fit.coef_), float(np.ravel(fit.intercept_)[0])


def main() -> None:
    rng = np.random.default_rng(0)
    rows, held, width = 3840, 2000, 1536
    basis = rng.standard_normal((64, width))
    x = rng.standard_normal((rows + held, 64)) @ basis + 2.0 * rng.standard_normal((rows + held, width))
    x = (x - x[:rows].mean(0)) / x[:rows].std(0)
    margin = x[:, :8] @ rng.standard_normal(8) * 0.4 - 1.4
    y = (rng.random(rows + held) < 1 / (1 + np.exp(-margin))).astype(float)
    fits = {"ridge_labels": lambda a, b: ridge_labels(a, b)[:2], "LogisticRegressionCV": logistic_cv}
    for name, fit in fits.items():
        seconds = []
        for _ in range(3):
            started = time.perf_counter()
            weight, bias = fit(x[:rows], y[:rows])
            seconds.append(time.perf_counter() - started)
        auc = roc_auc_score(y[rows:], x[rows:] @ weight + bias)
        print(f"{name:22s} {' '.join(f'{s:.2f}' for s in seconds)} s, held-out AUC {auc:.4f}", flush=True)


if __name__ == "__main__":
    main()
