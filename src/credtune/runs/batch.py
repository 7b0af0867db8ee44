"""`credtune score` and `credtune explain`: files of applicants in, one result file out.

`score_file` streams its input in fixed-size chunks, writes each chunk as a part file into a
hidden folder beside the output and assembles the output only at the end: a crash never leaves a
file that looks complete, `resume=True` skips the parts already written, and under
`accelerate launch`/`torchrun` each rank scores every world-th chunk. `explain_file` writes its
result under a temporary name, then renames it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import CredtuneError, DataError, did_you_mean
from ..explain import explain_frame
from ..files import (
    OUTPUT_MARK,
    Source,
    assemble_parts,
    check_output_file,
    decode_cell,
    json_default,
    open_table,
    output_lock,
    prepare_parts,
    write_part,
)
from ..scoring import CreditScorer, as_scorer, check_batch_size

log = logging.getLogger(__name__)
SCORE_SUFFIXES = (".parquet", ".pq", ".csv")
EXPLAIN_SUFFIXES = (".csv", ".parquet", ".pq", ".jsonl")


@dataclass
class ScoreResult:
    output: Path
    rows: int  # rows in the output
    scored: int  # rows this process scored in this run (fewer after --resume or with several ranks)
    seconds: float
    main: bool = True  # False on the other ranks under torchrun/accelerate launch

    @property
    def rows_per_second(self) -> float:
        return self.scored / self.seconds if self.seconds else float("inf")


def id_column_for(scorer: CreditScorer, source: Source, id_column: str | None) -> str | None:
    """The column copied to the output: the one asked for, else the recipe's id if the file has it."""
    name = id_column or (scorer.id_column if scorer.id_column in source.columns else None)
    if name and name not in source.columns:
        hint = did_you_mean(name, source.columns)
        raise DataError(f"--id-column '{name}' is not a column of {source.path.name}{hint}")
    return name


def read_columns(scorer: CreditScorer, id_name: str | None) -> list[str]:
    return list(dict.fromkeys(scorer.spec.required_columns + ([id_name] if id_name else [])))


def row_ids(rows: list[dict[str, Any]], id_name: str | None, offset: int) -> list[Any]:
    """The output's first column: the id as read (text when a chunk mixes kinds, or an integer
    exceeds 64 bits), else the row number."""
    if not id_name:
        return list(range(offset, offset + len(rows)))
    ids = [decode_cell(r.get(id_name)) for r in rows]
    kinds = {type(v) for v in ids if v is not None}
    if len(kinds) > 1 or any(isinstance(v, int) and abs(v) > 2**63 - 1 for v in ids):
        ids = [None if v is None else str(v) for v in ids]
    return ids


def check_run_args(chunk_rows: Any, batch_size: Any = None) -> None:
    """Sizes that would score nothing (or garbage) are refused before any file is touched."""
    if batch_size is not None:
        check_batch_size(batch_size)
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows <= 0:
        raise CredtuneError(f"--chunk-rows {chunk_rows!r}: rows per chunk must be at least 1")


def model_path(model: Any) -> Path | None:
    """The model folder when `model` is a local path (an input the output must not touch)."""
    if isinstance(model, CreditScorer):
        return None
    path = Path(model).expanduser()
    return path if path.exists() else None


def report_input(scorer: CreditScorer, source: Source) -> None:
    """Say what scoring had to read leniently: bytes that were not UTF-8, words in number columns."""
    if source.replaced:
        log.warning(
            "%s is not valid UTF-8: %d cell(s) held bytes that were replaced by U+FFFD",
            source.path.name,
            source.replaced,
        )
    if scorer.not_numbers:
        total = sum(len(v) for v in scorer.not_numbers.values())
        parts = []
        for name, values in scorer.not_numbers.items():
            shown = ", ".join(repr(v) for v in list(dict.fromkeys(map(str, values)))[:3])
            parts.append(f"{name}: {len(values)} ({shown})")
        log.warning(
            "%s: %d value(s) in number columns were not numbers and were scored as missing: %s",
            source.path.name,
            total,
            "; ".join(parts),
        )


def report_ids(parts: Path, n_chunks: int, id_name: str) -> None:
    """Empty and repeated ids are kept (rows stay in input order) but counted and named."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    files = [parts / f"part-{i:06d}.parquet" for i in range(n_chunks)]
    chunks = [pq.read_table(f, columns=[id_name]).column(0).combine_chunks() for f in files]
    chunks = [c.cast(pa.string()) for c in chunks if len(c)]
    if not chunks:
        return
    ids = pa.chunked_array(chunks, pa.string())
    empty = ids.null_count + int(pc.sum(pc.equal(pc.utf8_trim_whitespace(ids), "")).as_py() or 0)
    counts = pc.value_counts(ids.drop_null())
    repeated = pc.filter(counts, pc.greater(counts.field("counts"), 1))
    if empty:
        log.warning("--id-column '%s': %d row(s) have an empty id", id_name, empty)
    if len(repeated):
        shown = ", ".join(repr(v) for v in repeated.field("values").to_pylist()[:3])
        log.warning(
            "--id-column '%s': %d id(s) appear more than once (%s); every row is kept, in input order",
            id_name,
            len(repeated),
            shown,
        )


def score_file(
    model: CreditScorer | str | Path,
    input_path: str | Path,
    output_path: str | Path,
    *,
    batch_size: int | None = None,
    chunk_rows: int = 10_000,
    resume: bool = False,
    overwrite: bool = False,
    id_column: str | None = None,
    progress: bool = True,
    allow_pickle: bool = False,
) -> ScoreResult:
    """Score a CSV/Parquet/JSONL file into Parquet or CSV (by suffix) with columns
    id (or `row`), pd, points, decision (or `output_columns` for other target kinds); never holds
    more than one chunk in memory."""
    check_run_args(chunk_rows, batch_size)
    output = Path(output_path)
    check_output_file(output, SCORE_SUFFIXES, overwrite, [Path(input_path)], model_path(model))
    source = open_table(input_path)
    with output_lock(output):
        return _score(
            model, source, output, batch_size, chunk_rows, resume, id_column, progress, allow_pickle
        )


def _score(
    model: Any,
    source: Source,
    output: Path,
    batch_size: int | None,
    chunk_rows: int,
    resume: bool,
    id_column: str | None,
    progress: bool,
    allow_pickle: bool,
) -> ScoreResult:
    import torch
    from accelerate import PartialState

    # cpu=True where there is no GPU, or torchrun's CPU ranks each think they are alone
    state = PartialState(cpu=not torch.cuda.is_available())
    scorer = as_scorer(model, allow_pickle)
    scorer.device = state.device if state.num_processes > 1 else scorer.device
    scorer.model.to(scorer.device)
    if batch_size:
        scorer.batch_size = batch_size
    scorer.check_columns(source.columns)
    id_name = id_column_for(scorer, source, id_column)
    columns = read_columns(scorer, id_name)
    source.check_nested(columns)
    scorer.not_numbers = {}
    parts = output.with_name(f".{output.name}.parts")
    if state.is_main_process:
        prepare_parts(parts, _run_meta(scorer, source.path, chunk_rows, id_name, model_path(model)), resume)
    state.wait_for_everyone()

    started = time.perf_counter()
    done, total, n_chunks = _score_chunks(
        scorer, source, columns, chunk_rows, parts, id_name, state, progress
    )
    report_input(scorer, source)
    state.wait_for_everyone()
    if state.is_main_process:
        if id_name:
            report_ids(parts, n_chunks, id_name)
        assemble_parts(parts, n_chunks, output)
    state.wait_for_everyone()
    seconds = time.perf_counter() - started
    result = ScoreResult(output, total, done, seconds, state.is_main_process)
    log.debug("scored %d row(s) in %.1f s (%.0f rows/s) -> %s", done, seconds, result.rows_per_second, output)
    return result


def _score_chunks(
    scorer: CreditScorer,
    source: Source,
    columns: list[str],
    chunk_rows: int,
    parts: Path,
    id_name: str | None,
    state: Any,
    progress: bool,
) -> tuple[int, int, int]:
    """Score this rank's chunks into parts; (rows scored here, rows in the file, chunks)."""
    from tqdm.auto import tqdm

    done, total, n_chunks = 0, 0, 0
    show = progress and state.is_main_process
    bar = tqdm(total=source.rows, unit="rows", unit_scale=True, desc="scoring", disable=not show)
    try:
        for i, rows in enumerate(source.chunks(columns, chunk_rows)):
            n_chunks = i + 1
            part = parts / f"part-{i:06d}.parquet"
            if i % state.num_processes == state.process_index and not part.exists():
                table = output_columns(scorer, rows)
                write_part({id_name or "row": row_ids(rows, id_name, i * chunk_rows), **table}, part)
                done += len(rows)
            total += len(rows)
            bar.update(len(rows))
    except CredtuneError:
        # the input cannot be scored as it is: no parts to resume from (a fixed file is another input)
        if state.is_main_process:
            shutil.rmtree(parts, ignore_errors=True)
        raise
    finally:
        bar.close()
    return done, total, n_chunks


def output_columns(scorer: CreditScorer, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The scored columns: pd, points, decision (binary); predicted and p_<class> (multiclass);
    predicted (regression)."""
    if scorer.spec.task == "binary":
        pd_ = scorer.predict_proba(rows)
        table = {"pd": pd_, "points": scorer.points_for(pd_)}
        if scorer.spec.threshold is not None:
            table["decision"] = scorer.decisions_for(pd_)
        return table
    out = scorer.outputs_for([scorer.clean(r) for r in rows])
    table = {"predicted": scorer.predictions_for(out)}
    if scorer.spec.task == "multiclass":
        table.update({f"p_{name}": out[:, i] for i, name in enumerate(scorer.spec.label_names)})
    return table


def _run_meta(
    scorer: CreditScorer, path: Path, chunk_rows: int, id_name: str | None, folder: Path | None
) -> dict[str, Any]:
    """What a part depends on: parts are kept for --resume only when all of this is the same
    (the input's size and time, the model's contract and its weight files)."""
    stat = path.stat()
    spec = json.dumps(scorer.spec.__dict__, sort_keys=True, default=str)
    if folder is not None:
        weights = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
        spec += json.dumps([(w.name, w.stat().st_size, w.stat().st_mtime_ns) for w in weights])
    return {
        "input": str(path.resolve()),
        "size": stat.st_size,
        "mtime": stat.st_mtime_ns,
        "chunk_rows": chunk_rows,
        "id": id_name,
        "model": hashlib.sha256(spec.encode()).hexdigest()[:16],
    }


def explain_file(
    model: Any,
    input_path: str | Path,
    output_path: str | Path,
    *,
    k: int = 4,
    overwrite: bool = False,
    id_column: str | None = None,
    chunk_rows: int = 1000,
    progress: bool = True,
    allow_pickle: bool = False,
) -> tuple[Path, int, float]:
    """Reason codes for every row of a file into CSV, Parquet or JSON Lines (with the structured
    detail); returns (output, rows, seconds). Written to a temporary name, then renamed."""
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise CredtuneError(f"-k {k}: the number of reasons per applicant must be at least 1")
    check_run_args(chunk_rows)
    output = Path(output_path)
    check_output_file(output, EXPLAIN_SUFFIXES, overwrite, [Path(input_path)], model_path(model))
    source = open_table(input_path)
    with output_lock(output):
        return _explain(model, source, output, k, id_column, chunk_rows, progress, allow_pickle)


def _explain(
    model: Any,
    source: Source,
    output: Path,
    k: int,
    id_column: str | None,
    chunk_rows: int,
    progress: bool,
    allow_pickle: bool,
) -> tuple[Path, int, float]:
    from tqdm.auto import tqdm

    scorer = as_scorer(model, allow_pickle)
    n_fields = len(scorer.serializer.fields)
    if k > n_fields:
        raise CredtuneError(f"-k {k}: the model reads only {n_fields} fields, so at most -k {n_fields}")
    scorer.check_columns(source.columns)
    id_name = id_column_for(scorer, source, id_column)
    columns = read_columns(scorer, id_name)
    source.check_nested(columns)
    scorer.not_numbers = {}
    started, frames, offset = time.perf_counter(), [], 0
    bar = tqdm(total=source.rows, unit="rows", desc="explaining", disable=not progress)
    for rows in source.chunks(columns, chunk_rows):
        ids = row_ids(rows, id_name, offset)
        frames.append(explain_frame(scorer, rows, k, id_values=ids, id_name=id_name or "row"))
        offset += len(rows)
        bar.update(len(rows))
    bar.close()
    report_input(scorer, source)
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["row", "pd"])
    write_frame(frame, output)
    return output, offset, time.perf_counter() - started


def write_frame(frame: pd.DataFrame, output: Path) -> None:
    """The explain result under a temporary name, then renamed; Parquet marked as credtune's."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    try:
        if output.suffix.lower() == ".jsonl":
            with tmp.open("w", encoding="utf-8") as handle:
                for row in frame.to_dict("records"):
                    handle.write(json.dumps(row, default=json_default, ensure_ascii=False) + "\n")
        elif output.suffix.lower() == ".csv":
            frame.drop(columns="reasons", errors="ignore").to_csv(tmp, index=False)
        else:
            table = pa.Table.from_pandas(frame.drop(columns="reasons", errors="ignore"), preserve_index=False)
            pq.write_table(table.replace_schema_metadata({OUTPUT_MARK: b"explain"}), tmp)
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
