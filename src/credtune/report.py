"""report.md and a self-contained report.html for train, cv and evaluate runs.

A reviewer reads one file: the HTML carries its own CSS and every figure as a base64 PNG, so it
can be mailed or archived without breaking; report.md links the same figures saved in `figures/`.
Every section is skipped when its data is absent, because cv and evaluate reports hold less
than a training run. Figures use matplotlib's object API with the Agg canvas (no pyplot), so
writing a report never changes the backend of a notebook that imported credtune.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .metrics import both_classes, credit_metrics, ks_curve, roc_points

MODEL_ORDER = ("transformer", "logistic", "lightgbm", "blend", "blend_stacked")
COLORS = {
    "transformer": "#1f77b4",
    "logistic": "#7f7f7f",
    "lightgbm": "#2ca02c",
    "blend": "#d62728",
    "blend_stacked": "#9467bd",
}
HEADLINE = (("auc", "AUC"), ("gini", "Gini"), ("ks", "KS"), ("pr_auc", "PR-AUC"), ("brier", "Brier"))
HEADLINE += (("log_loss", "log loss"), ("ece", "ECE"))
ROWS = {
    "train": "rows of the held-out test split",
    "cv": "rows, each scored out of fold by models that never saw it",
    "evaluate": "rows of the evaluated file",
}
CSS = """body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #1f77b4}h2{margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 9px;text-align:right}
th{background:#f2f5f9}td:first-child,th:first-child{text-align:left}tr.flag td{background:#fde2e1}
img{max-width:100%;height:auto}.wide{overflow-x:auto}.note{color:#555}"""


class Report:
    """An ordered list of blocks rendered twice: as markdown and as standalone HTML."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.blocks: list[tuple[str, Any]] = []
        self.figures: dict[str, bytes] = {}

    def heading(self, text: str) -> None:
        self.blocks.append(("h2", text))

    def para(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, rows: list[dict[str, Any]], flag: Callable[[dict], bool] | None = None) -> None:
        if rows:
            self.blocks.append(("table", (rows, flag)))

    def figure(self, fig: Figure, name: str, alt: str) -> None:
        buffer = io.BytesIO()
        FigureCanvasAgg(fig)
        fig.tight_layout()
        fig.savefig(buffer, format="png", dpi=96)
        self.figures[f"{name}.png"] = buffer.getvalue()
        self.blocks.append(("img", (f"{name}.png", alt)))

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for kind, value in self.blocks:
            if kind == "h2":
                out += [f"## {value}", ""]
            elif kind == "p":
                out += [value, ""]
            elif kind == "img":
                out += [f"![{value[1]}](figures/{value[0]})", ""]
            else:
                rows, flag = value
                cols = list(rows[0])
                out.append("| " + " | ".join(cols) + " |")
                out.append("|" + "---|" * len(cols))
                for row in rows:
                    mark = "⚠ " if flag and flag(row) else ""
                    cells = (_fmt(row.get(c)).replace("|", "\\|") for c in cols)
                    out.append("| " + mark + " | ".join(cells) + " |")
                out.append("")
        return "\n".join(out)

    def html(self) -> str:
        esc = html.escape
        out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(self.title)}</title>"]
        out.append(f"<style>{CSS}</style></head><body><h1>{esc(self.title)}</h1>")
        for kind, value in self.blocks:
            if kind == "h2":
                out.append(f"<h2>{esc(value)}</h2>")
            elif kind == "p":
                out.append(f"<p class='note'>{esc(value)}</p>")
            elif kind == "img":
                data = base64.b64encode(self.figures[value[0]]).decode("ascii")
                out.append(f"<img alt='{esc(value[1])}' src='data:image/png;base64,{data}'>")
            else:
                rows, flag = value
                cols = list(rows[0])
                out.append(
                    "<div class='wide'><table><tr>" + "".join(f"<th>{esc(c)}</th>" for c in cols) + "</tr>"
                )
                for row in rows:
                    css = " class='flag'" if flag and flag(row) else ""
                    cells = "".join(f"<td>{esc(_fmt(row.get(c)))}</td>" for c in cols)
                    out.append(f"<tr{css}>{cells}</tr>")
                out.append("</table></div>")
        out.append("</body></html>")
        return "\n".join(out)


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, (float, np.floating)):
        return (
            f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.4f}"
        )
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _models(named: dict[str, Any]) -> list[str]:
    return sorted(named, key=lambda n: (MODEL_ORDER.index(n) if n in MODEL_ORDER else len(MODEL_ORDER), n))


def _figure(width: float = 6.4, height: float = 4.2) -> tuple[Figure, Any]:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    fig = Figure(figsize=(width, height))
    ax = fig.add_subplot()
    for axis in (ax.xaxis, ax.yaxis):  # short tick labels even when PDs span a tiny range
        axis.set_major_locator(MaxNLocator(6))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.4g}"))
    return fig, ax


# -- sections ------------------------------------------------------------------------------------
def headline(rep: Report, metrics: dict[str, Any]) -> None:
    models = metrics.get("models") or {}
    if not models:
        return
    rep.heading("Headline metrics")
    n, rate = metrics.get("n"), metrics.get("positive_rate")
    if n is not None and rate is not None:
        rows = ROWS.get(metrics.get("kind", "train"), "rows")
        rep.para(
            f"{n} {rows}, default rate {rate:.1%}. AUC, Gini, KS, PR-AUC: higher is better; "
            "Brier, log loss, ECE: lower is better."
        )
    rows = []
    for name in _models(models):
        m = models[name]
        row = {"model": name, **{label: m.get(key) for key, label in HEADLINE}}
        spread = m.get("folds") or {}
        if "auc" in spread:
            row["AUC over folds"] = f"{spread['auc']['mean']:.4f} ± {spread['auc']['std']:.4f}"
        rows.append(row)
    rep.table(rows)
    cal = metrics.get("calibration")
    if cal and cal.get("before") and cal.get("after"):
        rep.para(f"Calibration ({cal.get('method')}) of the transformer on the same rows:")
        rep.table([{"": stage, **cal[stage]} for stage in ("before", "after")])


def roc_section(rep: Report, y: Any, pds: dict[str, Any]) -> None:
    fig, ax = _figure(5.6, 5.0)
    for name in _models(pds):
        roc = roc_points(y, pds[name])
        auc = credit_metrics(y, pds[name])["auc"]
        ax.plot(
            roc["fpr"],
            roc["tpr"],
            color=COLORS.get(name),
            lw=2 if name == "transformer" else 1.3,
            label=f"{name} ({auc:.3f})",
        )
    ax.plot([0, 1], [0, 1], ls=":", color="#999")
    ax.set(
        xlabel="false positive rate (goods flagged)", ylabel="true positive rate (bads flagged)", title="ROC"
    )
    ax.legend(loc="lower right", title="model (AUC)")
    rep.heading("ROC curves")
    rep.figure(fig, "roc", "ROC curves of every model on the same rows")


def ks_section(rep: Report, y: Any, p: Any) -> None:
    ks = {key: np.asarray(values) for key, values in ks_curve(y, p).items()}
    grid, cum_bad, cum_good = ks["threshold"], ks["cum_bad"], ks["cum_good"]
    i = int(np.argmax(ks["gap"]))
    fig, ax = _figure()
    ax.plot(grid, cum_good, color="#2ca02c", label="goods")
    ax.plot(grid, cum_bad, color="#d62728", label="bads")
    ax.vlines(grid[i], cum_good[i], cum_bad[i], color="k", lw=2, label=f"KS = {ks['gap'][i]:.3f}")
    ax.set(xlabel="PD", ylabel="cumulative share with PD ≥ x", title="KS: cumulative distributions by class")
    ax.legend(loc="lower right")
    rep.heading("KS curve")
    rep.figure(fig, "ks", "cumulative PD distribution of goods and bads with the KS gap marked")


def calibration_section(rep: Report, y: Any, p: Any, raw: Any | None) -> None:
    fig, ax = _figure(5.6, 5.0)
    series = [("before calibration", raw, "#ff7f0e"), ("after calibration", p, "#1f77b4")]
    for label, values, color in series:
        if values is None:
            continue
        values = np.asarray(values, dtype=float)
        bins = np.array_split(np.argsort(values, kind="stable"), min(10, len(values)))
        xs = [values[b].mean() for b in bins if b.size]
        ys = [np.asarray(y)[b].mean() for b in bins if b.size]
        ax.plot(xs, ys, marker="o", color=color, label=label)
    top = max(ax.get_xlim()[1], ax.get_ylim()[1])
    ax.plot([0, top], [0, top], ls=":", color="#999", label="perfect")
    ax.set(xlabel="mean predicted PD (decile of PD)", ylabel="observed default rate", title="Reliability")
    ax.legend(loc="upper left")
    rep.heading("Calibration")
    rep.figure(fig, "calibration", "reliability diagram before and after calibration")


def distribution_section(rep: Report, y: Any, p: Any) -> None:
    y, p = np.asarray(y), np.asarray(p, dtype=float)
    fig, ax = _figure(6.4, 3.6)
    bins = np.linspace(p.min(), p.max() + 1e-12, 31)
    for label, mask, color in (("goods", y == 0, "#2ca02c"), ("bads", y == 1, "#d62728")):
        if mask.any():
            share = np.full(mask.sum(), 1 / mask.sum())
            ax.hist(
                p[mask], bins=bins, weights=share, alpha=0.55, color=color, label=f"{label} (n={mask.sum()})"
            )
    ax.set(xlabel="PD", ylabel="share of the class", title="Score distribution by class")
    ax.legend()
    rep.heading("Score distribution")
    rep.figure(fig, "distribution", "histogram of PD for goods and bads")


def decision_section(rep: Report, decision: dict[str, Any]) -> None:
    if decision.get("threshold") is None:
        return
    rep.heading("Decision threshold")
    rep.para(
        f"Approve when PD < {decision['threshold']:.4f} (rule: {decision.get('rule', 'fixed')}, "
        "chosen on the validation split, applied here)."
    )
    rep.table(
        [
            {
                "approval rate": decision.get("approval_rate"),
                "bad rate among approved": decision.get("bad_rate_approved"),
                "expected cost per applicant": decision.get("expected_cost"),
            }
        ]
    )
    c = decision.get("confusion")
    if c:
        rep.table(
            [
                {"actual": "good", "approved": c["approved_good"], "rejected": c["rejected_good"]},
                {"actual": "bad", "approved": c["approved_bad"], "rejected": c["rejected_bad"]},
            ]
        )


def stability_section(rep: Report, stab: dict[str, Any]) -> None:
    if stab.get("score_psi") is None and not stab.get("fields"):
        return
    rep.heading("Stability (PSI)")
    if stab.get("score_psi") is not None:
        against = stab.get("reference", "train")
        rep.para(
            f"Score PSI vs {against}: {stab['score_psi']:.4f} ({stab.get('reading')}); <0.1 stable, >0.25 shifted."
        )
    rep.table(stab.get("fields") or [], flag=lambda r: r.get("reading") == "shifted")


def fairness_section(rep: Report, tables: list[dict[str, Any]]) -> None:
    if not tables:
        return
    rep.heading("Fairness by protected column")
    rep.para(
        "Disparate impact = group approval rate / best group's; groups under 0.8 are flagged (four-fifths rule)."
    )
    for t in tables:
        low = t.get("min_disparate_impact")
        rep.para(f"{t['column']} (threshold {t['threshold']:.4f}, lowest impact {_fmt(low)})")
        rep.table(t.get("groups") or [], flag=lambda r: bool(r.get("flag")))


def fields_section(rep: Report, fields: list[Any]) -> None:
    rep.heading("Fields the model saw")
    rep.para(", ".join(str(f) for f in fields))


def importance_section(rep: Report, importance: list[dict[str, Any]]) -> None:
    rows = sorted(importance, key=lambda r: r["mean_abs_effect"])[-25:]
    labels = [str(r["field"]) if len(str(r["field"])) <= 36 else str(r["field"])[:35] + "…" for r in rows]
    fig, ax = _figure(8.0, 1.2 + 0.28 * len(rows))
    ax.barh(range(len(rows)), [r["mean_abs_effect"] for r in rows], color="#1f77b4")
    ax.set_yticks(range(len(rows)), labels=labels)
    ax.set(xlabel="mean |effect on PD| when the field is hidden", title="Global field importance")
    rep.heading("Field importance")
    rep.figure(fig, "importance", "bar chart of mean absolute effect per field")


def cv_section(rep: Report, metrics: dict[str, Any]) -> None:
    per_fold = metrics.get("per_fold") or []
    names = [n for n in _models(metrics.get("models") or {}) if f"{n}_auc" in per_fold[0]]
    rep.heading("Per fold")
    rep.para("Each fold's held-out rows, scored by models trained on the other folds (AUC / KS per model).")
    rep.table(
        [
            {
                "seed": r["seed"],
                "fold": r["fold"],
                "rows train/valid/test": f"{r['train_rows']}/{r['valid_rows']}/{r['test_rows']}",
                **{f"{n} AUC / KS": f"{_fmt(r[f'{n}_auc'])} / {_fmt(r[f'{n}_ks'])}" for n in names},
                "threshold": r.get("threshold"),
                "approval rate": r.get("approval_rate"),
                "bad rate approved": r.get("bad_rate_approved"),
                "seconds": r.get("seconds"),
            }
            for r in per_fold
        ]
    )
    seeds = metrics.get("per_seed") or []
    if len(seeds) > 1:
        rep.para("Transformer out-of-fold metrics per seed (the headline averages PD over seeds):")
        rep.table(seeds)
    blend = metrics.get("blend") or {}
    if blend:
        rep.para("Blends of transformer and LightGBM, out of fold (stacked weights are cross-fitted):")
        rows = [
            {"blend": k, **{m: v for m, v in b.items() if not isinstance(v, list)}} for k, b in blend.items()
        ]
        rep.table(rows)


def build(metrics: dict[str, Any], arrays: dict[str, Any] | None, title: str) -> Report:
    rep = Report(title or "credtune report")
    arrays = arrays or {}
    y, pds = arrays.get("y"), {k: v for k, v in (arrays.get("pd") or {}).items() if v is not None}
    main = pds.get("transformer", next(iter(pds.values()), None))
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
    decision_section(rep, metrics.get("decision") or {})
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
