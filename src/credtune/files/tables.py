"""Whole tables for training, through `datasets` (Arrow, memory-mapped, cached).

The file goes through the same `check_file` and header checks as a file to score, so a file that
one path refuses the other refuses too, with the same line. Two things `datasets` would do
silently are caught here: a number column with words further down than pandas' first 10,000-row
chunk (read again as text, then typed from the whole file), and integers beyond 64 bits (read as
text in CSV; refused in JSON, where they would become rounded floats).
"""

from __future__ import annotations

import codecs
import contextlib
import json
import logging
import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import DataError
from ..parsing import INT64_MAX
from .reading import delimiter, open_table

log = logging.getLogger(__name__)
_LONG_DIGITS = re.compile(rb"(?<![\w.\"])-?\d{19,}(?![\w.\"])")


def read_table(path: str | Path) -> Any:
    """Read CSV/TSV, Parquet or JSON Lines into an Arrow-backed Dataset, with readable errors."""
    import datasets

    datasets.disable_progress_bars()
    path = Path(path)
    source = open_table(path, "data")  # the checks a file to score gets, header and first record
    builder, header = source.kind, source.columns
    kwargs: dict[str, Any] = {}
    if builder == "csv":
        _warn_not_utf8(path)
        kwargs = {"encoding_errors": "replace", "sep": delimiter(path)}
    elif builder == "json":
        _check_json_integers(path)
    try:
        table = datasets.load_dataset(builder, data_files=str(path.resolve()), split="train", **kwargs)
    except Exception as exc:  # datasets wraps parser errors in several layers
        cause = exc.__cause__ or exc
        if builder != "csv" or not isinstance(cause, (pa.ArrowInvalid, OverflowError)):
            raise DataError(
                f"cannot read {path.name}: {type(cause).__name__}: {str(cause).splitlines()[0]}"
            ) from None
        table = _read_csv_typed_whole(path, header, kwargs)
        if isinstance(cause, pa.ArrowInvalid):
            log.warning(
                "%s: column types change after the first rows; types were inferred from the whole file",
                path.name,
            )
    if len(table) == 0:
        raise DataError(f"{path.name} has a header but no rows")
    return table


def _warn_not_utf8(path: Path) -> None:
    """Undecodable bytes are replaced rather than refused (one stray byte should not stop a run);
    say so, with the offset of the first one."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                log.warning(
                    "%s is not valid UTF-8 (first bad byte at offset %d); bad bytes were replaced by U+FFFD",
                    path.name,
                    max(offset + exc.start, 0),
                )
                return
            offset += len(chunk)


def _check_json_integers(path: Path) -> None:
    """`datasets` reads a JSON integer beyond 64 bits as a rounded float: refuse it, naming the line."""
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, 1):
            if not _LONG_DIGITS.search(raw):
                continue
            try:
                record = json.loads(raw.decode("utf-8", "replace"))
            except json.JSONDecodeError:
                continue  # a JSON array, or a broken line: the reader reports those
            items = record.items() if isinstance(record, dict) else []
            name = next((k for k, v in items if isinstance(v, int) and abs(v) > INT64_MAX), None)
            if name is not None:
                raise DataError(
                    f"{path.name} line {line_no}: '{name}' holds an integer beyond 64 bits "
                    f"({str(record[name])[:24]}); write it as a string so it is read as text"
                )


def _read_csv_typed_whole(path: Path, header: list[str], kwargs: dict[str, Any]) -> Any:
    """pandas infers a CSV's column types one 10,000-row chunk at a time, so a number column with
    a stray word (or an empty column with text) further down cannot be read. Read every column as
    text, then give each column a number type only if all of its values are numbers. A column of
    integers beyond 64 bits stays text: no number type holds them, and as floats they would be
    rounded (an account number is an identifier, not an amount)."""
    import datasets
    import pyarrow.compute as pc

    try:
        text = datasets.Features({name: datasets.Value("string") for name in header})
        raw = datasets.load_dataset(
            "csv", data_files=str(path.resolve()), split="train", features=text, **kwargs
        )
    except Exception as exc:
        cause = exc.__cause__ or exc
        raise DataError(
            f"cannot read {path.name}: {type(cause).__name__}: {str(cause).splitlines()[0]}"
        ) from None
    columns = {}
    for name in raw.column_names:
        column = raw.data.column(name)
        try:
            column = pc.cast(column, pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            if not _integers(column):
                with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    column = pc.cast(column, pa.float64())
        columns[name] = column
    return datasets.Dataset(datasets.table.InMemoryTable(pa.table(columns)))


def _integers(column: pa.ChunkedArray) -> bool:
    import pyarrow.compute as pc

    present = column.drop_null()
    return len(present) > 0 and bool(pc.all(pc.match_substring_regex(present, r"^\s*[-+]?\d+\s*$")).as_py())
