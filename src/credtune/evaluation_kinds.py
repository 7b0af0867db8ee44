"""Evaluation of multiclass and regression runs: calibrate on validation, report on test.

The binary path (`evaluation.evaluate_run`) adds what only a default model has: PD, points, a
cost threshold, fairness of approvals and the hybrid. Here the transformer's head outputs become
calibrated class probabilities (temperature) or values (the standardized output mapped back,
then a linear or isotonic map fitted on validation), and every baseline is scored on the same
test rows through the metric blocks of `metrics.multiclass` / `metrics.regression`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .config import RecipeConfig
from .evaluation import Evaluation, fit_components, labels_of, protected_groups, stability
from .targets import calibration_method


def head_values(logits: np.ndarray, scale: dict[str, float]) -> np.ndarray:
    """A regression head's output in the target's unit."""
    return np.asarray(logits, dtype=np.float64)[:, 0] * scale["std"] + scale["mean"]


def calibrated_outputs(
    task: str, method: str, logits: dict[str, np.ndarray], y_valid: np.ndarray, scale: dict | None
) -> tuple[dict[str, Any], dict[str, np.ndarray], np.ndarray]:
    """The calibrator fitted on validation, the calibrated outputs per split, and the raw test outputs."""
    from .metrics import (
        apply_class_calibrator,
        apply_value_calibrator,
        fit_class_calibrator,
        fit_value_calibrator,
    )

    if task == "multiclass":
        calibrator = fit_class_calibrator(method, logits["valid"], y_valid)
        out = {name: apply_class_calibrator(calibrator, v) for name, v in logits.items()}
        raw = apply_class_calibrator({"method": "none"}, logits["test"])
        return calibrator, out, raw
    values = {name: head_values(v, scale) for name, v in logits.items()}
    calibrator = fit_value_calibrator(method, values["valid"], y_valid)
    out = {name: apply_value_calibrator(calibrator, v) for name, v in values.items()}
    return calibrator, out, values["test"]


def summary_score(task: str, out: np.ndarray) -> np.ndarray:
    """One number per row for the score's stability (PSI): the value, or the expected class index."""
    if task == "regression":
        return out
    return out @ np.arange(out.shape[1], dtype=np.float64)


STABILITY_ROWS = (
    2000  # training rows scored for the score's PSI (a full pass over 10,000 long rows costs minutes)
)


def stability_rows(n: int, seed: int) -> np.ndarray:
    """Which training rows are scored for the PSI reference: all, or a seeded sample."""
    if n <= STABILITY_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, STABILITY_ROWS, replace=False))


def evaluate_kind_run(
    recipe: RecipeConfig,
    prep: Any,
    logits: dict[str, np.ndarray],
    components: dict[str, Any] | None = None,
    train_rows: np.ndarray | None = None,
) -> Evaluation:
    """Every figure of a multiclass or regression training run, on the test split. `logits["train"]`
    may cover only `train_rows` of the training split (the PSI reference)."""
    from .metrics import multiclass_block, regression_block

    task = prep.task
    frames = {name: prep.split(name).to_pandas() for name in ("train", "valid", "test")}
    y = {name: labels_of(df, task) for name, df in frames.items()}
    method = calibration_method(recipe, task)
    scale = prep.schema.get("target_scale")
    calibrator, out, raw = calibrated_outputs(task, method, logits, y["valid"], scale)
    if components is None:
        components = fit_components(
            list(recipe.baselines), frames["train"], y["train"], prep, recipe.seed, recipe.baseline_params
        )
    models: dict[str, np.ndarray] = {"transformer": out["test"]}
    models.update({name: components[name].predict(frames["test"]) for name in recipe.baselines})
    groups = protected_groups(frames["test"], recipe.data.protected)
    common: dict[str, Any] = {"main": "transformer", "raw": raw, "calibration": method, "groups": groups}
    if task == "multiclass":
        names = list(prep.schema["label_names"])
        ordered = bool(prep.schema.get("ordered"))
        metrics = multiclass_block(y["test"], models, classes=names, ordered=ordered, **common)
        arrays: dict[str, Any] = {"y": y["test"], "proba": models, "proba_raw": raw}
    else:
        metrics = regression_block(y["test"], models, target=recipe.data.target, **common)
        arrays = {"y": y["test"], "pred": models}
    reference = frames["train"] if train_rows is None else frames["train"].iloc[train_rows]
    metrics["stability"] = stability(
        reference,
        frames["test"],
        summary_score(task, out["train"]),
        summary_score(task, out["test"]),
        prep.numeric,
        prep.categorical,
    )
    metrics["fields"] = prep.serializer.columns
    return Evaluation(metrics, calibrator, None, arrays)


def kind_predictions(prep: Any, models: dict[str, np.ndarray]) -> dict[str, Any]:
    """Each test row's prediction per model (class probabilities or values), with its row and id:
    what `credtune score` on the same rows must reproduce."""
    out: dict[str, Any] = {"row": [int(i) for i in prep.splits["test"]]}
    id_column = prep.schema.get("id")
    if id_column:
        out["id"] = list(prep.split("test")[id_column])
    out["prediction"] = {name: np.asarray(v, dtype=float).tolist() for name, v in models.items()}
    return out
