"""The shipped hybrid: the fine-tuned transformer stacked with credit baselines in one model folder.

The stack is a logistic regression on the transformer's logit margin and each component's
log-odds. Its weights must come from predictions that none of the stacked models trained on:
the transformer's margins on its own training rows are in-sample (it has memorized them), so
the stacker learns from `Held` predictions, rows scored by parts that never trained on them. With
`model.hybrid_fit: validation` those are the validation split's, the parts fitted on the training
split; with `crossfit` (the default after a head fitted in closed form) every row outside test is
scored by parts fitted on the other `CROSSFIT_FOLDS` folds, and the shipped parts are then refitted
on all of those rows: more rows for the parts and five times more for the weights. The same held
rows also choose the decision threshold; for that, their hybrid PDs are cross-fitted (each fold
scored by a stacker fitted on the other folds), so the threshold is not chosen on rows whose
labels shaped the weights. The stacker outputs a calibrated PD itself (it is a logistic model).

In `model/` the components live in `hybrid/` as data files (JSON, LightGBM text, CatBoost JSON,
each checked against its SHA-256 on load); `credtune.json`'s `hybrid` entry names them and holds
the weights. No pickle anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import ModelError
from .metrics import logit, sigmoid

FOLDER = "hybrid"
TRANSFORMER = "transformer"
FLAT = 1e-3  # log-odds spread below which a part carries no information (`equal` weights)
STACK_C = 1.0  # L2 strength of the `fitted` stacker: ~150 validation rows for 2-5 weights
SHRINK = 10.0  # L2 pull of the `shrunk` weights toward equal ones (parts standardized)
CROSSFIT_FOLDS = 5  # `model.hybrid_fit: crossfit`: folds of the rows outside test


@dataclass
class Held:
    """Predictions on rows the predicting parts never trained on (the transformer's margin, each
    component's PD, the labels): what the calibrator, the stacker and the threshold learn from."""

    margin: np.ndarray
    pds: dict[str, np.ndarray]
    y: np.ndarray
    source: str  # where they come from, for metrics.json and the card

    @classmethod
    def validation(cls, margin: np.ndarray, pds: dict[str, np.ndarray], y: np.ndarray) -> Held:
        """`model.hybrid_fit: validation`: the validation rows, the parts fitted on the training rows."""
        return cls(margin, pds, y, f"validation split ({len(y)} rows)")


@dataclass
class Stacker:
    """PD = sigmoid(intercept + coef . [margin, logit(p_1), ..., logit(p_k)])."""

    features: list[str]
    coef: list[float]
    intercept: float

    def predict(self, margin: np.ndarray, component_pds: Mapping[str, np.ndarray]) -> np.ndarray:
        x = stack_features(margin, component_pds, self.features)
        return sigmoid(x @ np.asarray(self.coef) + self.intercept)


def stack_features(margin: np.ndarray, component_pds: Mapping[str, np.ndarray], names: Sequence[str]):
    columns = [np.asarray(margin, dtype=float)]
    columns += [logit(component_pds[name]) for name in names[1:]]
    return np.column_stack(columns)


def fit_stacker(
    margin: np.ndarray,
    component_pds: Mapping[str, np.ndarray],
    y: np.ndarray,
    names: Sequence[str],
    weights: str = "shrunk",
) -> Stacker:
    """The stacker on the validation rows, over every part's log-odds standardized on those rows.
    `equal`: their average, with one slope and intercept fitted (Platt) so the output is a PD.
    `shrunk`: a weight per part, pulled toward equal weights by an L2 penalty (`SHRINK`), so a
    ~150-row validation split stays near equal weights while thousands of rows can let a weak
    part go (Taiwan: equal weights trail the best part by 0.014 AUC, docs/experiments.md).
    `fitted`: a free logistic regression on the parts. All three are one linear logistic model."""
    from sklearn.linear_model import LogisticRegression

    features = [TRANSFORMER, *names]
    x = stack_features(margin, component_pds, features)
    if weights == "fitted":
        model = LogisticRegression(C=STACK_C, max_iter=1000).fit(x, y)
        return Stacker(features, [float(c) for c in model.coef_[0]], float(model.intercept_[0]))
    mean, std = x.mean(axis=0), x.std(axis=0)
    # a part whose log-odds barely move (an untrained model says the same for every applicant)
    # would have its float noise blown up by the standardization: it gets no weight
    use = std > FLAT
    if not use.any():
        use[:] = True
    spread = np.where(std[use] > 0, std[use], np.inf)
    z = (x[:, use] - mean[use]) / spread
    if weights == "shrunk":
        intercept, per_part = _shrunk_weights(z, y)
    else:
        platt = LogisticRegression(C=1e6, max_iter=1000).fit(z.mean(axis=1, keepdims=True), y)
        intercept, per_part = float(platt.intercept_[0]), np.full(z.shape[1], platt.coef_[0][0] / z.shape[1])
    coef = np.zeros(len(features))
    coef[use] = per_part / spread
    return Stacker(features, [float(c) for c in coef], intercept - float(coef @ mean))


def _shrunk_weights(z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Intercept and per-part weights minimizing log-loss + SHRINK / 2 * |deviation from a common
    weight|^2 (intercept and common weight free): equal weights unless the rows say otherwise."""
    from scipy.optimize import minimize

    k = z.shape[1]
    design = np.column_stack([np.ones(len(y)), z.mean(axis=1), z])
    penalty = np.r_[0.0, 0.0, np.full(k, SHRINK)]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        s = design @ w
        value = float(np.sum(np.logaddexp(0.0, s) - y * s) + 0.5 * np.sum(penalty * w * w))
        return value, design.T @ (sigmoid(s) - y) + penalty * w

    w = minimize(loss, np.zeros(k + 2), jac=True, method="L-BFGS-B").x
    return float(w[0]), w[1] / k + w[2:]


def cross_fitted(
    margin: np.ndarray,
    component_pds: Mapping[str, np.ndarray],
    y: np.ndarray,
    names: Sequence[str],
    seed: int,
    weights: str = "shrunk",
    folds: int = 5,
) -> np.ndarray:
    """Hybrid PDs for the stacker's own rows, each fold scored by weights fitted on the others."""
    from sklearn.model_selection import StratifiedKFold

    folds = max(2, min(folds, int(np.bincount(y, minlength=2).min())))
    out = np.empty(len(y))
    for fit, held in StratifiedKFold(folds, shuffle=True, random_state=seed).split(margin, y):
        parts = {n: p[fit] for n, p in component_pds.items()}
        stacker = fit_stacker(margin[fit], parts, y[fit], names, weights)
        out[held] = stacker.predict(margin[held], {n: p[held] for n, p in component_pds.items()})
    return out


@dataclass
class Hybrid:
    """The fitted components and the stacker; `predict` turns margins and a frame into PDs."""

    components: dict[str, Any]  # name -> credtune.baselines.Component
    stacker: Stacker
    fitted_on: str = "validation split"

    def component_pds(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        return {name: c.predict_proba(frame) for name, c in self.components.items()}

    def predict(self, margin: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
        return self.stacker.predict(margin, self.component_pds(frame))

    def describe(self) -> dict[str, Any]:
        """For metrics.json and the card: the parts, their weights, and where they were fitted."""
        s = self.stacker
        return {
            "components": list(self.components),
            "weights": dict(zip(s.features, s.coef)),
            "intercept": s.intercept,
            "fitted_on": self.fitted_on,
        }

    def save(self, model_dir: Path) -> dict[str, Any]:
        """Write the component files into `model_dir/hybrid/`; returns credtune.json's entry."""
        folder = Path(model_dir) / FOLDER
        metas = {name: c.save(folder, prefix=name) for name, c in self.components.items()}
        return {
            "components": metas,
            "stacker": {
                "features": self.stacker.features,
                "coef": self.stacker.coef,
                "intercept": self.stacker.intercept,
                "fitted_on": self.fitted_on,
            },
        }


def check_entry(entry: Any, where: str) -> None:
    """credtune.json's `hybrid` entry: components named in the stacker, weights as numbers."""
    if entry is None:
        return
    if not isinstance(entry, dict) or not isinstance(entry.get("components"), dict):
        raise ModelError(f"{where}: hybrid must hold 'components' and 'stacker'")
    stacker = entry.get("stacker")
    if not isinstance(stacker, dict):
        raise ModelError(f"{where}: hybrid.stacker must be an object")
    features, coef = stacker.get("features"), stacker.get("coef")
    if not isinstance(features, list) or not features or features[0] != TRANSFORMER:
        raise ModelError(f"{where}: hybrid.stacker.features must start with '{TRANSFORMER}'")
    if set(features[1:]) != set(entry["components"]):
        raise ModelError(f"{where}: hybrid.stacker.features do not match hybrid.components")
    numbers = [*(coef or []), stacker.get("intercept")]
    if not isinstance(coef, list) or len(coef) != len(features) or not all(_is_number(v) for v in numbers):
        raise ModelError(f"{where}: hybrid.stacker needs one number per feature and an intercept")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def load_hybrid(model_dir: Path, entry: dict[str, Any]) -> Hybrid:
    """The components from `model_dir/hybrid/` (hash-checked, no code run) and the stacker."""
    from .baselines import BaselineFileError, load_component

    folder = Path(model_dir) / FOLDER
    if folder.is_symlink() or not folder.is_dir():
        raise ModelError(f"{model_dir}: credtune.json names a hybrid but {FOLDER}/ is missing")
    try:
        components = {name: load_component(folder, meta) for name, meta in entry["components"].items()}
    except BaselineFileError as exc:
        raise ModelError(f"{model_dir}: hybrid component: {exc}") from None
    s = entry["stacker"]
    stacker = Stacker(list(s["features"]), [float(c) for c in s["coef"]], float(s["intercept"]))
    return Hybrid(components, stacker, str(s.get("fitted_on", "validation split")))
