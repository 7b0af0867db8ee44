"""How much of the labels should the closed-form ffn student's target hold (`distill.weight`)?

The student is a ridge regression of logit((1 - w) * label + w * teacher PD) on the standardized
mean of each token's feed-forward features (`ffn 1536` in `token_features_probe.py`'s feature
file), its penalty by leave-one-out error, as `head.fit_student` fits it; the teachers are the
recipe's, cross-fitted as `credtune cv` does. Folds: StratifiedKFold random_state 42, 43, 44;
pooled out-of-fold AUC per repeat.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/student_weight_probe.py german_credit \
        --features /tmp/german_tokens.npz
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).parent))
from pooling_probe import print_summary, probe_table, record_repeat  # noqa: E402

from credtune.config import DistillConfig  # noqa: E402
from credtune.distill import teacher_targets  # noqa: E402
from credtune.head import ALPHAS, ridge_loo  # noqa: E402
from credtune.metrics import logit  # noqa: E402

WEIGHTS = (1.0, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe")
    parser.add_argument("--features", type=Path, required=True, help="made by token_features_probe.py")
    cli = parser.parse_args()
    recipe, prep, frame, y = probe_table(cli.recipe)
    phi = np.load(cli.features)["ffn 1536"].astype(np.float64)
    started = time.perf_counter()
    aucs: dict[str, list[float]] = {f"w={w}": [] for w in WEIGHTS}
    for random_state in (42, 43, 44):
        oof = {name: np.zeros(len(y)) for name in aucs}
        for fit, test in StratifiedKFold(5, shuffle=True, random_state=random_state).split(y, y):
            cfg = DistillConfig(
                teachers=list(recipe.distill.teachers), weight=1.0, folds=recipe.distill.folds
            )
            teacher = teacher_targets(
                cfg, frame.iloc[fit], y[fit], prep, random_state, recipe.baseline_params
            ).soft
            mean, std = phi[fit].mean(0), np.maximum(phi[fit].std(0), 1e-12)
            x_fit, x_test = (phi[fit] - mean) / std, (phi[test] - mean) / std
            for w in WEIGHTS:
                soft = (1 - w) * y[fit] + w * teacher
                fitted = ridge_loo(x_fit, logit(np.clip(soft, 1e-4, 1 - 1e-4)), ALPHAS)
                oof[f"w={w}"][test] = x_test @ fitted.weight + fitted.bias
        record_repeat(aucs, oof, y, random_state)
    print_summary(aucs, time.perf_counter() - started)


if __name__ == "__main__":
    main()
