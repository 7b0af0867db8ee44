"""Reason codes by field occlusion: which of an applicant's fields pushed the estimated PD up.

For each applicant, every serialized field (the notes are one field) is replaced in turn by the
missing value, which the serializer renders as its missing token; the PD change is
PD(applicant) - PD(applicant without that field). A positive change means the field's value
raised the risk. All variants of a chunk of applicants go through the model together, sorted by
length, so the cost is about (fields + 1) forward passes per applicant at full batch efficiency.
Occlusion measures the model, not causality: it says what the model reacted to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import CredtuneError

VALUE_CHARS = 60  # a note is quoted in a reason line only up to this many characters
DEFAULT_RISK = "the estimated default risk"


@dataclass
class Occlusion:
    """PD of each applicant and, per field, PD(applicant) - PD(field occluded); 0 where the field
    was already missing (occluding it changes nothing). For a multiclass model `pd` is the
    probability of the applicant's predicted class (`predicted`); for regression the value."""

    pd: np.ndarray
    change: np.ndarray  # (applicants, fields)
    values: list[list[str]]  # rendered value per applicant and field
    predicted: np.ndarray | None = None  # multiclass: the class index the reasons are about


def occlude(scorer: Any, data: Any, chunk_size: int = 32, component: str | None = None) -> Occlusion:
    """Run the occlusion variants of `data` through `scorer`'s model, `chunk_size` applicants at a
    time. An occluded field is missing for every part of a hybrid: gone from the text, and a
    missing value for the stacked baselines."""
    records = scorer.records(data)
    ser = scorer.serializer
    fields = ser.fields
    pds, changes, values, predicted = [], [], [], []
    for start in range(0, len(records), chunk_size):
        variants, slots = [], []  # slot: (applicant in chunk, field index) for each occluded variant
        chunk = records[start : start + chunk_size]
        bases = []
        for a, record in enumerate(chunk):
            clean = scorer.clean(record)
            shown = [ser.format_value(f, clean[f.name]) for f in fields]
            values.append([_short(v) for v in shown])
            bases.append(len(variants))
            variants.append(clean)
            for j, (spec, value) in enumerate(zip(fields, shown)):
                if value != ser.missing:
                    variants.append({**clean, spec.name: None})
                    slots.append((a, j))
        pd_all = scorer.outputs_for(variants, component)
        owner = np.repeat(np.arange(len(chunk)), np.diff([*bases, len(variants)]))
        if pd_all.ndim == 2:  # multiclass: each variant read at its applicant's predicted class
            chosen = np.argmax(pd_all[bases], axis=1)
            predicted.append(chosen)
            pd_all = pd_all[np.arange(len(variants)), chosen[owner]]
        base_pd = pd_all[bases]
        change = np.zeros((len(chunk), len(fields)))
        variant = np.setdiff1d(np.arange(len(variants)), bases)
        for (a, j), pos in zip(slots, variant):
            change[a, j] = base_pd[a] - pd_all[pos]
        pds.append(base_pd)
        changes.append(change)
    if not records:
        return Occlusion(np.empty(0), np.empty((0, len(fields))), [])
    chosen_all = np.concatenate(predicted) if predicted else None
    return Occlusion(np.concatenate(pds), np.vstack(changes), values, chosen_all)


def explain(
    scorer: Any, data: Any, k: int = 4, *, adverse_only: bool = True, chunk_size: int = 32
) -> list[list[dict[str, Any]]]:
    """Up to k reasons per applicant, largest PD increase first. With `adverse_only` (the default,
    as for adverse-action notices) only fields that raised the PD are reasons; otherwise the k
    fields with the largest signed change are returned whatever their direction."""
    if k <= 0:
        raise CredtuneError("k must be a positive number of reasons")
    occ = occlude(scorer, data, chunk_size)
    return reasons_from(occ, scorer.serializer.fields, k, adverse_only, subjects(scorer, occ))


def subjects(scorer: Any, occ: Occlusion) -> list[str]:
    """What each applicant's reasons move: the default risk, the probability of the predicted
    class (multiclass, "adverse" = raised it) or the predicted value (regression)."""
    spec = scorer.spec
    target = spec.schema.get("target")
    if spec.task == "multiclass":
        return [f"the probability of {target} '{spec.label_names[c]}'" for c in occ.predicted]
    return [DEFAULT_RISK if spec.task == "binary" else f"the predicted {target}"] * len(occ.pd)


def reasons_from(
    occ: Occlusion, fields: list[Any], k: int, adverse_only: bool = True, about: list[str] | None = None
) -> list[list[dict[str, Any]]]:
    out = []
    for i, (change, shown) in enumerate(zip(occ.change, occ.values)):
        subject = about[i] if about else DEFAULT_RISK
        key = "pd_change" if subject == DEFAULT_RISK else "change"
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
                    key: round(float(change[j]), 6),
                    "reason": reason_line(spec.label, shown[j], float(change[j]), subject),
                }
            )
        out.append(reasons)
    return out


def reason_line(label: str, value: str, change: float, subject: str = "") -> str:
    """'Checking '< 0 DM' raised the estimated default risk by 6.1 points' (percentage points of a
    probability; a predicted value's change is in the target's unit)."""
    subject = subject or DEFAULT_RISK
    name = label[:1].upper() + label[1:]
    verb = "raised" if change > 0 else "lowered" if change < 0 else "did not change"
    if subject.startswith("the predicted "):
        amount = f" by {abs(change):.3g}" if change else ""
        return f"{name} '{value}' {verb} {subject}{amount}"
    points = abs(change) * 100
    amount = (
        "" if not change else f" by {points:.1f} points" if points >= 0.05 else " by less than 0.1 points"
    )
    return f"{name} '{value}' {verb} {subject}{amount}"


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
    reasons = reasons_from(occ, scorer.serializer.fields, k, adverse_only, subjects(scorer, occ))
    ids = list(id_values) if id_values is not None else list(range(len(reasons)))
    frame = pd.DataFrame({id_name: ids, **headline_columns(scorer, occ)})
    for i in range(k):
        frame[f"reason_{i + 1}"] = [r[i]["reason"] if i < len(r) else None for r in reasons]
    frame["reasons"] = reasons
    return frame


def headline_columns(scorer: Any, occ: Occlusion) -> dict[str, Any]:
    """pd (binary); predicted class and its probability (multiclass); predicted value (regression)."""
    task = scorer.spec.task
    if task == "binary":
        return {"pd": occ.pd}
    if task == "multiclass":
        names = np.asarray(scorer.spec.label_names, dtype=object)
        return {"predicted": names[occ.predicted] if len(occ.pd) else [], "probability": occ.pd}
    return {"predicted": occ.pd}


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


def _short(value: str) -> str:
    return value if len(value) <= VALUE_CHARS else value[: VALUE_CHARS - 1].rstrip() + "…"
