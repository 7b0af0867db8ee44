"""Write an N-row scoring input by repeating the rows of a smaller file, for memory/streaming checks.

    python scripts/make_big_input.py data/taiwan_default.parquet /tmp/taiwan_1m.parquet -n 1000000 --id-column ID

Output format follows the suffix (.parquet or .csv). Rows are written in batches, so the output can
be far larger than memory; with --id-column the repeated rows get fresh, unique ids.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq


def read_small(path: Path) -> pa.Table:
    if path.suffix.lower() in (".parquet", ".pq"):
        return pq.read_table(path)
    if path.suffix.lower() == ".csv":
        return pcsv.read_csv(path)
    raise SystemExit(f"{path.name}: use a .parquet or .csv input")


def write_repeated(table: pa.Table, output: Path, n_rows: int, id_column: str | None, batch_rows: int) -> int:
    if id_column and id_column not in table.column_names:
        raise SystemExit(f"--id-column {id_column} is not a column of the input")
    csv_out = output.suffix.lower() == ".csv"
    writer = None
    written = 0
    try:
        while written < n_rows:
            batch = table.slice(0, min(batch_rows, n_rows - written, table.num_rows))
            if id_column:
                ids = pc.add(pa.array(range(batch.num_rows), pa.int64()), written + 1)
                batch = batch.set_column(batch.schema.get_field_index(id_column), id_column, ids)
            if writer is None:
                writer = (
                    pcsv.CSVWriter(output, batch.schema)
                    if csv_out
                    else pq.ParquetWriter(output, batch.schema)
                )
            writer.write_table(batch)
            written += batch.num_rows
            table = pa.concat_tables([table.slice(batch.num_rows), table.slice(0, batch.num_rows)])
    finally:
        if writer is not None:
            writer.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("-n", "--rows", type=int, default=1_000_000)
    parser.add_argument("--id-column", help="replace this column by 1..N so ids stay unique")
    parser.add_argument("--batch-rows", type=int, default=50_000)
    args = parser.parse_args(argv)
    table = read_small(args.input)
    if table.num_rows == 0:
        raise SystemExit("the input has no rows")
    written = write_repeated(table, args.output, args.rows, args.id_column, args.batch_rows)
    print(f"wrote {written:,d} rows to {args.output} ({args.output.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
