"""Everything a model-risk reviewer asks of a trained model, computed from its predictions.

Input: the logit margins of each split. Output: calibrated PDs, credit metrics before and
after calibration, the decision threshold (chosen on validation, reported on test), score and
field stability, fairness per protected column, and the baselines on the very same split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .config import RecipeConfig
from .metrics import (
    apply_calibrator,
    characteristic_stability,
    choose_threshold,
    credit_metrics,
    decile_table,
    decision_summary,
    fairness_table,
    fit_calibrator,
    psi,
    psi_reading,
)

HEADLINE = ("auc", "pr_auc", "ks", "gini", "brier", "log_loss", "ece", "n", "positive_rate")


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    calibrator: dict[str, Any]
    blend: dict[str, Any] | None = None
    arrays: dict[str, Any] = field(default_factory=dict)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def frame(prep: Any, split: str) -> pd.DataFrame:
    return prep.split(split).to_pandas()


def evaluate_run(recipe: RecipeConfig, prep: Any, margins: dict[str, np.ndarray]) -> Evaluation:
    """Calibrate on validation, then report every check on the held-out test split."""
    frames = {name: frame(prep, name) for name in ("train", "valid", "test")}
    y = {name: df["labels"].to_numpy(dtype=int) for name, df in frames.items()}
    calibrator = fit_calibrator(recipe.calibration, margins["valid"], y["valid"])
    pds = {name: apply_calibrator(calibrator, m) for name, m in margins.items()}
    raw_test = sigmoid(margins["test"])

    models: dict[str, np.ndarray] = {"transformer": pds["test"]}
    valid_pds: dict[str, np.ndarray] = {"transformer": pds["valid"]}
    if recipe.baselines:
        from .baselines import run_baselines

        base = run_baselines(
            recipe.baselines,
            frames["train"],
            y["train"],
            {"valid": frames["valid"], "test": frames["test"]},
            prep.numeric,
            prep.categorical,
            seed=recipe.seed,
        )
        for name, preds in base.items():
            models[name] = preds["test"]
            valid_pds[name] = preds["valid"]
    blend = None
    if recipe.model.blend == "lightgbm" and "lightgbm" in valid_pds:
        blend = fit_blend(valid_pds["transformer"], valid_pds["lightgbm"], y["valid"])
        models["blend"] = apply_blend(blend, pds["test"], models["lightgbm"])

    metrics = summarize(y["test"], models, recipe)
    metrics["calibration"] = {
        "method": recipe.calibration,
        "before": _pick(credit_metrics(y["test"], raw_test), ("brier", "ece", "log_loss")),
        "after": _pick(metrics["models"]["transformer"], ("brier", "ece", "log_loss")),
    }
    metrics["stability"] = stability(frames["train"], frames["test"], pds["train"], pds["test"], prep)
    choice = choose_threshold(
        y["valid"],
        pds["valid"],
        recipe.decision.cost_bad_approved,
        recipe.decision.cost_good_rejected,
        recipe.decision.approval_rate,
    )
    metrics["decision"] = {
        **decision_summary(y["test"], pds["test"], choice["threshold"]),
        "rule": choice["rule"],
    }
    metrics["fairness"] = fairness(frames["test"], y["test"], pds["test"], choice["threshold"], recipe)
    metrics["fields"] = prep.serializer.columns
    arrays = {"y": y["test"], "pd": models, "pd_raw": raw_test, "pd_train": pds["train"]}
    return Evaluation(metrics, calibrator, blend, arrays)


def summarize(y: np.ndarray, models: dict[str, np.ndarray], recipe: RecipeConfig) -> dict[str, Any]:
    per_model = {name: credit_metrics(y, p) for name, p in models.items()}
    headline = _pick(per_model["transformer"], HEADLINE)
    return {
        **headline,
        "models": per_model,
        "deciles": decile_table(y, models["transformer"]),
    }


def stability(train: pd.DataFrame, test: pd.DataFrame, pd_train, pd_test, prep: Any) -> dict[str, Any]:
    value = float(psi(pd_train, pd_test))
    return {
        "score_psi": value,
        "reading": psi_reading(value),
        "fields": characteristic_stability(train, test, prep.numeric, prep.categorical),
    }


def fairness(test: pd.DataFrame, y, p, threshold: float, recipe: RecipeConfig) -> list[dict[str, Any]]:
    import logging

    out = []
    for column in recipe.data.protected:
        if column not in test.columns:
            logging.getLogger(__name__).warning("protected column '%s' is not in the data; skipped", column)
            continue
        out.append(fairness_table(test[column], y, p, threshold, column))
    return out


def fit_blend(p_text: np.ndarray, p_gbm: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Logistic stacking of the two models' log-odds, fitted on the validation split only."""
    from sklearn.linear_model import LogisticRegression

    features = np.column_stack([_logit(p_text), _logit(p_gbm)])
    lr = LogisticRegression(C=1.0).fit(features, y)
    return {"with": "lightgbm", "coef": lr.coef_[0].tolist(), "intercept": float(lr.intercept_[0])}


def apply_blend(blend: dict[str, Any], p_text: np.ndarray, p_gbm: np.ndarray) -> np.ndarray:
    a, b = blend["coef"]
    return sigmoid(a * _logit(p_text) + b * _logit(p_gbm) + blend["intercept"])


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _pick(d: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: d.get(k) for k in keys}
