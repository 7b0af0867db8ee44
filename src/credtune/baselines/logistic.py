"""Logistic regression baseline: median-imputed standardized numbers, one-hot categories, TF-IDF notes.

The preprocessing is the same as the scikit-learn pipeline credtune always used (median impute +
``StandardScaler``; constant 'missing' level + one-hot ignoring unseen levels; ``LogisticRegression``
C=1, max_iter 2000). The fitted model is kept only as numbers (medians, means, scales, levels,
coefficients, intercept, and the TF-IDF vocabulary/idf of note columns), so the saved JSON predicts
with numpy/scipy alone and nothing fitted by scikit-learn has to be unpickled. The ``notes``
baseline is the same model on the note columns alone (``NotesComponent``, its own kind and files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import expit

from .common import (
    BaselineFileError,
    Columns,
    dump_json,
    floats,
    number,
    read_levels,
    require_inputs,
)
from .component import Component, read_params
from .text import TextFeatures, fit_text, texts_from_json, texts_to_json

MISSING_LEVEL = "missing"
LOGISTIC_PARAMS = {"C": 1.0, "max_iter": 2000}  # under the recipe's `baseline_params.logistic`


class LogisticComponent(Component):
    kind = "logistic"
    libraries = ("scikit-learn",)

    def __init__(
        self,
        columns: Columns,
        *,
        medians: np.ndarray,
        means: np.ndarray,
        scales: np.ndarray,
        levels: list[list[str]],
        texts: list[TextFeatures],
        coef: np.ndarray,
        intercept: float,
        n_jobs: int = 1,
    ) -> None:
        super().__init__(columns, n_jobs)
        self.medians, self.means, self.scales = medians, means, scales
        self.levels, self.texts = levels, texts
        self.coef, self.intercept = coef, intercept

    def design(
        self, num: pd.DataFrame, cat: pd.DataFrame, txt: pd.DataFrame
    ) -> sparse.csr_matrix | np.ndarray:
        """The model matrix: standardized numbers, then one column per category level, then note terms."""
        x = num.to_numpy(dtype=np.float64, copy=True)
        x = np.where(np.isnan(x), self.medians, x)
        blocks: list[Any] = [(x - self.means) / self.scales]
        for c, levels in zip(cat.columns, self.levels):
            values = cat[c].fillna(MISSING_LEVEL).to_numpy(dtype=object)
            blocks.append((values[:, None] == np.asarray(levels, dtype=object)[None, :]).astype(np.float64))
        if not self.texts:
            return np.hstack(blocks) if blocks else np.zeros((len(num), 0))
        blocks += [t.tfidf(txt[t.column]) for t in self.texts]
        return sparse.hstack([sparse.csr_matrix(b) for b in blocks], format="csr")

    def _predict(self, num: pd.DataFrame, cat: pd.DataFrame, txt: pd.DataFrame) -> np.ndarray:
        return expit(self.design(num, cat, txt) @ self.coef + self.intercept)

    def to_params(self) -> dict[str, Any]:
        """What the params JSON holds (a subclass adds its own keys)."""
        return {
            "kind": self.kind,
            "columns": self.columns.to_json(),
            "medians": self.medians.tolist(),
            "means": self.means.tolist(),
            "scales": self.scales.tolist(),
            "missing_level": MISSING_LEVEL,
            "levels": self.levels,
            "text": texts_to_json(self.texts),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    def _write(self, paths: dict[str, Path]) -> None:
        paths["params"].write_bytes(dump_json(self.to_params()))

    @classmethod
    def _read(cls, paths: dict[str, Path], n_jobs: int) -> LogisticComponent:
        params, columns = read_params(cls, paths["params"])
        where = paths["params"].name
        design = read_design(params, columns, where)
        width = tabular_width(columns.numeric, design["levels"])
        width += sum(len(t.vocabulary) for t in design["texts"])
        coef = floats(params.get("coef"), f"{where}: coef", (width,))
        intercept = number(params.get("intercept"), f"{where}: intercept")
        return cls(columns, **design, coef=coef, intercept=intercept, n_jobs=n_jobs)


def tabular_width(numeric: Any, levels: list[Any]) -> int:
    """Columns of the design before the note terms: one per number, one per category level."""
    return len(numeric) + sum(map(len, levels))


def read_design(params: dict[str, Any], columns: Columns, where: str) -> dict[str, Any]:
    """The saved preprocessing (medians, means, scales, levels, texts) as the constructor takes it."""
    n_num = (len(columns.numeric),)
    stats = {k: floats(params.get(k), f"{where}: {k}", n_num) for k in ("medians", "means", "scales")}
    if np.any(stats["scales"] <= 0):
        raise BaselineFileError(f"{where}: scales must be positive")
    if params.get("missing_level") != MISSING_LEVEL:
        raise BaselineFileError(f"{where}: missing_level must be '{MISSING_LEVEL}'")
    levels = read_levels(params, columns, where)
    texts = texts_from_json(params.get("text"), f"{where}: text", columns.text)
    return {**stats, "levels": levels, "texts": texts}


class NotesComponent(LogisticComponent):
    """The same model on the note columns alone: how much the words say without the table."""

    kind = "notes"

    @classmethod
    def _read(cls, paths: dict[str, Path], n_jobs: int) -> LogisticComponent:
        out = super()._read(paths, n_jobs)
        if out.columns.numeric or out.columns.categorical:
            raise BaselineFileError(f"{paths['params'].name}: a notes component reads note columns only")
        return out


def prepare_logistic(
    cls: type[LogisticComponent],
    columns: Columns,
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    seed: int,
) -> tuple[LogisticComponent, sparse.csr_matrix | np.ndarray]:
    """The fitted preprocessing (coefficients still empty) and the training design matrix, shared by
    the binary component and the multiclass/regression fits so all see the same features."""
    from sklearn.preprocessing import StandardScaler

    num, cat, txt = frames
    values = num.to_numpy(dtype=np.float64)
    medians = np.nanmedian(values, axis=0) if num.shape[1] else np.zeros(0)
    imputed = np.where(np.isnan(values), medians, values)
    if num.shape[1]:
        scaler = StandardScaler().fit(imputed)
        means, scales = scaler.mean_.astype(np.float64), scaler.scale_.astype(np.float64)
    else:
        means = scales = np.zeros(0)
    levels = [sorted(set(cat[c].fillna(MISSING_LEVEL))) for c in cat.columns]
    texts = fit_text(txt, svd=False, seed=seed)
    columns = Columns(columns.numeric, columns.categorical, tuple(t.column for t in texts))
    require_inputs(columns, cls.kind)
    model = cls(
        columns, medians=medians, means=means, scales=scales, levels=levels, texts=texts,
        coef=np.zeros(0), intercept=0.0,
    )  # fmt: skip
    return model, model.design(num, cat, txt[list(columns.text)])


def fit_logistic(
    columns: Columns,
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    y: np.ndarray,
    seed: int,
    cls: type[LogisticComponent] = LogisticComponent,
    params: dict[str, Any] | None = None,
) -> LogisticComponent:
    from sklearn.linear_model import LogisticRegression

    model, x = prepare_logistic(cls, columns, frames, seed)
    clf = LogisticRegression(**{**LOGISTIC_PARAMS, **(params or {})}, random_state=seed).fit(x, y)
    model.coef, model.intercept = clf.coef_.reshape(-1).astype(np.float64), float(clf.intercept_[0])
    return model


def notes_only(
    columns: Columns, frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
) -> tuple[Columns, tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
    """The note columns alone: the ``notes`` baseline ignores the table."""
    num, cat, txt = frames
    return Columns((), (), columns.text), (num.iloc[:, :0], cat.iloc[:, :0], txt)


def fit_notes(
    columns: Columns,
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    y: np.ndarray,
    seed: int,
    params: dict[str, Any] | None = None,
) -> LogisticComponent:
    return fit_logistic(*notes_only(columns, frames), y, seed, NotesComponent, params)
