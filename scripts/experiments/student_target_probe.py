"""Which target should the frozen encoder's head learn: the labels, or which teachers' PD?

`student_head_probe.py` found the student at or above its teachers on Lending Club, where the
teachers' ensemble (logistic, scorecard, LightGBM: 0.738 in that probe) is itself below logistic
regression alone (0.744 in cv). Here, on the same folds, heads fitted in closed form on the
standardized mean of MiniLM's states (the top layer, as shipped, and every layer side by side,
which no plain BERT classifier can read but which shows what the encoder holds):

- `labels`: logistic regression on the labels, C by inner 3-fold AUC (`head.fit_head`'s choice);
- `teachers: [...]`: ridge regression on the log-odds of those teachers' cross-fitted PD,
  alpha by generalized cross-validation (as `head.fit_head` does for `distill:`);
- for reference, each teacher set itself, fitted on the fold's training rows;
- `stack`: logistic regression and the student taught by the recipe's teachers, their log-odds
  each standardized on the fold's training rows and added (equal weights): does a student that
  reads more layers add to the best baseline?

Folds: StratifiedKFold random_state 42, 43, 44; pooled out-of-fold AUC against the labels. The
encoder's outputs are kept in `--features FILE` (.npz), made on the first run.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/student_target_probe.py lendingclub \
        --features /tmp/lendingclub_layers.npz
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).parent))
from pooling_probe import features, print_summary, probe_fold, probe_table, record_repeat, top_layer  # noqa: E402
from student_head_probe import ridge  # noqa: E402

from credtune.config import DistillConfig  # noqa: E402
from credtune.distill import ensemble_pd, teacher_targets  # noqa: E402
from credtune.evaluation import fit_components  # noqa: E402
from credtune.metrics import logit  # noqa: E402

TEACHER_SETS = (("logistic", "scorecard", "lightgbm"), ("logistic",), ("logistic", "scorecard"))


def layer_means(prep: object, path: Path) -> dict[str, np.ndarray]:
    if path.exists():
        return dict(np.load(path))
    found = features([prep.serializer(row) for row in prep.table])
    means = {name: x for name, x in found.items() if name.startswith("mean")}
    np.savez(path, **means)
    return means


def standardized(on_fit: np.ndarray, on_test: np.ndarray) -> np.ndarray:
    """`on_test` in units of `on_fit`'s spread (the stack's parts on one scale)."""
    return (on_test - on_fit.mean()) / on_fit.std()


def layer_views() -> tuple[Any, Any, Any, np.ndarray, dict[str, np.ndarray], float]:
    """The command line's recipe, its table, frame and labels, and the two views of the encoder
    (`--features` holds the layer means, made on the first run); the time it started."""
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe")
    parser.add_argument("--features", type=Path, required=True)
    cli = parser.parse_args()
    recipe, prep, frame, y = probe_table(cli.recipe)
    started = time.perf_counter()
    means = layer_means(prep, cli.features)
    top = top_layer(means)
    print(f"{cli.recipe}: {len(y)} rows, features ready in {time.perf_counter() - started:.0f} s", flush=True)
    views = {
        "top layer": means[f"mean, layer {top}"],
        "all layers": np.hstack([means[f"mean, layer {i}"] for i in range(top + 1)]),
    }
    return recipe, prep, frame, y, views, started


def main() -> None:
    recipe, prep, frame, y, views, started = layer_views()
    folds = recipe.distill.folds if recipe.distill else 3
    names = ["top layer, labels"]  # a logistic regression on every layer's 2,688 columns is too slow here
    names += [f"{v}, teachers {list(t)}" for t in TEACHER_SETS for v in views]
    names += [f"teachers {list(t)} themselves" for t in TEACHER_SETS]
    names += [f"stack: logistic + {v} student" for v in views]
    aucs: dict[str, list[float]] = {name: [] for name in names}
    for random_state in (42, 43, 44):
        oof = {name: np.zeros(len(y)) for name in names}
        for fit, test in StratifiedKFold(5, shuffle=True, random_state=random_state).split(y, y):
            x = views["top layer"]
            oof["top layer, labels"][test] = probe_fold(x[fit], y[fit], x[test])
            students = {}  # view -> the student's log-odds on the fit rows and the test rows
            for teachers in TEACHER_SETS:
                cfg = DistillConfig(teachers=list(teachers), weight=1.0, folds=folds, synthetic=0)
                soft = teacher_targets(cfg, frame.iloc[fit], y[fit], prep, random_state).soft
                for view, x in views.items():
                    both = ridge(x[fit], logit(np.clip(soft, 1e-6, 1 - 1e-6)), x[np.r_[fit, test]])
                    oof[f"{view}, teachers {list(teachers)}"][test] = both[len(fit) :]
                    students.setdefault(view, (both[: len(fit)], both[len(fit) :]))
                fitted = fit_components(list(teachers), frame.iloc[fit], y[fit], prep, random_state)
                oof[f"teachers {list(teachers)} themselves"][test] = ensemble_pd(
                    list(fitted.values()), frame.iloc[test]
                )
                if teachers == ("logistic",):
                    model = fitted["logistic"]
                    base = tuple(
                        logit(np.clip(model.predict_proba(frame.iloc[rows]), 1e-6, 1 - 1e-6))
                        for rows in (fit, test)
                    )
            for view, student in students.items():
                oof[f"stack: logistic + {view} student"][test] = standardized(*base) + standardized(*student)
            print(f"    fold done, {time.perf_counter() - started:.0f} s", flush=True)
        record_repeat(aucs, oof, y, random_state)
    print_summary(aucs, time.perf_counter() - started)


if __name__ == "__main__":
    main()
