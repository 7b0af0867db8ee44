"""Streaming files for scoring: CSV, Parquet and JSON Lines in fixed-size chunks of records, and
the part files a scoring run writes before it assembles its output.

Training reads whole tables through `datasets` (data.py); scoring must not, because a file to
score can be far larger than memory. Chunk i always holds rows [i*n, (i+1)*n), whatever the
format's own blocks, so a resumed or multi-process run finds the same chunks again. CSV cells are
read as bytes and decoded with replacement, so a stray non-UTF-8 byte costs one character, not
the run.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from .errors import CredtuneError, DataError

log = logging.getLogger(__name__)

# pandas' default missing-value markers: training read CSVs through pandas, so scoring must agree
NA_VALUES = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
             "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]  # fmt: skip
FORMATS = {  # file suffix -> reader; shared with data.py
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
            parse_options=pcsv.ParseOptions(delimiter=_delimiter(self.path), newlines_in_values=True),
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
            header = next(csv.reader(handle, delimiter=_delimiter(path)), [])
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


def _delimiter(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


def decode_cell(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


# -- part files: chunk i of a run is `part-{i:06d}.parquet` in a hidden folder beside the output ----
def prepare_parts(parts: Path, meta: dict[str, Any], resume: bool) -> None:
    """Keep earlier parts only for --resume of the very same input, model and chunk size."""
    meta_file = parts / "meta.json"
    if resume and meta_file.is_file():
        old = json.loads(meta_file.read_text(encoding="utf-8"))
        if old != meta:
            changed = ", ".join(k for k in meta if old.get(k) != meta[k])
            raise CredtuneError(
                f"--resume: the parts in {parts} are for a different {changed}; rerun without --resume"
            )
        log.info("resuming: %d chunk(s) already scored", len(list(parts.glob("part-*.parquet"))))
        return
    if resume:
        log.warning("--resume: nothing to resume in %s, starting from the first chunk", parts)
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir(parents=True)
    meta_file.write_text(json.dumps(meta) + "\n", encoding="utf-8")


def write_part(columns: dict[str, Any], part: Path) -> None:
    """A part appears complete or not at all (written under a temporary name, then renamed)."""
    import pyarrow.parquet as pq

    tmp = part.with_name(f"{part.name}.tmp-{os.getpid()}")
    pq.write_table(
        pa.table({k: pa.array(v if hasattr(v, "dtype") else list(v)) for k, v in columns.items()}), tmp
    )
    os.replace(tmp, part)


def assemble_parts(parts: Path, n_chunks: int, output: Path) -> None:
    """Concatenate the parts in chunk order into a temporary file, rename it to `output`, drop the parts."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    files = [parts / f"part-{i:06d}.parquet" for i in range(n_chunks)]
    lost = [f.name for f in files if not f.is_file()]
    if lost:
        raise CredtuneError(
            f"{len(lost)} chunk(s) were not scored ({', '.join(lost[:3])}); rerun with --resume"
        )
    tmp = parts / f"assembled{output.suffix}"
    csv_out = output.suffix.lower() == ".csv"
    schema = pq.read_schema(files[0]) if files else pa.schema([("row", pa.int64()), ("pd", pa.float64())])
    writer = pcsv.CSVWriter(tmp, schema) if csv_out else pq.ParquetWriter(tmp, schema)
    try:
        for file in files:
            table = pq.read_table(file)
            writer.write_table(table if table.schema == schema else table.cast(schema))
    finally:
        writer.close()
    os.replace(tmp, output)
    shutil.rmtree(parts, ignore_errors=True)
