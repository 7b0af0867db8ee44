"""What every cv fold shares (rows read, labelled, serialized and tokenized once) and the
fine-tune of one fold; used by `runs.cv` (default models) and `runs.cv_kinds` (other targets)."""

from __future__ import annotations

import dataclasses
import functools
import gc
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from .. import data as data_mod
from ..config import RecipeConfig, resolve_data_path
from ..distill import distilled_train_set
from ..errors import DataError
from ..targets import settle_task, standardized, target_scale
from ..training import (
    build_trainer,
    encode,
    fit_model,
    predict_logits,
    prepare_frozen,
    settled,
    training_arguments,
)

T = TypeVar("T")


@dataclass
class CvInputs:
    """What every fold shares: rows read, labelled, serialized and tokenized once."""

    prep: data_mod.Prepared
    y: np.ndarray
    encoded: Any
    frame: pd.DataFrame
    tokenizer: Any
    state: Any
    frozen: Any = None  # the frozen layers' outputs, shared by every fold (`model.train_layers`)


def prepare_inputs(recipe: RecipeConfig, folds: int, out_dir: Path, clear: bool) -> CvInputs:
    """Every check that can fail (data, `train:` keys, model folder) runs before an old folder is cleared."""
    table, target = data_mod.load_labelled(recipe.data, resolve_data_path(recipe), recipe.seed)
    settle_task(recipe, target.task)
    from ..pretrain_corpus import check_no_overlap  # a pretrained backbone must not have seen them

    check_no_overlap(recipe.model.name, table, "this cv evaluates")
    regression = target.task == "regression"
    y = np.asarray(table[data_mod.LABEL], dtype=np.float64 if regression else int)
    if not regression and np.bincount(y).min() < folds:
        raise DataError(f"--folds {folds}: the rarest class has only {np.bincount(y).min()} row(s)")
    # Number bands and category lists are unsupervised summaries of the inputs (no labels are read),
    # so building them from all rows lets every fold share one tokenized table without leaking any
    # target information into the held-out folds (a regression target's scale is set per fold).
    schema = data_mod.build_schema(table, recipe.data, recipe.serialize, np.arange(len(table)), target)
    serializer = data_mod.make_serializer(schema, recipe.serialize)
    training_arguments(fold_recipe(recipe, recipe.seed), out_dir / ".cv-checkpoints" / "fold")
    from accelerate import PartialState

    from ..modeling import load_tokenizer

    state = PartialState()
    tokenizer = load_tokenizer(recipe.model, serializer.added_tokens)
    if clear and state.is_main_process:
        shutil.rmtree(out_dir)
    state.wait_for_everyone()
    with state.main_process_first():
        encoded = encode(table, serializer, tokenizer, recipe.model.max_length)
    prep = data_mod.Prepared(table, {}, schema, serializer)
    return CvInputs(prep, y, encoded, table.to_pandas(), tokenizer, state)


def fold_recipe(recipe: RecipeConfig, seed: int) -> RecipeConfig:
    """The recipe as each fold trains it: its own seed, and no checkpoints unless the recipe reloads
    the best one at the end (folds are thrown away; only their predictions are kept)."""
    train = dict(recipe.train)
    if not train.get("load_best_model_at_end"):
        train["save_strategy"] = "no"
    return dataclasses.replace(recipe, train=train, seed=seed)


def fit_transformer(
    recipe: RecipeConfig,
    inputs: CvInputs,
    fit_idx: np.ndarray,
    predict: list[np.ndarray],
    out_dir: Path,
    scale: dict[str, float] | None = None,
) -> tuple[list[np.ndarray], RecipeConfig]:
    """Fine-tune a fresh model on `fit_idx` (early stopping and checkpoints see the first of
    `predict`), and return its head outputs on each index set of `predict`, and the recipe as it
    trained this model (`training.settled`: which head, so which calibration). A regression target
    is standardized with `scale` (the fold's training rows)."""
    from ..modeling import load_model

    encoded, tokenizer, task = inputs.encoded, inputs.tokenizer, inputs.prep.task
    labels = inputs.prep.schema["label_names"]
    model = load_model(
        recipe.model, labels, tokenizer, recipe.lora, recipe.seed, task, recipe.fits_head(task)
    )
    inputs.frozen = prepare_frozen(recipe, model, encoded, tokenizer, inputs.frozen)
    args = training_arguments(recipe, out_dir / ".cv-checkpoints" / "fold")
    train_ds, valid_ds, cache = encoded.select(fit_idx), encoded.select(predict[0]), inputs.frozen
    if scale is not None:
        train_ds, valid_ds = standardized(train_ds, scale), standardized(valid_ds, scale)
    if recipe.distill is not None:
        frame = inputs.frame.iloc[fit_idx]
        train_ds, cache = distilled_train_set(recipe, train_ds, frame, inputs.prep, tokenizer, model, cache)
    trainer = build_trainer(recipe, model, tokenizer, args, train_ds, valid_ds, cache)
    fit_model(trainer, recipe, task, cache, train_ds)
    outputs = [predict_logits(trainer, encoded.select(idx)) for idx in predict]
    ran = settled(recipe, model, task)
    del trainer, model
    gc.collect()  # the fold's model is in reference cycles (trainer, accelerator): free it now
    return outputs, ran


def freeze_long_lived() -> None:
    """Move what lives all run (the libraries, the table, its tokens, the frozen states) out of the
    cyclic collector's reach: each of its full collections walked all of it again (2.5 s of a 48 s
    quickstart, round 21). Called once the run is set up, inside a `thaws_frozen` run."""
    gc.collect()
    gc.freeze()


def thaws_frozen(run: Callable[..., T]) -> Callable[..., T]:
    """`run` may call `freeze_long_lived`: what it froze goes back to the collector when `run`
    returns or raises, so a process that runs again (a notebook, the tests) frees a finished run's
    model and rows. (`gc.unfreeze` also thaws what a caller froze before: it is then collectable.)"""

    @functools.wraps(run)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return run(*args, **kwargs)
        finally:
            gc.unfreeze()

    return wrapper


def crossfits(recipe: RecipeConfig, inputs: CvInputs) -> bool:
    """Whether the folds' hybrid crossfits (`training.settled` on a model loaded once, where the
    recipe leaves it open: which head the model gets); the frozen layers' outputs, shared by the
    folds, are computed here then."""
    from ..modeling import load_model

    task = inputs.prep.task
    if recipe.model.hybrid_fit == "validation" or not recipe.fits_head(task):
        return False
    labels = inputs.prep.schema["label_names"]
    model = load_model(recipe.model, labels, inputs.tokenizer, recipe.lora, recipe.seed, task, True)
    inputs.frozen = prepare_frozen(recipe, model, inputs.encoded, inputs.tokenizer, inputs.frozen)
    return settled(recipe, model, task).model.hybrid_fit == "crossfit"


def crossfit_held(recipe: RecipeConfig, inputs: CvInputs, rows: np.ndarray, out_dir: Path) -> Any:
    """`model.hybrid_fit: crossfit`: the transformer and the hybrid's components fitted on k - 1
    folds of `rows`, each scoring the fold it did not see (`evaluation.cross_fitted_parts`)."""
    from ..evaluation import cross_fitted_parts
    from ..inference import binary_margin

    each = fold_recipe(recipe, recipe.seed)

    def transformer(fit: np.ndarray, held: np.ndarray) -> np.ndarray:
        return binary_margin(fit_transformer(each, inputs, fit, [held], out_dir / ".crossfit")[0][0])

    names = [*recipe.model.hybrid, *(["lightgbm"] if recipe.model.blend == "lightgbm" else [])]
    held = cross_fitted_parts(
        recipe, inputs.prep, inputs.frame, rows, list(dict.fromkeys(names)), transformer
    )
    shutil.rmtree(out_dir / ".crossfit", ignore_errors=True)
    return held


def fold_scale(inputs: CvInputs, fit_idx: np.ndarray) -> dict[str, float] | None:
    """A regression target's mean and spread on the fold's training rows (None for classes)."""
    return target_scale(inputs.y[fit_idx]) if inputs.prep.task == "regression" else None


def fold_spread(name: str, per_fold: list[dict], keys: tuple[str, ...]) -> dict[str, Any]:
    """Mean, standard deviation and values over the folds of each of `name`'s figures in `keys`."""
    spread = {}
    for key in keys:
        values = [row[f"{name}_{key}"] for row in per_fold if row.get(f"{name}_{key}") is not None]
        if values:
            std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            spread[key] = {"mean": float(np.mean(values)), "std": std, "values": values}
    return spread
