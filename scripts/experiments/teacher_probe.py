"""Which baselines should teach the ffn student (`distill.teachers`)?

The student is a ridge regression of the teachers' cross-fitted log-odds on the standardized mean of
each token's feed-forward features (`ffn 1536`, the feature file of `token_features_probe.py`, or
made here on the first run), its penalty by leave-one-out error, as `head.fit_student` fits it. Each
teacher is cross-fitted alone (`distill.folds` folds, as `credtune cv` does); the arms are each one
alone, equal means of their log-odds (what `distill.teachers` computes) and a logistic stack of them.
Folds: StratifiedKFold with the given random states; pooled out-of-fold AUC per repeat. Round 17.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/teacher_probe.py lendingclub \
        --features /tmp/lendingclub_ffn.npz --repeats 42,43
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).parent))
from pooling_probe import print_summary, probe_table, record_repeat  # noqa: E402

from credtune.config import DistillConfig  # noqa: E402
from credtune.distill import teacher_targets  # noqa: E402
from credtune.head import ALPHAS, ridge_loo  # noqa: E402
from credtune.metrics import logit  # noqa: E402

TEACHERS = ("logistic", "scorecard", "lightgbm", "catboost")
MEANS = (
    ("logistic", "scorecard", "lightgbm"),  # rounds 10-16's teachers
    ("logistic", "scorecard", "lightgbm", "catboost"),
    ("logistic", "lightgbm", "catboost"),
    ("logistic", "catboost"),
    ("logistic", "lightgbm"),
)


def ffn_means(texts: list[str]) -> np.ndarray:
    """Each row's mean over tokens of GELU(W1 LayerNorm(h) + b1), the top layer's own W1 and b1."""
    from token_features_probe import token_features

    return token_features(texts)["ffn 1536"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe")
    parser.add_argument("--features", type=Path, required=True)
    parser.add_argument("--repeats", default="42,43,44")
    cli = parser.parse_args()
    recipe, prep, frame, y = probe_table(cli.recipe)
    if not cli.features.exists():
        np.savez(cli.features, **{"ffn 1536": ffn_means([prep.serializer(row) for row in prep.table])})
    phi = np.load(cli.features)["ffn 1536"].astype(np.float64)
    folds = recipe.distill.folds if recipe.distill else 3
    started = time.perf_counter()
    aucs: dict[str, list[float]] = {}
    for random_state in (int(s) for s in cli.repeats.split(",")):
        oof: dict[str, np.ndarray] = {}
        for fit, test in StratifiedKFold(5, shuffle=True, random_state=random_state).split(y, y):
            alone = {}
            for name in TEACHERS:
                cfg = DistillConfig(teachers=[name], weight=1.0, folds=folds)
                soft = teacher_targets(
                    cfg, frame.iloc[fit], y[fit], prep, random_state, recipe.baseline_params
                ).soft
                alone[name] = logit(np.clip(soft, 1e-4, 1 - 1e-4))
            z = np.column_stack([alone[name] for name in TEACHERS])
            targets = {f"{name} alone": alone[name] for name in TEACHERS}
            targets |= {" + ".join(m): np.mean([alone[name] for name in m], axis=0) for m in MEANS}
            stack = LogisticRegression(C=1e4, max_iter=1000).fit(z, y[fit])
            targets["logistic stack of all four"] = stack.decision_function(z)
            mean, std = phi[fit].mean(0), np.maximum(phi[fit].std(0), 1e-12)
            x_fit, x_test = (phi[fit] - mean) / std, (phi[test] - mean) / std
            for arm, target in targets.items():
                fitted = ridge_loo(x_fit, target, ALPHAS)
                oof.setdefault(arm, np.zeros(len(y)))[test] = x_test @ fitted.weight + fitted.bias
        aucs |= {arm: aucs.get(arm, []) for arm in oof}
        record_repeat(aucs, oof, y, random_state)
    print_summary(aucs, time.perf_counter() - started)


if __name__ == "__main__":
    main()
