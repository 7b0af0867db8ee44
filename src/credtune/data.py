"""Labelled tables: target values to labels, column roles, the schema, and the splits.

Files are read by `files.read_table` and their formatted text columns (money, rates, dates) read
as numbers by `formats.typed_columns`; the schema built here is the `schema` section of
credtune.json (with each column's `parse`), and the serializer it configures is the one scoring
rebuilds from that file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .config import DataConfig, RecipeConfig, SerializeConfig, resolve_data_path
from .errors import DataError, did_you_mean
from .files import read_table
from .formats import is_nested, looks_formatted, parses_of, time_keys, typed_columns
from .parsing import looks_like_id_name
from .serialize import FieldSpec, Serializer, band_parts
from .targets import LABEL, add_labels, label_key, settle_task, stratify_on, target_scale

__all__ = ["LABEL", "Prepared", "Target", "label_key", "load_labelled", "prepare"]

log = logging.getLogger(__name__)
MIN_DISTINCT_FOR_BANDS = 10


@dataclass
class Target:
    """What the target asks: `task`, its label names (binary: negative, positive; multiclass: the
    classes in order; regression: the target's name) and whether the classes are ordered grades."""

    task: str = "binary"
    names: tuple[str, ...] = ("negative", "positive")
    ordered: bool = False


@dataclass
class Prepared:
    """A labelled table (with a `labels` column), its split indices and the serializer fitted to it."""

    table: datasets.Dataset
    splits: dict[str, np.ndarray]
    schema: dict[str, Any]
    serializer: Serializer

    def split(self, name: str) -> datasets.Dataset:
        return self.table.select(self.splits[name])

    @property
    def task(self) -> str:
        return self.schema.get("task", "binary")

    @property
    def numeric(self) -> list[str]:
        return [f.name for f in self.serializer.fields if f.kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.serializer.fields if f.kind == "categorical"]


def load_labelled(cfg: DataConfig, path: Path, seed: int = 0) -> tuple[datasets.Dataset, Target]:
    """Read the data file, check the recipe's columns against it, and add `labels` (see `targets`)."""
    table = read_table(path)
    columns = table.column_names
    if not cfg.target:
        raise DataError("data.target is not set: name the column that says whether the loan defaulted")
    if cfg.target not in columns:
        raise DataError(f"target column '{cfg.target}' not in {path.name}{did_you_mean(cfg.target, columns)}")
    check_roles_exist(cfg, columns, path.name)
    if is_nested(table.features.arrow_schema.field(cfg.target).type):
        raise DataError(
            f"{path.name}: target column '{cfg.target}' holds nested values; give one value per row"
        )
    table, task, names = add_labels(table, cfg)
    target = Target(task, tuple(names), task == "multiclass" and cfg.ordered)
    if cfg.sample and cfg.sample < len(table):
        keep = _stratified_indices(np.asarray(table[LABEL]), cfg.sample / len(table), seed, task)
        table = table.select(np.sort(keep))
    if len(table) != table.data.num_rows:  # rows dropped or sampled: make `table.data` hold just these rows
        table = table.flatten_indices()
    hidden = {cfg.target, LABEL, cfg.id, cfg.split.column, *cfg.exclude, *cfg.text, *cfg.protected}
    return typed_columns(table, cfg, path.name, hidden), target


def check_roles_exist(cfg: DataConfig, columns: list[str], source: str) -> None:
    """Every column the recipe names is in the file: a misspelled protected or excluded column
    would otherwise be serialized (an applicant's age in the model's text)."""
    named = ("id", "text", "exclude", "protected", "categorical", "numeric", "parse", "split.time_column")
    for role in (*named, "split.column"):
        names = getattr(cfg.split, role[6:]) if role.startswith("split.") else getattr(cfg, role)
        for name in [names] if isinstance(names, str) else names or []:
            if name not in columns:
                raise DataError(f"data.{role}: column '{name}' not in {source}{did_you_mean(name, columns)}")


def build_schema(
    table: datasets.Dataset,
    cfg: DataConfig,
    scfg: SerializeConfig,
    fit_rows: np.ndarray,
    target: Target | None = None,
) -> dict:
    """Decide every column's role and kind; number bands, categories and a regression target's
    scale come from `fit_rows` only. `target` is None for an unlabelled table (pretraining)."""
    label_values = list(target.names) if target else _label_names(table, cfg)
    hidden = _hidden(cfg, scfg)
    parses = parses_of(table)
    fit = pa.array(np.asarray(fit_rows, dtype=np.int64))  # `select(...).data` would still hold every row
    columns, identifiers = [], []
    for name in table.column_names:
        if name in hidden or name is None:
            continue
        arrow = table.data.column(name)
        if arrow.null_count == len(arrow):
            log.warning("column '%s' is empty in every row; left out of the text", name)
            continue
        kind = _kind(name, arrow.type, cfg)
        if kind != "text" and parses.get(name) in (None, "number") and _identifier(name, arrow, cfg):
            identifiers.append(name)
            continue
        if kind == "categorical" and name not in cfg.categorical:
            _warn_mixed(name, arrow)
        if pa.types.is_floating(arrow.type) and (n_inf := pc.sum(pc.is_inf(arrow)).as_py()):
            log.warning("column '%s' has %d infinite value(s); they are read as missing", name, n_inf)
        column: dict[str, Any] = {"name": name, "kind": kind, "dtype": str(arrow.type)}
        if name in parses:
            column["parse"] = parses[name]
        if kind == "numeric":
            column["bands"] = _bands(arrow.take(fit), band_parts(scfg.numbers))
        elif kind == "categorical":
            counts = pc.value_counts(arrow.take(fit).cast(pa.string())).to_pylist()
            column["categories"] = sorted(c["values"] for c in counts if c["values"] is not None)[:200]
        columns.append(column)
    if not columns:
        raise DataError(
            "no columns left to serialize after removing target, id, excluded and protected columns"
        )
    task = target.task if target else "binary"
    kind: dict[str, Any] = {"task": task} if task != "binary" else {}
    if target and target.ordered:
        kind["ordered"] = True
    if task == "regression":
        kind["target_scale"] = target_scale(np.asarray(table[LABEL], dtype=np.float64)[fit_rows])
    return {
        "target": cfg.target,
        **kind,
        "positive": label_key(cfg.positive) if task == "binary" else None,
        "label_names": label_values,
        "id": cfg.id,
        "columns": columns,
        "protected": list(cfg.protected),
        "excluded": [*cfg.exclude, *identifiers],
    }


def _identifier(name: str, column: pa.ChunkedArray, cfg: DataConfig) -> bool:
    """A column with a different value in every row (text, or integers named like an id or
    numbering the rows) tells the model nothing it can learn: say so and leave it out, unless the
    recipe types it."""
    if name in cfg.categorical or name in cfg.numeric or len(column) < 20 or column.null_count:
        return False
    text = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    if not (text or pa.types.is_integer(column.type)):
        return False
    if pc.count_distinct(column).as_py() != len(column):
        return False
    if not text and not looks_like_id_name(name):  # a count or amount may differ in every row too
        low, high = pc.min_max(column).values()
        if high.as_py() - low.as_py() + 1 != len(column):  # unless it numbers the rows
            return False
    if text and 2 * (pc.sum(pc.match_substring_regex(column, _NUMBER)).as_py() or 0) >= len(column):
        return False  # mostly numbers with a few words: amounts read as text (see `_warn_mixed`)
    if text and looks_formatted(pc.unique(column).to_pylist()) is not None:
        return False  # amounts or dates in a format not read as numbers (said in `formats`)
    log.warning(
        "column '%s' has a different value in every row (an identifier?): left out of the text; set "
        "data.id to it, data.text if it is a note, or list it under data.categorical to serialize it",
        name,
    )
    return True


def _hidden(cfg: DataConfig, scfg: SerializeConfig) -> set[str | None]:
    return {cfg.target, LABEL, cfg.id, cfg.split.column, *cfg.exclude} | (
        set() if scfg.include_protected else set(cfg.protected)
    )


def _check_width(table: datasets.Dataset, recipe: RecipeConfig) -> None:
    """Every field costs at least two tokens (label, value), so a table wider than half of
    model.max_length would have its last fields cut from every row: refuse it up front."""
    hidden = _hidden(recipe.data, recipe.serialize)
    n_fields = sum(name not in hidden and name not in recipe.data.text for name in table.column_names)
    if 2 * n_fields > recipe.model.max_length:
        raise DataError(
            f"{n_fields} columns to serialize cannot fit in model.max_length={recipe.model.max_length} tokens "
            "(each takes at least 2): list the ones to leave out under data.exclude, or raise model.max_length"
        )


def _kind(name: str, arrow_type: pa.DataType, cfg: DataConfig) -> str:
    if name in cfg.text:
        return "text"
    if name in cfg.categorical:
        return "categorical"
    if name in cfg.numeric or pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "numeric"
    return "categorical"


_NUMBER = r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$"


def _warn_mixed(name: str, column: pa.ChunkedArray) -> None:
    """A number column with a few words in it is read as text; say so rather than silently
    serializing amounts as categories."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return
    present = column.drop_null()
    numeric = pc.match_substring_regex(present, _NUMBER)
    n_numbers = pc.sum(numeric).as_py() or 0
    if n_numbers < 0.5 * len(present) or n_numbers == len(present):
        return
    others = ", ".join(repr(v) for v in pc.filter(present, pc.invert(numeric)).unique().to_pylist()[:3])
    log.warning(
        "column '%s' holds numbers and %d non-number value(s) (%s): serialized as categories; "
        "list it under data.numeric to read it as a number",
        name,
        len(present) - n_numbers,
        others,
    )


def _bands(column: pa.ChunkedArray, parts: int) -> list[float] | None:
    """The cuts between `parts` equal-count bands of a number column (None for few distinct values)."""
    try:
        values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            return None
        numbers = pc.filter(column, pc.match_substring_regex(column, _NUMBER))  # mixed column: skip words
        values = pc.cast(pc.utf8_trim_whitespace(numbers), pa.float64()).to_numpy(zero_copy_only=False)
    values = values[np.isfinite(values)]
    if np.unique(values).size <= MIN_DISTINCT_FOR_BANDS:
        return None  # a count like "dependents: 1" says all a band would, in fewer tokens
    return [float(q) for q in np.quantile(values, np.arange(1, parts) / parts)]


def _label_names(table: datasets.Dataset, cfg: DataConfig) -> list[str]:
    if not cfg.target or cfg.target not in table.column_names:
        return ["negative", "positive"]  # an unlabelled table (`credtune pretrain`): no classes to name
    positive = label_key(cfg.positive)
    seen = {label_key(v) for v in table.unique(cfg.target)} - {None, positive}
    negative = (
        label_key(cfg.negative) if cfg.negative is not None else (sorted(seen)[0] if seen else "negative")
    )
    return [str(negative), str(positive)]


def make_serializer(schema: dict, scfg: SerializeConfig) -> Serializer:
    single_note = sum(c["kind"] == "text" for c in schema["columns"]) == 1

    def label(column: dict) -> str:
        default = (
            scfg.note_label if column["kind"] == "text" and single_note else column["name"].replace("_", " ")
        )
        return scfg.descriptions.get(column["name"], default)

    fields = [FieldSpec(c["name"], c["kind"], label(c), c.get("bands")) for c in schema["columns"]]
    return Serializer(
        fields=fields,
        template=scfg.template,
        precision=scfg.precision,
        missing=scfg.missing,
        values=scfg.values,
        mask_pii=scfg.mask_pii,
        numbers=scfg.numbers,
        notes_cut=scfg.notes_cut,
    )


def split_indices(
    table: datasets.Dataset, cfg: DataConfig, seed: int, task: str = "binary"
) -> dict[str, np.ndarray]:
    """Random train/valid/test (stratified by class), or oldest -> train when `split.time_column` is set."""
    n = len(table)
    labels = np.asarray(table[LABEL])
    if cfg.split.column:
        parts = _shipped_split(table, cfg, labels, seed, task)
    elif cfg.split.time_column:
        keys = time_keys(table.data.column(cfg.split.time_column), cfg.split.time_column, cfg)
        order = np.argsort(keys, kind="stable")
        n_test, n_valid = int(round(n * cfg.split.test)), int(round(n * cfg.split.valid))
        parts = {"train": order[: n - n_test - n_valid], "valid": order[n - n_test - n_valid : n - n_test]}
        parts["test"] = order[n - n_test :]
    else:
        rest = np.arange(n)
        test = _stratified_indices(labels, cfg.split.test, seed, task)
        rest = np.setdiff1d(rest, test)
        share = cfg.split.valid / (1 - cfg.split.test)
        valid = rest[_stratified_indices(labels[rest], share, seed + 1, task)]
        parts = {"train": np.setdiff1d(rest, valid), "valid": np.sort(valid), "test": np.sort(test)}
    for name, idx in parts.items():
        if len(np.unique(labels[idx])) < 2:
            what = "value" if task == "regression" else "class"
            raise DataError(f"the {name} split has a single {what}; use more rows or a larger split share")
    return parts


def _shipped_split(
    table: datasets.Dataset, cfg: DataConfig, labels: np.ndarray, seed: int, task: str
) -> dict[str, np.ndarray]:
    """The split a data set ships with (`data.split.column`), valid carved from train if absent."""
    name = cfg.split.column
    values = np.array([str(label_key(v) or "").lower() for v in table[name]], dtype=object)
    other = sorted(set(values) - {"train", "valid", "test"})
    if other:
        raise DataError(
            f"data.split.column '{name}' holds {other[:5]}; its values must be train, valid or test"
        )
    parts = {part: np.flatnonzero(values == part) for part in ("train", "valid", "test")}
    if not len(parts["test"]) or not len(parts["train"]):
        raise DataError(f"data.split.column '{name}' must mark both train and test rows")
    if not len(parts["valid"]):
        train = parts["train"]
        picked = _stratified_indices(labels[train], cfg.split.valid, seed + 1, task)
        parts = {**parts, "train": np.setdiff1d(train, train[picked]), "valid": train[picked]}
    return parts


def _stratified_indices(labels: np.ndarray, share: float, seed: int, task: str = "binary") -> np.ndarray:
    from sklearn.model_selection import train_test_split

    by = stratify_on(labels, task)
    counts = np.bincount(by.astype(int)) if by is not None else np.array([2])
    if counts[counts > 0].min() < 2:
        raise DataError("a class has a single row; every class needs two or more to be split on")
    _, picked = train_test_split(np.arange(len(labels)), test_size=share, stratify=by, random_state=seed)
    return np.sort(picked)


def prepare(recipe: RecipeConfig) -> Prepared:
    """Everything `train` needs from the data: labelled table, splits, schema, serializer."""
    table, target = load_labelled(recipe.data, resolve_data_path(recipe), recipe.seed)
    if len(table) < 20:
        raise DataError(f"only {len(table)} labelled rows; too few to split and train on")
    settle_task(recipe, target.task)
    _check_width(table, recipe)
    splits = split_indices(table, recipe.data, recipe.seed, target.task)
    schema = build_schema(table, recipe.data, recipe.serialize, splits["train"], target)
    return Prepared(table, splits, schema, make_serializer(schema, recipe.serialize))
