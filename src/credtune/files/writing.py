"""Writing artifacts so that nothing half-written ever looks finished.

Every file or folder credtune leaves behind is written under a temporary name and renamed into
place: JSON documents, the `model/` folder, and the part files of a scoring run, which are
assembled into the output only once every chunk is there (where an output may go: `guards`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import CredtuneError
from .guards import OUTPUT_MARK

log = logging.getLogger(__name__)


def json_default(value: Any) -> Any:
    """numpy scalars and arrays as plain JSON numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def write_json_atomic(path: Path, payload: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=2, default=json_default) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def replace_folder(target: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` to fill a temporary folder, then swap it in by renames, so a complete
    `target` exists at every moment and a killed run never leaves one that is half-written."""
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old)
    else:
        os.replace(tmp, target)


# -- part files: chunk i of a run is `part-{i:06d}.parquet` in a hidden folder beside the output ----
def prepare_parts(parts: Path, meta: dict[str, Any], resume: bool) -> None:
    """Keep earlier parts only for --resume of the very same input, model and chunk size."""
    meta_file = parts / "meta.json"
    if resume and meta_file.is_file():
        try:
            old = json.loads(meta_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            old = {}
        old = old if isinstance(old, dict) else {}
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


def assemble_parts(parts: Path, n_chunks: int, output: Path, kind: str = "score") -> None:
    """Concatenate the parts in chunk order into a temporary file, rename it to `output`, drop the parts.

    The parts' schemas are unified first: a chunk whose ids are all empty has a column of nulls,
    and ids read as numbers in one chunk and as text in another are written as text."""
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
    schema = unified_schema([pq.read_schema(f) for f in files]) if files else None
    if schema is None:
        schema = pa.schema([("row", pa.int64()), ("pd", pa.float64())])
    marked = schema.with_metadata({OUTPUT_MARK: kind.encode()})
    writer = pcsv.CSVWriter(tmp, schema) if csv_out else pq.ParquetWriter(tmp, marked)
    try:
        for file in files:
            table = pq.read_table(file).replace_schema_metadata(None)
            table = table if table.schema == schema else table.cast(schema)
            writer.write_table(table if csv_out else table.replace_schema_metadata(marked.metadata))
    finally:
        writer.close()
    os.replace(tmp, output)
    shutil.rmtree(parts, ignore_errors=True)


def unified_schema(schemas: list[pa.Schema]) -> pa.Schema | None:
    """One schema for every part: nulls take the type of the other parts, a clash becomes text."""
    if not schemas:
        return None
    fields = []
    for i, first in enumerate(schemas[0]):
        types = {s.field(i).type for s in schemas} - {pa.null()}
        if not types:
            kind = pa.string()
        elif len(types) == 1:
            kind = types.pop()
        elif all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in types):
            kind = pa.float64() if any(pa.types.is_floating(t) for t in types) else pa.int64()
        else:
            kind = pa.string()
        fields.append(pa.field(first.name, kind))
    return pa.schema(fields)
