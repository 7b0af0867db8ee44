"""Repeated stratified k-fold ROC-AUC of the credit baselines: evidence for which ones ship by default.

For each dataset (a recipe's data, its protected and excluded columns left out, numbers numeric and
everything else categorical as credtune infers them), each baseline is fitted on 4/5 of the rows and
predicts the other 1/5, for 3 repeats of 5 folds (StratifiedKFold random_state 42, 43, 44). Reported
per model: the pooled out-of-fold AUC of each repeat (mean and std over the repeats), the per-fold
AUCs (mean and std over all 15 folds) and wall time. Everything single-threaded.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/experiments/baselines_cv.py            # both datasets
    OMP_NUM_THREADS=1 .venv/bin/python scripts/experiments/baselines_cv.py german_credit --models logistic

Writes docs/experiments/baselines/baselines_cv_<dataset>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from credtune.baselines import fit_component
from credtune.baselines.component import package_version

ROOT = Path(__file__).resolve().parents[2]
REPEATS = (42, 43, 44)
FOLDS = 5
SEED = 42  # credtune's default recipe seed, used for every fit
MODELS = ("logistic", "scorecard", "lightgbm", "catboost")


def load_dataset(recipe_name: str) -> tuple[pd.DataFrame, np.ndarray, list[str], list[str], dict[str, Any]]:
    """The recipe's table without target, id, protected and excluded columns, and its 0/1 labels."""
    recipe_path = ROOT / "recipes" / f"{recipe_name}.yaml"
    data = yaml.safe_load(recipe_path.read_text())["data"]
    path = (recipe_path.parent / data["path"]).resolve()
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    y = (table[data["target"]].astype(str) == str(data["positive"])).to_numpy(dtype=int)
    dropped = [data["target"], *data.get("protected", []), *data.get("exclude", [])]
    if data.get("id"):
        dropped.append(data["id"])
    features = table.drop(columns=[c for c in dropped if c in table.columns])
    numeric = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]
    categorical = [c for c in features.columns if c not in numeric]
    info = {
        "file": str(path.relative_to(ROOT)),
        "rows": len(table),
        "positives": int(y.sum()),
        "positive_rate": float(y.mean()),
        "target": data["target"],
        "positive": data["positive"],
        "left_out": dropped,
        "numeric": numeric,
        "categorical": categorical,
    }
    return features, y, numeric, categorical, info


def cross_validate(
    model: str, x: pd.DataFrame, y: np.ndarray, numeric: list[str], categorical: list[str]
) -> dict:
    pooled, per_fold, fit_seconds = [], [], []
    start = time.perf_counter()
    for random_state in REPEATS:
        oof = np.full(len(y), np.nan)
        folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=random_state)
        for fit_idx, test_idx in folds.split(x, y):
            t0 = time.perf_counter()
            component = fit_component(
                model, x.iloc[fit_idx], y[fit_idx], numeric, categorical, seed=SEED, n_jobs=1
            )
            fit_seconds.append(time.perf_counter() - t0)
            oof[test_idx] = component.predict_proba(x.iloc[test_idx])
            per_fold.append(roc_auc_score(y[test_idx], oof[test_idx]))
        pooled.append(roc_auc_score(y, oof))
        print(f"  {model} repeat {random_state}: pooled AUC {pooled[-1]:.4f}", flush=True)
    return {
        "pooled_auc_mean": float(np.mean(pooled)),
        "pooled_auc_std": float(np.std(pooled, ddof=1)),
        "pooled_auc_per_repeat": [float(a) for a in pooled],
        "fold_auc_mean": float(np.mean(per_fold)),
        "fold_auc_std": float(np.std(per_fold, ddof=1)),
        "fold_aucs": [float(a) for a in per_fold],
        "wall_s": time.perf_counter() - start,
        "fit_s_mean": float(np.mean(fit_seconds)),
    }


def run(dataset: str, models: list[str]) -> None:
    x, y, numeric, categorical, info = load_dataset(dataset)
    print(
        f"{dataset}: {info['rows']} rows, {info['positives']} bad, {len(numeric)}+{len(categorical)} columns"
    )
    results = {m: cross_validate(m, x, y, numeric, categorical) for m in models}
    out = {
        "dataset": dataset,
        "data": info,
        "protocol": {
            "folds": FOLDS,
            "repeats_random_state": list(REPEATS),
            "fit_seed": SEED,
            "threads": 1,
            "pooled_auc": "AUC of one repeat's out-of-fold PDs; mean and sample std over repeats",
            "fold_auc": "ROC-AUC per held-out fold; mean and sample std over all folds",
            "wall_s": "all fits and predictions of the model over all folds and repeats, single-threaded",
        },
        "results": results,
        "versions": {
            lib: package_version(lib)
            for lib in ("credtune", "numpy", "scikit-learn", "lightgbm", "catboost", "optbinning")
        },
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores_available": len(os.sched_getaffinity(0)),
        },
    }
    path = ROOT / "docs" / "experiments" / "baselines" / f"baselines_cv_{dataset}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    for m, r in results.items():
        print(
            f"{dataset:14s} {m:10s} pooled {r['pooled_auc_mean']:.4f} ± {r['pooled_auc_std']:.4f}  "
            f"folds {r['fold_auc_mean']:.4f} ± {r['fold_auc_std']:.4f}  {r['wall_s']:.1f}s"
        )
    print(f"wrote {path.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=["german_credit", "lendingclub"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    args = parser.parse_args()
    with threadpool_limits(1):  # BLAS/OpenMP too, not only the tree models' own thread counts
        for dataset in args.datasets:
            run(dataset, args.models)


if __name__ == "__main__":
    main()
