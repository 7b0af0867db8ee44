"""Stratified k-fold cross-validation: the transformer and the baselines on the very same folds.

On a table of a thousand rows a single test split gives an AUC whose noise is larger than most
gaps between models; out-of-fold (OOF) predictions for every row, and the spread over folds, say
whether the transformer really beats logistic regression and LightGBM. Rows are read, labelled,
serialized and tokenized once; each fold only selects rows. Output folder: `cv.json`, `oof.csv`,
`folds.jsonl` (one line per finished fold, written as it goes), `report.md`/`report.html`.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import RecipeConfig
from ..errors import ConfigError
from ..evaluation import apply_blend, assess, fit_blend, fit_recipe_components, pick
from ..files import write_json_atomic
from ..hybrid import cross_fitted, fit_stacker
from ..inference import binary_margin
from ..metrics import (
    apply_calibrator,
    choose_threshold,
    compare_repeats,
    credit_metrics,
    fit_calibrator,
    sigmoid,
)
from ..targets import calibration_method
from . import RunResult, check_run_dir
from .folds import (
    CvInputs,
    crossfit_held,
    crossfits,
    fit_transformer,
    fold_recipe,
    fold_spread,
    freeze_long_lived,
    prepare_inputs,
    thaws_frozen,
)

log = logging.getLogger(__name__)
FOLD_KEYS = ("auc", "ks", "brier")
RANK_ONLY = ("brier", "log_loss", "ece")  # a rank average is not a probability


@thaws_frozen
def cross_validate(
    recipe: RecipeConfig,
    folds: int = 5,
    seeds: int = 1,
    output_dir: str | Path | None = None,
    *,
    overwrite: bool = False,
    command: str | None = None,
) -> RunResult:
    """K-fold CV of `recipe` (transformer + baselines, same rows), repeated on `seeds` different
    fold sets; writes cv.json, oof.csv, folds.jsonl and a report."""
    if folds < 2:
        raise ConfigError(f"--folds: need at least 2 folds, got {folds}")
    if seeds < 1:
        raise ConfigError(f"--seeds/--repeats: need at least 1 repeat, got {seeds}")
    out_dir = Path(output_dir) if output_dir else Path("runs") / f"{recipe.name}-cv"
    clear = check_run_dir(out_dir, resume=False, overwrite=overwrite)
    started = time.time()
    if recipe.data.split.time_column:
        log.warning("cv: folds are stratified random; data.split.time_column is ignored")
    inputs = prepare_inputs(recipe, folds, out_dir, clear)
    if inputs.prep.task != "binary":
        from .cv_kinds import cross_validate_kind

        return cross_validate_kind(recipe, inputs, folds, seeds, out_dir, started, command)
    per_fold, oof, raw_runs, fold_of = _run_repeats(recipe, inputs, folds, seeds, out_dir)
    if not inputs.state.is_main_process:
        return RunResult(out_dir, {})
    shutil.rmtree(out_dir / ".cv-checkpoints", ignore_errors=True)

    y = inputs.y
    metrics = summarize(recipe, y, oof, fold_of, per_fold, "hybrid" if recipe.model.hybrid else "transformer")
    pds = {**{name: np.mean(runs, axis=0) for name, runs in oof.items()}, **metrics.pop("_blend_scores")}
    pd_raw = np.mean(raw_runs, axis=0)
    method = per_fold[0]["calibration"]  # as the folds' model settled `auto`
    metrics["calibration"] = assess(y, pds, raw=pd_raw, calibration=method)["calibration"]
    metrics["fields"] = inputs.prep.serializer.columns
    metrics["wall_seconds"] = round(time.time() - started, 1)
    metrics["command"] = command or f"credtune.cross_validate({recipe.name!r}, folds={folds}, seeds={seeds})"
    _write_oof(out_dir / "oof.csv", inputs.frame, recipe, y, fold_of[0], pds)
    write_json_atomic(out_dir / "cv.json", metrics)
    from ..report import write_report

    arrays = {"y": y, "pd": pds, "pd_raw": pd_raw}
    write_report(out_dir, metrics, arrays, title=f"credtune {folds}-fold cross-validation: {recipe.name}")
    return RunResult(out_dir, metrics)


def _run_repeats(recipe: RecipeConfig, inputs: CvInputs, folds: int, seeds: int, out_dir: Path):
    """Every fold of every repeat; a line per finished fold goes to folds.jsonl as it ends."""
    y = inputs.y
    per_fold: list[dict[str, Any]] = []
    oof: dict[str, list[np.ndarray]] = {}
    raw_runs: list[np.ndarray] = []
    fold_of = np.full((seeds, len(y)), -1)
    names = ["transformer", *recipe.baselines, *(["hybrid"] if recipe.model.hybrid else [])]
    crossfit = crossfits(recipe, inputs)
    freeze_long_lived()
    for s in range(seeds):
        seed = recipe.seed + s
        this_fold = fold_recipe(recipe, seed)
        preds = {name: np.full(len(y), np.nan) for name in ["pd_raw", *names]}
        for k, (train_idx, test_idx) in enumerate(_folds(y, folds, seed)):
            fold_of[s, test_idx] = k
            row = run_fold(this_fold, inputs, train_idx, test_idx, out_dir, crossfit)
            fold_pds, validation = row.pop("pd"), row.pop("validation")
            for name, p in fold_pds.items():
                preds[name][test_idx] = p
            per_fold.append({"seed": seed, "fold": k + 1, **row})
            if inputs.state.is_main_process:  # a long run can be followed, and pooled if it is stopped
                out_dir.mkdir(parents=True, exist_ok=True)
                line = {
                    **per_fold[-1],
                    "rows": test_idx.tolist(),
                    "pd": {n: p.tolist() for n, p in fold_pds.items()},
                    "validation": validation,
                }
                with (out_dir / "folds.jsonl").open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(line) + "\n")
            aucs = ", ".join(f"{n} AUC {row.get(f'{n}_auc') or float('nan'):.4f}" for n in names)
            log.info("seed %d fold %d/%d: %s (%.0f s)", seed, k + 1, folds, aucs, row["seconds"])
        raw_runs.append(preds.pop("pd_raw"))
        for name, p in preds.items():
            oof.setdefault(name, []).append(p)
    inputs.state.wait_for_everyone()
    return per_fold, oof, raw_runs, fold_of


def _folds(y: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def run_fold(
    recipe: RecipeConfig,
    inputs: CvInputs,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    out_dir: Path,
    crossfit: bool = False,
) -> dict[str, Any]:
    """Fit on the training folds and predict the held-out fold, the baselines on exactly the rows
    the transformer trained on. Calibration, the hybrid's weights and the threshold learn from held
    predictions: the validation slice's, or with `crossfit` every training row's, cross-fitted
    (the parts are then fitted on all the training rows), as `credtune train` ships the model."""
    from sklearn.model_selection import train_test_split

    from ..hybrid import Held

    started, y = time.time(), inputs.y
    if crossfit:
        fit_idx, held = train_idx, crossfit_held(recipe, inputs, train_idx, out_dir)
        logits, ran = fit_transformer(recipe, inputs, fit_idx, [test_idx], out_dir)
        m_test = binary_margin(logits[0])
    else:
        fit_idx, valid_idx = train_test_split(
            train_idx, test_size=recipe.data.split.valid, stratify=y[train_idx], random_state=recipe.seed
        )
        fit_idx, valid_idx = np.sort(fit_idx), np.sort(valid_idx)
        logits, ran = fit_transformer(recipe, inputs, fit_idx, [valid_idx, test_idx], out_dir)
        (m_valid, m_test), held = (binary_margin(x) for x in logits), None
    components = fit_recipe_components(recipe, inputs.frame.iloc[fit_idx], y[fit_idx], inputs.prep)
    base_test = {n: c.predict_proba(inputs.frame.iloc[test_idx]) for n, c in components.items()}
    if held is None:
        base_valid = {n: c.predict_proba(inputs.frame.iloc[valid_idx]) for n, c in components.items()}
        held = Held.validation(m_valid, base_valid, y[valid_idx])
    calibrator = fit_calibrator(calibration_method(ran, "binary"), held.margin, held.y)
    preds, shipped_held = _fold_models(recipe, held, m_test, base_test, calibrator)
    d = recipe.decision
    costs = (d.cost_bad_approved, d.cost_good_rejected)
    choice = choose_threshold(held.y, shipped_held, *costs, d.approval_rate)
    main = "hybrid" if recipe.model.hybrid else "transformer"
    fold = assess(y[test_idx], preds, main=main, threshold=choice["threshold"], costs=costs)
    row: dict[str, Any] = {
        "train_rows": len(fit_idx),
        "valid_rows": 0 if crossfit else len(held.y),
        "test_rows": len(test_idx),
        "calibration": calibrator["method"],
        "hybrid_fit": "crossfit" if crossfit else "validation",
    }
    for name, scores in fold["models"].items():
        row.update({f"{name}_{key}": scores[key] for key in FOLD_KEYS})
    decision = fold["decision"]
    row.update(
        threshold=decision["threshold"],
        approval_rate=decision["approval_rate"],
        bad_rate_approved=decision["bad_rate_approved"],
        seconds=round(time.time() - started, 1),
        pd={**preds, "pd_raw": sigmoid(m_test)},
        validation={  # what the stacker and the threshold saw: lets a stopped run try other stacks
            "rows": (train_idx if crossfit else valid_idx).tolist(),
            "margin": held.margin.tolist(),
            "test_margin": m_test.tolist(),
            "pd": {name: p.tolist() for name, p in held.pds.items()},
        },
    )
    return row


def _fold_models(recipe: RecipeConfig, held: Any, m_test: np.ndarray, base_test: dict, calibrator: dict):
    """The test PDs per model (the hybrid stacked on `held` exactly as `credtune train` ships it),
    and the shipped model's PDs on the held rows (the hybrid's cross-fitted) for the threshold."""
    preds = {"transformer": apply_calibrator(calibrator, m_test)}
    preds.update({name: base_test[name] for name in recipe.baselines})
    if not recipe.model.hybrid:
        return preds, apply_calibrator(calibrator, held.margin)
    hybrid, weights = list(recipe.model.hybrid), recipe.model.hybrid_weights
    stacker = fit_stacker(held.margin, held.pds, held.y, hybrid, weights)
    preds["hybrid"] = stacker.predict(m_test, base_test)
    return preds, cross_fitted(held.margin, held.pds, held.y, hybrid, recipe.seed, weights)


def summarize(
    recipe: RecipeConfig,
    y: np.ndarray,
    oof: dict[str, list[np.ndarray]],
    fold_of: np.ndarray,
    per_fold: list[dict],
    shipped: str = "transformer",
) -> dict[str, Any]:
    """Pooled OOF metrics per model (PD averaged over repeats), spread over folds, per-repeat
    figures with the fold-paired comparison of `shipped` against the best baseline, blends."""
    mean_oof = {name: np.mean(runs, axis=0) for name, runs in oof.items()}
    blend, blend_scores = _blends(recipe, y, mean_oof, fold_of)
    pooled = assess(y, {**mean_oof, **blend_scores}, main=shipped)
    models = pooled["models"]
    for name in mean_oof:
        models[name]["folds"] = fold_spread(name, per_fold, FOLD_KEYS)
    if "blend" in models:
        models["blend"].update(dict.fromkeys(RANK_ONLY))  # a rank average is not a probability
    per_seed = [
        {"seed": recipe.seed + s, **pick(credit_metrics(y, runs), ("auc", "ks", "brier"))}
        for s, runs in enumerate(oof["transformer"])
    ]
    out = {
        "kind": "cv",
        "recipe": recipe.name,
        "shipped": shipped,
        "folds": int(fold_of.max()) + 1,
        "seeds": len(oof["transformer"]),
        "n": pooled["n"],
        "positive_rate": pooled["positive_rate"],
        "models": models,
        "blend": blend,
        "per_fold": per_fold,
        "per_seed": per_seed,
        "deciles": pooled["deciles"],
        "_blend_scores": blend_scores,
    }
    baselines = [name for name in recipe.baselines if name in oof and name != shipped]
    if baselines:
        out["repeats"] = compare_repeats(y, oof, per_fold, shipped, baselines, out["folds"])
    return out


def _blends(recipe: RecipeConfig, y: np.ndarray, mean_oof: dict[str, np.ndarray], fold_of: np.ndarray):
    """Rank average of transformer and LightGBM, and with `model.blend` a cross-fitted stack."""
    blend_scores: dict[str, np.ndarray] = {}
    blend: dict[str, Any] = {}
    if "lightgbm" not in mean_oof:
        return blend, blend_scores
    rank = (_rank01(mean_oof["transformer"]) + _rank01(mean_oof["lightgbm"])) / 2
    blend_scores["blend"] = rank
    blend["rank_average"] = pick(credit_metrics(y, rank), ("auc", "gini", "ks"))
    if recipe.model.blend == "lightgbm":
        stacked, weights = _cross_fitted_stack(y, mean_oof["transformer"], mean_oof["lightgbm"], fold_of[0])
        blend_scores["blend_stacked"] = stacked
        blend["stacked"] = {
            **pick(credit_metrics(y, stacked), ("auc", "gini", "ks", "brier")),
            "weights": weights,
        }
    return blend, blend_scores


def _cross_fitted_stack(y: np.ndarray, p_text: np.ndarray, p_gbm: np.ndarray, fold_of: np.ndarray):
    """Stacked blend scored honestly: each fold's weights are fitted on the other folds' OOF rows."""
    out = np.empty(len(y))
    weights = []
    for k in np.unique(fold_of):
        held = fold_of == k
        blend = fit_blend(p_text[~held], p_gbm[~held], y[~held])
        out[held] = apply_blend(blend, p_text[held], p_gbm[held])
        weights.append({"fold": int(k) + 1, "coef": blend["coef"], "intercept": blend["intercept"]})
    return out, weights


def _rank01(p: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return (rankdata(p) - 1) / max(len(p) - 1, 1)


def _write_oof(
    path: Path, frame: pd.DataFrame, recipe: RecipeConfig, y, fold, pds: dict[str, np.ndarray]
) -> None:
    out = pd.DataFrame({"row": np.arange(len(y)), "fold": fold + 1, "label": y})
    if recipe.data.id and recipe.data.id in frame.columns:
        out.insert(1, recipe.data.id, frame[recipe.data.id].to_numpy())
    for name, p in pds.items():
        out[name] = p
    out.to_csv(path, index=False)
