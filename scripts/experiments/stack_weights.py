"""How the hybrid's stacking weights (`model.hybrid_weights`) fare with the baselines alone.

Same folds and scheme as `credtune cv` with `model.hybrid` (components fitted on the training folds
less a 15% validation slice, stacker fitted on that slice by credtune's own `fit_stacker`, scored
on the held-out fold), with no transformer (its margin is a constant, which the stacker ignores),
for `equal`, `fitted` and `shrunk` at several penalties. Seconds to minutes a table.

    python scripts/experiments/stack_weights.py german_credit lendingclub taiwan_default
"""

from __future__ import annotations

import argparse
import os
from unittest.mock import patch

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

os.environ.setdefault("OMP_NUM_THREADS", "1")

from baselines_cv import load_dataset  # noqa: E402  (same folder)

from credtune import hybrid  # noqa: E402
from credtune.baselines import fit_component  # noqa: E402

WEIGHTS = [("equal", None), ("fitted", None), ("shrunk", 10.0), ("shrunk", 50.0), ("shrunk", 200.0)]


def stacks(name: str, parts: list[str], repeats: int, folds: int) -> dict[str, list[float]]:
    """Pooled out-of-fold AUC per repeat of each part alone and of each stacking scheme."""
    x, y, numeric, categorical, _ = load_dataset(name)
    out: dict[str, list[float]] = {}
    for seed in range(42, 42 + repeats):
        oof: dict[str, np.ndarray] = {}
        for train_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
            fit, valid = train_test_split(train_idx, test_size=0.15, stratify=y[train_idx], random_state=seed)
            models = {
                p: fit_component(p, x.iloc[fit], y[fit], numeric, categorical, seed=seed) for p in parts
            }
            pv = {p: m.predict_proba(x.iloc[valid]) for p, m in models.items()}
            pt = {p: m.predict_proba(x.iloc[test_idx]) for p, m in models.items()}
            scores = {p: pt[p] for p in parts}
            for weights, shrink in WEIGHTS:
                with patch.object(hybrid, "SHRINK", shrink or hybrid.SHRINK):
                    stacker = hybrid.fit_stacker(np.zeros(len(valid)), pv, y[valid], parts, weights)
                label = weights if shrink is None else f"{weights} {shrink:g}"
                scores[label] = stacker.predict(np.zeros(len(test_idx)), pt)
            for label, s in scores.items():
                oof.setdefault(label, np.zeros(len(y)))[test_idx] = s
        for label, s in oof.items():
            out.setdefault(label, []).append(float(roc_auc_score(y, s)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="+")
    parser.add_argument("--parts", nargs="+", default=["logistic", "scorecard", "lightgbm"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    for name in args.recipes:
        for label, aucs in stacks(name, args.parts, args.repeats, args.folds).items():
            print(f"{name:16s} {label:12s} {np.mean(aucs):.4f} ± {np.std(aucs):.4f}", flush=True)


if __name__ == "__main__":
    main()
