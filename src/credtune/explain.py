"""Reason codes by field occlusion: which of an applicant's fields pushed the estimated PD up.

For each applicant, every serialized field (the notes are one field) is replaced in turn by the
missing value, which the serializer renders as its missing token; the PD change is
PD(applicant) - PD(applicant without that field). A positive change means the field's value
raised the risk. All variants of a chunk of applicants go through the model together, sorted by
length, so the cost is about (fields + 1) forward passes per applicant at full batch efficiency.
Occlusion measures the model, not causality: it says what the model reacted to.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import CredtuneError

VALUE_CHARS = 60  # a note is quoted in a reason line only up to this many characters


@dataclass
class Occlusion:
    """PD of each applicant and, per field, PD(applicant) - PD(field occluded); 0 where the field
    was already missing (occluding it changes nothing)."""

    pd: np.ndarray
    change: np.ndarray  # (applicants, fields)
    values: list[list[str]]  # rendered value per applicant and field


def occlude(scorer: Any, data: Any, chunk_size: int = 32) -> Occlusion:
    """Run the occlusion variants of `data` through `scorer`'s model, `chunk_size` applicants at a time."""
    records = scorer.records(data)
    ser = scorer.serializer
    fields = ser.fields
    pds, changes, values = [], [], []
    for start in range(0, len(records), chunk_size):
        texts, slots = [], []  # slot: (applicant in chunk, field index) for each occluded variant
        chunk = records[start : start + chunk_size]
        bases = []
        for a, record in enumerate(chunk):
            clean = scorer.clean(record)
            shown = [ser.format_value(f, clean[f.name]) for f in fields]
            values.append([_short(v) for v in shown])
            bases.append(len(texts))
            texts.append(scorer.render(clean))
            for j, (spec, value) in enumerate(zip(fields, shown)):
                if value != ser.missing:
                    texts.append(scorer.render({**clean, spec.name: None}))
                    slots.append((a, j))
        pd_all = scorer.calibrate(scorer.margins_for_texts(texts))
        base_pd = pd_all[bases]
        change = np.zeros((len(chunk), len(fields)))
        variant = np.setdiff1d(np.arange(len(texts)), bases)
        for (a, j), pos in zip(slots, variant):
            change[a, j] = base_pd[a] - pd_all[pos]
        pds.append(base_pd)
        changes.append(change)
    if not records:
        return Occlusion(np.empty(0), np.empty((0, len(fields))), [])
    return Occlusion(np.concatenate(pds), np.vstack(changes), values)


def explain(
    scorer: Any, data: Any, k: int = 4, *, adverse_only: bool = True, chunk_size: int = 32
) -> list[list[dict[str, Any]]]:
    """Up to k reasons per applicant, largest PD increase first. With `adverse_only` (the default,
    as for adverse-action notices) only fields that raised the PD are reasons; otherwise the k
    fields with the largest signed change are returned whatever their direction."""
    if k <= 0:
        raise CredtuneError("k must be a positive number of reasons")
    return reasons_from(occlude(scorer, data, chunk_size), scorer.serializer.fields, k, adverse_only)


def reasons_from(
    occ: Occlusion, fields: list[Any], k: int, adverse_only: bool = True
) -> list[list[dict[str, Any]]]:
    out = []
    for change, shown in zip(occ.change, occ.values):
        reasons = []
        for j in np.argsort(-change, kind="stable")[:k]:
            if adverse_only and change[j] <= 0:
                break
            spec = fields[j]
            reasons.append(
                {
                    "field": spec.name,
                    "label": spec.label,
                    "value": shown[j],
                    "pd_change": round(float(change[j]), 6),
                    "reason": reason_line(spec.label, shown[j], float(change[j])),
                }
            )
        out.append(reasons)
    return out


def reason_line(label: str, value: str, change: float) -> str:
    """'Checking '< 0 DM' raised the estimated default risk by 6.1 points' (PD percentage points)."""
    name = label[:1].upper() + label[1:]
    verb = "raised" if change > 0 else "lowered" if change < 0 else "did not change"
    points = abs(change) * 100
    amount = (
        "" if not change else f" by {points:.1f} points" if points >= 0.05 else " by less than 0.1 points"
    )
    return f"{name} '{value}' {verb} the estimated default risk{amount}"


def explain_frame(
    scorer: Any,
    data: Any,
    k: int = 4,
    *,
    id_values: Any = None,
    id_name: str = "row",
    adverse_only: bool = True,
) -> pd.DataFrame:
    """One row per applicant: id, pd, reason_1..reason_k (readable lines) and `reasons` (detail)."""
    if k <= 0:
        raise CredtuneError("k must be a positive number of reasons")
    occ = occlude(scorer, data)
    reasons = reasons_from(occ, scorer.serializer.fields, k, adverse_only)
    ids = list(id_values) if id_values is not None else list(range(len(reasons)))
    frame = pd.DataFrame({id_name: ids, "pd": occ.pd})
    for i in range(k):
        frame[f"reason_{i + 1}"] = [r[i]["reason"] if i < len(r) else None for r in reasons]
    frame["reasons"] = reasons
    return frame


def global_importance(scorer: Any, data: Any, chunk_size: int = 32) -> pd.DataFrame:
    """Mean absolute PD change per field over `data`: which fields the model leans on overall."""
    occ = occlude(scorer, data, chunk_size)
    fields = scorer.serializer.fields
    frame = pd.DataFrame(
        {
            "field": [f.name for f in fields],
            "label": [f.label for f in fields],
            "mean_abs_pd_change": np.abs(occ.change).mean(axis=0) if len(occ.pd) else 0.0,
            "mean_pd_change": occ.change.mean(axis=0) if len(occ.pd) else 0.0,
        }
    )
    return frame.sort_values("mean_abs_pd_change", ascending=False, ignore_index=True)


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
    from tqdm.auto import tqdm

    from .scoring import as_scorer
    from .streaming import decode_cell, open_table

    output = Path(output_path)
    suffix = output.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq", ".jsonl"):
        raise CredtuneError(f"output {output.name}: use a .csv, .parquet or .jsonl file name")
    if output.exists() and not overwrite:
        raise CredtuneError(f"{output} already exists; pass --overwrite to replace it")
    source = open_table(input_path)
    scorer = as_scorer(model, allow_pickle)
    scorer.check_columns(source.columns)
    id_name = id_column or (scorer.id_column if scorer.id_column in source.columns else None)
    if id_name and id_name not in source.columns:
        raise CredtuneError(f"--id-column '{id_name}' is not a column of {source.path.name}")
    started, frames, offset = time.perf_counter(), [], 0
    bar = tqdm(total=source.rows, unit="rows", desc="explaining", disable=not progress)
    for rows in _chunks(source, scorer, id_name, chunk_rows):
        ids = [decode_cell(r.get(id_name)) for r in rows] if id_name else range(offset, offset + len(rows))
        frames.append(explain_frame(scorer, rows, k, id_values=ids, id_name=id_name or "row"))
        offset += len(rows)
        bar.update(len(rows))
    bar.close()
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["row", "pd"])
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    if suffix == ".jsonl":
        with tmp.open("w", encoding="utf-8") as handle:
            for row in frame.to_dict("records"):
                handle.write(json.dumps(row, default=_json_default, ensure_ascii=False) + "\n")
    elif suffix == ".csv":
        frame.drop(columns="reasons", errors="ignore").to_csv(tmp, index=False)
    else:
        frame.drop(columns="reasons", errors="ignore").to_parquet(tmp, index=False)
    os.replace(tmp, output)
    return output, offset, time.perf_counter() - started


def _chunks(source: Any, scorer: Any, id_name: str | None, chunk_rows: int) -> Iterator[list[dict[str, Any]]]:
    columns = scorer.spec.required_columns + ([id_name] if id_name else [])
    yield from source.chunks(columns, chunk_rows)


def _short(value: str) -> str:
    return value if len(value) <= VALUE_CHARS else value[: VALUE_CHARS - 1].rstrip() + "…"


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
