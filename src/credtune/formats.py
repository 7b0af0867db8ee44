"""A labelled table's text columns read as what they hold: money, rates, dates and numbers.

`typed_columns` runs once on the whole table, before splits: which format a column is written in
is not a fitted statistic (no label is read), so training, `validate`, `preview` and `cv` all
decide alike. Each distinct value goes through `parsing.parse_value`, the function scoring calls
per cell, so a value reads the same at training and at scoring. The formats found are remembered
with the table (`parses_of`) for `data.build_schema` to record in credtune.json.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .config import DataConfig
from .errors import DataError
from .parsing import (
    DATE_ISO,
    INT64_MAX,
    NotParsed,
    TooBig,
    ambiguous_day_month,
    detect,
    parse_value,
)

log = logging.getLogger(__name__)
NESTED = ("struct", "list", "large_list", "map", "fixed_size_list")


def remember(table: Any, parses: dict[str, str]) -> Any:
    """Attach the formats found to the table object (a Dataset carries no per-column notes)."""
    table.credtune_parses = dict(parses)
    return table


def parses_of(table: Any) -> dict[str, str]:
    return dict(getattr(table, "credtune_parses", {}))


def is_nested(arrow_type: pa.DataType) -> bool:
    return str(arrow_type).startswith(NESTED)


def typed_columns(table: Any, cfg: DataConfig, source: str, hidden: set[Any]) -> Any:
    """The table with every formatted text column (and date column) as numbers, and the formats
    remembered; `hidden` columns (target, id, excluded, notes, protected) are left as they are."""
    import datasets

    arrow = table.data.table if hasattr(table.data, "table") else table.data
    parses: dict[str, str] = {}
    for index, name in enumerate(table.column_names):
        column = arrow.column(index)
        if name in hidden:
            continue
        if is_nested(column.type):
            raise DataError(
                f"{source}: column '{name}' holds nested values ({column.type}); flatten it into plain "
                "columns or list it under data.exclude"
            )
        if name in cfg.categorical:
            continue
        _check_unsigned(name, column, source)
        converted = _convert(name, column, cfg, source)
        if converted is not None:
            parses[name], new = converted
            arrow = arrow.set_column(index, name, new)
    if parses:
        table = datasets.Dataset(datasets.table.InMemoryTable(arrow.replace_schema_metadata(None)))
    return remember(table, parses)


def _check_unsigned(name: str, column: pa.ChunkedArray, source: str) -> None:
    if pa.types.is_uint64(column.type) and (pc.max(column).as_py() or 0) > INT64_MAX:
        raise DataError(
            f"{source}: column '{name}' holds integers beyond 64 bits; list it under data.exclude "
            "(or data.id) if it is an identifier, or data.categorical to read it as text"
        )


def _convert(name: str, column: pa.ChunkedArray, cfg: DataConfig, source: str) -> tuple[str, Any] | None:
    """(parse, numbers) for a column to read as numbers, or None to leave it as it is."""
    if pa.types.is_temporal(column.type) and not pa.types.is_time(column.type):
        values = column.to_pylist()
        return DATE_ISO, pa.array(
            [None if v is None else parse_value(v, DATE_ISO) for v in values], pa.int64()
        )
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return None
    distinct = pc.unique(column.drop_null()).to_pylist()
    explicit = cfg.parse.get(name)
    parse = explicit or detect(distinct) or ("number" if name in cfg.numeric else None)
    if parse is None:
        _warn_almost(name, distinct, source)
        return None
    numbers, bad = {}, []
    for value in distinct:
        try:
            numbers[value] = parse_value(value, parse)
        except TooBig:
            raise DataError(
                f"{source}: column '{name}' holds integers beyond 64 bits (e.g. {value.strip()[:24]}); list it "
                "under data.exclude (or data.id) if it is an identifier, or data.categorical to read it as text"
            ) from None
        except NotParsed:
            numbers[value], bad = None, [*bad, value]
    _report(name, parse, distinct, bad, explicit is not None, source)
    results = [numbers[v] for v in distinct]
    floats = any(isinstance(v, float) for v in results)
    mapped = pa.array(results, pa.float64() if floats else pa.int64())
    index = pc.index_in(column, value_set=pa.array(distinct, column.type))
    return parse, pc.take(mapped, index)


_FORMATTED = re.compile(
    r"\d.*[$€£¥%]|[$€£¥].*\d|^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}$|^\d{1,2}[-/ ][A-Za-z]{3}[-/ ]\d{2,4}$"
)


def looks_formatted(distinct: list[str]) -> str | None:
    """An example value when most values look like money, rates or dates, else None."""
    sample = [v for v in distinct[:1000] if isinstance(v, str)]
    odd = [v for v in sample if _FORMATTED.search(v.strip())]
    return odd[0] if sample and 2 * len(odd) >= len(sample) else None


def _warn_almost(name: str, distinct: list[str], source: str) -> None:
    """Money, rates or dates in a format credtune does not read (or mixed formats) stay text:
    say so, rather than serializing amounts as categories without a word."""
    example = looks_formatted(distinct)
    if example is not None:
        log.warning(
            "%s: column '%s' looks like money, rates or dates (e.g. %r) but its values do not all fit one "
            "format credtune reads: serialized as categories; give the format as data.parse.%s",
            source,
            name,
            example,
            name,
        )


def _report(name: str, parse: str, distinct: list[str], bad: list[str], explicit: bool, source: str) -> None:
    good = next((v for v in distinct if v not in bad), None)
    how = (
        "as given in data.parse"
        if explicit
        else "every value fits; list it under data.categorical to keep it as text"
    )
    if good is not None:
        log.info("column '%s' read as %s (%r -> %s): %s", name, parse, good, parse_value(good, parse), how)
    if parse.startswith("date:") and ambiguous_day_month(distinct, parse):
        log.warning(
            "column '%s': every date reads as day/month and as month/day; read as %s (set data.parse.%s "
            "to choose)",
            name,
            parse[5:],
            name,
        )
    if bad:
        shown = ", ".join(repr(v) for v in bad[:3])
        log.warning(
            "%s: column '%s' has %d distinct value(s) that are not %s (%s); read as missing",
            source,
            name,
            len(bad),
            "numbers" if parse == "number" else parse,
            shown,
        )


def time_keys(column: pa.ChunkedArray, name: str, cfg: DataConfig) -> np.ndarray:
    """The time split's column as numbers that sort as time: numbers as they are, dates parsed
    (never dates sorted as text: '28/02/1997' would come after '01/03/2024')."""
    where = f"data.split.time_column '{name}'"
    if column.null_count:
        raise DataError(
            f"{where} is empty in {column.null_count} row(s); a time split needs a time for every row"
        )
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=float)
    if pa.types.is_temporal(column.type):
        return np.asarray([parse_value(v, DATE_ISO) for v in column.to_pylist()], dtype=float)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        raise DataError(f"{where} holds {column.type} values, which do not sort as time")
    distinct = pc.unique(column).to_pylist()
    parse = cfg.parse.get(name) or detect(distinct)
    if parse is None or parse in ("money", "percent"):
        example = next((v for v in distinct if not any(ch.isdigit() for ch in v)), distinct[0])
        raise DataError(
            f"{where} holds values that are neither numbers nor dates of one format (e.g. {example!r}); "
            f"a time split must sort them as time: give the format as data.parse.{name}: date:%d/%m/%Y"
        )
    try:
        keys = {v: float(parse_value(v, parse)) for v in distinct}
    except ValueError as exc:
        raise DataError(f"{where}: {exc!s} does not fit {parse}") from None
    return np.asarray([keys[v] for v in column.to_pylist()], dtype=float)
