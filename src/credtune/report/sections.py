"""The report's sections, one function each; every section is skipped when its data is absent."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..metrics import credit_metrics, ks_curve, roc_points
from .document import COLORS, HEADLINE, ROWS, Report, figure, fmt, models_in_order


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
    for name in models_in_order(models):
        m = models[name]
        row = {"model": name, **{label: m.get(key) for key, label in HEADLINE}}
        spread = m.get("folds") or {}
        if "auc" in spread:
            row["AUC over folds"] = f"{spread['auc']['mean']:.4f} ± {spread['auc']['std']:.4f}"
        rows.append(row)
    rep.table(rows)
    if metrics.get("shipped") == "hybrid":
        weights = ", ".join(
            f"{n} {c:+.3f}" for n, c in (metrics.get("hybrid") or {}).get("weights", {}).items()
        )
        rep.para(f"Shipped: the hybrid (transformer stacked with its baselines; weights {weights}).")
    cal = metrics.get("calibration")
    if cal and cal.get("before") and cal.get("after"):
        rep.para(
            f"Calibration ({cal.get('method')}) of the {cal.get('model', 'transformer')} on the same rows:"
        )
        rep.table([{"": stage, **cal[stage]} for stage in ("before", "after")])


def roc_section(rep: Report, y: Any, pds: dict[str, Any]) -> None:
    fig, ax = figure(5.6, 5.0)
    for name in models_in_order(pds):
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
    fig, ax = figure()
    ax.plot(grid, cum_good, color="#2ca02c", label="goods")
    ax.plot(grid, cum_bad, color="#d62728", label="bads")
    ax.vlines(grid[i], cum_good[i], cum_bad[i], color="k", lw=2, label=f"KS = {ks['gap'][i]:.3f}")
    ax.set(xlabel="PD", ylabel="cumulative share with PD ≥ x", title="KS: cumulative distributions by class")
    ax.legend(loc="lower right")
    rep.heading("KS curve")
    rep.figure(fig, "ks", "cumulative PD distribution of goods and bads with the KS gap marked")


def calibration_section(rep: Report, y: Any, p: Any, raw: Any | None) -> None:
    fig, ax = figure(5.6, 5.0)
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
    fig, ax = figure(6.4, 3.6)
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


def decision_section(rep: Report, decision: dict[str, Any], chosen_on: str = "validation split") -> None:
    if decision.get("threshold") is None:
        return
    rep.heading("Decision threshold")
    rep.para(
        f"Approve when PD < {decision['threshold']:.4f} (rule: {decision.get('rule', 'fixed')}, "
        f"chosen on the {chosen_on}, applied here)."
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
    if "measure" in tables[0]:  # grades, classes or rates: errors per group, no approvals
        rep.para(
            "Mean error = predicted minus actual (rate, or expected grade minus actual grade in grade "
            "steps, grades counted from 0): positive means the group is priced or graded worse than its "
            "outcomes. z = Welch's z of the group's mean error (accuracy, for unordered classes) against "
            "all other rows; groups of 30+ rows with |z| >= 3 are flagged."
        )
        for t in tables:
            rep.para(f"{t['column']} (largest gap between groups: {fmt(t.get('max_gap'))})")
            rep.table(t.get("groups") or [], flag=lambda r: bool(r.get("flag")))
        return
    rep.para(
        "Disparate impact = group approval rate / best group's; groups under 0.8 are flagged (four-fifths rule)."
    )
    for t in tables:
        low = t.get("min_disparate_impact")
        rep.para(f"{t['column']} (threshold {t['threshold']:.4f}, lowest impact {fmt(low)})")
        rep.table(t.get("groups") or [], flag=lambda r: bool(r.get("flag")))


def fields_section(rep: Report, fields: list[Any]) -> None:
    rep.heading("Fields the model saw")
    rep.para(", ".join(str(f) for f in fields))


def importance_section(rep: Report, importance: list[dict[str, Any]]) -> None:
    rows = sorted(importance, key=lambda r: r["mean_abs_effect"])[-25:]
    labels = [str(r["field"]) if len(str(r["field"])) <= 36 else str(r["field"])[:35] + "…" for r in rows]
    fig, ax = figure(8.0, 1.2 + 0.28 * len(rows))
    ax.barh(range(len(rows)), [r["mean_abs_effect"] for r in rows], color="#1f77b4")
    ax.set_yticks(range(len(rows)), labels=labels)
    ax.set(xlabel="mean |effect on PD| when the field is hidden", title="Global field importance")
    rep.heading("Field importance")
    rep.figure(fig, "importance", "bar chart of mean absolute effect per field")


def cv_section(rep: Report, metrics: dict[str, Any]) -> None:
    per_fold = metrics.get("per_fold") or []
    names = [n for n in models_in_order(metrics.get("models") or {}) if f"{n}_auc" in per_fold[0]]
    rep.heading("Per fold")
    rep.para("Each fold's held-out rows, scored by models trained on the other folds (AUC / KS per model).")
    rep.table(
        [
            {
                "seed": r["seed"],
                "fold": r["fold"],
                "rows train/valid/test": f"{r['train_rows']}/{r['valid_rows']}/{r['test_rows']}",
                **{f"{n} AUC / KS": f"{fmt(r[f'{n}_auc'])} / {fmt(r[f'{n}_ks'])}" for n in names},
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


def scorecard_section(rep: Report, points: list[dict[str, Any]]) -> None:
    rep.heading("Scorecard points")
    rep.para(
        "The weight-of-evidence scorecard baseline (optbinning bins, logistic regression on WoE): "
        "points per bin, 600 at good:bad odds of 50:1, 20 points to double the odds. An applicant's "
        "score is the sum of their bins' points."
    )
    rep.table(points)
