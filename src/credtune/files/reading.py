"""Reading input files in fixed-size chunks of records for scoring, and the checks every input gets.

Training reads whole tables (`tables.read_table`); a file to score can be far larger than memory,
so `open_table` gives a `Source` whose chunk i always holds rows [i*n, (i+1)*n), whatever the
format's own blocks, so a resumed or multi-process run finds the same chunks again. CSV cells are
read as bytes and decoded with replacement (counted), so a stray non-UTF-8 byte costs one
character, not the run. Both paths go through `check_file` (content sniffed, not only the suffix)
and the same header checks (BOM, delimiter, duplicate names) first.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import DataError
from ..parsing import INT64_MAX
from .sniff import sniff

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
    """One input file: its columns, its row count where the format records it, and its chunks.

    `replaced` counts the cells whose bytes were not UTF-8 (replaced by U+FFFD), so a scoring run
    can say so as training does."""

    path: Path
    kind: str
    columns: list[str]
    rows: int | None = None
    types: dict[str, str] = field(default_factory=dict)  # Parquet: column -> Arrow type
    replaced: int = 0

    def check_nested(self, columns: Iterable[str]) -> None:
        """Nested values (structs, lists) cannot be serialized as one field: refuse them up front."""
        for name in columns:
            kind = self.types.get(name, "")
            if kind.startswith(("struct", "list", "large_list", "map", "fixed_size_list")):
                raise DataError(
                    f"{self.path.name}: column '{name}' holds nested values ({kind}); flatten it into plain columns"
                )

    def chunks(self, columns: list[str], chunk_rows: int) -> Iterator[list[dict[str, Any]]]:
        if chunk_rows <= 0:
            raise DataError("chunk size must be a positive number of rows")
        columns = [c for c in dict.fromkeys(columns) if c in self.columns]
        try:
            if self.kind == "json":
                yield from rechunk_records(self._json_records(columns), chunk_rows)
            else:
                yield from rechunk(self._arrow_batches(columns, chunk_rows), chunk_rows)
        except (pa.ArrowException, ValueError, UnicodeDecodeError, OSError) as exc:
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
        for batch in reader:
            yield pa.RecordBatch.from_arrays([self._text(c) for c in batch.columns], names=batch.schema.names)

    def _text(self, column: pa.Array) -> pa.Array:
        """A binary CSV column as text: valid UTF-8 at C speed, else cell by cell with replacement."""
        try:
            return column.cast(pa.string())
        except pa.ArrowInvalid:
            cells = column.to_pylist()
            texts = []
            for cell in cells:
                try:
                    texts.append(None if cell is None else cell.decode("utf-8"))
                except UnicodeDecodeError:
                    self.replaced += 1
                    texts.append(cell.decode("utf-8", "replace"))
            return pa.array(texts, pa.string())

    def _json_records(self, columns: list[str]) -> Iterator[dict[str, Any]]:
        """Records of a JSON Lines file (or of one JSON array), read by Python's json module, which
        keeps integers exact; nested values in a column that is read are refused."""
        for line_no, record in json_records(self.path, self._count_replaced):
            if not isinstance(record, dict):
                raise DataError(f"{self.path.name} line {line_no}: expected a JSON object")
            row = {c: record.get(c) for c in columns}
            nested = next((c for c, v in row.items() if isinstance(v, (dict, list))), None)
            if nested:
                raise DataError(
                    f"{self.path.name} line {line_no}: column '{nested}' holds nested values (an object or "
                    "a list); flatten it into plain columns"
                )
            yield row

    def _count_replaced(self) -> None:
        self.replaced += 1


def json_records(path: Path, on_replaced: Any = None) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each line of a JSON Lines file, or each item of a JSON array."""
    with path.open("rb") as handle:
        first = handle.read(256).lstrip(b"\xef\xbb\xbf \t\r\n")
    if first.startswith(b"["):
        text = path.read_bytes().decode("utf-8", "replace").lstrip("\ufeff")
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path.name}: not valid JSON ({exc})") from None
        yield from enumerate(items, 1)
        return
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                line = raw.decode("utf-8", "replace")
                if on_replaced:
                    on_replaced()
            line = line.lstrip("\ufeff").strip()
            if not line:
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path.name} line {line_no}: not valid JSON ({exc})") from None


def rechunk_records(records: Iterable[dict[str, Any]], chunk_rows: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == chunk_rows:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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
    """The reader for `path` ("csv", "parquet" or "json"), after the checks every input gets:
    it exists, is a file of a known type, is not empty, and holds what its suffix says."""
    if path.is_dir():
        raise DataError(f"{role} path {path} is a directory; give a CSV, Parquet or JSON Lines file")
    if not path.exists():
        raise DataError(f"{role} file not found: {path}")
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path.name}: unsupported file type '{path.suffix}'; use .csv, .parquet or .jsonl")
    if path.stat().st_size == 0:
        raise DataError(f"{path.name} is empty")
    sniff(path, kind)
    return kind


def check_names(names: list[str], where: str) -> None:
    """Two columns of one name would make a field ambiguous (which one did the model read?)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(f"{where}: column '{name}' appears twice in the header")
        seen.add(name)


def csv_header(path: Path, need_rows: bool = True) -> list[str]:
    """The header of a CSV/TSV file (a BOM dropped), checked: present, one delimiter, no name twice,
    and (for training) at least one row below it."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        rows = csv.reader(handle, delimiter=delimiter(path))
        header = next(rows, [])
        first_row = next((row for row in rows if any(c.strip() for c in row)), None) if need_rows else None
    if not header:
        raise DataError(f"{path.name} has no header line")
    if len(header) == 1:
        other = next((d for d in (";", "\t", "|", ",") if d in header[0] and d != delimiter(path)), None)
        if other:
            shown = "tab" if other == "\t" else f"'{other}'"
            raise DataError(
                f"{path.name} looks separated by {shown}, not '{delimiter(path)}' (its header is "
                f"{header[0][:40]!r}); save it comma-separated as .csv, or tab-separated as .tsv"
            )
    if need_rows and first_row is None:
        raise DataError(f"{path.name} has a header but no rows")
    check_names(header, path.name)
    return header


def open_table(path: str | Path, role: str = "input") -> Source:
    """Check the file and read only its column names (and row count and types, for Parquet): the
    one header check for a file to score and a file to train on."""
    path = Path(path)
    kind = check_file(path, role)
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"cannot read {path.name}: {str(exc).splitlines()[0]}") from None
        schema = meta.schema_arrow
        check_names(list(schema.names), path.name)
        types = {f.name: str(f.type) for f in schema}
        if meta.metadata.num_rows == 0:
            raise DataError(f"{path.name} has columns but no rows")
        return Source(path, kind, list(schema.names), meta.metadata.num_rows, types)
    if kind == "csv":
        return Source(path, kind, csv_header(path))
    line_no, record = next(json_records(path), (0, None))
    if not line_no:
        raise DataError(f"{path.name} holds no records")
    if not isinstance(record, dict):
        raise DataError(f"{path.name}: expected one JSON object per line (line {line_no})")
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        first = next((line for line in handle if line.strip()), "")
    if first.strip().startswith("{"):
        json.loads(first, object_pairs_hook=lambda pairs: check_names([k for k, _ in pairs], path.name))
    return Source(path, kind, list(record))


def delimiter(path: Path) -> str:
    """Tab for .tsv, comma for everything else."""
    return "\t" if path.suffix.lower() == ".tsv" else ","


def decode_cell(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def big_integer(value: Any) -> bool:
    """An integer no 64-bit type holds (an account number, not an amount)."""
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT64_MAX
