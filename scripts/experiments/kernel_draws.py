"""How much does the kernel baseline depend on its random draw? Out-of-fold AUC over several seeds.

The kernel (`credtune.baselines.kernel`) approximates an RBF kernel by random Fourier features; with
too few of them two seeds give two different models. For each setting, one stratified 5-fold split
(random state 42) and a fresh draw of the features per seed: pooled out-of-fold AUC of each draw,
their mean and spread. Settings are `baseline_params.kernel` mappings; `C` stands for scikit-learn's
C (alpha = 1 / (C x the rows a fold fits on)). Round 20.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/kernel_draws.py german_credit --draws 3 \
        "{'C': 4, 'n_components': 2000}" "{'C': 4, 'n_components': 8000}" "{}"
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).parent))
from pooling_probe import probe_table  # noqa: E402

from credtune.evaluation import fit_components  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe")
    parser.add_argument("settings", nargs="+", help="Python dicts of baseline_params.kernel")
    parser.add_argument("--draws", type=int, default=3, help="seeds of the random features")
    cli = parser.parse_args()
    _, prep, frame, y = probe_table(cli.recipe)
    split = list(StratifiedKFold(5, shuffle=True, random_state=42).split(frame, y))
    for text in cli.settings:
        setting, aucs, started = ast.literal_eval(text), [], time.time()
        for seed in range(cli.draws):
            oof = np.empty(len(y))
            for fit, held in split:
                params = dict(setting)
                if "C" in params:
                    params["alpha"] = 1.0 / (params.pop("C") * len(fit))
                model = fit_components(["kernel"], frame.iloc[fit], y[fit], prep, seed, {"kernel": params})
                oof[held] = model["kernel"].predict_proba(frame.iloc[held])
            aucs.append(roc_auc_score(y, oof))
        seconds = (time.time() - started) / cli.draws
        print(f"{text:45s} {np.mean(aucs):.4f} +- {np.std(aucs):.4f}  ({', '.join(f'{a:.4f}' for a in aucs)})"
              f"  {seconds:.1f} s a draw", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
