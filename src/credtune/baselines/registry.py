"""Fit a named baseline, reload a saved one, or fit several and predict splits (``run_baselines``).

The names are ``credtune.config.BASELINES`` (shared with recipe validation). LightGBM and CatBoost
are told their thread count explicitly: OpenMP slows down badly when it oversubscribes a busy machine.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import BASELINES
from ..errors import did_you_mean
from .common import TASKS, BaselineError, BaselineFileError, check_target, usable_columns
from .component import Component
from .kernel import KernelComponent, fit_kernel, kernel_settings
from .logistic import LogisticComponent, NotesComponent, fit_logistic, fit_notes
from .scorecard import ScorecardComponent, fit_scorecard
from .tasks import TaskModel, fit_task_model
from .trees import CatBoostComponent, LightGBMComponent, catboost_module, fit_catboost, fit_lightgbm

COMPONENTS: dict[str, type[Component]] = {
    "logistic": LogisticComponent,
    "scorecard": ScorecardComponent,
    "lightgbm": LightGBMComponent,
    "catboost": CatBoostComponent,
    "notes": NotesComponent,
    "kernel": KernelComponent,
}
_FIT: dict[str, Callable[..., Component]] = {
    "logistic": lambda cols, frames, y, seed, n_jobs, params: fit_logistic(
        cols, frames, y, seed, params=params
    ),
    "scorecard": lambda cols, frames, y, seed, n_jobs, params: fit_scorecard(cols, frames, y, seed, params),
    "lightgbm": fit_lightgbm,
    "catboost": fit_catboost,
    "notes": lambda cols, frames, y, seed, n_jobs, params: fit_notes(cols, frames, y, seed, params),
    "kernel": lambda cols, frames, y, seed, n_jobs, params: fit_kernel(cols, frames, y, seed, params),
}
# arguments credtune sets itself: from the recipe's seed, the cores, the columns and the target kind
OWNED = frozenset({"random_state", "random_seed", "n_jobs", "thread_count", "variable_names",
                   "categorical_variables", "objective", "loss_function", "verbose"})  # fmt: skip


OPTIONAL_PACKAGES = {
    "scorecard": "optbinning",
    "catboost": "catboost",
}  # needed to fit (catboost also to load)


def _check_names(names: Sequence[str], task: str = "binary", n_classes: int = 2) -> None:
    unknown = [n for n in names if n not in BASELINES or n not in COMPONENTS]
    if unknown:
        raise BaselineError(f"unknown baseline(s) {unknown}; allowed: {', '.join(BASELINES)}")
    if task not in TASKS:
        raise BaselineError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    whole = isinstance(n_classes, (int, np.integer)) and not isinstance(n_classes, bool)
    if task == "multiclass" and not (whole and n_classes >= 2):
        raise BaselineError(f"n_classes must be a whole number of 2 or more, got {n_classes!r}")
    if task != "binary" and "scorecard" in names:
        raise BaselineError(
            f"the scorecard baseline is for binary targets (task: {task}); leave it out of baselines"
        )
    for name in names:
        package = OPTIONAL_PACKAGES.get(name)
        if package and importlib.util.find_spec(package) is None:
            raise BaselineError(f"the {name} baseline needs the {package} package: pip install {package}")


def fit_component(
    name: str,
    train_df: pd.DataFrame,
    y: Any,
    numeric: Sequence[str],
    categorical: Sequence[str],
    text: Sequence[str] = (),
    seed: int = 0,
    n_jobs: int = 1,
    task: str = "binary",
    n_classes: int = 2,
    params: dict[str, Any] | None = None,
) -> Component | TaskModel:
    """Fit baseline ``name`` on ``train_df`` with labels ``y``: 1 = bad, 0 = good (binary), class
    indexes 0..n_classes-1 (multiclass) or numbers (regression). ``params`` are arguments of the
    library's estimator (``estimator``) over credtune's defaults (a recipe's ``baseline_params``).

    Binary gives a ``Component`` (P(bad) from ``predict_proba`` or ``predict``; it can be saved);
    the other tasks a ``TaskModel`` whose ``predict`` gives class probabilities (n, n_classes) or
    values (n,). Columns with no value in training are left out; at prediction, absent columns are
    missing and unseen categories fall back to what the model does with an unknown level. Raises
    BaselineError (a ValueError) for an unknown name or task, bad labels, absent columns, nothing
    usable to fit on, the scorecard on a non-binary target, or the notes baseline without notes.
    """
    _check_names([name], task, n_classes)
    if not isinstance(train_df, pd.DataFrame):
        raise BaselineError(f"train_df must be a pandas DataFrame, got {type(train_df).__name__}")
    if name == "notes" and not text:
        raise BaselineError("the notes baseline needs note columns (data.text)")
    labels = check_target(y, len(train_df), task, n_classes)
    params = check_params(name, params or {}, task)
    columns = usable_columns(train_df, list(numeric), list(categorical), list(text))
    frames = columns.frames(train_df)
    try:
        if task != "binary":
            return fit_task_model(name, columns, frames, labels, seed, n_jobs, task, n_classes, params)
        component = _FIT[name](columns, frames, labels, seed, n_jobs, params)
    except BaselineError:
        raise
    except Exception as e:  # a value the library refuses, e.g. num_leaves: 1
        if not params:
            raise
        raise BaselineError(
            f"the {name} baseline with baseline_params.{name} {params} failed to fit: {e}"
        ) from e
    component.n_jobs = n_jobs
    return component


def estimator(name: str, task: str = "binary") -> type:
    """The library class whose arguments ``baseline_params.<name>`` sets for a ``task`` target."""
    regression = task == "regression"
    if name == "scorecard":
        from optbinning import BinningProcess

        return BinningProcess
    if name in ("logistic", "notes"):
        from sklearn.linear_model import LogisticRegression, Ridge

        return Ridge if regression else LogisticRegression
    if name == "kernel":
        return kernel_settings
    if name == "lightgbm":
        from lightgbm import LGBMClassifier, LGBMRegressor

        return LGBMRegressor if regression else LGBMClassifier
    catboost = catboost_module()
    return catboost.CatBoostRegressor if regression else catboost.CatBoostClassifier


def check_params(name: str, params: Any, task: str | None = None) -> dict[str, Any]:
    """``baseline_params.<name>`` checked against the named arguments of the estimator that fits
    it for ``task`` (None: any target kind, before the data has told it): one clear line for a
    typo or for an argument credtune sets itself, so no run starts that would fail at its end."""
    where = f"baseline_params.{name}"
    if not isinstance(params, dict):
        raise BaselineError(f"{where}: expected a mapping of argument: value, got {params!r}")
    kinds = [task] if task else [t for t in TASKS if name != "scorecard" or t == "binary"]
    _check_names([name], kinds[0])
    classes = {estimator(name, kind) for kind in kinds}
    allowed = {p for cls in classes for p in inspect.signature(cls).parameters} - {"args", "kwargs"}
    for key in params:
        if key in OWNED:
            raise BaselineError(
                f"{where}.{key}: credtune sets it (from the seed, the cores, the columns or the target)"
            )
        if key not in allowed:
            shown = " / ".join(sorted(cls.__name__ for cls in classes))
            raise BaselineError(
                f"{where}: {shown} has no argument '{key}'{did_you_mean(key, sorted(allowed))}"
            )
    return dict(params)


def load_component(folder: Path, meta: dict[str, Any], n_jobs: int = 1) -> Component:
    """Rebuild a component from the files ``Component.save(folder)`` wrote and the ``meta`` it returned.

    Raises BaselineFileError (a ValueError) when ``meta`` or a file is missing, damaged or edited."""
    kind = meta.get("kind") if isinstance(meta, dict) else None
    if kind not in COMPONENTS:
        raise BaselineFileError(f"unknown baseline component kind {kind!r}; known: {', '.join(COMPONENTS)}")
    return COMPONENTS[kind].load(Path(folder), meta, n_jobs=n_jobs)


def points_table(component: Component) -> list[dict[str, Any]]:
    """The scorecard's points table: one dict per variable and bin (variable, bin, woe, points, count,
    event_rate); 600 points at good:bad odds of 50:1, 20 points to double the odds."""
    if not isinstance(component, ScorecardComponent):
        raise BaselineError(
            f"points_table needs a scorecard component, got {getattr(component, 'kind', component)!r}"
        )
    return component.points_table()


def default_threads(n_rows: int) -> int:
    """One thread below 20,000 rows (a second gains nothing there and can cost 100x on a busy
    machine), else every core this process may use."""
    return 1 if n_rows < 20_000 else len(os.sched_getaffinity(0))


def run_baselines(
    names: list[str] | tuple[str, ...],
    train_df: pd.DataFrame,
    y_train: Any,
    predict_on: dict[str, pd.DataFrame],
    numeric: list[str],
    categorical: list[str],
    seed: int = 0,
    *,
    n_jobs: int | None = None,
    text: Sequence[str] = (),
    task: str = "binary",
    n_classes: int = 2,
    params: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Fit each named baseline on the training frame and return its ``predict`` per split: PD
    (P(y=1)) for binary, (n, n_classes) class probabilities for multiclass, values for regression.

    Infinite values count as missing; columns with no value at all in training are dropped, and
    columns absent from a prediction frame are treated as missing there. ``n_jobs`` is the thread
    count of the tree models (default: ``default_threads``); ``text`` lists free-text note columns;
    ``params`` maps a baseline's name to its estimator's arguments (``fit_component``).
    """
    _check_names(names, task, n_classes)
    if "notes" in names and not text:
        raise BaselineError("the notes baseline needs note columns (data.text)")
    check_target(y_train, len(train_df), task, n_classes)
    usable_columns(train_df, list(numeric), list(categorical), list(text))  # fail before fitting anything
    threads = default_threads(len(train_df)) if n_jobs is None else n_jobs
    results: dict[str, dict[str, np.ndarray]] = {}
    for name in names:
        model = fit_component(
            name, train_df, y_train, numeric, categorical, text, seed, threads, task, n_classes,
            (params or {}).get(name),
        )  # fmt: skip
        results[name] = {split: model.predict(df) for split, df in predict_on.items()}
    return results


def check_recipe_baselines(recipe: Any, task: str | None = None) -> None:
    """What a recipe fits as a baseline, a hybrid component or a teacher: the optional catboost
    package is installed where one is CatBoost (checked before the encoder's pass, not after it),
    and each of `baseline_params` names one of them and only arguments its estimator takes."""
    used = {
        *recipe.baselines,
        *(recipe.model.hybrid or []),
        *(recipe.distill.teachers if recipe.distill else []),
    }
    if "catboost" in used:
        catboost_module()
    for name, params in recipe.baseline_params.items():
        if name not in used:
            shown = ", ".join(sorted(used)) or "none"
            raise BaselineError(f"baseline_params.{name}: the run fits no {name} (it fits: {shown})")
        check_params(name, params, task)
