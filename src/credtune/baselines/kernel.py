"""Kernel logistic regression: the logistic baseline's design seen through an RBF kernel.

The logistic regression, the scorecard and the tree models each split or weigh one field at a time;
an RBF kernel instead compares whole applicants (how close two rows are over all their fields at
once), which is what lifts the German credit hybrid in docs/experiments.md (round 20). The kernel is
approximated by random Fourier features (Rahimi & Recht 2007): each row's standardized, one-hot
design x becomes cos(x W + b) * sqrt(2 / D) with W ~ N(0, 2 gamma) and b ~ U(0, 2 pi), and a
logistic regression is fitted on those D numbers (with `linear: true`, on the design beside them).
Unlike a support vector machine it stores no training rows: the saved files are the logistic
design's JSON plus W and b as safetensors, so a model folder pushed to the Hub carries no borrower
records. Note columns, when a recipe has them, join the features linearly as TF-IDF terms.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import expit

from .common import BaselineError, BaselineFileError, Columns, dump_json, floats, number, require
from .component import read_params
from .logistic import LogisticComponent, prepare_logistic, read_design, tabular_width


def kernel_settings(
    alpha: float = 3e-4,
    n_components: int = 8000,
    gamma: float | str = "scale",
    linear: bool = False,
    max_iter: int = 2000,
    tol: float = 1e-4,
) -> dict[str, Any]:
    """`baseline_params.kernel`. `alpha`: the L2 penalty per training row (scikit-learn's C is
    1 / (alpha x rows)), so one setting fits 800 rows and 8,000: C 4.2 on German credit's folds
    (C 4 was the best of 1-16 tried there) and 0.42 on Lending Club's (where 0.25 and 1 beat 4);
    docs/experiments.md, round 20.
    `n_components`: random features; fewer make each seed's model a noisier draw of the kernel
    (German credit, out-of-fold AUC over 5 draws: 2,000 features 0.795 +- 0.005, 8,000 0.795 +-
    0.001; `scripts/experiments/kernel_draws.py`). `gamma`: the RBF width in
    exp(-gamma |x - x'|^2); `scale` is 1 / the mean squared distance between two rows of the
    design, 1 / (2 x columns x their variance). `linear`: the design itself beside the kernel's
    features (a linear + RBF kernel)."""
    where = "baseline_params.kernel"
    if not (isinstance(alpha, (int, float)) and alpha > 0):
        raise BaselineError(f"{where}.alpha must be a positive number, got {alpha!r}")
    if not (isinstance(n_components, int) and n_components > 0):
        raise BaselineError(f"{where}.n_components must be a positive whole number, got {n_components!r}")
    if gamma != "scale" and not (isinstance(gamma, (int, float)) and gamma > 0):
        raise BaselineError(f"{where}.gamma must be 'scale' or a positive number, got {gamma!r}")
    settings = {"n_components": n_components, "gamma": gamma, "linear": bool(linear)}
    return {**settings, "alpha": float(alpha), "max_iter": max_iter, "tol": tol}


def inverse_penalty(settings: dict[str, Any], n_rows: int) -> float:
    """scikit-learn's C for `alpha`, the penalty per training row, on `n_rows` rows."""
    return 1.0 / (settings["alpha"] * n_rows)


CHUNK = 2048  # rows scored at a time: 2,048 x 8,000 features is 131 MB


class KernelComponent(LogisticComponent):
    kind = "kernel"
    files = {"params": ".json", "features": ".safetensors"}
    libraries = ("scikit-learn", "safetensors")

    def __init__(
        self,
        columns: Columns,
        *,
        weights: np.ndarray,
        offsets: np.ndarray,
        linear: bool,
        **design: Any,
    ) -> None:
        super().__init__(columns, **design)
        self.weights, self.offsets, self.linear = weights, offsets, linear

    def features(
        self, num: pd.DataFrame, cat: pd.DataFrame, txt: pd.DataFrame
    ) -> np.ndarray | sparse.csr_matrix:
        """The random Fourier features of the tabular design, then (optionally) the design itself,
        then the note terms."""
        return self.features_of(self.design(num, cat, txt))

    def features_of(self, x: np.ndarray | sparse.csr_matrix) -> np.ndarray | sparse.csr_matrix:
        """`features` from an already computed design matrix."""
        width = self.weights.shape[0]
        table = _tabular(x, width)
        blocks: list[Any] = [np.cos(table @ self.weights + self.offsets) * math.sqrt(2.0 / len(self.offsets))]
        if self.linear:
            blocks.append(table)
        if not sparse.issparse(x):
            return np.hstack(blocks)
        return sparse.hstack([sparse.csr_matrix(b) for b in blocks] + [x[:, width:]], format="csr")

    def _predict(self, num: pd.DataFrame, cat: pd.DataFrame, txt: pd.DataFrame) -> np.ndarray:
        out = np.empty(len(num))
        for start in range(0, len(num), CHUNK):  # rows x features floats: a portfolio in slices
            rows = slice(start, start + CHUNK)
            z = self.features(num.iloc[rows], cat.iloc[rows], txt.iloc[rows])
            out[rows] = expit(z @ self.coef + self.intercept)
        return out

    def _write(self, paths: dict[str, Path]) -> None:
        from safetensors.numpy import save_file

        params = {**self.to_params(), "linear": self.linear, "n_components": len(self.offsets)}
        paths["params"].write_bytes(dump_json(params))
        save_file({"weights": np.ascontiguousarray(self.weights), "offsets": self.offsets}, paths["features"])

    @classmethod
    def _read(cls, paths: dict[str, Path], n_jobs: int) -> KernelComponent:
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        params, columns = read_params(cls, paths["params"])
        where = paths["params"].name
        design = read_design(params, columns, where)
        width = tabular_width(columns.numeric, design["levels"])
        n = require(params.get("n_components"), int, f"{where}: n_components")
        if n < 1:
            raise BaselineFileError(f"{where}: n_components must be positive, got {n}")
        linear = require(params.get("linear"), bool, f"{where}: linear")
        try:
            arrays = load_file(paths["features"])
        except (SafetensorError, OSError, ValueError) as e:
            raise BaselineFileError(f"{paths['features'].name}: not a safetensors file ({e})") from e
        name = paths["features"].name
        weights = floats(arrays.get("weights"), f"{name}: weights", (width, n))
        offsets = floats(arrays.get("offsets"), f"{name}: offsets", (n,))
        n_coef = n + (width if linear else 0) + sum(len(t.vocabulary) for t in design["texts"])
        coef = floats(params.get("coef"), f"{where}: coef", (n_coef,))
        intercept = number(params.get("intercept"), f"{where}: intercept")
        return cls(
            columns, weights=weights, offsets=offsets, linear=linear, coef=coef, intercept=intercept,
            n_jobs=n_jobs, **design,
        )  # fmt: skip


def _tabular(x: np.ndarray | sparse.csr_matrix, width: int) -> np.ndarray:
    """The design's numbers and levels (its first `width` columns), dense: the kernel's input."""
    return x[:, :width].toarray() if sparse.issparse(x) else x[:, :width]


def prepare_kernel(
    columns: Columns,
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    seed: int,
    settings: dict[str, Any],
) -> tuple[KernelComponent, np.ndarray | sparse.csr_matrix]:
    """The fitted preprocessing and random features (coefficients still empty) and the training
    feature matrix, shared by the binary component and the multiclass/regression fits."""
    shell, x = prepare_logistic(LogisticComponent, columns, frames, seed)
    width = tabular_width(shell.means, shell.levels)
    if width == 0:
        raise BaselineError("kernel: needs numeric or categorical columns (notes alone: the notes baseline)")
    table = _tabular(x, width)
    gamma = settings["gamma"]
    if gamma == "scale":
        gamma = 1.0 / (2.0 * width * table.var()) if table.var() > 0 else 1.0
    rng = np.random.default_rng(seed)
    d = settings["n_components"]
    model = KernelComponent(
        shell.columns,
        weights=rng.normal(scale=math.sqrt(2.0 * gamma), size=(width, d)),
        offsets=rng.uniform(0.0, 2.0 * math.pi, size=d),
        linear=settings["linear"],
        medians=shell.medians, means=shell.means, scales=shell.scales, levels=shell.levels,
        texts=shell.texts, coef=np.zeros(0), intercept=0.0,
    )  # fmt: skip
    return model, model.features_of(x)


def fit_kernel(
    columns: Columns,
    frames: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    y: np.ndarray,
    seed: int,
    params: dict[str, Any] | None = None,
) -> KernelComponent:
    from sklearn.linear_model import LogisticRegression

    settings = kernel_settings(**(params or {}))
    model, features = prepare_kernel(columns, frames, seed, settings)
    clf = LogisticRegression(
        C=inverse_penalty(settings, len(y)),
        max_iter=settings["max_iter"],
        tol=settings["tol"],
        random_state=seed,
    )
    clf.fit(features, y)
    model.coef, model.intercept = clf.coef_.reshape(-1).astype(np.float64), float(clf.intercept_[0])
    return model
