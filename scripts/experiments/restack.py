"""Try other hybrid stacks on a `credtune cv` run's folds.jsonl, without training anything again.

Each line of folds.jsonl holds a fold's held-out rows and PDs, and what its stacker saw: the
validation rows' transformer margins and baseline PDs. So any combination of the transformer
with any baselines can be re-stacked on exactly the rows and predictions the run produced, fold
by fold, and pooled per repeat (a stopped run is pooled over the rows its finished folds cover).

    python scripts/experiments/restack.py runs/german_credit_lora-cv/folds.jsonl --recipe german_credit_lora
"""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np
from sklearn.metrics import roc_auc_score


def combine(fold: dict, y: np.ndarray, names: tuple[str, ...], how: str) -> np.ndarray:
    """The fold's held-out PDs from credtune's own stacker (`fit_stacker`), fitted on its validation
    rows; a stack without the transformer gets a constant margin, which the stacker ignores."""
    from credtune.hybrid import fit_stacker

    v = fold["validation"]
    parts = [n for n in names if n != "transformer"]
    keep = "transformer" in names
    margin, test_margin = (np.asarray(m, dtype=float) * keep for m in (v["margin"], v["test_margin"]))
    stacker = fit_stacker(margin, {n: np.asarray(v["pd"][n]) for n in parts}, y[v["rows"]], parts, how)
    return stacker.predict(test_margin, {n: np.asarray(fold["pd"][n]) for n in parts})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folds_jsonl")
    parser.add_argument("--recipe", required=True, help="the recipe the cv ran (its data gives the labels)")
    args = parser.parse_args()
    from credtune import data, load_recipe
    from credtune.config import resolve_data_path

    with open(args.folds_jsonl, encoding="utf-8") as handle:
        folds = [json.loads(line) for line in handle]
    recipe = load_recipe(args.recipe)
    table, _ = data.load_labelled(recipe.data, resolve_data_path(recipe), recipe.seed)
    y = np.asarray(table[data.LABEL])
    baselines = [k for k in folds[0]["validation"]["pd"]]
    candidates = (
        [("transformer",)]
        + [
            ("transformer", *c)
            for r in range(1, len(baselines) + 1)
            for c in itertools.combinations(baselines, r)
        ]
        + [tuple(c) for r in range(1, len(baselines) + 1) for c in itertools.combinations(baselines, r)]
    )
    out = {}
    for names in candidates:
        for how in ("shrunk", "equal", "fitted"):
            pooled = []
            for seed in sorted({f["seed"] for f in folds}):
                done = [f for f in folds if f["seed"] == seed]
                rows = np.concatenate([f["rows"] for f in done])
                score = np.concatenate([combine(f, y, names, how) for f in done])
                pooled.append(roc_auc_score(y[rows], score))
            out[f"{how}: {' + '.join(names)}"] = (float(np.mean(pooled)), len(pooled))
    for name in [*baselines, "transformer", "hybrid"]:
        pooled = []
        for seed in sorted({f["seed"] for f in folds}):
            done = [f for f in folds if f["seed"] == seed]
            rows = np.concatenate([f["rows"] for f in done])
            pooled.append(roc_auc_score(y[rows], np.concatenate([f["pd"][name] for f in done])))
        out[f"as run: {name}"] = (float(np.mean(pooled)), len(pooled))
    for key, (auc, repeats) in sorted(out.items(), key=lambda kv: -kv[1][0]):
        print(f"{auc:.4f}  ({repeats} repeat(s))  {key}")


if __name__ == "__main__":
    main()
