"""The pretraining corpus: which rows of which tables, serialized as their fine-tuning recipes
serialize them, and the record of those rows that keeps every later evaluation honest.

Each row pretrained on is recorded in the backbone folder (`credtune_pretrain.json`) as a 64-bit
fingerprint of its serialized columns' values (the target, id, excluded and protected columns are
never part of it, nor of the text). `check_no_overlap` refuses to fine-tune or cross-validate a
backbone on evaluation rows it has seen: masked-field pretraining on a row teaches the model that
row's fields, so its held-out figures would no longer be out of sample. No torch here: the check
runs before any model is loaded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import data as data_mod
from .config import RecipeConfig, load_recipe, resolve_data_path
from .errors import ConfigError, DataError, ModelError
from .files import read_table
from .formats import typed_columns
from .pretrain_config import PretrainConfig, table_recipe
from .serialize import Serializer

log = logging.getLogger(__name__)
RECORD = "credtune_pretrain.json"
RECORD_VERSION = 1


@dataclass
class CorpusTable:
    """One table's rows to pretrain on, typed and serialized as its recipe does."""

    name: str
    path: Path
    table: Any  # datasets.Dataset of the rows kept
    serializer: Serializer
    columns: list[str]  # the serialized columns: a row's fingerprint is over their values
    rows_in_file: int
    excluded: int  # rows left out because an evaluation (exclude_rows_of) uses them


def build_corpus(cfg: PretrainConfig) -> list[CorpusTable]:
    """Every table of the recipe, with the evaluation rows of `exclude_rows_of` left out and at
    most `rows` (or `rows_per_table`) rows of each, drawn at random with the recipe's seed."""
    held_out = [evaluation_rows(cfg.resolve(name)) for name in cfg.exclude_rows_of]
    tables: list[CorpusTable] = []
    for index, entry in enumerate(cfg.tables):
        recipe = table_recipe(cfg, index)
        caps = [c for c in (entry.rows, cfg.rows_per_table, recipe.data.sample) if c is not None]
        table = read_corpus_table(recipe, min(caps) if caps else None, cfg.seed + index, held_out)
        taken = {t.name for t in tables}
        while table.name in taken:
            table.name += "+"
        tables.append(table)
    return tables


def read_corpus_table(
    recipe: RecipeConfig, cap: int | None, seed: int, held_out: list[tuple[str, Any]] = ()
) -> CorpusTable:
    """The recipe's table read as fine-tuning reads it (with or without its target column); the
    serializer's bands and categories come from every row of the file (no label is read)."""
    path = resolve_data_path(recipe)
    cfg = recipe.data
    table = read_table(path)
    data_mod.check_roles_exist(cfg, table.column_names, path.name)
    if cfg.target and cfg.target not in table.column_names:
        log.info("%s: no '%s' column: read as unlabelled applications", path.name, cfg.target)
    hidden = {cfg.target, cfg.id, *cfg.exclude, *cfg.text, *cfg.protected}
    table = typed_columns(table, cfg, path.name, hidden)
    try:
        schema = data_mod.build_schema(table, cfg, recipe.serialize, np.arange(len(table)))
    except DataError as exc:
        raise DataError(f"table {recipe.name} ({path.name}): {exc}") from None
    serializer = data_mod.make_serializer(schema, recipe.serialize)
    columns = serializer.columns
    keep = np.ones(len(table), dtype=bool)
    if held_out:
        own = fingerprints(table, columns)
        for source, rows in held_out:
            if set(columns) <= set(rows.column_names):
                drop = np.isin(own, fingerprints(rows, columns))
                if drop.any():
                    log.info(
                        "%s: %d row(s) left out (evaluation rows of %s)", recipe.name, drop.sum(), source
                    )
                keep &= ~drop
    index = np.flatnonzero(keep)
    if cap is not None and cap < len(index):
        index = np.sort(np.random.default_rng(seed).choice(index, cap, replace=False))
    if len(index) == 0:
        raise DataError(f"table {recipe.name} ({path.name}): no rows left to pretrain on")
    return CorpusTable(
        recipe.name, path, table.select(index), serializer, columns, len(table), int((~keep).sum())
    )


def evaluation_rows(recipe_path: Path) -> tuple[str, Any]:
    """The valid and test rows of a fine-tuning recipe (its own split, seed and sample): the rows
    `credtune train` evaluates on, which a backbone it fine-tunes must not have seen."""
    recipe = load_recipe(recipe_path)
    prep = data_mod.prepare(recipe)
    rows = np.sort(np.concatenate([prep.splits["valid"], prep.splits["test"]]))
    return recipe.name, prep.table.select(rows)


# -- fingerprints ------------------------------------------------------------------------------
def fingerprints(rows: Any, columns: list[str], indices: Any = None) -> np.ndarray:
    """A 64-bit hash per row of the values in `columns` (numbers compared as numbers: 3, 3.0 and
    "3" agree; blanks and NaN are one missing value). `rows`: a Dataset, DataFrame or list of dicts."""
    values = _columns(rows, columns, indices)
    n = len(values[0]) if values else 0
    out = np.empty(n, dtype=np.uint64)
    for i, row in enumerate(zip(*values)):
        key = "\x1f".join(_canonical(v) for v in row).encode("utf-8", "surrogatepass")
        out[i] = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")
    return out


def _columns(rows: Any, columns: list[str], indices: Any) -> list[list[Any]]:
    if hasattr(rows, "select_columns"):  # datasets.Dataset
        part = rows.select_columns(columns)
        part = part.select(np.asarray(indices, dtype=np.int64)) if indices is not None else part
        values = part.to_dict()  # respects a selection (`part.data` would still hold every row)
        return [values[c] for c in columns]
    if hasattr(rows, "iloc"):  # pandas
        part = rows.iloc[np.asarray(indices, dtype=np.int64)] if indices is not None else rows
        return [part[c].tolist() for c in columns]
    records = list(rows) if indices is None else [rows[int(i)] for i in indices]
    return [[r.get(c) for r in records] for c in columns]


def _canonical(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, float, np.integer, np.floating)):
        return _number(float(value))
    if isinstance(value, str):
        text = " ".join(value.split())
        try:
            return _number(float(text))
        except ValueError:
            return text
    if str(value) in ("<NA>", "NaT", "nan"):
        return ""
    return " ".join(str(value).split())


def _number(x: float) -> str:
    return format(x, ".12g") if math.isfinite(x) else ""


def pack(values: np.ndarray) -> str:
    return base64.b64encode(np.unique(values).astype("<u8").tobytes()).decode("ascii")


def unpack(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text.encode("ascii"), validate=True), dtype="<u8")


# -- the record in the backbone folder --------------------------------------------------------
def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def corpus_record(tables: list[CorpusTable], facts: dict[str, Any], inherited: dict | None) -> dict:
    """`credtune_pretrain.json`: what the backbone was pretrained on, row by row. A backbone
    pretrained from another credtune backbone carries that one's tables too."""
    from . import __version__

    own = [
        {
            "name": t.name,
            "file": t.path.name,
            "sha256": file_sha256(t.path),
            "rows": len(t.table),
            "rows_in_file": t.rows_in_file,
            "excluded_evaluation_rows": t.excluded,
            "columns": t.columns,
            "fingerprints": pack(fingerprints(t.table, t.columns)),
        }
        for t in tables
    ]
    earlier = [{**t, "inherited": True} for t in (inherited or {}).get("tables", [])]
    return {
        "format_version": RECORD_VERSION,
        "credtune_version": __version__,
        **facts,
        "tables": own + earlier,
    }


def load_record(model_name: str) -> dict[str, Any] | None:
    """The pretraining record of a backbone folder (or of a Hub backbone already in the local
    cache); None for a backbone credtune did not pretrain."""
    path = Path(model_name).expanduser() / RECORD
    if not path.is_file() and model_name.count("/") == 1 and not Path(model_name).expanduser().exists():
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model_name, RECORD)
        path = Path(found) if isinstance(found, str) else path
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        for table in record["tables"]:
            assert isinstance(table["columns"], list) and isinstance(table["fingerprints"], str)
            assert table["file"] and isinstance(table["rows"], int)
        if record["format_version"] != RECORD_VERSION:
            raise ModelError(
                f"{path}: format_version {record['format_version']} is not one this credtune reads "
                f"(written by credtune {record.get('credtune_version')}); upgrade credtune"
            )
        return record
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        raise ModelError(
            f"{path} is not a readable pretraining record; pretrain the backbone again"
        ) from None


def check_no_overlap(model_name: str, rows: Any, what: str, indices: Any = None) -> None:
    """Refuse to evaluate on rows the backbone `model_name` was pretrained on (one line, before
    any work): `rows` are the rows evaluated (a Dataset, DataFrame or records; `indices` selects
    some of them), `what` says which (e.g. "this cv evaluates"). A backbone credtune did not
    pretrain passes; so does a table whose serialized columns `rows` lacks (another table)."""
    record = load_record(str(model_name))
    if record is None:
        return
    present = set(rows.column_names if hasattr(rows, "column_names") else _names(rows))
    n = len(indices) if indices is not None else len(rows)
    for table in record["tables"]:
        if not table["columns"] or not set(table["columns"]) <= present:
            continue
        seen = np.isin(fingerprints(rows, table["columns"], indices), unpack(table["fingerprints"]))
        if seen.any():
            raise ConfigError(
                f"model.name {model_name} was pretrained on {int(seen.sum())} of the {n} rows {what} "
                f"({table['file']}), so its figures would not be out of sample: pretrain it without that "
                "table (for `credtune train`, leaving the recipe's valid and test rows out is enough: "
                "exclude_rows_of)"
            )


def _names(rows: Any) -> list[str]:
    if hasattr(rows, "columns"):
        return [str(c) for c in rows.columns]
    first = next(iter(rows), None)
    return list(first) if isinstance(first, dict) else []
