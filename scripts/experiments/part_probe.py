"""Would another part make the hybrid stronger? Re-stack a `credtune cv` run's folds with it.

For each fold of the run's folds.jsonl the hybrid's own stacker (`hybrid.fit_stacker`, shrunk
weights) is refitted on what the run's stacker saw (the transformer's cross-fitted margins and the
components' cross-fitted PDs on the fold's training rows), once as run (a check: it must give the
run's hybrid) and once per candidate part added. A candidate is fitted on the fold's training rows
to score its test rows, and cross-fitted on them (5 folds) for the stacker, as `credtune cv` treats
the hybrid's components. With `--features` (a `token_features_probe.py` file) one more arm puts a
label student (ridge of the 0/1 labels on the `ffn 1536` means, its leave-one-out predictions as the
held margins) in the distilled transformer's place. Pooled out-of-fold AUC per repeat. Round 19;
round 20 added model families (`FAMILIES`) and `a+b` (both parts added at once).

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
    "kernel": ("kernel", None),  # credtune's own (round 20), its defaults
    # round 20's first arms, each with scikit-learn's C (alpha = 1 / (C x the rows it is fitted on))
    "kernel C=4 D=2000": ("kernel", {"C": 4.0, "n_components": 2000}),
    "kernel C=4 D=8000": ("kernel", {"C": 4.0, "n_components": 8000}),
    "kernel C=1 D=8000": ("kernel", {"C": 1.0, "n_components": 8000}),
    "kernel C=0.25 D=8000": ("kernel", {"C": 0.25, "n_components": 8000}),
    "kernel C=1 D=2000 linear": ("kernel", {"C": 1.0, "n_components": 2000, "linear": True}),
}
# model families no baseline belongs to, on the logistic baseline's design (standardized numbers,
# one-hot levels) or, for the EBM, on the raw columns; round 20
FAMILIES = (
    "mlp bag",
    "svm rbf",
    "svm rbf C=0.5",
    "svm rbf C=2",
    "rff logistic",
    "rff logistic C=4",
    "rff logistic C=16",
    "rff logistic C=0.25",
    "rfflin logistic",
    "rfflin logistic C=4",
    "rfflin logistic C=0.25",
    "knn 50",
    "ebm",
)


def family(name: str, seed: int):
    """An unfitted scikit-learn-style classifier of one of FAMILIES."""
    from sklearn.ensemble import BaggingClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    if name == "mlp bag":  # ten small nets on bootstrap samples, weight decay for 800 rows
        net = MLPClassifier((64,), alpha=1.0, max_iter=500, random_state=seed)
        return BaggingClassifier(net, n_estimators=10, random_state=seed)
    if name.startswith("svm rbf"):
        return SVC(C=float(name.partition("C=")[2] or 1), gamma="scale", random_state=seed)
    if name.startswith("rff"):  # the RBF kernel by random Fourier features: stores no rows
        from sklearn.kernel_approximation import RBFSampler
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        class Scaled(RBFSampler):  # gamma="scale" as SVC's: 1 / (features * variance of the design)
            def fit(self, x, y=None):
                self.gamma = 1.0 / (x.shape[1] * x.var())
                return super().fit(x, y)

        c = float(name.partition("C=")[2] or 1)
        features = Scaled(n_components=2000, random_state=seed)
        if name.startswith("rfflin"):  # the design itself beside the kernel's features: linear + RBF
            from sklearn.pipeline import FeatureUnion
            from sklearn.preprocessing import FunctionTransformer

            features = FeatureUnion([("linear", FunctionTransformer()), ("rbf", features)])
        return make_pipeline(features, LogisticRegression(C=c, max_iter=2000))
    if name == "knn 50":
        return KNeighborsClassifier(50, weights="distance")
    from interpret.glassbox import ExplainableBoostingClassifier  # pip install interpret-core

    return ExplainableBoostingClassifier(random_state=seed, n_jobs=2)


def fit_predict(name: str, frame, y, prep, seed: int, fit: np.ndarray, test: np.ndarray) -> np.ndarray:
    if name in FAMILIES:
        return fit_family(name, frame, y, prep, seed, fit, test)
    base, params = CANDIDATES[name]
    if params and "C" in params:
        params = {k: v for k, v in params.items() if k != "C"} | {"alpha": 1.0 / (params["C"] * len(fit))}
    model = fit_components([base], frame.iloc[fit], y[fit], prep, seed, {base: params} if params else None)
    return model[base].predict_proba(frame.iloc[test])


def fit_family(name: str, frame, y, prep, seed: int, fit: np.ndarray, test: np.ndarray) -> np.ndarray:
    """P(bad) of a FAMILIES model; the SVM's margin is read as log-odds (the stacker standardizes)."""
    from credtune.baselines.common import Columns
    from credtune.baselines.logistic import LogisticComponent, prepare_logistic

    columns = Columns(tuple(prep.numeric), tuple(prep.categorical))
    if name == "ebm":
        cols = [*prep.numeric, *prep.categorical]
        raw = frame[cols].astype({c: object for c in prep.categorical})
        x_fit, x_test = raw.iloc[fit], raw.iloc[test]
    else:
        design, x_fit = prepare_logistic(LogisticComponent, columns, columns.frames(frame.iloc[fit]), seed)
        x_test = design.design(*columns.frames(frame.iloc[test]))
    model = family(name, seed).fit(x_fit, y[fit])
    if name.startswith("svm rbf"):
        return sigmoid(model.decision_function(x_test))
    return np.clip(model.predict_proba(x_test)[:, 1], 1e-4, 1 - 1e-4)


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
    parser.add_argument(
        "--candidates",
        default=",".join(CANDIDATES),
        help=f"comma-separated names: {', '.join([*CANDIDATES, *FAMILIES])}",
    )
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
        crossfit, candidate = {}, {}
        for arm in cli.candidates.split(","):  # "a+b": both added at once
            for name in arm.split("+"):
                if name in candidate:
                    continue
                crossfit[name] = np.empty(len(train))
                inner = StratifiedKFold(5, shuffle=True, random_state=recipe.seed).split(train, y[train])
                for i, j in inner:
                    crossfit[name][j] = fit_predict(name, frame, y, prep, recipe.seed, train[i], train[j])
                candidate[name] = fit_predict(name, frame, y, prep, recipe.seed, train, test)
                put(f"{name} alone", candidate[name])
            added = arm.split("+")
            stacker = fit_stacker(margin, {**held, **crossfit}, y[train], [*parts, *added])
            put(f"hybrid + {arm}", stacker.predict(test_margin, {**scored, **candidate}))
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
