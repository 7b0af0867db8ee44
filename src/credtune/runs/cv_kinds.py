"""`credtune cv` for multiclass and regression targets: every model on the same folds.

Folds are stratified by class (plain shuffled K-fold for a regression target). In each fold the
transformer trains on the training folds less a validation slice, which fits its calibration
(temperature, or the value map), exactly as `credtune train` does; the baselines train on the same
rows. Pooled out-of-fold figures average each row's prediction over the repeats.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..config import RecipeConfig
from ..evaluation import fit_components
from ..evaluation_kinds import calibrated_outputs
from ..files import write_json_atomic
from ..targets import calibration_method
from . import RunResult
from .folds import CvInputs, fit_transformer, fold_recipe, fold_scale, fold_spread

HEADLINE = {"multiclass": ("accuracy", "macro_f1", "auc", "log_loss"), "regression": ("rmse", "mae", "r2")}


def kind_folds(y: np.ndarray, folds: int, seed: int, task: str) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = KFold if task == "regression" else StratifiedKFold
    return list(splitter(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def _block(task: str, y: np.ndarray, preds: dict[str, np.ndarray], prep: Any) -> dict[str, Any]:
    from ..metrics import multiclass_block, regression_block

    if task == "multiclass":
        classes, ordered = list(prep.schema["label_names"]), bool(prep.schema.get("ordered"))
        return multiclass_block(y, preds, main="transformer", classes=classes, ordered=ordered)
    return regression_block(y, preds, main="transformer", target=prep.schema["target"])


def run_kind_fold(
    recipe: RecipeConfig, inputs: CvInputs, train_idx: np.ndarray, test_idx: np.ndarray, out_dir: Path
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """One fold: its figures per model, and each model's predictions on the held-out rows."""
    from sklearn.model_selection import train_test_split

    started, y, task = time.time(), inputs.y, inputs.prep.task
    by = None if task == "regression" else y[train_idx]
    fit_idx, valid_idx = train_test_split(
        train_idx, test_size=recipe.data.split.valid, stratify=by, random_state=recipe.seed
    )
    fit_idx, valid_idx = np.sort(fit_idx), np.sort(valid_idx)
    scale = fold_scale(inputs, fit_idx)
    logits, ran = fit_transformer(recipe, inputs, fit_idx, [valid_idx, test_idx], out_dir, scale)
    method = calibration_method(ran, task)
    _, out, _ = calibrated_outputs(task, method, dict(zip(("valid", "test"), logits)), y[valid_idx], scale)
    frame = inputs.frame
    components = fit_components(
        list(recipe.baselines),
        frame.iloc[fit_idx],
        y[fit_idx],
        inputs.prep,
        recipe.seed,
        recipe.baseline_params,
    )
    preds = {
        "transformer": out["test"],
        **{n: c.predict(frame.iloc[test_idx]) for n, c in components.items()},
    }
    block = _block(task, y[test_idx], preds, inputs.prep)
    row: dict[str, Any] = {
        "train_rows": len(fit_idx),
        "valid_rows": len(valid_idx),
        "test_rows": len(test_idx),
    }
    for name, scores in block["models"].items():
        row.update({f"{name}_{key}": scores.get(key) for key in HEADLINE[task]})
    row["seconds"] = round(time.time() - started, 1)
    return row, preds


def cross_validate_kind(
    recipe: RecipeConfig,
    inputs: CvInputs,
    folds: int,
    seeds: int,
    out_dir: Path,
    started: float,
    command: str | None,
) -> RunResult:
    """Repeated K-fold of a multiclass or regression recipe; writes cv.json, folds.jsonl and a report."""
    import shutil

    y, task = inputs.y, inputs.prep.task
    names = ["transformer", *recipe.baselines]
    oof: dict[str, list[np.ndarray]] = {name: [] for name in names}
    per_fold: list[dict[str, Any]] = []
    width = (len(y), len(inputs.prep.schema["label_names"])) if task == "multiclass" else (len(y),)
    for s in range(seeds):
        seed = recipe.seed + s
        preds = {name: np.full(width, np.nan) for name in names}
        for k, (train_idx, test_idx) in enumerate(kind_folds(y, folds, seed, task)):
            row, fold_preds = run_kind_fold(fold_recipe(recipe, seed), inputs, train_idx, test_idx, out_dir)
            for name, p in fold_preds.items():
                preds[name][test_idx] = p
            per_fold.append({"seed": seed, "fold": k + 1, **row})
            if inputs.state.is_main_process:
                out_dir.mkdir(parents=True, exist_ok=True)
                with (out_dir / "folds.jsonl").open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps({**per_fold[-1], "rows": test_idx.tolist()}) + "\n")
        for name, p in preds.items():
            oof[name].append(p)
    inputs.state.wait_for_everyone()
    if not inputs.state.is_main_process:
        return RunResult(out_dir, {})
    shutil.rmtree(out_dir / ".cv-checkpoints", ignore_errors=True)
    pooled = {name: np.mean(runs, axis=0) for name, runs in oof.items()}
    metrics = {
        "kind": "cv",
        "recipe": recipe.name,
        "folds": folds,
        "seeds": seeds,
        **_block(task, y, pooled, inputs.prep),
    }
    for name in names:
        metrics["models"][name]["folds"] = fold_spread(name, per_fold, HEADLINE[task])
    metrics.update(per_fold=per_fold, fields=inputs.prep.serializer.columns)
    metrics["wall_seconds"] = round(time.time() - started, 1)
    metrics["command"] = command or f"credtune.cross_validate({recipe.name!r}, folds={folds}, seeds={seeds})"
    write_json_atomic(out_dir / "cv.json", metrics)
    from ..report import write_report

    arrays = {"y": y, "proba" if task == "multiclass" else "pred": pooled}
    write_report(out_dir, metrics, arrays, title=f"credtune {folds}-fold cross-validation: {recipe.name}")
    return RunResult(out_dir, metrics)
