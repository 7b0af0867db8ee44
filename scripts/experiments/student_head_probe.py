"""What limits the student on the frozen encoder: the layer it reads, a linear head, or too few points?

Round 10 fitted the head of the frozen encoder in closed form (a ridge regression of the teachers'
log-odds on the standardized mean of MiniLM's top layer) and found it level with the trained head
on German credit: 0.7804 in a probe, where the teachers themselves read 0.7935 from the fields.
The student can fall short of its teachers for three reasons, each measured here on the same
rows and folds:

- the layer: the mean of another layer's states, or several layers side by side (round 8's
  labels-only probe read more from layer 5 than from the top layer);
- a linear head: kernel ridge regression (RBF) on the same vectors, a head a plain BERT could
  only approximate with its pooler;
- too few points: `synthetic` mixed rows per row (`distill.synthetic`), labelled by the
  teachers of their own fold, added to the regression (0, 1 and 4 per row).

Targets are the distillation targets of the shipped recipe (logistic, scorecard, LightGBM,
cross-fitted in 3 folds, weight 1.0). Folds: StratifiedKFold random_state 42, 43, 44; pooled
out-of-fold AUC against the labels, each head fitted on all of a fold's training rows.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/student_head_probe.py german_credit
    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/student_head_probe.py lendingclub --layers-only

`--layers-only` leaves out the kernel ridge and the synthetic rows (on Lending Club's 9,857 rows
a kernel ridge is too slow for what a probe may cost, and the synthetic rows need an encoder pass
each fold).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parent))
from pooling_probe import features, print_summary, probe_table, record_repeat, top_layer  # noqa: E402

from credtune.config import DistillConfig  # noqa: E402
from credtune.distill import ensemble_pd, teacher_targets  # noqa: E402
from credtune.evaluation import fit_components  # noqa: E402
from credtune.head import ALPHAS  # noqa: E402
from credtune.metrics import logit  # noqa: E402

SYNTHETIC = 4


def ridge(
    x_fit: np.ndarray, t_fit: np.ndarray, x_test: np.ndarray, weight: np.ndarray | None = None
) -> np.ndarray:
    scaler = StandardScaler().fit(x_fit)
    model = RidgeCV(alphas=ALPHAS).fit(scaler.transform(x_fit), t_fit, sample_weight=weight)
    return model.predict(scaler.transform(x_test))


def kernel_ridge(x_fit: np.ndarray, t_fit: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    scaler = StandardScaler().fit(x_fit)
    d = x_fit.shape[1]
    grid = {"alpha": [0.1, 1.0, 10.0], "gamma": [0.1 / d, 0.3 / d, 1.0 / d]}
    search = GridSearchCV(KernelRidge(kernel="rbf"), grid, cv=3).fit(scaler.transform(x_fit), t_fit)
    return search.predict(scaler.transform(x_test))


def main(recipe_name: str, layers_only: bool = False) -> None:
    recipe, prep, frame, y = probe_table(recipe_name)
    started = time.perf_counter()
    layers = features([prep.serializer(row) for row in prep.table])
    print(f"{recipe_name}: {len(y)} rows, encoded in {time.perf_counter() - started:.0f} s", flush=True)
    top = top_layer(layers)
    cfg = recipe.distill or DistillConfig(weight=1.0, folds=3)
    cfg = DistillConfig(
        teachers=cfg.teachers, weight=1.0, folds=cfg.folds, synthetic=0 if layers_only else SYNTHETIC
    )
    arms = {
        f"layer {i}{' (shipped)' if i == top else ' (embeddings)' if i == 0 else ''}": layers[f"mean, layer {i}"]
        for i in range(top, -1, -1)
    }  # fmt: skip
    arms[f"layers {top - 1} + {top}"] = np.hstack(
        [layers[f"mean, layer {top - 1}"], layers[f"mean, layer {top}"]]
    )
    arms["all layers side by side"] = np.hstack([layers[f"mean, layer {i}"] for i in range(top + 1)])
    extra = [
        f"layer {top}, kernel ridge",
        f"layer {top}, 1 synthetic row",
        f"layer {top}, {SYNTHETIC} synthetic rows",
    ]
    names = [*arms, *([] if layers_only else extra), "teachers"]
    aucs: dict[str, list[float]] = {name: [] for name in names}
    x = layers[f"mean, layer {top}"]
    for random_state in (42, 43, 44):
        oof = {name: np.zeros(len(y)) for name in names}
        for fit, test in StratifiedKFold(5, shuffle=True, random_state=random_state).split(x, y):
            targets = teacher_targets(cfg, frame.iloc[fit], y[fit], prep, random_state)
            t_fit = logit(np.clip(targets.soft, 1e-6, 1 - 1e-6))
            for name, feats in arms.items():
                oof[name][test] = ridge(feats[fit], t_fit, feats[test])
            if not layers_only:
                oof[extra[0]][test] = kernel_ridge(x[fit], t_fit, x[test])
                synthetic = targets.synthetic
                x_syn = features([prep.serializer(row) for row in synthetic.to_dict("records")])[
                    f"mean, layer {top}"
                ]
                t_syn = logit(np.clip(targets.synthetic_pd, 1e-6, 1 - 1e-6))
                first = np.arange(len(synthetic)) % SYNTHETIC == 0  # one mixed row per row
                oof[extra[1]][test] = ridge(
                    np.vstack([x[fit], x_syn[first]]), np.r_[t_fit, t_syn[first]], x[test]
                )
                oof[extra[2]][test] = ridge(np.vstack([x[fit], x_syn]), np.r_[t_fit, t_syn], x[test])
            teachers = fit_components(list(cfg.teachers), frame.iloc[fit], y[fit], prep, random_state)
            oof["teachers"][test] = ensemble_pd(list(teachers.values()), frame.iloc[test])
            print(f"    fold done, {time.perf_counter() - started:.0f} s", flush=True)
        record_repeat(aucs, oof, y, random_state)
    print_summary(aucs, time.perf_counter() - started)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "german_credit", "--layers-only" in sys.argv)
