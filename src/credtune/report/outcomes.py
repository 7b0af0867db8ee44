"""Report sections for multiclass (grades, products) and regression (rates) targets.

The binary sections speak of PDs, defaults and goods/bads; these speak of classes and target units.
As in sections.py, each section is skipped when its data is absent (cv and evaluate reports may
carry metrics but no arrays, and then get tables without the figures drawn from arrays).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..metrics import confusion
from .document import ROWS, Report, figure, fmt, models_in_order
from .sections import fairness_section, fields_section, stability_section

MULTICLASS_COLUMNS = (
    ("accuracy", "accuracy"),
    ("macro_f1", "macro-F1"),
    ("auc", "AUC (one-vs-rest)"),
    ("log_loss", "log loss"),
    ("ece", "ECE (top label)"),
    ("qwk", "QWK"),
    ("mae_grade", "MAE (grades)"),
)
REGRESSION_COLUMNS = (("rmse", "RMSE"), ("mae", "MAE"), ("r2", "R²"), ("spearman", "Spearman"))
_SCATTER_POINTS = 5000  # more points only slow the PNG down without showing anything new


def _present(models: dict[str, Any], columns: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """The columns at least one model has (qwk and mae_grade exist only for ordered targets)."""
    return [(key, label) for key, label in columns if any(key in m for m in models.values())]


def kind_headline(
    rep: Report, metrics: dict[str, Any], columns: tuple[tuple[str, str], ...], summary: str
) -> None:
    """Every model side by side, led by one sentence on the shipped model's numbers."""
    models = metrics.get("models") or {}
    if not models:
        return
    present = _present(models, columns)
    rep.heading("Headline metrics")
    if summary:
        rep.para(summary)
    shipped = metrics.get("shipped")
    if shipped in models:
        numbers = ", ".join(f"{label} {fmt(models[shipped].get(key))}" for key, label in present)
        rep.para(f"Shipped model: {shipped} ({numbers}).")
    rows = []
    for name in models_in_order(models):
        m = models[name]
        row = {"model": name, **{label: m.get(key) for key, label in present}}
        spread = m.get("folds") or {}
        first = next(((key, label) for key, label in present if key in spread), None)
        if first:
            s = spread[first[0]]
            row[f"{first[1]} over folds"] = f"{s['mean']:.4f} ± {s['std']:.4f}"
        rows.append(row)
    rep.table(rows)


def kind_cv_section(rep: Report, metrics: dict[str, Any], columns: tuple[tuple[str, str], ...]) -> None:
    """Per-fold rows with whichever of the task's metrics each fold recorded as `{model}_{metric}`."""
    per_fold = metrics.get("per_fold") or []
    if not per_fold:
        return
    first = per_fold[0]
    named = []
    for name in models_in_order(metrics.get("models") or {}):
        keys = [(key, label) for key, label in columns if f"{name}_{key}" in first]
        if keys:
            named.append((name, keys))
    rep.heading("Per fold")
    rep.para("Each fold's held-out rows, scored by models trained on the other folds.")
    rows = []
    for r in per_fold:
        row: dict[str, Any] = {"seed": r.get("seed"), "fold": r.get("fold")}
        if "train_rows" in r:
            row["rows train/valid/test"] = f"{r['train_rows']}/{r.get('valid_rows')}/{r.get('test_rows')}"
        for name, keys in named:
            head = f"{name} " + " / ".join(label for _, label in keys)
            row[head] = " / ".join(fmt(r.get(f"{name}_{key}")) for key, _ in keys)
        row["seconds"] = r.get("seconds")
        rows.append(row)
    rep.table(rows)
    seeds = metrics.get("per_seed") or []
    if len(seeds) > 1:
        rep.para("Out-of-fold metrics of the shipped model per seed:")
        rep.table(seeds)


def _calibration_table(rep: Report, cal: dict[str, Any] | None) -> None:
    if cal and cal.get("before") and cal.get("after"):
        rep.para(
            f"Calibration ({cal.get('method')}) of the {cal.get('model', 'transformer')} on the same rows:"
        )
        rep.table([{"": stage, **cal[stage]} for stage in ("before", "after")])


def _short(name: Any, width: int = 14) -> str:
    text = str(name)
    return text if len(text) <= width else text[: width - 1] + "…"


def confusion_section(rep: Report, matrix: list[list[int]], classes: list[str]) -> None:
    """Heatmap coloured by the share of each actual class (so rare classes stay visible) plus counts."""
    cm = np.asarray(matrix, dtype=float)
    k = cm.shape[0]
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1.0)
    size = min(3.0 + 0.6 * k, 12.0)
    fig, ax = figure(size + 1.2, size)
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="share of the actual class")
    labels = [_short(c) for c in classes]
    ax.set_xticks(range(k), labels=labels, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), labels=labels)
    if k <= 15:
        for i in range(k):
            for j in range(k):
                color = "white" if share[i, j] > 0.6 else "black"
                ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", color=color, fontsize=8)
    ax.set(xlabel="predicted class", ylabel="actual class", title="Confusion matrix")
    rep.heading("Confusion matrix")
    rep.para(
        "Rows are the actual class, columns the predicted class (the shipped model's most likely class)."
    )
    rep.figure(fig, "confusion", "confusion matrix heatmap of actual against predicted class")
    rep.table(
        [
            {"actual / predicted": cls, **{str(p): int(cm[i, j]) for j, p in enumerate(classes)}}
            for i, cls in enumerate(classes)
        ]
    )


def _reliability_points(y: np.ndarray, proba: np.ndarray) -> tuple[list[float], list[float]]:
    """Mean top-label confidence and accuracy per equal-count bin of confidence."""
    conf = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y).astype(float)
    bins = np.array_split(np.argsort(conf, kind="stable"), min(10, len(conf)))
    return [float(conf[b].mean()) for b in bins if b.size], [float(correct[b].mean()) for b in bins if b.size]


def class_calibration_section(
    rep: Report, cal: dict[str, Any] | None, y: Any | None, proba: Any | None, raw: Any | None
) -> None:
    """Before/after numbers and a top-label reliability diagram: does 80% confidence mean 80% right?"""
    drawable = y is not None and proba is not None
    if not drawable and not (cal and cal.get("before") and cal.get("after")):
        return
    rep.heading("Calibration")
    _calibration_table(rep, cal)
    if not drawable:
        return
    y = np.asarray(y).astype(int)
    fig, ax = figure(5.6, 5.0)
    for label, values, color in (
        ("before calibration", raw, "#ff7f0e"),
        ("after calibration", proba, "#1f77b4"),
    ):
        if values is not None:
            xs, ys = _reliability_points(y, np.asarray(values, dtype=float))
            ax.plot(xs, ys, marker="o", color=color, label=label)
    ax.plot([0, 1], [0, 1], ls=":", color="#999", label="perfect")
    ax.set(
        xlabel="mean top-class probability (decile of confidence)",
        ylabel="share predicted correctly",
        title="Reliability (top label)",
    )
    ax.legend(loc="upper left")
    rep.figure(fig, "reliability_top", "reliability diagram of the top-class probability")


def build_multiclass(rep: Report, metrics: dict[str, Any], arrays: dict[str, Any]) -> None:
    """The multiclass report: headline, per fold, confusion, per-class, calibration, stability, fields."""
    y = arrays.get("y")
    probas = {k: v for k, v in (arrays.get("proba") or {}).items() if v is not None}
    main = probas.get(metrics.get("shipped", "transformer"), next(iter(probas.values()), None))
    classes = [str(c) for c in metrics.get("classes") or []]
    if main is not None and not classes:
        classes = [str(i) for i in range(np.asarray(main).shape[1])]
    if metrics.get("note"):
        rep.para(metrics["note"])
    n, order = metrics.get("n"), " < ".join(classes) if metrics.get("ordered") else ", ".join(classes)
    summary = ""
    if n is not None and classes:
        summary = (
            f"{n} {ROWS.get(metrics.get('kind', 'train'), 'rows')}, {len(classes)} "
            f"{'ordered ' if metrics.get('ordered') else ''}classes: {order}. Accuracy, macro-F1, AUC"
            + (", QWK" if metrics.get("ordered") else "")
            + ": higher is better; log loss, ECE"
            + (", MAE (in grades)" if metrics.get("ordered") else "")
            + ": lower is better."
        )
    kind_headline(rep, metrics, MULTICLASS_COLUMNS, summary)
    kind_cv_section(rep, metrics, MULTICLASS_COLUMNS)
    matrix = metrics.get("confusion")
    if not matrix and y is not None and main is not None:
        matrix = confusion(y, np.asarray(main).argmax(axis=1), len(classes))
    if matrix and len(matrix) == len(classes):
        confusion_section(rep, matrix, classes)
    if metrics.get("per_class"):
        rep.heading("Per-class metrics")
        rep.para("Precision: share of rows predicted as the class that are it; recall: share of it found.")
        rep.table(metrics["per_class"])
    class_calibration_section(rep, metrics.get("calibration"), y, main, arrays.get("proba_raw"))
    _tail(rep, metrics)


def scatter_section(rep: Report, y: Any, pred: Any, target: str) -> None:
    """Predicted against actual with the y = x line: points above it are over-predicted."""
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float).reshape(-1)
    keep = np.arange(y.shape[0])
    if keep.size > _SCATTER_POINTS:  # a fixed sample, so the figure is the same on every run
        keep = np.sort(np.random.default_rng(0).choice(keep, _SCATTER_POINTS, replace=False))
    fig, ax = figure(5.6, 5.0)
    ax.scatter(y[keep], pred[keep], s=6, alpha=0.35, color="#1f77b4", label="rows")
    low, high = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    ax.plot([low, high], [low, high], ls=":", color="#d62728", label="predicted = actual")
    ax.set(xlabel=f"actual {target}", ylabel=f"predicted {target}", title="Predicted vs actual")
    ax.legend(loc="upper left")
    rep.heading("Predicted vs actual")
    rep.figure(fig, "pred_vs_actual", "scatter of predicted against actual values with the y = x line")


def residual_section(rep: Report, quantiles: dict[str, Any] | None, y: Any | None, pred: Any | None) -> None:
    """Residual (actual - predicted) quantiles and histogram: bias shows as a shift away from 0."""
    drawable = y is not None and pred is not None
    if not drawable and not quantiles:
        return
    rep.heading("Residuals")
    rep.para("Residual = actual - predicted: positive means the model under-predicted.")
    if quantiles:
        rep.table([quantiles])
    if not drawable:
        return
    residual = np.asarray(y, dtype=float) - np.asarray(pred, dtype=float).reshape(-1)
    fig, ax = figure(6.4, 3.6)
    ax.hist(residual, bins=40, color="#1f77b4", alpha=0.8)
    ax.axvline(0.0, ls=":", color="#d62728")
    ax.set(xlabel="actual - predicted", ylabel="rows", title="Residual distribution")
    rep.figure(fig, "residuals", "histogram of residuals (actual minus predicted)")


def build_regression(rep: Report, metrics: dict[str, Any], arrays: dict[str, Any]) -> None:
    """The regression report: headline, per fold, scatter, residuals, calibration, stability, fields."""
    y = arrays.get("y")
    preds = {k: v for k, v in (arrays.get("pred") or {}).items() if v is not None}
    main = preds.get(metrics.get("shipped", "transformer"), next(iter(preds.values()), None))
    target = str(metrics.get("target") or "target")
    if metrics.get("note"):
        rep.para(metrics["note"])
    summary = ""
    if metrics.get("n") is not None:
        summary = (
            f"{metrics['n']} {ROWS.get(metrics.get('kind', 'train'), 'rows')}, target {target}. "
            "R², Spearman: higher is better; RMSE, MAE (in the target's units): lower is better."
        )
    kind_headline(rep, metrics, REGRESSION_COLUMNS, summary)
    kind_cv_section(rep, metrics, REGRESSION_COLUMNS)
    if y is not None and main is not None:
        scatter_section(rep, y, main, target)
    residual_section(rep, metrics.get("residuals"), y, main)
    cal = metrics.get("calibration")
    if cal and cal.get("before") and cal.get("after"):
        rep.heading("Calibration")
        rep.para(
            "A value calibrator maps the model's output onto the target's scale, fitted on validation rows."
        )
        _calibration_table(rep, cal)
    _tail(rep, metrics)


def _tail(rep: Report, metrics: dict[str, Any]) -> None:
    fairness_section(rep, metrics.get("fairness") or [])
    stability_section(rep, metrics.get("stability") or {})
    if metrics.get("fields"):
        fields_section(rep, metrics["fields"])


BUILDERS = {"multiclass": build_multiclass, "regression": build_regression}
