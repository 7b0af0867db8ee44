"""The Python API a notebook calls; the CLI is a thin shell over these functions.

Each function takes a recipe (object, file or shipped name) and hands it to its orchestrator in
`runs/`; `preview` and `validate` only read, so they live here."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from .config import RecipeConfig, load_recipe, recipe_from_dict
from .runs import RunResult
from .training import encode, training_arguments

log = logging.getLogger(__name__)
__all__ = ["load_recipe", "train", "preview", "validate", "cross_validate", "evaluate_model"]


def _recipe(recipe: RecipeConfig | str | Path, overrides: list[str] | None = None) -> RecipeConfig:
    """A recipe object, file or shipped name, with `overrides` applied in every case."""
    if isinstance(recipe, RecipeConfig):
        return recipe_from_dict(dataclasses.asdict(recipe), overrides) if overrides else recipe
    return load_recipe(recipe, overrides)


def train(
    recipe: RecipeConfig | str | Path,
    output_dir: str | Path | None = None,
    *,
    overrides: list[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> RunResult:
    """Fine-tune and write a run folder (model/, metrics.json, report); see `credtune train`."""
    from .runs.train import train as _train

    return _train(_recipe(recipe, overrides), output_dir, resume=resume, overwrite=overwrite)


def preview(recipe: RecipeConfig | str | Path, overrides: list[str] | None = None, n: int = 5) -> str:
    """Serialized rows with their token counts and truncation stats, for a leakage check."""
    from . import data
    from .modeling import load_tokenizer

    recipe = _recipe(recipe, overrides)
    prep = data.prepare(recipe)
    tokenizer = load_tokenizer(recipe.model)
    encoded = encode(prep.table, prep.serializer, tokenizer, recipe.model.max_length)
    lengths = encoded["length"]
    lines = []
    for i in range(min(n, len(encoded))):
        row = encoded[i]
        label = prep.schema["label_names"][row["labels"]]
        lines += [f"--- row {i} ({row['length']} tokens, target hidden: {label})", row["text"]]
    cut = sum(encoded["truncated"])
    at_limit = sum(length >= recipe.model.max_length for length in lengths)
    lines += [
        "",
        f"rows: {len(encoded)}   tokens/row: mean {sum(lengths) / len(lengths):.1f}, max {max(lengths)}"
        f"   max_length: {recipe.model.max_length}",
        f"notes shortened: {cut} row(s); rows at the token limit: {at_limit}",
        f"fields serialized: {', '.join(prep.serializer.columns)}",
        f"never serialized: target '{recipe.data.target}'"
        + "".join(f", {c}" for c in [recipe.data.id, *recipe.data.exclude] if c)
        + (
            ""
            if recipe.serialize.include_protected
            else "".join(f", {c} (protected)" for c in recipe.data.protected)
        ),
    ]
    return "\n".join(lines)


def validate(recipe: RecipeConfig | str | Path) -> str:
    """Load a recipe, check its columns against its data and its train section; 'ok ...' or raise."""
    from . import data

    recipe = _recipe(recipe)
    prep = data.prepare(recipe)
    training_arguments(recipe, Path("runs") / recipe.name / "checkpoints")
    sizes = ", ".join(f"{k} {len(v)}" for k, v in prep.splits.items())
    return f"ok ({len(prep.table)} rows: {sizes}; {len(prep.serializer.columns)} fields)"


def cross_validate(
    recipe: RecipeConfig | str | Path,
    folds: int = 5,
    seeds: int = 1,
    output_dir: str | Path | None = None,
    *,
    overrides: list[str] | None = None,
    overwrite: bool = False,
    command: str | None = None,
) -> RunResult:
    """Stratified k-fold CV, transformer and baselines on the same folds; writes cv.json, oof.csv and a
    report into `output_dir` (default runs/<recipe>-cv); see `credtune cv`."""
    from .runs.cv import cross_validate as _cv

    return _cv(_recipe(recipe, overrides), folds, seeds, output_dir, overwrite=overwrite, command=command)


def evaluate_model(
    model_dir: str | Path,
    data: str | Path,
    report_dir: str | Path | None = None,
    reference: str | Path | None = None,
    importance_rows: int = 200,
) -> RunResult:
    """Score a labelled file with a trained model: credit metrics, decision at the stored threshold,
    fairness, drift vs `reference`, and global field importance (field occlusion on up to
    `importance_rows` rows; 0 skips it); writes metrics.json + report into `report_dir`."""
    from .runs.evaluate import evaluate_model as _evaluate

    return _evaluate(model_dir, data, report_dir, reference, importance_rows)
