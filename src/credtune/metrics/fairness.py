"""Group-level approval and error rates for protected attributes (adverse-impact screening);
for grades, classes and rates, group-level errors (`outcome_fairness`).

Uses the four-fifths rule: a group approved at under 80% of the most-approved group's rate is flagged.
Labels: 1 = bad, 0 = good; approve when PD < threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from credtune.metrics.core import check_inputs

MISSING = "missing"
FOUR_FIFTHS = 0.8
AGE_EDGES = [-np.inf, 25, 35, 45, 55, np.inf]
AGE_LABELS = ["<25", "25-34", "35-44", "45-54", "55+"]


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _label(v: Any) -> str:
    """'1' rather than '1.0' for integer codes stored as floats."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def group_labels(groups: pd.Series, name: str) -> tuple[pd.Series, list[str]]:
    """Map raw values to group labels (binning numeric columns) and give the display order."""
    s = pd.Series(groups).reset_index(drop=True)
    numeric = _is_numeric(s)
    if numeric:
        s = s.astype(float).replace([np.inf, -np.inf], np.nan)
    if numeric and "age" in name.lower():
        cut = pd.cut(s, AGE_EDGES, right=False, labels=AGE_LABELS)
        order = list(AGE_LABELS)
    elif numeric and s.nunique() > 4:
        cut = pd.qcut(s, 4, duplicates="drop")
        order = [str(c) for c in cut.cat.categories]
    else:  # categorical, or numeric codes with few levels (e.g. 0/1 flags) kept as they are
        cut = s.astype(object).where(s.notna(), None).map(_label, na_action="ignore")
        order = sorted(set(cut.dropna()))
    labels = cut.astype(object).where(cut.notna(), MISSING).astype(str)
    return labels, [*order, MISSING]


def group_masks(groups: pd.Series, name: str) -> list[tuple[str, np.ndarray]]:
    """Each group's label and row mask, in display order, empty groups left out."""
    labels, order = group_labels(groups, name)
    g = labels.to_numpy()
    masks = [(level, g == level) for level in order]
    return [(level, mask) for level, mask in masks if mask.any()]


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def fairness_table(groups: pd.Series, y: Any, p: Any, threshold: float, name: str) -> dict[str, Any]:
    """Per-group n, approval rate, bad rate, P(approved | good), AUC and disparate impact.

    ``equal_opportunity_diff`` is a group's P(approved | good) minus the best group's (0 for the
    most favoured, negative for the others): creditworthy applicants should be approved alike.
    """
    lab, prob = check_inputs(y, p)
    if len(groups) != lab.shape[0]:
        raise ValueError(f"groups has {len(groups)} values but y has {lab.shape[0]}")
    approved = prob < threshold
    rows = []
    for level, mask in group_masks(groups, name):
        n = int(mask.sum())
        y_g = lab[mask]
        goods = y_g == 0
        both = 0 < y_g.sum() < n
        rows.append(
            {
                "group": level,
                "n": n,
                "approval_rate": float(approved[mask].mean()),
                "bad_rate": float(y_g.mean()),
                "tpr": _rate(int(np.sum(approved[mask] & goods)), int(goods.sum())),
                "auc": float(roc_auc_score(y_g, prob[mask])) if both else None,
            }
        )
    best_approval = max(r["approval_rate"] for r in rows)
    tprs = [r["tpr"] for r in rows if r["tpr"] is not None]
    best_tpr = max(tprs) if tprs else None
    for r in rows:
        r["equal_opportunity_diff"] = None if r["tpr"] is None else r["tpr"] - best_tpr
        di = r["approval_rate"] / best_approval if best_approval > 0 else None
        r["disparate_impact"] = di
        r["flag"] = bool(di is not None and di < FOUR_FIFTHS)
    impacts = [r["disparate_impact"] for r in rows if r["disparate_impact"] is not None]
    return {
        "column": name,
        "threshold": float(threshold),
        "groups": rows,
        "min_disparate_impact": min(impacts) if impacts else None,
        "flagged": any(r["flag"] for r in rows),
    }


Z_FLAG = 3.0  # a group's mean error this many standard errors from the other rows' is flagged
MIN_GROUP = 30  # fewer rows: the table shows the group but never flags it


def outcome_fairness(
    groups: pd.Series, y: Any, out: Any, name: str, task: str, ordered: bool = False
) -> dict[str, Any]:
    """Per-group errors of a grade, class or rate model: does it systematically rate a group worse?

    There is no approval to count, so each row's error is compared instead: predicted minus actual
    value (rates) or expected minus actual grade (ordered classes), positive = the group is priced
    or graded worse than its outcomes; for unordered classes, whether the top class was right. A
    group of at least ``MIN_GROUP`` rows is flagged when its mean error lies ``Z_FLAG`` standard
    errors or more from the other rows' (Welch's z), so chance gaps between small groups are not.
    """
    actual = np.asarray(y, dtype=np.float64).reshape(-1)
    out = np.asarray(out, dtype=np.float64)
    if len(groups) != actual.shape[0] or out.shape[0] != actual.shape[0]:
        raise ValueError(
            f"groups, y and predictions differ in length: {len(groups)}, {actual.shape[0]}, {out.shape[0]}"
        )
    if task == "regression":
        guess, measure = out.reshape(-1), "mean_error"
    elif ordered:
        guess, measure = out @ np.arange(out.shape[1], dtype=np.float64), "mean_error"
    else:
        guess, measure = out.argmax(axis=1).astype(np.float64), "accuracy"
    error = guess - actual if measure == "mean_error" else (guess == actual).astype(np.float64)
    rows = []
    for level, mask in group_masks(groups, name):
        n = int(mask.sum())
        row: dict[str, Any] = {"group": level, "n": n}
        if measure == "mean_error":
            row.update(actual=float(actual[mask].mean()), predicted=float(guess[mask].mean()))
        row[measure] = float(error[mask].mean())
        row["z"] = _welch_z(error[mask], error[~mask])
        row["flag"] = bool(n >= MIN_GROUP and row["z"] is not None and abs(row["z"]) >= Z_FLAG)
        rows.append(row)
    values = [r[measure] for r in rows if r["n"] >= MIN_GROUP] or [r[measure] for r in rows]
    return {
        "column": name,
        "task": task,
        "measure": measure,
        "groups": rows,
        "max_gap": float(max(values) - min(values)),
        "flagged": any(r["flag"] for r in rows),
    }


def _welch_z(inside: np.ndarray, outside: np.ndarray) -> float | None:
    if inside.size < 2 or outside.size < 2:
        return None
    se = np.sqrt(inside.var(ddof=1) / inside.size + outside.var(ddof=1) / outside.size)
    return float((inside.mean() - outside.mean()) / se) if se > 0 else None
