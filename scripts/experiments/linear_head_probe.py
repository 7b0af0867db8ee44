"""Is the trained head the weak link of the frozen encoder? A probe, 3 x 5 folds.

With every layer frozen, the head sees one fixed vector per row (the mean of MiniLM's top-layer
states) and is trained by AdamW for 10 epochs at 1e-3. Round 8's linear probe, an L2 logistic
regression with its penalty chosen by inner cross-validation, read 0.772 out-of-fold AUC from the
same vectors on German credit, more than the shipped transformer alone (0.768, taught by the
baselines). Here, on the same vectors and folds, heads fitted in closed form on the standardized
mean of each row:

- `labels`: logistic regression on the labels, C by inner 3-fold AUC (round 8's probe);
- `teachers`: ridge regression on the log-odds of the baselines' cross-fitted PD (the shipped
  recipe's teachers: logistic, scorecard, LightGBM; `distill.folds: 3`, weight 1.0), alpha by
  generalized cross-validation (efficient leave-one-out);
- `teachers, soft`: logistic regression on the teachers' PD as a soft label (each row twice, as a
  default and as a good, weighted PD and 1 - PD), C by inner 3-fold AUC against the labels;
- for reference, the teachers' own ensemble fitted on the fit rows.

Folds: StratifiedKFold random_state 42, 43, 44 (the baselines' protocol); pooled out-of-fold AUC.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/linear_head_probe.py german_credit
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parent))
from pooling_probe import features, print_summary, probe_fold, probe_table, record_repeat  # noqa: E402

from credtune.config import DistillConfig  # noqa: E402
from credtune.distill import ensemble_pd, teacher_targets  # noqa: E402
from credtune.evaluation import fit_components  # noqa: E402
from credtune.metrics import logit  # noqa: E402

CS = np.logspace(-4, 0, 9)


def soft_logistic(x_fit: np.ndarray, pd_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """Logistic regression on soft labels, C chosen by inner 3-fold AUC against the hard labels."""

    def fit(x, p, c):
        both = np.concatenate([x, x])
        target = np.r_[np.ones(len(x)), np.zeros(len(x))]
        return LogisticRegression(C=c, max_iter=3000).fit(both, target, sample_weight=np.r_[p, 1 - p])

    inner = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = [
        np.mean(
            [
                roc_auc_score(y_fit[b], fit(x_fit[a], pd_fit[a], c).decision_function(x_fit[b]))
                for a, b in inner.split(x_fit, y_fit)
            ]
        )  # fmt: skip
        for c in CS
    ]
    return fit(x_fit, pd_fit, CS[int(np.argmax(scores))]).decision_function(x_test)


def main(recipe_name: str) -> None:
    recipe, prep, frame, y = probe_table(recipe_name)
    started = time.perf_counter()
    x = features([prep.serializer(row) for row in prep.table])["mean, layer 6"]
    print(f"{recipe_name}: {len(y)} rows, encoded in {time.perf_counter() - started:.0f} s", flush=True)
    cfg = recipe.distill or DistillConfig(weight=1.0, folds=3)
    cfg = DistillConfig(teachers=cfg.teachers, weight=1.0, folds=cfg.folds, synthetic=0)
    names = ["labels", "teachers", "teachers, soft", "the teachers themselves"]
    aucs: dict[str, list[float]] = {name: [] for name in names}
    for random_state in (42, 43, 44):
        oof = {name: np.zeros(len(y)) for name in names}
        for fit, test in StratifiedKFold(5, shuffle=True, random_state=random_state).split(x, y):
            scaler = StandardScaler().fit(x[fit])
            x_fit, x_test = scaler.transform(x[fit]), scaler.transform(x[test])
            teacher = teacher_targets(cfg, frame.iloc[fit], y[fit], prep, random_state).soft
            oof["labels"][test] = probe_fold(x_fit, y[fit], x_test)
            ridge = RidgeCV(alphas=np.logspace(-1, 5, 13)).fit(x_fit, logit(np.clip(teacher, 1e-6, 1 - 1e-6)))
            oof["teachers"][test] = ridge.predict(x_test)
            oof["teachers, soft"][test] = soft_logistic(x_fit, teacher, y[fit], x_test)
            teachers = fit_components(list(cfg.teachers), frame.iloc[fit], y[fit], prep, random_state)
            oof["the teachers themselves"][test] = ensemble_pd(list(teachers.values()), frame.iloc[test])
        record_repeat(aucs, oof, y, random_state)
    print_summary(aucs, time.perf_counter() - started)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "german_credit")
