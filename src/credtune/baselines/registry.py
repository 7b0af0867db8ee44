"""Fit a named baseline, reload a saved one, or fit several and predict splits (``run_baselines``).

The names are ``credtune.config.BASELINES`` (shared with recipe validation). LightGBM and CatBoost
are told their thread count explicitly: OpenMP slows down badly when it oversubscribes a busy machine.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import BASELINES
from .common import BaselineError, BaselineFileError, check_target, usable_columns
from .component import Component
from .logistic import LogisticComponent, fit_logistic
from .scorecard import ScorecardComponent, fit_scorecard
from .trees import CatBoostComponent, LightGBMComponent, fit_catboost, fit_lightgbm

COMPONENTS: dict[str, type[Component]] = {
    "logistic": LogisticComponent,
    "scorecard": ScorecardComponent,
    "lightgbm": LightGBMComponent,
    "catboost": CatBoostComponent,
}
_FIT: dict[str, Callable[..., Component]] = {
    "logistic": lambda cols, frames, y, seed, n_jobs: fit_logistic(cols, frames, y, seed),
    "scorecard": lambda cols, frames, y, seed, n_jobs: fit_scorecard(cols, frames, y, seed),
    "lightgbm": fit_lightgbm,
    "catboost": fit_catboost,
}


OPTIONAL_PACKAGES = {
    "scorecard": "optbinning",
    "catboost": "catboost",
}  # needed to fit (catboost also to load)


def _check_names(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in BASELINES or n not in COMPONENTS]
    if unknown:
        raise BaselineError(f"unknown baseline(s) {unknown}; allowed: {', '.join(BASELINES)}")
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
) -> Component:
    """Fit baseline ``name`` on ``train_df`` with labels ``y`` (1 = bad, 0 = good).

    Columns with no value in training are left out; at prediction, absent columns are missing and
    unseen categories fall back to what the model does with an unknown level. Raises BaselineError
    (a ValueError) for an unknown name, bad labels, absent columns or nothing usable to fit on.
    """
    _check_names([name])
    if not isinstance(train_df, pd.DataFrame):
        raise BaselineError(f"train_df must be a pandas DataFrame, got {type(train_df).__name__}")
    labels = check_target(y, len(train_df))
    columns = usable_columns(train_df, list(numeric), list(categorical), list(text))
    component = _FIT[name](columns, columns.frames(train_df), labels, seed, n_jobs)
    component.n_jobs = n_jobs
    return component


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
) -> dict[str, dict[str, np.ndarray]]:
    """Fit each named baseline on the training frame and return PD (P(y=1)) per baseline per split.

    Infinite values count as missing; columns with no value at all in training are dropped, and
    columns absent from a prediction frame are treated as missing there. ``n_jobs`` is the thread
    count of the tree models (default: ``default_threads``); ``text`` lists free-text note columns.
    """
    _check_names(names)
    check_target(y_train, len(train_df))
    usable_columns(train_df, list(numeric), list(categorical), list(text))  # fail before fitting anything
    threads = default_threads(len(train_df)) if n_jobs is None else n_jobs
    results: dict[str, dict[str, np.ndarray]] = {}
    for name in names:
        component = fit_component(name, train_df, y_train, numeric, categorical, text, seed, threads)
        results[name] = {split: component.predict_proba(df) for split, df in predict_on.items()}
    return results
