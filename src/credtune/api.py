"""The Python API a notebook calls; the CLI is a thin shell over these functions."""

from __future__ import annotations

from pathlib import Path

from .config import RecipeConfig, load_recipe
from .training import RunResult, encode, training_arguments
from .training import train as _train

__all__ = ["load_recipe", "train", "preview", "validate"]


def _recipe(recipe: RecipeConfig | str | Path, overrides: list[str] | None = None) -> RecipeConfig:
    return recipe if isinstance(recipe, RecipeConfig) else load_recipe(recipe, overrides)


def train(
    recipe: RecipeConfig | str | Path,
    output_dir: str | Path | None = None,
    *,
    overrides: list[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> RunResult:
    """Fine-tune and write a run folder (model/, metrics.json, report); see `credtune train`."""
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
        + ("" if recipe.serialize.include_protected else "".join(f", {c} (protected)" for c in recipe.data.protected)),
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
