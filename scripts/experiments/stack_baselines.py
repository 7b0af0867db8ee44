"""How much of the hybrid's gain the baselines make alone: the stack of baselines, no transformer.

Same folds and the same honest scheme as `credtune cv` with `model.hybrid` (components fitted on
the training folds less a validation slice, stacker fitted on that slice, scored on the held-out
fold), with the transformer left out, on R repeats of stratified K-fold. Cheap (seconds), so it
answers which components are worth stacking before a transformer cv spends an hour on them.

    python scripts/experiments/stack_baselines.py german_credit --stack scorecard lightgbm
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

os.environ.setdefault("OMP_NUM_THREADS", "1")


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def main() -> None:
    from credtune import data, load_recipe
    from credtune.baselines import fit_component
    from credtune.config import resolve_data_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe")
    parser.add_argument("--stack", nargs="+", default=["scorecard", "lightgbm"])
    parser.add_argument("--baselines", nargs="+", default=["logistic", "scorecard", "lightgbm", "catboost"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("-o", "--output")
    args = parser.parse_args()

    recipe = load_recipe(args.recipe)
    table = data.load_labelled(recipe.data, resolve_data_path(recipe), recipe.seed)
    schema = data.build_schema(table, recipe.data, recipe.serialize, np.arange(len(table)))
    prep = data.Prepared(table, {}, schema, data.make_serializer(schema, recipe.serialize))
    frame, y = table.to_pandas(), np.asarray(table[data.LABEL])
    names = list(dict.fromkeys([*args.baselines, *args.stack]))
    pooled: dict[str, list[float]] = {}
    started = time.time()
    for r in range(args.repeats):
        seed = recipe.seed + r
        oof = {name: np.zeros(len(y)) for name in [*args.baselines, "stack"]}
        for train_idx, test_idx in StratifiedKFold(args.folds, shuffle=True, random_state=seed).split(
            frame, y
        ):
            fit_idx, valid_idx = train_test_split(
                train_idx, test_size=recipe.data.split.valid, stratify=y[train_idx], random_state=seed
            )
            parts = {
                n: fit_component(
                    n, frame.iloc[fit_idx], y[fit_idx], prep.numeric, prep.categorical, seed=seed
                )
                for n in names
            }
            valid = {n: c.predict_proba(frame.iloc[valid_idx]) for n, c in parts.items()}
            test = {n: c.predict_proba(frame.iloc[test_idx]) for n, c in parts.items()}
            for n in args.baselines:
                oof[n][test_idx] = test[n]
            stacker = LogisticRegression(C=1.0, max_iter=1000).fit(
                np.column_stack([logit(valid[n]) for n in args.stack]), y[valid_idx]
            )
            x_test = np.column_stack([logit(test[n]) for n in args.stack])
            oof["stack"][test_idx] = stacker.predict_proba(x_test)[:, 1]
        for n, p in oof.items():
            pooled.setdefault(n, []).append(float(roc_auc_score(y, p)))
    result = {
        "recipe": recipe.name,
        "stack": args.stack,
        "repeats": args.repeats,
        "folds": args.folds,
        "note": "components fitted on the training folds less the validation slice, as in credtune cv",
        "pooled_auc": {
            n: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)), "values": v}
            for n, v in pooled.items()
        },
        "seconds": round(time.time() - started, 1),
    }
    print(json.dumps(result["pooled_auc"], indent=1))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
