"""The baselines alone on a recipe's table, and stacked without the transformer: does a part earn a
place among the defaults on a table nobody tuned it for? Round 21 (the kernel on Taiwan).

One stratified 5-fold split (random state 42); each named part fitted by credtune
(`evaluation.fit_components`, the recipe's `baseline_params`) on four folds, scoring the fifth.
Printed: each fold's AUC, each part's pooled out-of-fold AUC and its fit + score seconds, then a
logistic regression on the parts' log-odds, cross-fitted on other folds (random state 7), with and
without the last part named.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/parts_alone.py recipes/taiwan_default.yaml \
        logistic,scorecard,lightgbm,kernel
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import logit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

sys.path.insert(0, str(Path(__file__).parent))
from pooling_probe import probe_table  # noqa: E402

from credtune.evaluation import fit_components  # noqa: E402


def stacked(oof: dict[str, np.ndarray], y: np.ndarray, parts: list[str]) -> float:
    """Pooled AUC of a logistic regression on the parts' out-of-fold log-odds, itself cross-fitted."""
    x = np.column_stack([logit(np.clip(oof[p], 1e-6, 1 - 1e-6)) for p in parts])
    folds = StratifiedKFold(5, shuffle=True, random_state=7)
    return roc_auc_score(
        y, cross_val_predict(LogisticRegression(), x, y, cv=folds, method="predict_proba")[:, 1]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe")
    parser.add_argument("parts", help="comma-separated baseline names; the last is stacked in and out")
    cli = parser.parse_args()
    recipe, prep, frame, y = probe_table(cli.recipe)
    names = cli.parts.split(",")
    oof, seconds = {n: np.zeros(len(y)) for n in names}, dict.fromkeys(names, 0.0)
    for k, (fit, held) in enumerate(StratifiedKFold(5, shuffle=True, random_state=42).split(frame, y)):
        for name in names:
            started = time.time()
            part = fit_components([name], frame.iloc[fit], y[fit], prep, recipe.seed, recipe.baseline_params)[
                name
            ]
            oof[name][held] = part.predict_proba(frame.iloc[held])
            seconds[name] += time.time() - started
        print(f"fold {k + 1}: " + ", ".join(f"{n} {roc_auc_score(y[held], oof[n][held]):.4f}" for n in names))
    for name in names:
        print(f"{name:10s} pooled out-of-fold AUC {roc_auc_score(y, oof[name]):.4f}, {seconds[name]:.0f} s")
    without = names[:-1]
    print(
        f"stacked {'+'.join(without)}: {stacked(oof, y, without):.4f}; with {names[-1]}: {stacked(oof, y, names):.4f}"
    )


if __name__ == "__main__":
    main()
