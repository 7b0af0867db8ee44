"""Classic tabular baselines the fine-tuned transformer has to beat on the same splits."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .config import BASELINES  # one list, shared with recipe validation


def _numeric_frame(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    for c in cols:
        values = df[c] if c in df.columns else pd.Series(np.nan, index=df.index)
        out[c] = pd.to_numeric(values, errors="coerce").astype(float).replace([np.inf, -np.inf], np.nan)
    return out


def _categorical_frame(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Categories as strings with NaN for missing, so '1' and 1 are the same level in every split."""
    out = pd.DataFrame(index=df.index)
    for c in cols:
        values = df[c] if c in df.columns else pd.Series(np.nan, index=df.index)
        obj = values.astype(object)
        out[c] = obj.map(str, na_action="ignore").where(obj.notna(), np.nan)
    return out


def _prepare(
    df: pd.DataFrame, numeric: list[str], categorical: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    return _numeric_frame(df, numeric), _categorical_frame(df, categorical)


def _fit_logistic(num: pd.DataFrame, cat: pd.DataFrame, y: np.ndarray, seed: int) -> Any:
    transformers = []
    if num.shape[1]:
        transformers.append(
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), list(num.columns))
        )
    if cat.shape[1]:
        transformers.append(
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="missing"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                list(cat.columns),
            )
        )
    model = Pipeline(
        [
            ("prep", ColumnTransformer(transformers)),
            ("clf", LogisticRegression(max_iter=2000, C=1.0, random_state=seed)),
        ]
    )
    return model.fit(pd.concat([num, cat], axis=1), y)


def _lgbm_frame(num: pd.DataFrame, cat: pd.DataFrame, levels: dict[str, list[str]]) -> pd.DataFrame:
    out = num.copy()
    for c, cats in levels.items():
        out[c] = pd.Categorical(cat[c], categories=cats)  # unseen levels become NaN
    return out


def _fit_lightgbm(
    num: pd.DataFrame, cat: pd.DataFrame, y: np.ndarray, seed: int, n_jobs: int
) -> tuple[Any, dict]:
    from lightgbm import LGBMClassifier

    levels = {c: sorted(cat[c].dropna().unique().tolist()) for c in cat.columns}
    model = LGBMClassifier(
        n_estimators=300,
        learning_rate=0.03,
        num_leaves=15,
        min_child_samples=20,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=seed,
        verbose=-1,
        n_jobs=n_jobs,
    )
    model.fit(_lgbm_frame(num, cat, levels), y)
    return model, levels


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
) -> dict[str, dict[str, np.ndarray]]:
    """Fit each named baseline on the training frame and return PD (P(y=1)) per baseline per split.

    Infinite values count as missing; columns with no value at all in training are dropped, and
    columns absent from a prediction frame are treated as missing there. ``n_jobs`` is LightGBM's
    thread count: keep it at or below the free cores, OpenMP slows down badly when oversubscribed.
    By default one thread below 20,000 rows (a second thread gains nothing there and can cost 100x
    on a busy machine), else every core this process may use.
    """
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; allowed: {', '.join(BASELINES)}")
    y = np.asarray(y_train, dtype=float).reshape(-1)
    if y.shape[0] != len(train_df):
        raise ValueError(f"train_df has {len(train_df)} rows but y_train has {y.shape[0]}")
    if not np.all(np.isin(y, (0.0, 1.0))) or not 0 < y.sum() < y.shape[0]:
        raise ValueError("y_train must contain both classes, coded 0 (good) and 1 (bad)")
    y = y.astype(int)
    if n_jobs is None:
        n_jobs = 1 if len(train_df) < 20_000 else len(os.sched_getaffinity(0))
    missing = [c for c in [*numeric, *categorical] if c not in train_df.columns]
    if missing:
        raise ValueError(f"columns not in the training data: {missing}")
    num, cat = _prepare(train_df, numeric, categorical)
    num_cols = [c for c in num.columns if num[c].notna().any()]
    cat_cols = [c for c in cat.columns if cat[c].notna().any()]
    if not num_cols and not cat_cols:
        raise ValueError("no usable feature columns: every listed column is empty in the training data")
    num, cat = num[num_cols], cat[cat_cols]
    splits = {split: _prepare(df, num_cols, cat_cols) for split, df in predict_on.items()}

    results: dict[str, dict[str, np.ndarray]] = {}
    for name in names:
        if name == "logistic":
            model = _fit_logistic(num, cat, y, seed)
            results[name] = {
                s: model.predict_proba(pd.concat(parts, axis=1))[:, 1] for s, parts in splits.items()
            }
        else:
            model, levels = _fit_lightgbm(num, cat, y, seed, n_jobs)
            results[name] = {
                s: model.predict_proba(_lgbm_frame(*parts, levels))[:, 1] for s, parts in splits.items()
            }
    return results
