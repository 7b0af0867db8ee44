"""report.md and a self-contained report.html for train, cv and evaluate runs.

A reviewer reads one file: the HTML carries its own CSS and every figure as a base64 PNG, so it
can be mailed or archived without breaking; report.md links the same figures saved in `figures/`.
Every section is skipped when its data is absent, because cv and evaluate reports hold less
than a training run; multiclass and regression runs get their own sections (outcomes.py).
Figures use matplotlib's object API with the Agg canvas (no pyplot), so writing a report never
changes the backend of a notebook that imported credtune.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..metrics import both_classes
from .document import Report
from .outcomes import BUILDERS
from .sections import (
    calibration_section,
    cv_section,
    decision_section,
    distribution_section,
    fairness_section,
    fields_section,
    headline,
    importance_section,
    ks_section,
    roc_section,
    scorecard_section,
    stability_section,
)

__all__ = ["Report", "build", "write_report"]


def build(metrics: dict[str, Any], arrays: dict[str, Any] | None, title: str) -> Report:
    """The report for `metrics`; its ``task`` (binary when absent) picks the sections."""
    rep = Report(title or "credtune report")
    arrays = arrays or {}
    task = metrics.get("task", "binary")
    if task in BUILDERS:
        BUILDERS[task](rep, metrics, arrays)
        return rep
    if task != "binary":
        raise ValueError(f"unknown task {task!r} in metrics; expected binary, {', '.join(BUILDERS)}")
    y, pds = arrays.get("y"), {k: v for k, v in (arrays.get("pd") or {}).items() if v is not None}
    main = pds.get(metrics.get("shipped", "transformer"), next(iter(pds.values()), None))
    if metrics.get("note"):
        rep.para(metrics["note"])
    headline(rep, metrics)
    if metrics.get("per_fold"):
        cv_section(rep, metrics)
    curves = both_classes(y) and main is not None
    if curves:
        roc_section(rep, y, pds)
        ks_section(rep, y, main)
    if y is not None and main is not None:
        calibration_section(rep, y, main, arrays.get("pd_raw"))
        distribution_section(rep, y, main)
    if metrics.get("deciles"):
        rep.heading("Decile (gains) table")
        rep.para(
            "Applicants ranked riskiest first; cum_capture = share of all bads caught down to that decile."
        )
        rep.table(metrics["deciles"])
    decision_section(rep, metrics.get("decision") or {}, metrics.get("fitted_on", "validation split"))
    if metrics.get("scorecard_points"):
        scorecard_section(rep, metrics["scorecard_points"])
    stability_section(rep, metrics.get("stability") or {})
    fairness_section(rep, metrics.get("fairness") or [])
    if metrics.get("fields"):
        fields_section(rep, metrics["fields"])
    if metrics.get("importance"):
        importance_section(rep, metrics["importance"])
    return rep


def write_report(
    run_dir: str | Path, metrics: dict[str, Any], arrays: dict[str, Any] | None = None, title: str = ""
) -> Path:
    """Write report.md (+ figures/) and a self-contained report.html into `run_dir`; returns the HTML path."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    rep = build(metrics, arrays, title)
    if rep.figures:
        (run_dir / "figures").mkdir(exist_ok=True)
        for name, png in rep.figures.items():
            (run_dir / "figures" / name).write_bytes(png)
    (run_dir / "report.md").write_text(rep.markdown(), encoding="utf-8")
    target = run_dir / "report.html"
    target.write_text(rep.html(), encoding="utf-8")
    return target
