"""Would a hybrid part that reads every layer of the frozen encoder beat today's hybrid?

Round 11 found a ridge student on the mean of all seven of MiniLM's layers (2,688 columns) at
0.7456 on Lending Club, +0.011 over the top layer the shipped transformer reads, and +0.005 over
logistic regression when the two were averaged. Here the same idea goes through `credtune cv`'s
own protocol, so its figures stand beside the shipped hybrid's: each fold's training rows less a
stratified 15% (the recipe's `data.split.valid`) fit the baselines, the teachers' cross-fitted
PD (the recipe's `distill:` and `baseline_params`) and two ridge students on it (the top layer:
the shipped transformer with its head fitted in closed form; every layer: the candidate part);
credtune's own stacker (`hybrid.fit_stacker`, the recipe's weights) is fitted on the validation
slice and scores the held-out fold. Folds: StratifiedKFold random_state 42, 43, 44, pooled
out-of-fold AUC; synthetic rows (`distill.synthetic`) are left out of both students.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/hybrid_layers_probe.py lendingclub \
        --features /tmp/lendingclub_layers.npz
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

sys.path.insert(0, str(Path(__file__).parent))
from pooling_probe import print_summary, record_repeat  # noqa: E402
from student_head_probe import ridge  # noqa: E402
from student_target_probe import layer_views  # noqa: E402

from credtune.config import DistillConfig  # noqa: E402
from credtune.distill import teacher_targets  # noqa: E402
from credtune.evaluation import fit_components  # noqa: E402
from credtune.hybrid import fit_stacker  # noqa: E402
from credtune.metrics import logit, sigmoid  # noqa: E402

BASELINES = ("logistic", "scorecard", "lightgbm")


def main() -> None:
    recipe, prep, frame, y, found, started = layer_views()
    views = {"top": found["top layer"], "layers": found["all layers"]}
    shipped = tuple(recipe.model.hybrid or BASELINES)
    cfg = recipe.distill or DistillConfig(weight=1.0, folds=3, synthetic=0)
    cfg = DistillConfig(teachers=cfg.teachers, weight=cfg.weight, folds=cfg.folds, synthetic=0)
    stacks = {  # name -> (the stacker's margin: which student, its other parts)
        f"hybrid as shipped: transformer + {list(shipped)}": ("top", shipped),
        "transformer + logistic": ("top", ("logistic",)),
        f"transformer + layers + {list(shipped)}": ("top", ("layers", *shipped)),
        "transformer + layers + logistic": ("top", ("layers", "logistic")),
        f"layers + {list(shipped)}": ("layers", shipped),
        "layers + logistic": ("layers", ("logistic",)),
        f"baselines {list(shipped)} (no transformer)": (None, shipped),
    }
    names = ["transformer (top-layer student)", "layers student", *BASELINES, *stacks]
    aucs: dict[str, list[float]] = {name: [] for name in names}
    for seed in (42, 43, 44):
        oof = {name: np.zeros(len(y)) for name in names}
        for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(y, y):
            fit, valid = train_test_split(
                train, test_size=recipe.data.split.valid, stratify=y[train], random_state=seed
            )
            soft = teacher_targets(cfg, frame.iloc[fit], y[fit], prep, seed, recipe.baseline_params).soft
            target = logit(np.clip(soft, 1e-4, 1 - 1e-4))
            margin = {}  # student -> (its log-odds on the validation rows, on the test rows)
            for view, x in views.items():
                out = ridge(x[fit], target, x[np.r_[valid, test]])
                margin[view] = (out[: len(valid)], out[len(valid) :])
            oof["transformer (top-layer student)"][test] = margin["top"][1]
            oof["layers student"][test] = margin["layers"][1]
            components = fit_components(
                list(BASELINES), frame.iloc[fit], y[fit], prep, seed, recipe.baseline_params
            )
            pds = [
                {n: c.predict_proba(frame.iloc[rows]) for n, c in components.items()}
                for rows in (valid, test)
            ]
            for part, rows in zip(pds, (0, 1)):
                part["layers"] = sigmoid(margin["layers"][rows])
            for n in BASELINES:
                oof[n][test] = pds[1][n]
            for name, (reader, parts) in stacks.items():
                m = margin[reader] if reader else (np.zeros(len(valid)), np.zeros(len(test)))
                stacker = fit_stacker(m[0], pds[0], y[valid], list(parts), recipe.model.hybrid_weights)
                oof[name][test] = stacker.predict(m[1], pds[1])
            print(f"    fold done, {time.perf_counter() - started:.0f} s", flush=True)
        record_repeat(aucs, oof, y, seed)
    print_summary(aucs, time.perf_counter() - started)


if __name__ == "__main__":
    main()
