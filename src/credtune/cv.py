"""Stratified k-fold cross-validation: the transformer and the baselines on the very same folds.

On a table of a thousand rows a single test split gives an AUC whose noise is larger than most
gaps between models; out-of-fold (OOF) predictions for every row, and the spread over folds, say
whether the transformer really beats logistic regression and LightGBM. Rows are read, labelled,
serialized and tokenized once; each fold only selects rows. Output folder: `cv.json`, `oof.csv`,
`folds.jsonl` (one line per finished fold, written as it goes), `report.md`/`report.html`.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import data as data_mod
from .config import RecipeConfig, resolve_data_path
from .errors import ConfigError, DataError
from .evaluation import apply_blend, fit_blend, sigmoid
from .metrics import (
    apply_calibrator,
    choose_threshold,
    credit_metrics,
    decile_table,
    decision_summary,
    fit_calibrator,
)
from .training import (
    RunResult,
    _write_json_atomic,
    build_trainer,
    check_run_dir,
    encode,
    predict_margin,
    training_arguments,
)

log = logging.getLogger(__name__)
FOLD_KEYS = ("auc", "ks", "brier")
RANK_ONLY = ("brier", "log_loss", "ece")  # a rank average is not a probability


def cross_validate(
    recipe: RecipeConfig,
    folds: int = 5,
    seeds: int = 1,
    output_dir: str | Path | None = None,
    *,
    overwrite: bool = False,
    command: str | None = None,
) -> RunResult:
    """K-fold CV of `recipe` (transformer + baselines, same rows); writes cv.json and a report."""
    if folds < 2:
        raise ConfigError(f"--folds: need at least 2 folds, got {folds}")
    if seeds < 1:
        raise ConfigError(f"--seeds: need at least 1 seed, got {seeds}")
    out_dir = Path(output_dir) if output_dir else Path("runs") / f"{recipe.name}-cv"
    clear = check_run_dir(out_dir, resume=False, overwrite=overwrite)
    started = time.time()
    if recipe.data.split.time_column:
        log.warning("cv: folds are stratified random; data.split.time_column is ignored")
    # Every check that can fail (data, `train:` keys, model folder) runs before an old folder is cleared.
    table = data_mod.load_labelled(recipe.data, resolve_data_path(recipe), recipe.seed)
    y = np.asarray(table[data_mod.LABEL], dtype=int)
    if np.bincount(y, minlength=2).min() < folds:
        raise DataError(
            f"--folds {folds}: the rarer class has only {np.bincount(y, minlength=2).min()} row(s)"
        )
    # Number bands and category lists are unsupervised summaries of the inputs (no labels are read),
    # so building them from all rows lets every fold share one tokenized table without leaking any
    # target information into the held-out folds.
    schema = data_mod.build_schema(table, recipe.data, recipe.serialize, np.arange(len(table)))
    serializer = data_mod.make_serializer(schema, recipe.serialize)
    training_arguments(_fold_recipe(recipe, recipe.seed), out_dir / ".cv-checkpoints" / "fold")
    from accelerate import PartialState

    from .modeling import load_tokenizer

    state = PartialState()
    tokenizer = load_tokenizer(recipe.model)
    if clear and state.is_main_process:
        shutil.rmtree(out_dir)
    state.wait_for_everyone()
    with state.main_process_first():
        encoded = encode(table, serializer, tokenizer, recipe.model.max_length)
    prep = data_mod.Prepared(table, {}, schema, serializer)
    frame = table.to_pandas()

    per_fold: list[dict[str, Any]] = []
    oof: dict[str, list[np.ndarray]] = {}
    raw_runs: list[np.ndarray] = []
    fold_of = np.full((seeds, len(y)), -1)
    for s in range(seeds):
        seed = recipe.seed + s
        fold_recipe = _fold_recipe(recipe, seed)
        preds = {name: np.full(len(y), np.nan) for name in ["transformer", "pd_raw", *recipe.baselines]}
        for k, (train_idx, test_idx) in enumerate(_folds(y, folds, seed)):
            fold_of[s, test_idx] = k
            row = run_fold(fold_recipe, prep, encoded, frame, y, train_idx, test_idx, out_dir, tokenizer)
            for name, p in row.pop("pd").items():
                preds[name][test_idx] = p
            per_fold.append({"seed": seed, "fold": k + 1, **row})
            if state.is_main_process:  # progress a long run can be followed (and salvaged) by
                out_dir.mkdir(parents=True, exist_ok=True)
                with (out_dir / "folds.jsonl").open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(per_fold[-1]) + "\n")
            log.info(
                "seed %d fold %d/%d: %s (%.0f s)", seed, k + 1, folds,
                ", ".join(f"{n} AUC {row.get(f'{n}_auc') or float('nan'):.4f}" for n in ["transformer", *recipe.baselines]),
                row["seconds"],
            )  # fmt: skip
        raw_runs.append(preds.pop("pd_raw"))
        for name, p in preds.items():
            oof.setdefault(name, []).append(p)
    state.wait_for_everyone()
    if not state.is_main_process:
        return RunResult(out_dir, {})
    shutil.rmtree(out_dir / ".cv-checkpoints", ignore_errors=True)

    metrics = summarize(recipe, y, oof, fold_of, per_fold)
    mean_oof = {name: np.mean(runs, axis=0) for name, runs in oof.items()}
    pd_raw = np.mean(raw_runs, axis=0)
    metrics["calibration"] = {
        "method": recipe.calibration,
        "before": _pick(credit_metrics(y, pd_raw), RANK_ONLY),
        "after": _pick(metrics["models"]["transformer"], RANK_ONLY),
    }
    metrics["deciles"] = decile_table(y, mean_oof["transformer"])
    metrics["fields"] = serializer.columns
    metrics["wall_seconds"] = round(time.time() - started, 1)
    metrics["command"] = command or f"credtune.cross_validate({recipe.name!r}, folds={folds}, seeds={seeds})"
    pds = {**mean_oof, **metrics.pop("_blend_scores")}
    _write_oof(out_dir / "oof.csv", frame, recipe, y, fold_of[0], pds)
    _write_json_atomic(out_dir / "cv.json", metrics)
    from .report import write_report

    arrays = {"y": y, "pd": pds, "pd_raw": pd_raw}
    write_report(out_dir, metrics, arrays, title=f"credtune {folds}-fold cross-validation: {recipe.name}")
    return RunResult(out_dir, metrics)


def _fold_recipe(recipe: RecipeConfig, seed: int) -> RecipeConfig:
    """The recipe as each fold trains it: its own seed, and no checkpoints unless the recipe reloads
    the best one at the end (folds are thrown away; only their predictions are kept)."""
    train = dict(recipe.train)
    if not train.get("load_best_model_at_end"):
        train["save_strategy"] = "no"
    return dataclasses.replace(recipe, train=train, seed=seed)


def _folds(y: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def run_fold(
    recipe: RecipeConfig,
    prep: data_mod.Prepared,
    encoded: Any,
    frame: pd.DataFrame,
    y: np.ndarray,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    out_dir: Path,
    tokenizer: Any,
) -> dict[str, Any]:
    """Train on the training folds less a validation slice (for calibration and the threshold),
    predict the held-out fold; fit the baselines on exactly the same rows."""
    from sklearn.model_selection import train_test_split

    from .modeling import load_model

    started = time.time()
    fit_idx, valid_idx = train_test_split(
        train_idx, test_size=recipe.data.split.valid, stratify=y[train_idx], random_state=recipe.seed
    )
    fit_idx, valid_idx = np.sort(fit_idx), np.sort(valid_idx)
    model = load_model(recipe.model, prep.schema["label_names"], tokenizer, recipe.lora, recipe.seed)
    args = training_arguments(recipe, out_dir / ".cv-checkpoints" / "fold")
    trainer = build_trainer(
        recipe, model, tokenizer, args, encoded.select(fit_idx), encoded.select(valid_idx)
    )
    trainer.train()
    m_valid = predict_margin(trainer, encoded.select(valid_idx))
    m_test = predict_margin(trainer, encoded.select(test_idx))
    del trainer, model
    gc.collect()

    calibrator = fit_calibrator(recipe.calibration, m_valid, y[valid_idx])
    pd_valid, pd_test = apply_calibrator(calibrator, m_valid), apply_calibrator(calibrator, m_test)
    preds = {"transformer": pd_test, "pd_raw": sigmoid(m_test)}
    if recipe.baselines:
        from .baselines import run_baselines

        base = run_baselines(
            recipe.baselines,
            frame.iloc[fit_idx],
            y[fit_idx],
            {"test": frame.iloc[test_idx]},
            prep.numeric,
            prep.categorical,
            seed=recipe.seed,
        )
        preds.update({name: p["test"] for name, p in base.items()})
    d = recipe.decision
    choice = choose_threshold(
        y[valid_idx], pd_valid, d.cost_bad_approved, d.cost_good_rejected, d.approval_rate
    )
    decision = decision_summary(
        y[test_idx], pd_test, choice["threshold"], d.cost_bad_approved, d.cost_good_rejected
    )
    row: dict[str, Any] = {
        "train_rows": len(fit_idx),
        "valid_rows": len(valid_idx),
        "test_rows": len(test_idx),
    }
    for name, p in preds.items():
        if name != "pd_raw":
            scores = credit_metrics(y[test_idx], p)
            row.update({f"{name}_{key}": scores[key] for key in FOLD_KEYS})
    row.update(
        threshold=decision["threshold"],
        approval_rate=decision["approval_rate"],
        bad_rate_approved=decision["bad_rate_approved"],
        seconds=round(time.time() - started, 1),
        pd=preds,
    )
    return row


def summarize(
    recipe: RecipeConfig,
    y: np.ndarray,
    oof: dict[str, list[np.ndarray]],
    fold_of: np.ndarray,
    per_fold: list[dict],
) -> dict[str, Any]:
    """Pooled OOF metrics per model (PD averaged over seeds), spread over folds, per-seed figures, blends."""
    mean_oof = {name: np.mean(runs, axis=0) for name, runs in oof.items()}
    models: dict[str, Any] = {}
    for name, p in mean_oof.items():
        spread = {}
        for key in FOLD_KEYS:
            values = [row[f"{name}_{key}"] for row in per_fold if row.get(f"{name}_{key}") is not None]
            if values:
                spread[key] = {
                    "mean": float(np.mean(values)),
                    "std": float(np.std(values, ddof=1)),
                    "values": values,
                }
        models[name] = {**credit_metrics(y, p), "folds": spread}
    per_seed = [
        {"seed": recipe.seed + s, **_pick(credit_metrics(y, runs), ("auc", "ks", "brier"))}
        for s, runs in enumerate(oof["transformer"])
    ]
    blend_scores: dict[str, np.ndarray] = {}
    blend: dict[str, Any] = {}
    if "lightgbm" in mean_oof:
        rank = (_rank01(mean_oof["transformer"]) + _rank01(mean_oof["lightgbm"])) / 2
        blend_scores["blend"] = rank
        scores = credit_metrics(y, rank)
        models["blend"] = {**scores, **dict.fromkeys(RANK_ONLY)}
        blend["rank_average"] = _pick(scores, ("auc", "gini", "ks"))
        if recipe.model.blend == "lightgbm":
            stacked, weights = _cross_fitted_stack(
                y, mean_oof["transformer"], mean_oof["lightgbm"], fold_of[0]
            )
            blend_scores["blend_stacked"] = stacked
            models["blend_stacked"] = credit_metrics(y, stacked)
            blend["stacked"] = {
                **_pick(models["blend_stacked"], ("auc", "gini", "ks", "brier")),
                "weights": weights,
            }
    transformer = models["transformer"]
    return {
        "kind": "cv",
        "recipe": recipe.name,
        "folds": int(fold_of.max()) + 1,
        "seeds": len(oof["transformer"]),
        "n": transformer["n"],
        "positive_rate": transformer["positive_rate"],
        "models": models,
        "blend": blend,
        "per_fold": per_fold,
        "per_seed": per_seed,
        "_blend_scores": blend_scores,
    }


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


def _pick(d: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: d.get(k) for k in keys}


def command_line() -> str:
    """The exact command, for cv.json: rerunning it reproduces the folds."""
    import shlex

    return "credtune " + shlex.join(sys.argv[1:])
