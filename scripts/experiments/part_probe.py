"""Would another part make the hybrid stronger? Re-stack a `credtune cv` run's folds with it.

For each fold of the run's folds.jsonl the hybrid's own stacker (`hybrid.fit_stacker`, shrunk
weights) is refitted on what the run's stacker saw (the transformer's cross-fitted margins and the
components' cross-fitted PDs on the fold's training rows), once as run (a check: it must give the
run's hybrid) and once per candidate part added. A candidate is fitted on the fold's training rows
to score its test rows, and cross-fitted on them (5 folds) for the stacker, as `credtune cv` treats
the hybrid's components. With `--features` (a `token_features_probe.py` file) one more arm puts a
label student (ridge of the 0/1 labels on the `ffn 1536` means, its leave-one-out predictions as the
held margins) in the distilled transformer's place. Pooled out-of-fold AUC per repeat. Round 19.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/part_probe.py runs/german_credit-cv/folds.jsonl \
        --recipe german_credit --features /tmp/german_ffn.npz
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).parent))
from pooling_probe import probe_table  # noqa: E402

import credtune.baselines.registry as registry  # noqa: E402
from credtune.evaluation import fit_components  # noqa: E402
from credtune.head import ALPHAS, ridge_loo  # noqa: E402
from credtune.hybrid import fit_stacker  # noqa: E402
from credtune.metrics import logit, sigmoid  # noqa: E402

# LightGBM's own parameter names (e.g. extra_trees) pass, which `baseline_params` would refuse
registry.check_params = lambda name, params, task: params
FOREST = {"boosting_type": "rf", "n_estimators": 500, "num_leaves": 255, "min_child_samples": 5,
          "subsample": 0.632, "subsample_freq": 1, "colsample_bytree": 0.5}  # fmt: skip
CANDIDATES = {  # name: (baseline, its parameters)
    "lightgbm random forest": ("lightgbm", FOREST),
    "lightgbm extra trees": ("lightgbm", {**FOREST, "extra_trees": True}),
    "lightgbm slow": (  # 1,000 trees at learning rate 0.01, 7 leaves
        "lightgbm",
        {
            "n_estimators": 1000,
            "learning_rate": 0.01,
            "num_leaves": 7,
            "colsample_bytree": 0.5,
            "reg_lambda": 5,
        },
    ),
    "logistic": ("logistic", None),
    "catboost": ("catboost", None),
}


def fit_predict(name: str, frame, y, prep, seed: int, fit: np.ndarray, test: np.ndarray) -> np.ndarray:
    base, params = CANDIDATES[name]
    model = fit_components([base], frame.iloc[fit], y[fit], prep, seed, {base: params} if params else None)
    return model[base].predict_proba(frame.iloc[test])


def label_student(phi: np.ndarray, y: np.ndarray, fit: np.ndarray, test: np.ndarray):
    """Held (leave-one-out) and test margins of a ridge on the 0/1 labels, as logits."""
    mean, std = phi[fit].mean(0), np.maximum(phi[fit].std(0), 1e-12)
    ridge = ridge_loo((phi[fit] - mean) / std, y[fit].astype(float), ALPHAS)
    test_value = (phi[test] - mean) / std @ ridge.weight + ridge.bias
    return logit(np.clip(ridge.loo, 0.01, 0.99)), logit(np.clip(test_value, 0.01, 0.99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folds_jsonl")
    parser.add_argument("--recipe", required=True, help="the recipe the cv ran (its data gives the labels)")
    parser.add_argument("--candidates", default=",".join(CANDIDATES), help="comma-separated names")
    parser.add_argument("--features", type=Path, help="ffn means of every row: adds the label-student arm")
    cli = parser.parse_args()
    recipe, prep, frame, y = probe_table(cli.recipe)
    phi = np.load(cli.features)["ffn 1536"].astype(np.float64) if cli.features else None
    with open(cli.folds_jsonl, encoding="utf-8") as handle:
        folds = [json.loads(line) for line in handle]
    parts = list(folds[0]["validation"]["pd"])
    pooled: dict[int, dict[str, np.ndarray]] = {}
    started = time.time()
    for fold in folds:
        v = fold["validation"]
        train, test = np.asarray(v["rows"]), np.asarray(fold["rows"])
        out = pooled.setdefault(fold["seed"], {})

        def put(arm: str, scores: np.ndarray, out=out, test=test) -> None:
            out.setdefault(arm, np.full(len(y), np.nan))[test] = scores

        for name, scores in fold["pd"].items():
            if name != "pd_raw":
                put(name, np.asarray(scores))
        margin, test_margin = np.asarray(v["margin"]), np.asarray(v["test_margin"])
        held = {n: np.asarray(v["pd"][n]) for n in parts}
        scored = {n: np.asarray(fold["pd"][n]) for n in parts}
        put("hybrid refitted", fit_stacker(margin, held, y[train], parts).predict(test_margin, scored))
        for name in cli.candidates.split(","):
            crossfit = np.empty(len(train))
            inner = StratifiedKFold(5, shuffle=True, random_state=recipe.seed).split(train, y[train])
            for i, j in inner:
                crossfit[j] = fit_predict(name, frame, y, prep, recipe.seed, train[i], train[j])
            candidate = fit_predict(name, frame, y, prep, recipe.seed, train, test)
            put(f"{name} alone", candidate)
            both = [*parts, name]
            stacker = fit_stacker(margin, {**held, name: crossfit}, y[train], both)
            put(f"hybrid + {name}", stacker.predict(test_margin, {**scored, name: candidate}))
        if phi is not None:
            student_held, student_test = label_student(phi, y, train, test)
            put("label student alone", sigmoid(student_test))
            stacker = fit_stacker(student_held, held, y[train], parts)
            put("hybrid, label student as the transformer", stacker.predict(student_test, scored))
        print(f"seed {fold['seed']} fold {fold['fold']}: {time.time() - started:.0f} s", flush=True)
    aucs: dict[str, list[float]] = {}
    for out in pooled.values():
        for arm, scores in out.items():
            seen = ~np.isnan(scores)
            aucs.setdefault(arm, []).append(roc_auc_score(y[seen], scores[seen]))
    width = max(map(len, aucs)) + 2
    for arm, values in aucs.items():
        print(f"{arm:{width}s} {np.mean(values):.4f}  (" + ", ".join(f"{a:.4f}" for a in values) + ")")


if __name__ == "__main__":
    main()
