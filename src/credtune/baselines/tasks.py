"""Baselines for multiclass and regression targets, on the same features as the binary components.

Each reuses the binary component's fitted preprocessing (standardized numbers, one-hot levels and
TF-IDF notes for the linear models; category codes and note SVDs for the trees) and puts a
multiclass or regression estimator on top: multinomial ``LogisticRegression`` or ``Ridge``,
``LGBMClassifier``/``LGBMRegressor``, CatBoost ``MultiClass``/``RMSE``. These fits serve one run
(figures beside the transformer); the shipped hybrid is binary-only, so they are never saved.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .common import BaselineError, Columns
from .kernel import inverse_penalty, kernel_settings, prepare_kernel
from .logistic import LOGISTIC_PARAMS, LogisticComponent, NotesComponent, notes_only, prepare_logistic
from .trees import (
    CATBOOST_PARAMS,
    LIGHTGBM_PARAMS,
    CatBoostComponent,
    LightGBMComponent,
    catboost_module,
    prepare_tree,
)

Frames = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
ABSENT_CLASS_P = 1e-6  # a class never seen in training: near zero, but a finite log-loss


class TaskModel:
    """A baseline fitted for a ``multiclass`` or ``regression`` target.

    ``predict(df)`` is an (n, n_classes) matrix of class probabilities, columns in class index order,
    or an (n,) array of predicted values. ``inputs`` turns the three input frames into what
    ``estimator`` takes; ``predict_kwargs`` carry the thread count to the libraries that accept it.
    """

    def __init__(
        self,
        name: str,
        task: str,
        n_classes: int,
        columns: Columns,
        inputs: Callable[[pd.DataFrame, pd.DataFrame, pd.DataFrame], Any],
        estimator: Any,
        predict_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.name = self.kind = name
        self.task, self.n_classes, self.columns = task, n_classes, columns
        self.inputs, self.estimator = inputs, estimator
        self.predict_kwargs = predict_kwargs or {}

    def __repr__(self) -> str:
        return f"<TaskModel {self.name} {self.task}>"

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        frames = self.columns.frames(df)
        if not len(df):  # scikit-learn refuses zero rows; the binary components return an empty array
            return np.zeros((0, self.n_classes) if self.task == "multiclass" else 0)
        x = self.inputs(*frames)
        if self.task == "regression":
            return np.asarray(self.estimator.predict(x, **self.predict_kwargs), dtype=np.float64).reshape(-1)
        p = np.asarray(self.estimator.predict_proba(x, **self.predict_kwargs), dtype=np.float64)
        return all_classes(p, self.estimator.classes_, self.n_classes)

    def save(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise BaselineError(
            f"the {self.name} baseline fitted for a {self.task} target is used within a run only and "
            "cannot be saved (saved components are for binary targets)"
        )


def all_classes(p: np.ndarray, classes: Any, n_classes: int) -> np.ndarray:
    """Probabilities over every class index: the model's columns placed by class, classes it never
    saw in training given ``ABSENT_CLASS_P``, rows renormalized to sum to 1."""
    out = np.full((p.shape[0], n_classes), ABSENT_CLASS_P)
    out[:, np.asarray(classes).astype(int)] = p
    return out / out.sum(axis=1, keepdims=True)


def fit_linear(
    name: str,
    columns: Columns,
    frames: Frames,
    y: np.ndarray,
    seed: int,
    task: str,
    n_classes: int,
    params: dict[str, Any] | None = None,
) -> TaskModel:
    """Multinomial logistic regression or Ridge on the binary logistic's design matrix (the kernel's:
    on its random features)."""
    cls: type[LogisticComponent] = LogisticComponent
    if name == "notes":
        cls, (columns, frames) = NotesComponent, notes_only(columns, frames)
    if name == "kernel":
        settings = kernel_settings(**(params or {}))
        shell, x = prepare_kernel(columns, frames, seed, settings)
        if task == "regression":  # Ridge's alpha is the penalty on the sum of squares, not per row
            params = {"alpha": settings["alpha"] * len(y)}
        else:
            penalty = inverse_penalty(settings, len(y))
            params = {"C": penalty, "max_iter": settings["max_iter"], "tol": settings["tol"]}
        return fit_linear_on(name, shell.columns, shell.features, x, y, seed, task, n_classes, params)
    shell, x = prepare_logistic(cls, columns, frames, seed)
    return fit_linear_on(name, shell.columns, shell.design, x, y, seed, task, n_classes, params)


def fit_linear_on(
    name: str,
    columns: Columns,
    inputs: Callable[[pd.DataFrame, pd.DataFrame, pd.DataFrame], Any],
    x: Any,
    y: np.ndarray,
    seed: int,
    task: str,
    n_classes: int,
    params: dict[str, Any] | None,
) -> TaskModel:
    from sklearn.linear_model import LogisticRegression, Ridge

    if task == "regression":
        estimator = Ridge(**{"alpha": 1.0, **(params or {})}).fit(x, y)
    else:
        estimator = LogisticRegression(**{**LOGISTIC_PARAMS, **(params or {})}, random_state=seed).fit(x, y)
    return TaskModel(name, task, n_classes, columns, inputs, estimator)


def fit_lightgbm_task(
    columns: Columns,
    frames: Frames,
    y: np.ndarray,
    seed: int,
    n_jobs: int,
    task: str,
    n_classes: int,
    params: dict,
) -> TaskModel:
    """LightGBM with the binary baseline's settings, category codes and note SVDs."""
    from lightgbm import LGBMClassifier, LGBMRegressor

    shell = prepare_tree(LightGBMComponent, columns, frames, seed, n_jobs)
    settings = {**LIGHTGBM_PARAMS, **params, "random_state": seed, "n_jobs": n_jobs}
    if task == "regression":
        estimator = LGBMRegressor(**settings)
    else:  # two classes seen in training: LightGBM's binary objective gives the same two columns
        multi = len(np.unique(y)) > 2
        estimator = LGBMClassifier(**settings, objective="multiclass" if multi else None)
    estimator.fit(shell.matrix(*frames), y, categorical_feature=shell.categorical_index or "auto")
    kwargs = {"num_threads": n_jobs}
    return TaskModel("lightgbm", task, n_classes, shell.columns, shell.matrix, estimator, kwargs)


def fit_catboost_task(
    columns: Columns,
    frames: Frames,
    y: np.ndarray,
    seed: int,
    n_jobs: int,
    task: str,
    n_classes: int,
    params: dict,
) -> TaskModel:
    """CatBoost with the binary baseline's settings, native categories and note SVDs."""
    catboost = catboost_module()
    shell = prepare_tree(CatBoostComponent, columns, frames, seed, n_jobs)
    settings = {**CATBOOST_PARAMS, **params, "random_seed": seed, "thread_count": n_jobs}
    if task == "regression":
        estimator = catboost.CatBoostRegressor(**settings, loss_function="RMSE")
    else:
        estimator = catboost.CatBoostClassifier(**settings, loss_function="MultiClass")
    estimator.fit(shell._pool(*frames, y))
    kwargs = {"thread_count": n_jobs}
    return TaskModel("catboost", task, n_classes, shell.columns, shell._pool, estimator, kwargs)


def fit_task_model(
    name: str,
    columns: Columns,
    frames: Frames,
    y: np.ndarray,
    seed: int,
    n_jobs: int,
    task: str,
    n_classes: int,
    params: dict[str, Any] | None = None,
) -> TaskModel:
    """Baseline ``name`` for a multiclass or regression target (the scorecard is refused earlier)."""
    if name in ("logistic", "notes", "kernel"):
        return fit_linear(name, columns, frames, y, seed, task, n_classes, params)
    fit = {"lightgbm": fit_lightgbm_task, "catboost": fit_catboost_task}[name]
    return fit(columns, frames, y, seed, n_jobs, task, n_classes, params or {})
