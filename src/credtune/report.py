"""report.md and a self-contained report.html for train, cv and evaluate runs."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def markdown(metrics: dict[str, Any], title: str) -> str:
    lines = [f"# {title}", ""]
    models = metrics.get("models", {})
    if models:
        lines += ["| model | AUC | Gini | KS | PR-AUC | Brier | log loss |", "|---|---|---|---|---|---|---|"]
        for name, m in models.items():
            row = [m.get(k) for k in ("auc", "gini", "ks", "pr_auc", "brier", "log_loss")]
            lines.append(f"| {name} | " + " | ".join(_fmt(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_report(run_dir: str | Path, metrics: dict[str, Any], arrays: dict[str, Any] | None = None, title: str = "") -> None:
    run_dir = Path(run_dir)
    text = markdown(metrics, title or "credtune report")
    (run_dir / "report.md").write_text(text, encoding="utf-8")
    body = "<pre>" + html.escape(text) + "</pre>"
    (run_dir / "report.html").write_text(f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>{body}", encoding="utf-8")
