"""Reading input files: whole tables for training, fixed-size chunks of records for scoring.

Training reads whole tables through `datasets` (Arrow, memory-mapped, cached), so a large Parquet
file is never loaded whole into pandas. Scoring must not even do that, because a file to score can
be far larger than memory: `open_table` gives a `Source` whose chunk i always holds rows
[i*n, (i+1)*n), whatever the format's own blocks, so a resumed or multi-process run finds the same
chunks again. CSV cells are read as bytes and decoded with replacement, so a stray non-UTF-8 byte
costs one character, not the run. Both paths go through `check_file` first.
"""

from __future__ import annotations

import codecs
import csv
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import DataError

log = logging.getLogger(__name__)

# pandas' default missing-value markers: training read CSVs through pandas, so scoring must agree
NA_VALUES = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
             "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]  # fmt: skip
FORMATS = {  # file suffix -> reader
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "json",
    ".json": "json",
}
CSV_BLOCK = 8 << 20  # one CSV row (a long note included) must fit in a block


@dataclass
class Source:
    """One input file: its columns, its row count where the format records it, and its chunks."""

    path: Path
    kind: str
    columns: list[str]
    rows: int | None = None

    def chunks(self, columns: list[str], chunk_rows: int) -> Iterator[list[dict[str, Any]]]:
        if chunk_rows <= 0:
            raise DataError("chunk size must be a positive number of rows")
        columns = [c for c in dict.fromkeys(columns) if c in self.columns]
        try:
            if self.kind == "json":
                yield from self._json_chunks(columns, chunk_rows)
            else:
                yield from rechunk(self._arrow_batches(columns, chunk_rows), chunk_rows)
        except (pa.ArrowInvalid, ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read {self.path.name}: {str(exc).splitlines()[0]}") from None

    def _arrow_batches(self, columns: list[str], chunk_rows: int) -> Iterator[pa.RecordBatch]:
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            yield from pq.ParquetFile(self.path).iter_batches(
                batch_size=min(chunk_rows, 65_536), columns=columns
            )
            return
        import pyarrow.csv as pcsv

        reader = pcsv.open_csv(
            self.path,
            read_options=pcsv.ReadOptions(block_size=CSV_BLOCK),
            parse_options=pcsv.ParseOptions(delimiter=delimiter(self.path), newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                include_columns=columns,
                column_types={c: pa.binary() for c in columns},  # decoded leniently per cell
                null_values=NA_VALUES,
                strings_can_be_null=True,
            ),
        )
        yield from reader

    def _json_chunks(self, columns: list[str], chunk_rows: int) -> Iterator[list[dict[str, Any]]]:
        import pandas as pd

        with pd.read_json(
            self.path,
            lines=True,
            chunksize=chunk_rows,
            dtype=False,
            convert_dates=False,
            encoding_errors="replace",
        ) as reader:
            for frame in reader:
                yield frame.reindex(columns=columns).to_dict("records")


def rechunk(batches: Iterable[pa.RecordBatch], chunk_rows: int) -> Iterator[list[dict[str, Any]]]:
    """Arrow batches of any size -> lists of exactly `chunk_rows` records (the last may be shorter)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        count += batch.num_rows
        while count >= chunk_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, chunk_rows).to_pylist()
            rest = table.slice(chunk_rows)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending).to_pylist()


def check_file(path: Path, role: str) -> str:
    """The reader for `path` ("csv", "parquet" or "json"), after the checks every input gets."""
    if path.is_dir():
        raise DataError(f"{role} path {path} is a directory; give a CSV, Parquet or JSON Lines file")
    if not path.exists():
        raise DataError(f"{role} file not found: {path}")
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path.name}: unsupported file type '{path.suffix}'; use .csv, .parquet or .jsonl")
    if path.stat().st_size == 0:
        raise DataError(f"{path.name} is empty")
    return kind


def open_table(path: str | Path) -> Source:
    """Check the file and read only its column names (and row count, for Parquet)."""
    path = Path(path)
    kind = check_file(path, "input")
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(path)
        except pa.ArrowInvalid as exc:
            raise DataError(f"cannot read {path.name}: {exc}") from None
        return Source(path, kind, list(meta.schema_arrow.names), meta.metadata.num_rows)
    if kind == "csv":
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            header = next(csv.reader(handle, delimiter=delimiter(path)), [])
        if not header:
            raise DataError(f"{path.name} has no header line")
        return Source(path, kind, header)
    with path.open(encoding="utf-8", errors="replace") as handle:
        first = next((line for line in handle if line.strip()), "")
    try:
        record = json.loads(first)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path.name}: the first line is not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise DataError(f"{path.name}: expected one JSON object per line")
    return Source(path, kind, list(record))


def delimiter(path: Path) -> str:
    """Tab for .tsv, comma for everything else."""
    return "\t" if path.suffix.lower() == ".tsv" else ","


def decode_cell(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def read_table(path: str | Path) -> Any:
    """Read CSV/TSV, Parquet or JSON Lines into an Arrow-backed Dataset, with readable errors."""
    import datasets

    datasets.disable_progress_bars()
    path = Path(path)
    builder = check_file(path, "data")
    kwargs: dict[str, Any] = {}
    if builder == "csv":
        header = _check_csv_header(path)
        _warn_not_utf8(path)
        kwargs = {"encoding_errors": "replace", "sep": delimiter(path)}
    try:
        table = datasets.load_dataset(builder, data_files=str(path.resolve()), split="train", **kwargs)
    except Exception as exc:  # datasets wraps parser errors in several layers
        cause = exc.__cause__ or exc
        if builder != "csv" or not isinstance(cause, pa.ArrowInvalid):
            raise DataError(
                f"cannot read {path.name}: {type(cause).__name__}: {str(cause).splitlines()[0]}"
            ) from None
        table = _read_csv_typed_whole(path, header, kwargs)
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


def _check_csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:  # -sig: drop a BOM
        header = next(csv.reader(handle, delimiter=delimiter(path)), [])
        first_row = next(
            (row for row in csv.reader(handle, delimiter=delimiter(path)) if any(c.strip() for c in row)),
            None,
        )
    if not header:
        raise DataError(f"{path.name} has no header line")
    if first_row is None:
        raise DataError(f"{path.name} has a header but no rows")
    seen = set()
    for name in header:
        if name in seen:
            raise DataError(f"{path.name}: column '{name}' appears twice in the header")
        seen.add(name)
    return header


def _read_csv_typed_whole(path: Path, header: list[str], kwargs: dict[str, Any]) -> Any:
    """pandas infers a CSV's column types one 10,000-row chunk at a time, so a number column with
    a stray word (or an empty column with text) further down cannot be read. Read every column as
    text, then give each column a number type only if all of its values are numbers."""
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
        for arrow_type in (pa.int64(), pa.float64()):
            try:
                column = pc.cast(column, arrow_type)
                break
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
        columns[name] = column
    log.warning(
        "%s: column types change after the first rows; types were inferred from the whole file", path.name
    )
    return datasets.Dataset(datasets.table.InMemoryTable(pa.table(columns)))
