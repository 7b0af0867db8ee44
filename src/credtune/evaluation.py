"""Every check a model-risk reviewer asks for, computed from predictions: one path for all runs.

`assess` turns labels and the PDs of each model into the metrics block that train, cv and
evaluate all write (per-model credit metrics, the headline of the shipped model, calibration
before/after, deciles, the decision at a threshold with the recipe's costs, fairness per
protected column), so the three cannot drift apart. `evaluate_run` is the training run's use of
it: calibrate and stack on held-out predictions (the validation split, or every non-test row
cross-fitted), fit the baselines on the training rows, report on test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
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
    logit,
    psi,
    psi_reading,
    sigmoid,
)
from .targets import calibration_method

log = logging.getLogger(__name__)
HEADLINE = ("auc", "pr_auc", "ks", "gini", "brier", "log_loss", "ece", "n", "positive_rate")
CALIBRATION_KEYS = ("brier", "ece", "log_loss")


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    calibrator: dict[str, Any]
    blend: dict[str, Any] | None = None
    arrays: dict[str, Any] = field(default_factory=dict)
    hybrid: Any = None  # credtune.hybrid.Hybrid when the recipe ships one


def pick(d: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: d.get(k) for k in keys}


def assess(
    y: np.ndarray,
    pds: Mapping[str, np.ndarray],
    *,
    main: str = "transformer",
    raw: np.ndarray | None = None,
    calibrated: str | None = None,
    calibration: str | None = None,
    threshold: float | None = None,
    rule: str | None = None,
    costs: tuple[float, float] = (5.0, 1.0),
    groups: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The metrics block of a run, from labels `y` and the PD of every model on the same rows.

    `main` is the model the headline, deciles, decision and fairness describe; `raw` the PDs
    of `calibrated` (default `main`) before calibration; `threshold` the stored or chosen cut (approve when PD < threshold),
    costed with `costs` = (bad approved, good rejected); `groups` the protected columns."""
    per_model = {name: credit_metrics(y, p) for name, p in pds.items()}
    p = np.asarray(pds[main], dtype=float)
    out: dict[str, Any] = {**pick(per_model[main], HEADLINE), "models": per_model}
    out["not_computable"] = [k for k, v in per_model[main].items() if v is None]
    if raw is not None:
        out["calibration"] = {
            "method": calibration,
            "model": calibrated or main,
            "before": pick(credit_metrics(y, raw), CALIBRATION_KEYS),
            "after": pick(per_model[calibrated or main], CALIBRATION_KEYS),
        }
    out["deciles"] = decile_table(y, p)
    if threshold is not None:
        out["decision"] = {**decision_summary(y, p, threshold, *costs), "rule": rule}
    out["fairness"] = [
        fairness_table(column, y, p, threshold if threshold is not None else 0.5, name)
        for name, column in (groups or {}).items()
    ]
    return out


def protected_groups(frame: pd.DataFrame, columns: list[str], source: str = "the data") -> dict[str, Any]:
    """The protected columns present in `frame`; the absent ones are named once and skipped."""
    for column in columns:
        if column not in frame.columns:
            log.warning("protected column '%s' is not in %s; fairness for it skipped", column, source)
    return {c: frame[c] for c in columns if c in frame.columns}


def stability(reference: pd.DataFrame, current: pd.DataFrame, pd_ref, pd_cur, numeric, categorical) -> dict:
    """Score PSI and per-field characteristic stability of `current` against `reference`."""
    value = float(psi(pd_ref, pd_cur))
    return {
        "score_psi": value,
        "reading": psi_reading(value),
        "fields": characteristic_stability(reference, current, numeric, categorical),
    }


def evaluate_run(
    recipe: RecipeConfig,
    prep: Any,
    margins: dict[str, np.ndarray],
    components: dict[str, Any] | None = None,
    held: Any = None,
) -> Evaluation:
    """Calibrate and stack on `held` predictions (`hybrid.Held`; by default the validation split,
    the components fitted on train), then report every check on test for the shipped model: the
    hybrid when the recipe asks for one."""
    from .hybrid import Held

    frames = {name: prep.split(name).to_pandas() for name in ("train", "valid", "test")}
    y = {name: labels_of(df, "binary") for name, df in frames.items()}
    if components is None:
        components = fit_recipe_components(recipe, frames["train"], y["train"], prep)
    base = {split: {n: c.predict_proba(frames[split]) for n, c in components.items()} for split in frames}
    if held is None:
        held = Held.validation(margins["valid"], base["valid"], y["valid"])
    calibrator = fit_calibrator(calibration_method(recipe, "binary"), held.margin, held.y)
    pds = {name: apply_calibrator(calibrator, m) for name, m in margins.items()}
    pd_held = apply_calibrator(calibrator, held.margin)
    raw_test = sigmoid(margins["test"])

    models: dict[str, np.ndarray] = {"transformer": pds["test"]}
    models.update({name: base["test"][name] for name in recipe.baselines})
    blend = None
    if recipe.model.blend == "lightgbm" and "lightgbm" in held.pds:
        blend = fit_blend(pd_held, held.pds["lightgbm"], held.y)
        models["blend"] = apply_blend(blend, pds["test"], models["lightgbm"])
    hybrid, shipped, shipped_held = None, pds, pd_held
    if recipe.model.hybrid:
        hybrid, shipped, shipped_held = stack_hybrid(recipe, components, base, margins, held)
        models["hybrid"] = shipped["test"]
    main = "hybrid" if hybrid else "transformer"

    d = recipe.decision
    costs = (d.cost_bad_approved, d.cost_good_rejected)
    choice = choose_threshold(held.y, shipped_held, *costs, d.approval_rate)
    metrics = assess(
        y["test"],
        models,
        main=main,
        raw=raw_test,
        calibrated="transformer",
        calibration=calibration_method(recipe, "binary"),
        threshold=choice["threshold"],
        rule=choice["rule"],
        costs=costs,
        groups=protected_groups(frames["test"], recipe.data.protected),
    )
    metrics["shipped"] = main
    metrics["fitted_on"] = held.source  # the rows the calibrator, weights and threshold learnt from
    if hybrid is not None:
        metrics["hybrid"] = hybrid.describe()
    if "scorecard" in components:
        from .baselines import points_table

        metrics["scorecard_points"] = points_table(components["scorecard"])
    metrics["stability"] = stability(
        frames["train"], frames["test"], shipped["train"], shipped["test"], prep.numeric, prep.categorical
    )
    metrics["fields"] = prep.serializer.columns
    arrays = {"y": y["test"], "pd": models, "pd_raw": raw_test if main == "transformer" else None}
    return Evaluation(metrics, calibrator, blend, {**arrays, "pd_train": shipped["train"]}, hybrid)


def stack_hybrid(recipe: RecipeConfig, components: dict, base: dict, margins: dict, held: Any):
    """The hybrid's stacker fitted on the `held` predictions; its PDs on the train and test splits,
    and on the held rows cross-fitted (for the threshold)."""
    from .hybrid import Hybrid, cross_fitted, fit_stacker

    names = list(recipe.model.hybrid)
    weights = recipe.model.hybrid_weights
    stacker = fit_stacker(held.margin, held.pds, held.y, names, weights)
    hybrid = Hybrid({name: components[name] for name in names}, stacker, held.source)
    pds = {split: stacker.predict(margins[split], base[split]) for split in ("train", "test")}
    return hybrid, pds, cross_fitted(held.margin, held.pds, held.y, names, recipe.seed, weights)


def cross_fitted_parts(
    recipe: RecipeConfig,
    prep: Any,
    frame: pd.DataFrame,
    rows: np.ndarray,
    names: list[str],
    transformer: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> Any:
    """`model.hybrid_fit: crossfit`: every row of `rows` (positions in `frame`) scored by the
    transformer (`transformer(fit_rows, held_rows)` -> margins on held_rows) and the `names`
    components, each fitted on the other folds of `rows`."""
    from sklearn.model_selection import StratifiedKFold

    from .hybrid import CROSSFIT_FOLDS, Held

    y = labels_of(frame.iloc[rows], "binary")
    folds = max(2, min(CROSSFIT_FOLDS, int(np.bincount(y, minlength=2).min())))
    margin, pds = np.zeros(len(rows)), {name: np.zeros(len(rows)) for name in names}
    for k, (fit, held) in enumerate(
        StratifiedKFold(folds, shuffle=True, random_state=recipe.seed).split(y, y)
    ):
        margin[held] = transformer(rows[fit], rows[held])
        params, fitted = recipe.baseline_params, frame.iloc[rows[fit]]
        for name, part in fit_components(names, fitted, y[fit], prep, recipe.seed, params).items():
            pds[name][held] = part.predict_proba(frame.iloc[rows[held]])
        log.info("crossfit: fold %d/%d done", k + 1, folds)
    n = len(rows)
    source = f"cross-fitted predictions of {n} rows in {folds} folds, every part then refitted on all {n}"
    return Held(margin, pds, y, source)


def fit_recipe_components(recipe: RecipeConfig, frame: pd.DataFrame, y: np.ndarray, prep: Any) -> dict:
    """The recipe's baselines and hybrid components (each once) fitted on `frame`'s rows."""
    names = list(dict.fromkeys([*recipe.baselines, *recipe.model.hybrid]))
    return fit_components(names, frame, y, prep, recipe.seed, recipe.baseline_params) if names else {}


def fit_components(
    names: list[str], train: pd.DataFrame, y: np.ndarray, prep: Any, seed: int, params: dict | None = None
) -> dict:
    """The named baselines fitted on the training rows with the transformer's own fields, notes
    too; `params`: a recipe's `baseline_params` (name -> its estimator's arguments)."""
    from .baselines import default_threads, fit_component

    text = [f.name for f in prep.serializer.fields if f.kind == "text"]
    threads = default_threads(len(train))
    kind = {"task": prep.task, "n_classes": len(prep.schema["label_names"])} if prep.task != "binary" else {}
    return {
        name: fit_component(
            name,
            train,
            y,
            prep.numeric,
            prep.categorical,
            text,
            seed,
            threads,
            **kind,
            params=(params or {}).get(name),
        )
        for name in names
    }


def labels_of(frame: pd.DataFrame, task: str) -> np.ndarray:
    """The `labels` column as the task reads it: class indices, or the regression target's values."""
    return frame["labels"].to_numpy(dtype=np.float64 if task == "regression" else int)


def fit_blend(p_text: np.ndarray, p_gbm: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Logistic stacking of the two models' log-odds, fitted on the validation split only."""
    from sklearn.linear_model import LogisticRegression

    features = np.column_stack([logit(p_text), logit(p_gbm)])
    lr = LogisticRegression(C=1.0).fit(features, y)
    return {"with": "lightgbm", "coef": lr.coef_[0].tolist(), "intercept": float(lr.intercept_[0])}


def apply_blend(blend: dict[str, Any], p_text: np.ndarray, p_gbm: np.ndarray) -> np.ndarray:
    a, b = blend["coef"]
    return sigmoid(a * logit(p_text) + b * logit(p_gbm) + blend["intercept"])
